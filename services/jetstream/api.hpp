#pragma once
// The JetStream API's data: errors with nats-server's exact codes and descriptions,
// stream and consumer configurations (parsed, defaulted, validated and echoed back as
// nats-server does), and the small helpers every API handler uses (times, headers).
// Plain data and functions: no actors, no storage.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace jetstream {

using json = nlohmann::json;

// {"code":<http>,"err_code":<n>,"description":"..."}
struct api_error {
  int code = 0;
  int err_code = 0;
  std::string description;
  json to_json() const { return {{"code", code}, {"err_code", err_code}, {"description", description}}; }
};

namespace err {
api_error stream_not_found();                     // 10059
api_error consumer_not_found();                   // 10014
api_error no_message_found();                     // 10037
api_error wrong_last_sequence(uint64_t actual);   // 10071
api_error wrong_last_msg_id(std::string_view id); // 10070
api_error stream_name_in_use();                   // 10058
api_error not_enabled_for_account();              // 10039
api_error expected_stream_mismatch();             // 10060
api_error message_size_exceeded();                // 10054
api_error store_failed(std::string_view what);    // 10077 (maximum bytes exceeded, ...)
api_error consumer_exists();                      // 10148
api_error consumer_filter_not_subset();           // 10093
api_error consumer_create_filter_mismatch();      // 10131
api_error replicas_not_supported();               // 10074
api_error stream_name_mismatch();                 // 10056
api_error bad_request();                          // 10003
api_error invalid_json(std::string_view why);     // 10025
api_error rollup_not_permitted();                 // 10111 (rollup not permitted)
api_error stream_sealed();                        // 10109
api_error subjects_overlap();                     // 10065
api_error stream_config(std::string_view why);    // 10052 invalid stream config
api_error consumer_config(std::string_view why);  // 10012-style consumer config errors
api_error invalid_stream_name();                  // 10052: '.', '*' or '>' in a stream name
api_error deny_delete();                          // 10057 message delete not permitted
api_error deny_purge();                           // 10110 stream purge not permitted
api_error max_streams();                          // 10027 maximum number of streams reached
api_error max_consumers();                        // 10026 maximum consumers limit reached
api_error account_resources_exceeded();           // 10002
api_error insufficient_resources();               // 10023
api_error durable_name_forbidden();               // legacy ephemeral subject with a durable
api_error consumer_does_not_exist();              // 10149 (action update on a missing one)
api_error workqueue_not_unique();                 // 10099/10100 overlapping work-queue consumers
}  // namespace err

enum class retention_policy { limits, interest, workqueue };
enum class discard_policy { old_msgs, new_msgs };
enum class storage_type { file, memory };
enum class deliver_policy { all, last, new_msgs, by_start_sequence, by_start_time, last_per_subject };
enum class ack_policy { none, all, explicit_ack };
enum class replay_policy { instant, original };

struct stream_config {
  std::string name, description;
  std::vector<std::string> subjects;
  retention_policy retention = retention_policy::limits;
  int64_t max_consumers = -1, max_msgs = -1, max_bytes = -1, max_age = 0, max_msgs_per_subject = -1;
  int32_t max_msg_size = -1;
  discard_policy discard = discard_policy::old_msgs;
  bool discard_new_per_subject = false;
  storage_type storage = storage_type::file;
  int num_replicas = 1;
  int64_t duplicate_window = 0;  // ns
  bool allow_direct = false, mirror_direct = false, sealed = false, deny_delete = false, deny_purge = false,
       allow_rollup_hdrs = false, no_ack = false;
  std::string compression = "none";
  uint64_t first_seq = 0;
  // Accepted and echoed, not acted on (single server): placement, mirror, sources,
  // republish, metadata, subject_transform, consumer_limits.
  json extra = json::object();
};

// Parses a StreamConfig request body, applies nats-server's defaults and validates.
// `name_in_subject` is the stream named by the API subject. Unknown fields are ignored
// (as Go's JSON decoder does); a field of the wrong type is 10025 invalid JSON.
// `allow_sealed`: an update may seal a stream, a create may not.
std::optional<api_error> parse_stream_config(const json& j, std::string_view name_in_subject, stream_config& out,
                                             bool allow_sealed = true);
json to_json(const stream_config& c);

struct consumer_config {
  std::string name, durable_name, description;
  deliver_policy deliver = deliver_policy::all;
  uint64_t opt_start_seq = 0;
  std::string opt_start_time;  // RFC 3339 as given
  int64_t opt_start_time_ns = 0;
  ack_policy ack = ack_policy::none;
  int64_t ack_wait = 30'000'000'000;  // ns
  int64_t max_deliver = -1;
  std::vector<int64_t> backoff;
  std::string filter_subject;
  std::vector<std::string> filter_subjects;
  replay_policy replay = replay_policy::instant;
  int64_t max_ack_pending = 0;  // 0: unset (1000 once defaulted with acks)
  bool flow_control = false, headers_only = false, mem_storage = false;
  int64_t idle_heartbeat = 0, inactive_threshold = 0;  // ns
  int num_replicas = 0;
  std::string deliver_subject, deliver_group;
  int64_t max_waiting = 0, max_batch = 0, max_expires = 0, max_bytes = 0;
  json extra = json::object();  // metadata, sample_freq, rate_limit_bps ... echoed back
  bool is_pull() const { return deliver_subject.empty(); }
  bool durable() const { return !durable_name.empty(); }
};

std::optional<api_error> parse_consumer_config(const json& j, consumer_config& out);
json to_json(const consumer_config& c);

// Valid stream / consumer names: not empty, no '.', '*', '>', whitespace or path
// separators, at most 255 bytes.
bool valid_name(std::string_view s);
// A stream name's error as nats-server words it (10128 path separators, 10052 others).
std::optional<api_error> check_stream_name(std::string_view name);

// RFC 3339 with nanoseconds, UTC ("2026-12-04T17:00:00.123456789Z").
std::string time_text(int64_t unix_ns);
// Parses RFC 3339 (any fractional precision, Z or offset); false if malformed.
bool parse_time(std::string_view s, int64_t& unix_ns);
int64_t now_ns();

// The value of header `key` in a "NATS/1.0..." block (exact, case-sensitive), if any.
std::optional<std::string_view> header_value(std::string_view block, std::string_view key);
// The status code in a header block's first line ("NATS/1.0 503" → 503), or 0.
int header_status(std::string_view block);

// Standard base64 with padding.
std::string base64(std::string_view bytes);

// {"type":"io.nats.jetstream.api.v1.<type>","error":{...}}
std::string error_response(std::string_view type, const api_error& e);

}  // namespace jetstream
