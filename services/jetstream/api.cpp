#include "services/jetstream/api.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/subject.hpp"
#include "libplatform/time_format.hpp"

namespace jetstream {

namespace err {
namespace {
api_error e(int code, int err_code, std::string d) { return {code, err_code, std::move(d)}; }
}  // namespace
api_error stream_not_found() { return e(404, 10059, "stream not found"); }
api_error consumer_not_found() { return e(404, 10014, "consumer not found"); }
api_error no_message_found() { return e(404, 10037, "no message found"); }
api_error wrong_last_sequence(uint64_t actual) { return e(400, 10071, "wrong last sequence: " + std::to_string(actual)); }
api_error wrong_last_msg_id(std::string_view id) { return e(400, 10070, "wrong last msg ID: " + std::string(id)); }
api_error stream_name_in_use() { return e(400, 10058, "stream name already in use with a different configuration"); }
api_error not_enabled_for_account() { return e(503, 10039, "JetStream not enabled for account"); }
api_error expected_stream_mismatch() { return e(400, 10060, "expected stream does not match"); }
api_error message_size_exceeded() { return e(400, 10054, "message size exceeds maximum allowed"); }
api_error store_failed(std::string_view what) { return e(503, 10077, std::string(what)); }
api_error consumer_exists() { return e(400, 10148, "consumer already exists"); }
api_error consumer_filter_not_subset() {
  return e(400, 10093, "consumer filter subject is not a valid subset of the interest subjects");
}
api_error consumer_create_filter_mismatch() {
  return e(400, 10131, "Consumer create request did not match filtered subject from create subject");
}
api_error replicas_not_supported() { return e(500, 10074, "replicas > 1 not supported in non-clustered mode"); }
api_error stream_name_mismatch() { return e(400, 10056, "stream name in subject does not match request"); }
api_error bad_request() { return e(400, 10003, "bad request"); }
// The reason is for the reader of the code: nats-server 2.9 and 2.10 send none.
api_error invalid_json(std::string_view) { return e(400, 10025, "invalid JSON"); }
api_error rollup_not_permitted() { return e(500, 10111, "rollup not permitted"); }
api_error stream_sealed() { return e(400, 10109, "invalid operation on sealed stream"); }
api_error subjects_overlap() { return e(400, 10065, "subjects overlap with an existing stream"); }
api_error stream_config(std::string_view why) { return e(500, 10052, std::string(why)); }
api_error consumer_config(std::string_view why) { return e(500, 10012, std::string(why)); }
api_error invalid_stream_name() { return e(500, 10052, "stream name is required and can not contain '.', '*', '>'"); }
api_error deny_delete() { return e(500, 10057, "message delete not permitted"); }
api_error deny_purge() { return e(500, 10110, "stream purge not permitted"); }
api_error max_streams() { return e(400, 10027, "maximum number of streams reached"); }
api_error max_consumers() { return e(400, 10026, "maximum consumers limit reached"); }
api_error account_resources_exceeded() { return e(400, 10002, "resource limits exceeded for account"); }
api_error insufficient_resources() { return e(503, 10023, "insufficient resources"); }
api_error durable_name_forbidden() {
  return e(400, 10020, "consumer expected to be ephemeral but a durable name was set in request");
}
api_error consumer_does_not_exist() { return e(400, 10149, "consumer does not exist"); }
api_error workqueue_not_unique() { return e(400, 10100, "filtered consumer not unique on workqueue stream"); }
}  // namespace err

namespace {

// A JSON field with a type check in Go's words ("json: cannot unmarshal string into Go
// struct field StreamConfig.max_msgs of type int64").
struct reader {
  const json& j;
  const char* go_struct;
  std::optional<api_error> error;

