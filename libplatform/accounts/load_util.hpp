#pragma once
// Typed readers and error builders shared by the auth config loader's files
// (auth_config.cpp, load_accounts.cpp). Internal to platform::accounts.
// Every loader message has the form "<what> must be <type>", "unknown field ..." or a
// sentence built next to the check; all are thrown as config::parse_error.
#include <string>
#include <string_view>
#include <vector>

#include "libplatform/accounts/auth_config.hpp"

namespace platform::accounts::detail {

using config::position;
using config::value;

inline std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

[[noreturn]] inline void fail(const position& at, std::string why) { throw config::parse_error(at, std::move(why)); }

[[noreturn]] inline void must_be(const value& v, std::string_view what, std::string_view type) {
  fail(v.pos, std::string(what) + " must be " + std::string(type));
}

// nats-server rejects unknown fields inside these blocks, except keys that only exist
// to be referenced as $variables.
inline void unknown_field(const value& v, std::string_view key, std::string_view where) {
  if (!v.referenced) fail(v.pos, "unknown field " + quoted(key) + " in " + std::string(where));
}

[[noreturn]] inline void not_supported(const value& v, std::string_view what) {
  fail(v.pos, std::string(what) + " not supported yet");
}

inline void warn_ignored(auth_config& cfg, const value& v, std::string_view what) {
  cfg.warnings.push_back(v.pos.file + ":" + std::to_string(v.pos.line) + ": " + std::string(what) +
                         " not supported yet and ignored");
}

inline const std::string& text(const value& v, std::string_view what) {
  if (!v.is_string()) must_be(v, what, "a string");
  return v.s;
}

inline int64_t integer(const value& v, std::string_view what) {
  if (!v.is_integer()) must_be(v, what, "an integer");
  return v.i;
}

inline bool boolean(const value& v, std::string_view what) {
  if (!v.is_bool()) must_be(v, what, "true or false");
  return v.b;
}

// A string or a list of strings.
inline std::vector<std::string> strings(const value& v, std::string_view what) {
  if (v.is_string()) return {v.s};
  if (!v.is_array()) must_be(v, what, "a string or a list of strings");
  std::vector<std::string> out;
  for (const value& e : v.arr) out.push_back(text(e, std::string(what) + " entries"));
  return out;
}

// Empty when `s` may appear in a permission list, else why not. Subscribe lists
// (allow_queue) may also hold "subject queue". Defined in auth_config.cpp.
std::string permission_subject_error(std::string_view s, bool allow_queue);
// nats-server's connection type names, for allowed_connection_types.
bool known_connection_type(std::string_view upper_case_name);

// Defined in auth_config.cpp; load_accounts.cpp reads account users with them.
user_permissions parse_permissions(const value& v, const std::string& what);
void parse_users(const value& v, std::string_view account, const std::string& where, std::vector<user_entry>& out);

// Defined in load_accounts.cpp. Adds the accounts to cfg.accounts and their users to
// `users`; `users_at` is set to the first account `users` list.
void parse_accounts(const value& v, auth_config& cfg, std::vector<user_entry>& users, const value*& users_at);

}  // namespace platform::accounts::detail
