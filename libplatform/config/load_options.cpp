// Key meanings follow processConfigFileLine in nats-server's server/opts.go.
#include "libplatform/config/load_options.hpp"

#include <algorithm>
#include <iterator>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "libplatform/subject.hpp"

namespace platform::config {

namespace {

using namespace std::chrono;

// Top-level keys read by the accounts loader (libplatform/accounts), not here.
constexpr std::string_view auth_keys[] = {"accounts", "authorization", "no_auth_user", "system_account", "system",
                                          "operator", "operators", "trusted", "trusted_keys",
                                          "resolver", "resolver_preload"};

// nats-server security features dialtone does not implement yet. A config that asks for
// one is refused: running without it would quietly serve plain text (tls) or let anyone
// in (operator mode).
constexpr std::string_view refused_keys[] = {
    "ocsp", "account_resolver", "accounts_resolver", "resolver_tls", "resolver_pinned_accounts"};

// Other nats-server options dialtone does not implement yet: the config still loads,
// with a warning per key, so a nats-server config can be tried unchanged.
constexpr std::string_view unsupported_keys[] = {
    "client_advertise", "logtime", "logtime_utc", "mappings", "maps", "disable_sublist_cache",
    "no_sublist_cache", "default_sentinel", "http", "https", "http_port", "monitor_port",
    "https_port", "http_base_path", "cluster", "gateway", "leaf", "leafnodes", "logfile_size_limit",
    "log_size_limit", "logfile_max_num", "log_max_num", "syslog", "remote_syslog", "pidfile", "pid_file",
    "ports_file_dir", "prof_port", "prof_block_rate", "proxy_protocol", "max_traced_msg_len",
    "max_sub_tokens", "max_subscription_tokens", "allow_non_tls", "write_timeout", "lame_duck_duration",
    "lame_duck_grace_period", "roots", "root", "root_operators", "root_operator", "no_system_account",
    "no_system", "no_sys_acc", "connect_error_reports", "reconnect_error_reports", "websocket", "ws", "mqtt",
    "server_tags", "server_metadata", "feature_flags", "default_js_domain", "ocsp_cache",
    "no_fast_producer_stall", "max_closed_clients", "proxies"};

template <size_t N>
bool listed(const std::string_view (&keys)[N], std::string_view name) {
  return std::find(std::begin(keys), std::end(keys), name) != std::end(keys);
}

// ---- Every message load_options produces is built here. ----

[[noreturn]] void must_be(const value& v, std::string_view key, std::string_view what) {
  throw parse_error(v.pos, std::string(key) + " must be " + std::string(what));
}

[[noreturn]] void bad_value(const value& v, std::string_view key, const std::string& why) {
  throw parse_error(v.pos, std::string(key) + " " + why);
}

void warn(server_options& opts, const position& at, const std::string& text) {
  opts.warnings.push_back(at.file + ":" + std::to_string(at.line) + ": " + text);
}

void warn_unsupported(server_options& opts, const position& at, std::string_view key) {
  warn(opts, at, "'" + std::string(key) + "' is a nats-server option dialtone does not support yet; it is ignored");
}

// ---- Typed readers ----

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

int64_t integer(const value& v, std::string_view key) {
  if (!v.is_integer()) must_be(v, key, "an integer");
  return v.i;
}

const std::string& text(const value& v, std::string_view key) {
  if (!v.is_string()) must_be(v, key, "a string");
  return v.s;
}

bool boolean(const value& v, std::string_view key) {
  if (!v.is_bool()) must_be(v, key, "a boolean (true or false)");
  return v.b;
}

int64_t non_negative(const value& v, std::string_view key) {
  int64_t n = integer(v, key);
  if (n < 0) bad_value(v, key, "must not be negative");
  return n;
}

// nats-server keeps these in 32-bit fields and rejects larger values.
int64_t size_32(const value& v, std::string_view key) {
  int64_t n = non_negative(v, key);
  if (n > std::numeric_limits<int32_t>::max()) bad_value(v, key, "value is too big");
  return n;
}

// A Go duration string, or (deprecated, with a warning) a number of seconds.
nanoseconds duration_value(const value& v, std::string_view key, server_options& opts) {
  nanoseconds d{};
  if (v.is_string()) {
    try {
      d = parse_duration(v.s);
    } catch (const std::invalid_argument& e) {
      bad_value(v, key, std::string("is not a valid duration: ") + e.what());
    }
  } else if (v.is_integer()) {
    if (v.i > duration_cast<seconds>(nanoseconds::max()).count()) bad_value(v, key, "is too large");
    if (v.i < 0) bad_value(v, key, "must not be negative");
    warn(opts, v.pos, std::string(key) + " should be converted to a duration, e.g. \"" + std::to_string(v.i) + "s\"");
    d = seconds(v.i);
  } else {
    must_be(v, key, "a duration such as \"30s\"");
  }
  if (d < nanoseconds::zero()) bad_value(v, key, "must not be negative");
  return d;
}

milliseconds to_ms(nanoseconds d) { return ceil<milliseconds>(d); }

int port_number(const value& v, std::string_view key, int64_t n) {
  if (n < -1 || n > 65535) bad_value(v, key, "must be a port between -1 and 65535");
  return n == 0 ? server_options{}.port : static_cast<int>(n);  // nats-server: 0 means the default
}

// "host:port", ":port", "[v6]:port" or a bare port, as Go's net.SplitHostPort.
void apply_listen(const value& v, std::string_view key, server_options& opts) {
  if (v.is_integer()) {
    opts.port = port_number(v, key, v.i);
    return;
  }
  if (!v.is_string()) must_be(v, key, "a port or a \"host:port\" string");
  std::string_view s = v.s;
  std::string_view host, port = s;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') port = {};
    else {
      host = s.substr(1, close - 1);
      port = s.substr(close + 2);
    }
  } else if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    if (s.find(':') != colon) port = {};  // unbracketed IPv6 is ambiguous
    else {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size())
    bad_value(v, key, "'" + v.s + "' is not an address; expected \"host:port\", \":port\" or a port number");
  opts.port = port_number(v, key, n);
  opts.host = host.empty() ? server_options{}.host : std::string(host);
}

// Only the timeout is used; users, permissions and callouts come later.
void apply_authorization(const value& v, std::string_view key, server_options& opts) {
  if (!v.is_map()) must_be(v, key, "a map");
  const value* t = v.find("timeout");
  if (t == nullptr) return;
  std::string name = std::string(key) + " timeout";
  double secs = 0;
  if (t->is_integer()) secs = static_cast<double>(t->i);
  else if (t->is_float()) secs = t->d;
  else if (t->is_string()) secs = duration_cast<duration<double>>(duration_value(*t, name, opts)).count();
  else must_be(*t, name, "a number of seconds or a duration such as \"2s\"");
  if (!(secs >= 0) || secs > 1e9) bad_value(*t, name, "must be between 0 and 1e9 seconds");
  if (secs > 60)
    warn(opts, t->pos, name + " of " + std::to_string(secs) + " seconds is high, consider keeping it under 60 seconds");
  if (secs > 0) opts.auth_timeout = milliseconds(std::llround(secs * 1000));
}

struct load_state {
  bool store_dir_set = false;
};

void apply_store_dir(const value& v, std::string_view key, server_options& opts, load_state& st) {
  if (st.store_dir_set) bad_value(v, key, "duplicates an earlier 'store_dir' setting");
  opts.store_dir = text(v, key);
  st.store_dir_set = true;
}

// jetstream: true | "enabled" | "disabled" | { store_dir, max_memory_store,
// max_file_store, sync_interval, enabled, orphan_chunk_age }.
void apply_jetstream(const value& v, std::string_view key, server_options& opts, load_state& st) {
  if (v.is_bool()) {
    opts.jetstream = v.b;
    return;
  }
  if (v.is_string()) {
    std::string s = lower(v.s);
    if (s == "enabled" || s == "enable") opts.jetstream = true;
    else if (s == "disabled" || s == "disable") opts.jetstream = false;
    else bad_value(v, key, "must be 'enabled' or 'disabled' when given as a string");
    return;
  }
  if (!v.is_map()) must_be(v, key, "a boolean, 'enabled', 'disabled' or a map");
  opts.jetstream = true;
  for (const auto& [k, mv] : v.map) {
    std::string name = lower(k);
    std::string where = std::string(key) + " " + k;
    if (name == "store_dir" || name == "storedir" || name == "store")
      apply_store_dir(mv, where, opts, st);
    else if (name == "enabled" || name == "enable")
      opts.jetstream = boolean(mv, where);
    else if (name == "max_memory_store" || name == "max_mem_store" || name == "max_mem" || name == "max_memory")
      opts.js_max_memory = non_negative(mv, where) == 0 ? -1 : mv.i;
    else if (name == "max_file_store" || name == "max_file" || name == "max_store")
      opts.js_max_file = non_negative(mv, where) == 0 ? -1 : mv.i;
    else if (name == "sync_interval" || name == "sync") {
      if (mv.is_string() && lower(mv.s) == "always") opts.js_sync_always = true;
      else duration_value(mv, where, opts);  // a periodic sync: the WAL already survives a kill -9
    } else if (name == "orphan_chunk_age") {
      // Dialtone's own: object-store chunks left by a put that never finished.
      opts.js_orphan_chunk_age = duration_value(mv, where, opts);
    } else if (name == "domain" || name == "unique_tag" || name == "max_outstanding_catchup" ||
               name == "max_buffered_msgs" || name == "max_buffered_size" || name == "request_queue_limit" ||
               name == "limits" || name == "strict" || name == "compress_ok" || name == "max_catchup") {
      warn_unsupported(opts, mv.pos, where);
    } else {
      bad_value(mv, where, "is not a jetstream setting");
    }
  }
}

// A duration as Go writes it, or a whole number of days ("30d"), as retention periods
// are usually given.
// tls { ... }: nats-server's keys. Files are checked when the server builds its TLS
// context (actors/io/tls_context), with the file name in the error.
void apply_tls(const value& v, std::string_view key, server_options& opts) {
  if (!v.is_map()) must_be(v, key, "a map such as {cert_file: server.pem, key_file: server-key.pem}");
  auto& t = opts.tls;
  t.enabled = true;
  for (const auto& [k, mv] : v.map) {
    std::string name = lower(k);
    std::string where = std::string(key) + " " + k;
    if (name == "cert_file") t.cert_file = text(mv, where);
    else if (name == "key_file") t.key_file = text(mv, where);
    else if (name == "ca_file") t.ca_file = text(mv, where);
    else if (name == "verify") t.verify = boolean(mv, where);
    else if (name == "verify_and_map") t.verify_and_map = t.verify = boolean(mv, where);
    else if (name == "timeout") {
      // Seconds (a number, possibly fractional) or a duration string, as nats-server.
      double secs = 0;
      if (mv.is_integer()) secs = static_cast<double>(mv.i);
      else if (mv.is_float()) secs = mv.d;
      else if (mv.is_string()) secs = duration_cast<duration<double>>(duration_value(mv, where, opts)).count();
      else must_be(mv, where, "a number of seconds or a duration such as \"2s\"");
      if (!(secs > 0) || secs > 3600) bad_value(mv, where, "must be more than 0 and at most 3600 seconds");
      t.timeout = milliseconds(std::llround(secs * 1000));
    } else if (name == "cipher_suites") {
      if (!mv.is_array()) must_be(mv, where, "a list of cipher suite names");
      for (const auto& c : mv.arr) t.cipher_suites.push_back(text(c, where));
    } else if (name == "min_version") {
      t.min_version = text(mv, where);
      if (t.min_version != "1.2" && t.min_version != "1.3") bad_value(mv, where, "must be \"1.2\" or \"1.3\"");
    } else if (name == "curve_preferences" || name == "insecure" || name == "pinned_certs" ||
               name == "verify_cert_and_check_known_urls" || name == "connection_rate_limit" ||
               name == "cert_store" || name == "cert_match" || name == "cert_match_by" || name == "ca_certs_match" ||
               name == "ocsp_peer" || name == "certs" || name == "handshake_first" || name == "first") {
      warn_unsupported(opts, mv.pos, where);
    } else {
      bad_value(mv, where, "is not a tls setting (cert_file, key_file, ca_file, verify, verify_and_map, timeout, "
                           "cipher_suites, min_version)");
    }
  }
  if (t.cert_file.empty() || t.key_file.empty()) bad_value(v, key, "needs cert_file and key_file");
}

nanoseconds retention_value(const value& v, std::string_view key, server_options& opts) {
  if (v.is_string() && v.s.size() > 1 && v.s.back() == 'd' &&
      v.s.find_first_not_of("0123456789") == v.s.size() - 1) {
    int64_t days = std::stoll(v.s.substr(0, v.s.size() - 1));
    if (days > 100000) bad_value(v, key, "is too large");
    return duration_cast<nanoseconds>(hours(24 * days));
  }
  return duration_value(v, key, opts);
}

// request_log { record: [ { account, subjects } ], max_age, max_bytes, auditor,
// response_threshold } (Dialtone's own).
void apply_request_log(const value& v, std::string_view key, server_options& opts) {
  if (!v.is_map()) must_be(v, key, "a map");
  opts.request_log = true;
  for (const auto& [k, mv] : v.map) {
    std::string name = lower(k);
    std::string where = std::string(key) + " " + k;
    if (name == "record") {
      if (!mv.is_array()) must_be(mv, where, "a list of { account, subjects }");
      for (const auto& r : mv.arr) {
        if (!r.is_map()) must_be(r, where, "a list of { account, subjects }");
        server_options::request_log_rule rule;
        for (const auto& [rk, rv] : r.map) {
          std::string rn = lower(rk);
          std::string rwhere = where + " " + rk;
          if (rn == "account") {
            rule.account = text(rv, rwhere);
          } else if (rn == "subjects" || rn == "subject") {
            auto add = [&](const value& sv) {
              const std::string& s = text(sv, rwhere);
              if (!platform::subject::valid_subscription(s)) bad_value(sv, rwhere, "is not a valid subject");
              rule.subjects.push_back(s);
            };
            if (rv.is_array()) {
              for (const auto& sv : rv.arr) add(sv);
            } else {
              add(rv);
            }
          } else {
            bad_value(rv, rwhere, "is not a request_log record setting (account, subjects)");
          }
        }
        if (rule.account.empty()) bad_value(r, where, "needs an account");
        if (rule.subjects.empty()) bad_value(r, where, "needs subjects");
        opts.rlog_record.push_back(std::move(rule));
      }
    } else if (name == "max_age") {
      opts.rlog_max_age = retention_value(mv, where, opts);
    } else if (name == "max_bytes") {
      opts.rlog_max_bytes = non_negative(mv, where) == 0 ? -1 : mv.i;
    } else if (name == "auditor") {
      opts.rlog_auditor = text(mv, where);
    } else if (name == "max_cpu") {
      double d = mv.is_float() ? mv.d : mv.is_integer() ? double(mv.i) : -1;
      if (d <= 0 || d > 1) bad_value(mv, where, "must be a share of one core, more than 0 and at most 1 (e.g. 0.1)");
      opts.rlog_max_cpu = d;
    } else if (name == "max_queue") {
      opts.rlog_max_queue = non_negative(mv, where);
      if (opts.rlog_max_queue == 0) bad_value(mv, where, "must be more than 0");
    } else if (name == "response_threshold") {
      opts.rlog_response_threshold = duration_value(mv, where, opts);
      if (opts.rlog_response_threshold.count() <= 0) bad_value(mv, where, "must be more than 0");
    } else {
      bad_value(mv, where, "is not a request_log setting");
    }
  }
}

// Returns false if the key is not a nats-server option at all.
bool apply_key(const std::string& name, std::string_view key, const value& v, server_options& opts,
               load_state& st) {
  if (name == "listen") apply_listen(v, key, opts);
  else if (name == "port") opts.port = port_number(v, key, integer(v, key));
  else if (name == "host" || name == "net") opts.host = text(v, key);
  else if (name == "server_name") {
    if (text(v, key).find(' ') != std::string::npos) bad_value(v, key, "cannot contain spaces");
    opts.server_name = v.s;
  } else if (name == "max_payload") {
    if (int64_t n = size_32(v, key)) opts.max_payload = n;
  } else if (name == "max_control_line") {
    if (int64_t n = size_32(v, key)) opts.max_control_line = n;
  } else if (name == "max_pending") {
    if (int64_t n = non_negative(v, key)) opts.max_pending = n;
  } else if (name == "max_connections" || name == "max_conn") {
    int64_t n = integer(v, key);
    opts.max_connections = n == 0 ? -1 : n;
  } else if (name == "ping_interval") {
    if (auto d = to_ms(duration_value(v, key, opts)); d.count() > 0) opts.ping_interval = d;
  } else if (name == "ping_max") {
    if (int64_t n = non_negative(v, key)) {
      if (n > std::numeric_limits<int>::max()) bad_value(v, key, "value is too big");
      opts.ping_max = static_cast<int>(n);
    }
  } else if (name == "write_deadline") opts.write_deadline = to_ms(duration_value(v, key, opts));
  else if (name == "busy_poll")
    opts.busy_poll = std::chrono::duration_cast<std::chrono::microseconds>(duration_value(v, key, opts));
  else if (name == "authorization") apply_authorization(v, key, opts);
  else if (name == "debug") opts.debug = boolean(v, key);
  else if (name == "trace" || name == "trace_verbose" || name == "trace_headers") opts.trace = boolean(v, key);
  else if (name == "logfile" || name == "log_file") opts.logfile = text(v, key);
  else if (name == "store_dir" || name == "storedir") apply_store_dir(v, key, opts, st);
  else if (name == "jetstream") apply_jetstream(v, key, opts, st);
  else if (name == "request_log") apply_request_log(v, key, opts);
  else if (name == "tls") apply_tls(v, key, opts);
  else if (name == "max_subscriptions" || name == "max_subs") {
    int64_t n = size_32(v, key);
    opts.max_subs = n == 0 ? -1 : n;  // nats-server: 0 means unlimited
  } else if (name == "no_header_support") opts.header_support = !boolean(v, key);
  else if (listed(refused_keys, name))
    bad_value(v, key, "is not supported by dialtone yet; remove it rather than run without it");
  else if (listed(unsupported_keys, name)) warn_unsupported(opts, v.pos, key);
  else return listed(auth_keys, name);
  return true;
}

}  // namespace

void load_options(const value& root, server_options& opts) {
  if (!root.is_map()) must_be(root, "the configuration", "a map of keys and values");
  load_state st;
  for (const auto& [key, v] : root.map) {
    // As nats-server: an unknown key is an error, unless it is a variable that is used.
    if (!apply_key(lower(key), key, v, opts, st) && !v.referenced)
      throw parse_error(v.pos, "unknown field \"" + key + "\"");
  }
}

}  // namespace platform::config