  const json* field(const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void wrong(const json& v, const char* key, const char* go_type) {
    if (error) return;
    const char* got = v.is_string() ? "string" : v.is_boolean() ? "bool" : v.is_array() ? "array"
                      : v.is_object() ? "object" : "number";
    error = err::invalid_json(std::string("json: cannot unmarshal ") + got + " into Go struct field " + go_struct +
                              "." + key + " of type " + go_type);
  }
  template <class Int>
  void integer(const char* key, Int& out, const char* go_type = "int64") {
    if (auto* v = field(key)) {
      if (v->is_number_integer()) out = v->get<Int>();
      else if (v->is_number_float() && v->get<double>() == double(int64_t(v->get<double>()))) out = Int(v->get<double>());
      else wrong(*v, key, go_type);
    }
  }
  void boolean(const char* key, bool& out) {
    if (auto* v = field(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else wrong(*v, key, "bool");
    }
  }
  void text(const char* key, std::string& out) {
    if (auto* v = field(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else wrong(*v, key, "string");
    }
  }
  void texts(const char* key, std::vector<std::string>& out) {
    if (auto* v = field(key)) {
      if (!v->is_array()) return wrong(*v, key, "[]string");
      for (auto& x : *v) {
        if (!x.is_string()) return wrong(x, key, "string");
        out.push_back(x.get<std::string>());
      }
    }
  }
  void keep(const char* key, json& extra) {
    if (auto* v = field(key)) extra[key] = *v;
  }
  // An enum given as a string; `names` index = value.
  template <class E, size_t N>
  void choice(const char* key, E& out, const char* const (&names)[N], const char* go_type, bool& bad) {
    auto* v = field(key);
    if (!v) return;
    if (!v->is_string()) return wrong(*v, key, go_type);
    auto s = v->get<std::string>();
    for (size_t i = 0; i < N; ++i)
      if (s == names[i]) {
        out = E(i);
        return;
      }
    bad = true;
  }
};

const char* const retention_names[] = {"limits", "interest", "workqueue"};
const char* const discard_names[] = {"old", "new"};
const char* const storage_names[] = {"file", "memory"};
const char* const deliver_names[] = {"all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"};
const char* const ack_names[] = {"none", "all", "explicit"};
const char* const replay_names[] = {"instant", "original"};

constexpr int64_t ms = 1'000'000;
constexpr int64_t two_minutes = 120'000 * ms;

}  // namespace

std::optional<api_error> check_stream_name(std::string_view name) {
  if (name.find_first_of("/\\") != std::string_view::npos)
    return api_error{400, 10128, "Stream name can not contain path separators"};
  if (name.size() > 255) return err::stream_config("stream name is too long, maximum allowed is 255");
  if (!valid_name(name)) return err::invalid_stream_name();
  return std::nullopt;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s)
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || c == ' ' || c == '\t' || c == '\r' ||
        c == '\n' || c == '\0')
      return false;
  return true;
}

std::optional<api_error> parse_stream_config(const json& j, std::string_view name_in_subject, stream_config& c,
                                             bool allow_sealed) {
  if (!j.is_object()) return err::invalid_json("json: cannot unmarshal into Go value of type server.StreamConfig");
  reader r{j, "StreamConfig", std::nullopt};
  r.text("name", c.name);
  r.text("description", c.description);
  r.texts("subjects", c.subjects);
  bool bad_retention = false, bad_discard = false, bad_storage = false;
  r.choice("retention", c.retention, retention_names, "RetentionPolicy", bad_retention);
  r.integer("max_consumers", c.max_consumers, "int");
  r.integer("max_msgs", c.max_msgs);
  r.integer("max_bytes", c.max_bytes);
  r.integer("max_age", c.max_age, "time.Duration");
  r.integer("max_msgs_per_subject", c.max_msgs_per_subject);
  r.integer("max_msg_size", c.max_msg_size, "int32");
  r.choice("discard", c.discard, discard_names, "DiscardPolicy", bad_discard);
  r.boolean("discard_new_per_subject", c.discard_new_per_subject);
  r.choice("storage", c.storage, storage_names, "StorageType", bad_storage);
  r.integer("num_replicas", c.num_replicas, "int");
  r.integer("duplicate_window", c.duplicate_window, "time.Duration");
  r.boolean("allow_direct", c.allow_direct);
  r.boolean("mirror_direct", c.mirror_direct);
  r.boolean("sealed", c.sealed);
  r.boolean("deny_delete", c.deny_delete);
  r.boolean("deny_purge", c.deny_purge);
  r.boolean("allow_rollup_hdrs", c.allow_rollup_hdrs);
  r.boolean("no_ack", c.no_ack);
  r.text("compression", c.compression);
  r.integer("first_seq", c.first_seq, "uint64");
  for (auto k : {"placement", "mirror", "sources", "republish", "metadata", "subject_transform", "consumer_limits"})
    r.keep(k, c.extra);
  if (r.error) return r.error;

  if (bad_retention || bad_discard || bad_storage) return err::invalid_json("unknown enum value");
  if (!name_in_subject.empty() && !c.name.empty() && c.name != name_in_subject) return err::stream_name_mismatch();
  if (c.name.empty()) c.name = std::string(name_in_subject);
  if (auto e = check_stream_name(c.name)) return e;
  if (c.sealed && !allow_sealed) return err::stream_config("stream configuration for create can not be sealed");
  if (c.description.size() > 4096) return err::stream_config("stream description is too long, maximum allowed is 4096");
  if (c.compression.empty()) c.compression = "none";
  if (c.compression != "none" && c.compression != "s2") return err::stream_config("invalid compression");
  if (c.num_replicas == 0) c.num_replicas = 1;
  if (c.num_replicas < 0) return {{400, 10133, "replicas count cannot be negative"}};
  if (c.num_replicas > 5) return err::stream_config("maximum replicas is 5");
  if (c.num_replicas > 1) return err::replicas_not_supported();
  if (c.extra.contains("mirror") || c.extra.contains("sources"))
    return err::stream_config("mirrors and sources are not supported by this server");
  for (auto* v : {&c.max_msgs, &c.max_bytes, &c.max_consumers, &c.max_msgs_per_subject})
    if (*v == 0) *v = -1;
  if (c.max_msg_size == 0) c.max_msg_size = -1;
  if (c.max_age < 0) return err::stream_config("max age can not be negative");
  if (c.max_age != 0 && c.max_age < 100 * ms) return err::stream_config("max age needs to be >= 100ms");
  if (c.duplicate_window == 0) {
    c.duplicate_window = (c.max_age != 0 && c.max_age < two_minutes) ? c.max_age : two_minutes;
  } else {
    if (c.duplicate_window < 0) return err::stream_config("duplicates window can not be negative");
    if (c.max_age != 0 && c.duplicate_window > c.max_age)
      return err::stream_config("duplicates window can not be larger then max age");
    if (c.duplicate_window < 100 * ms) return err::stream_config("duplicates window needs to be >= 100ms");
  }
  if (c.deny_purge && c.allow_rollup_hdrs) return err::stream_config("roll-ups require the purge permission");
  if (c.discard_new_per_subject) {
    if (c.discard != discard_policy::new_msgs)
      return err::stream_config("discard new per subject requires discard new policy to be set");
    if (c.max_msgs_per_subject <= 0)
      return err::stream_config("discard new per subject requires max msgs per subject > 0");
  }
  if (c.subjects.empty()) c.subjects.push_back(c.name);
  for (size_t i = 0; i < c.subjects.size(); ++i) {
    auto& s = c.subjects[i];
    if (!platform::subject::valid_subscription(s)) return err::stream_config("invalid subject");
    for (size_t k = 0; k < i; ++k)
      if (platform::subject::matches(c.subjects[k], s) || platform::subject::matches(s, c.subjects[k]))
        return err::stream_config("duplicate subjects detected");
    if (platform::accounts::detail::subjects_collide(s, "$JS.API.>"))
      return err::stream_config("subjects overlap with jetstream api");
  }
  return std::nullopt;
}

json to_json(const stream_config& c) {
  json j = {{"name", c.name},
            {"subjects", c.subjects},
            {"retention", retention_names[int(c.retention)]},
            {"max_consumers", c.max_consumers},
            {"max_msgs", c.max_msgs},
            {"max_bytes", c.max_bytes},
            {"max_age", c.max_age},
            {"max_msgs_per_subject", c.max_msgs_per_subject},
            {"max_msg_size", c.max_msg_size},
            {"discard", discard_names[int(c.discard)]},
            {"storage", storage_names[int(c.storage)]},
            {"num_replicas", c.num_replicas},
            {"duplicate_window", c.duplicate_window},
            {"compression", c.compression},
            {"allow_direct", c.allow_direct},
            {"mirror_direct", c.mirror_direct},
            {"sealed", c.sealed},
            {"deny_delete", c.deny_delete},
            {"deny_purge", c.deny_purge},
            {"allow_rollup_hdrs", c.allow_rollup_hdrs}};
  if (!c.description.empty()) j["description"] = c.description;
  if (c.discard_new_per_subject) j["discard_new_per_subject"] = true;
  if (c.no_ack) j["no_ack"] = true;
  if (c.first_seq) j["first_seq"] = c.first_seq;
  for (auto& [k, v] : c.extra.items()) j[k] = v;
  return j;
}

std::optional<api_error> parse_consumer_config(const json& j, consumer_config& c) {
  if (!j.is_object()) return err::invalid_json("json: cannot unmarshal into Go value of type server.ConsumerConfig");
  reader r{j, "ConsumerConfig", std::nullopt};
  r.text("name", c.name);
  r.text("durable_name", c.durable_name);
  r.text("description", c.description);
  bool bad_deliver = false, bad_ack = false, bad_replay = false;
  r.choice("deliver_policy", c.deliver, deliver_names, "DeliverPolicy", bad_deliver);
  r.integer("opt_start_seq", c.opt_start_seq, "uint64");
  r.text("opt_start_time", c.opt_start_time);
  r.choice("ack_policy", c.ack, ack_names, "AckPolicy", bad_ack);
  r.integer("ack_wait", c.ack_wait, "time.Duration");
  r.integer("max_deliver", c.max_deliver, "int");
  if (auto* v = r.field("backoff")) {
    if (!v->is_array()) r.wrong(*v, "backoff", "[]time.Duration");
    else
      for (auto& x : *v) {
        if (!x.is_number_integer()) {
          r.wrong(x, "backoff", "time.Duration");
          break;
        }
        c.backoff.push_back(x.get<int64_t>());
      }
  }
  r.text("filter_subject", c.filter_subject);
  r.texts("filter_subjects", c.filter_subjects);
  r.choice("replay_policy", c.replay, replay_names, "ReplayPolicy", bad_replay);
  r.integer("max_ack_pending", c.max_ack_pending, "int");
  r.boolean("flow_control", c.flow_control);
  r.boolean("headers_only", c.headers_only);
  r.boolean("mem_storage", c.mem_storage);
  r.integer("idle_heartbeat", c.idle_heartbeat, "time.Duration");
  r.integer("inactive_threshold", c.inactive_threshold, "time.Duration");
  r.integer("num_replicas", c.num_replicas, "int");
  r.text("deliver_subject", c.deliver_subject);
  r.text("deliver_group", c.deliver_group);
  r.integer("max_waiting", c.max_waiting, "int");
  r.integer("max_batch", c.max_batch, "int");
  r.integer("max_expires", c.max_expires, "time.Duration");
  r.integer("max_bytes", c.max_bytes, "int");
  for (auto k : {"metadata", "sample_freq", "rate_limit_bps", "pause_until"}) r.keep(k, c.extra);
  if (r.error) return r.error;
  if (bad_deliver || bad_ack || bad_replay) return err::invalid_json("unknown enum value");

  if (!c.name.empty() && !c.durable_name.empty() && c.name != c.durable_name)
    return {{400, 10132, "Consumer Durable and Name have to be equal if both are provided"}};
  for (auto* n : {&c.name, &c.durable_name}) {
    if (n->empty()) continue;
    if (n->find_first_of("/\\") != std::string::npos) return {{400, 10127, "Consumer name can not contain path separators"}};
    if (!valid_name(*n)) return {{400, 10103, "durable name can not contain '.', '*', '>'"}};
  }
  if (!c.filter_subject.empty() && !c.filter_subjects.empty())
    return {{400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"}};
  for (auto& f : c.filter_subjects)
    if (f.empty()) return {{400, 10139, "consumer filter in FilterSubjects cannot be empty"}};
  if (c.filter_subjects.size() == 1) {
    c.filter_subject = c.filter_subjects[0];
    c.filter_subjects.clear();
  }
  if (!c.filter_subject.empty() && !platform::subject::valid_subscription(c.filter_subject))
    return err::consumer_config("consumer filter subject is not a valid subset of the interest subjects");
  if (c.num_replicas < 0) return {{400, 10133, "replicas count cannot be negative"}};
  if (c.num_replicas > 1) return err::replicas_not_supported();
  if (!c.deliver_subject.empty()) {
    if (!platform::subject::valid_publish(c.deliver_subject)) return {{400, 10079, "consumer deliver subject has wildcards"}};
    if (c.max_waiting != 0) return {{400, 10080, "consumer in push mode can not set max waiting"}};
  } else {
    if (c.idle_heartbeat != 0) return {{400, 10088, "consumer idle heartbeat requires a push based consumer"}};
    if (c.flow_control) return {{400, 10089, "consumer flow control requires a push based consumer"}};
    if (c.max_waiting < 0) return {{400, 10087, "consumer max waiting needs to be positive"}};
    if (c.max_waiting == 0) c.max_waiting = 512;
  }
  if (c.flow_control && c.idle_heartbeat <= 0)
    return {{400, 10108, "consumer with flow control also needs heartbeats"}};
  if (c.idle_heartbeat != 0 && c.idle_heartbeat < 100 * ms)
    return {{400, 10083, "consumer idle heartbeat needs to be >= 100ms"}};
  if (c.deliver == deliver_policy::by_start_sequence && c.opt_start_seq == 0)
    return {{400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"}};
  if (c.deliver != deliver_policy::by_start_sequence && c.opt_start_seq != 0)
    return {{400, 10094, std::string("consumer delivery policy is deliver ") + deliver_names[int(c.deliver)] +
                             ", but optional start sequence is also set"}};
  if (c.deliver == deliver_policy::by_start_time) {
    if (c.opt_start_time.empty() || !parse_time(c.opt_start_time, c.opt_start_time_ns))
      return {{400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set"}};
  } else if (!c.opt_start_time.empty() && c.opt_start_time != "0001-01-01T00:00:00Z") {
    return {{400, 10094, "consumer delivery policy is deliver by start time, but optional start time is also set"}};
  }
  if (c.ack_wait <= 0) c.ack_wait = 30'000 * ms;
  if (c.max_deliver == 0) c.max_deliver = -1;
  if (!c.backoff.empty() && c.max_deliver != -1 && c.max_deliver <= int64_t(c.backoff.size()))
    return {{400, 10116, "max deliver is required to be > length of backoff values"}};
  if (c.max_ack_pending == 0 && c.ack != ack_policy::none) c.max_ack_pending = 1000;
  return std::nullopt;
}

json to_json(const consumer_config& c) {
  json j = {{"deliver_policy", deliver_names[int(c.deliver)]},
            {"ack_policy", ack_names[int(c.ack)]},
            {"ack_wait", c.ack_wait},
            {"max_deliver", c.max_deliver},
            {"replay_policy", replay_names[int(c.replay)]},
            {"num_replicas", c.num_replicas}};
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.durable_name.empty()) j["durable_name"] = c.durable_name;
  if (!c.description.empty()) j["description"] = c.description;
  if (c.opt_start_seq) j["opt_start_seq"] = c.opt_start_seq;
  if (!c.opt_start_time.empty()) j["opt_start_time"] = c.opt_start_time;
  if (!c.backoff.empty()) j["backoff"] = c.backoff;
  if (!c.filter_subject.empty()) j["filter_subject"] = c.filter_subject;
  if (!c.filter_subjects.empty()) j["filter_subjects"] = c.filter_subjects;
  if (c.max_ack_pending != 0) j["max_ack_pending"] = c.max_ack_pending;
  if (c.flow_control) j["flow_control"] = true;
  if (c.headers_only) j["headers_only"] = true;
  if (c.mem_storage) j["mem_storage"] = true;
  if (c.idle_heartbeat) j["idle_heartbeat"] = c.idle_heartbeat;
  if (c.inactive_threshold) j["inactive_threshold"] = c.inactive_threshold;
  if (!c.deliver_subject.empty()) j["deliver_subject"] = c.deliver_subject;
  if (!c.deliver_group.empty()) j["deliver_group"] = c.deliver_group;
  if (c.max_waiting) j["max_waiting"] = c.max_waiting;
  if (c.max_batch) j["max_batch"] = c.max_batch;
  if (c.max_expires) j["max_expires"] = c.max_expires;
  if (c.max_bytes) j["max_bytes"] = c.max_bytes;
  for (auto& [k, v] : c.extra.items()) j[k] = v;
  return j;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string time_text(int64_t unix_ns) {
  if (unix_ns <= 0) return "0001-01-01T00:00:00Z";
  time_t secs = time_t(unix_ns / 1'000'000'000);
  long nanos = long(unix_ns % 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", nanos);
  return buf;
}

bool parse_time(std::string_view s, int64_t& out) {
  if (s == "0001-01-01T00:00:00Z") {
    out = 0;
    return true;
  }
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || std::sscanf(std::string(s.substr(0, 19)).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = timegm(&tm);
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    while (digits++ < 9) frac *= 10;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-') && i + 6 == s.size()) {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(s.substr(i + 1)).c_str(), "%2d:%2d", &oh, &om) != 2) return false;
    int64_t off = (oh * 60 + om) * 60;
    secs += s[i] == '+' ? -off : off;
  } else if (!(i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z'))) {
    return false;
  }
  out = secs * 1'000'000'000 + frac;
  return true;
}

std::optional<std::string_view> header_value(std::string_view block, std::string_view key) {
  size_t pos = block.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < block.size()) {
    size_t start = pos + 2;
    size_t end = block.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;
    auto line = block.substr(start, end - start);
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':') {
      auto v = line.substr(key.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

int header_status(std::string_view block) {
  if (block.size() < 12 || block.compare(0, 8, "NATS/1.0") != 0 || block[8] != ' ') return 0;
  int code = 0;
  for (size_t i = 9; i < block.size() && i < 12; ++i) {
    if (block[i] < '0' || block[i] > '9') return 0;
    code = code * 10 + (block[i] - '0');
  }
  return code;
}

std::string base64(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string error_response(std::string_view type, const api_error& e) {
  json j = {{"type", std::string("io.nats.jetstream.api.v1.") + std::string(type)}, {"error", e.to_json()}};
  return j.dump();
}

}  // namespace jetstream
