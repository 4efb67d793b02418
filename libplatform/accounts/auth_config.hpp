#pragma once
// Multi-tenancy and authentication settings read from a nats-server config:
// `authorization { ... }`, `accounts { ... }`, `no_auth_user`, `system_account`.
// Plain data plus validation; no CAF, no I/O. Built once at start-up by
// load_auth_config(); the server builds its account actors and user table from it.
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libplatform/config/conf_parser.hpp"

namespace platform::accounts {

struct jwt_account;
struct operator_config;

enum class response_type { singleton, stream, chunked };

// Service latency tracking: sample `sampling` percent of requests (1..100) and publish a
// report on `subject` in the exporting account. sampling == 0 means "headers": only
// requests carrying a trace header are sampled.
struct latency_config {
  int sampling = 100;
  std::string subject;
};

struct export_entry {
  enum class kind { stream, service };
  kind type = kind::stream;
  std::string subject;
  std::vector<std::string> approved;  // empty: public; else only these accounts may import
  int account_token_position = 0;     // 1-based token that must equal the importer's name; 0 = none
  response_type response = response_type::singleton;
  std::chrono::nanoseconds response_threshold{std::chrono::minutes(2)};
  std::optional<latency_config> latency;
  // JWT exports with token_req: private to the accounts in `approved`, which are those
  // whose import carries a valid activation token (jwt_accounts.cpp).
  bool token_required = false;
  config::position pos;
};

struct import_entry {
  enum class kind { stream, service };
  kind type = kind::stream;
  std::string account;  // the exporter
  std::string subject;  // subject in the exporter's namespace
  std::string prefix;   // stream only: deliver on "<prefix>.<subject>"
  std::string to;       // stream: local subject mapping; service: local subject (defaults to subject)
  bool share = false;   // service: latency reports describe the requester in full
  config::position pos;
};

struct subject_permission {
  std::vector<std::string> allow;  // empty with has_allow == false: everything allowed
  std::vector<std::string> deny;
  bool has_allow = false;
};

struct user_permissions {
  std::optional<subject_permission> publish;
  std::optional<subject_permission> subscribe;  // entries may be "subject queue"
  // allow_responses: may publish to reply subjects of received messages.
  std::optional<int> responses_max;             // set when allow_responses is configured
  std::chrono::milliseconds responses_expires{std::chrono::minutes(2)};
};

struct user_entry {
  std::string name;      // for an nkey user: the nkey
  std::string password;  // plain, or a bcrypt hash ($2a$/$2b$/$2x$/$2y$)
  std::string nkey;      // a user nkey ("U..."): logs in by signing the INFO nonce
  std::string account;   // "$G" when the user is not inside an account
  std::optional<user_permissions> permissions;
  // allowed_connection_types, upper-case ("STANDARD", "WEBSOCKET", ...); empty: any.
  std::vector<std::string> allowed_connection_types;
  config::position pos;
};

struct account_entry {
  std::string name;
  std::vector<export_entry> exports;
  std::vector<import_entry> imports;
  int64_t max_connections = -1;   // -1: unlimited
  int64_t max_subscriptions = -1;
  int64_t max_payload = -1;
  int64_t max_leafnodes = -1;
  // jetstream: enabled | disabled | {max_memory, max_file, max_streams, max_consumers}
  // (-1: unlimited). Accounts without it have no JetStream when accounts are configured.
  bool jetstream = false;
  int64_t js_max_memory = -1, js_max_store = -1, js_max_streams = -1, js_max_consumers = -1;
  // Operator mode: the account JWT this account was built from (null for config accounts).
  std::shared_ptr<const jwt_account> jwt;
  config::position pos;
};

struct auth_config {
  std::vector<account_entry> accounts;  // as configured; "$G" and the system account are
                                        // added by load_auth_config when missing
  std::vector<user_entry> users;        // from authorization{} and from every account
  // Operator (JWT) mode: trusted operators and the resolver; accounts come from JWTs
  // (add_jwt_accounts) and users log in with user JWTs. Null otherwise.
  std::shared_ptr<const operator_config> op;
  std::string token;                    // authorization { token } (may be bcrypt)
  std::string no_auth_user;
  std::string system_account = "$SYS";
  std::optional<std::chrono::milliseconds> auth_timeout;
  // Where token, no_auth_user and system_account were set, for validation errors.
  config::position token_pos, no_auth_user_pos, system_account_pos;
  // nats-server settings that were accepted but are not implemented yet, in
  // load_options' form: "file:line: text".
  std::vector<std::string> warnings;

  // True when clients must authenticate (users or a token are configured).
  bool auth_required() const { return !users.empty() || !token.empty() || op != nullptr; }
  // True when some user logs in with an nkey: INFO then carries a nonce.
  bool has_nkey_users() const;
  const account_entry* find_account(std::string_view name) const;
  const user_entry* find_user(std::string_view name) const;
};

// Reads the auth-related keys from a parsed config root and validates everything,
// throwing config::parse_error (file:line:column: reason) on the first problem.
auth_config load_auth_config(const config::value& root);

// Operator mode (jwt_accounts.cpp): the configuration when the root names an operator,
// else nullopt. Throws config::parse_error.
std::optional<auth_config> load_operator_auth_config(const config::value& root);

// Validation used by load_auth_config, exposed for tests. Throws config::parse_error.
void validate(const auth_config& cfg);

// The export of `exporter` that lets account `importer` import `subject` as `type`, or
// nullptr. Applies public/private (approved) rules and account_token_position.
const export_entry* find_export(const account_entry& exporter, export_entry::kind type,
                                std::string_view importer, std::string_view subject);

// True when `stored` is a bcrypt hash.
bool is_bcrypt(std::string_view stored);
// Compares a client's password with a stored one: constant time for plain text, bcrypt
// (libcrypt) for hashes. Bcrypt is slow on purpose: callers keep it off I/O threads.
bool password_matches(std::string_view stored, std::string_view given);

}  // namespace platform::accounts
