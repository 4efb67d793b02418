// Reads `accounts { NAME { users, exports, imports, limits, default_permissions } }`
// (or the list form `accounts: [A, B]`). Key meanings follow nats-server's server/opts.go
// (parseAccounts, parseAccountLimits, parseExportStreamOrService, parseServiceLatency,
// parseImportStreamOrService, parseAccount). Whether imports are allowed is decided
// afterwards, by validate(), once every account is known.
#include <charconv>
#include <cstdint>
#include <stdexcept>

#include "libplatform/accounts/load_util.hpp"

namespace platform::accounts::detail {

namespace {

using namespace std::chrono;

// A key and its value, remembered to report a directive that does not fit.
struct seen_key {
  const value* v = nullptr;
  std::string key;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---- exports ----

// 1..100, "50%", or "headers" (0: only requests that carry a trace header).
int parse_sampling(const value& v, const std::string& what) {
  int64_t n = 0;
  if (v.is_integer()) {
    n = v.i;
  } else if (v.is_string()) {
    std::string_view s = trim(v.s);
    if (lower(s) == "headers") return 0;
    if (!s.empty() && s.back() == '%') s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size())
      fail(v.pos, what + " " + quoted(v.s) + " is not a percentage; use 1 to 100, \"50%\" or \"headers\"");
  } else {
    must_be(v, what, "a percentage (1 to 100, or \"50%\") or \"headers\"");
  }
  if (n < 1 || n > 100) fail(v.pos, what + " must be between 1 and 100 percent, or \"headers\"");
  return static_cast<int>(n);
}

// latency: "subject" (every request) or {sampling: ..., subject: ...}.
latency_config parse_latency(const value& v, const std::string& what) {
  latency_config l;
  if (v.is_string()) {
    l.subject = v.s;
    return l;
  }
  if (!v.is_map()) must_be(v, what, "a subject or a map such as {sampling: \"50%\", subject: \"latency.svc\"}");
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "sampling") l.sampling = parse_sampling(item, what + " sampling");
    else if (k == "subject") l.subject = text(item, what + " subject");
    else unknown_field(item, key, what);  // nats-server ignores these; a typo would go unseen
  }
  if (l.subject.empty()) fail(v.pos, what + " needs a subject for the latency reports");
  return l;
}

export_entry parse_export(const value& v, const std::string& where) {
  const std::string what = "an export in " + where;
  if (!v.is_map()) must_be(v, what, "a map such as {stream: \"foo.>\"} or {service: \"foo\"}");
  export_entry e;
  e.pos = v.pos;
  seen_key stream, service, response, threshold, latency, trace;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "stream") {
      e.subject = text(item, what + " stream");
      stream = {&item, key};
    } else if (k == "service") {
      e.subject = text(item, what + " service");
      service = {&item, key};
    } else if (k == "response" || k == "response_type") {
      std::string t = lower(text(item, what + " " + key));
      if (t == "single" || t == "singleton") e.response = response_type::singleton;
      else if (t == "stream") e.response = response_type::stream;
      else if (t == "chunk" || t == "chunked") e.response = response_type::chunked;
      else fail(item.pos, what + ": unknown " + key + " " + quoted(item.s) + "; use singleton, stream or chunked");
      response = {&item, key};
    } else if (k == "threshold" || k == "response_threshold" || k == "response_max_time" || k == "response_time") {
      nanoseconds d{};
      try {
        d = config::parse_duration(text(item, what + " " + key));
      } catch (const std::invalid_argument& ex) {
        fail(item.pos, what + " " + key + " is not a valid duration: " + ex.what());
      }
      if (d < nanoseconds::zero()) fail(item.pos, what + " " + key + " must not be negative");
      if (d > nanoseconds::zero()) e.response_threshold = d;  // 0 keeps the default, as in nats-server
      threshold = {&item, key};
    } else if (k == "accounts") {
      if (!item.is_array()) must_be(item, what + " accounts", "a list of account names");
      for (const value& a : item.arr) e.approved.push_back(text(a, what + " accounts entries"));
    } else if (k == "latency") {
      e.latency = parse_latency(item, what + " latency");
      latency = {&item, key};
    } else if (k == "account_token_position") {
      int64_t n = integer(item, what + " " + key);
      if (n < 0 || n > INT32_MAX) fail(item.pos, what + " " + key + " must be a token number (1 for the first token)");
      e.account_token_position = static_cast<int>(n);
    } else if (k == "allow_trace") {
      boolean(item, what + " " + key);  // message tracing is not implemented; nothing to allow
      trace = {&item, key};
    } else {
      unknown_field(item, key, what);
    }
  }
  if (stream.v != nullptr && service.v != nullptr)
    fail(service.v->pos, what + " cannot be both a stream and a service");
  if (stream.v == nullptr && service.v == nullptr)
    fail(v.pos, what + " needs a stream or a service subject, e.g. {stream: \"foo.>\"}");
  e.type = service.v != nullptr ? export_entry::kind::service : export_entry::kind::stream;
  if (stream.v != nullptr) {
    for (const seen_key* s : {&response, &threshold, &latency, &trace})
      if (s->v != nullptr) fail(s->v->pos, what + ": " + s->key + " applies to service exports only");
  }
  return e;
}

// ---- imports ----

// {account: X, subject: S}
void parse_import_source(const value& v, import_entry& im, const std::string& what) {
  if (!v.is_map()) must_be(v, what, "a map such as {account: X, subject: \"foo.>\"}");
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "account") im.account = text(item, what + " account");
    else if (k == "subject") im.subject = text(item, what + " subject");
    else unknown_field(item, key, what);
  }
  if (im.account.empty() || im.subject.empty()) fail(v.pos, what + " needs an account and a subject");
}

import_entry parse_import(const value& v, const std::string& where) {
  const std::string what = "an import in " + where;
  if (!v.is_map()) must_be(v, what, "a map such as {stream: {account: X, subject: \"foo.>\"}}");
  import_entry im;
  im.pos = v.pos;
  seen_key stream, service, prefix, to, trace;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "stream") stream = {&item, key};
    else if (k == "service") service = {&item, key};
    else if (k == "prefix") {
      im.prefix = text(item, what + " " + key);
      prefix = {&item, key};
    } else if (k == "to") {
      im.to = text(item, what + " " + key);
      to = {&item, key};
    } else if (k == "share") {
      im.share = boolean(item, what + " " + key);
    } else if (k == "allow_trace") {
      boolean(item, what + " " + key);
      trace = {&item, key};
    } else {
      unknown_field(item, key, what);
    }
  }
  if (stream.v != nullptr && service.v != nullptr) fail(service.v->pos, what + " cannot be both a stream and a service");
  if (stream.v == nullptr && service.v == nullptr)
    fail(v.pos, what + " needs a stream or a service, e.g. {stream: {account: X, subject: \"foo.>\"}}");
  if (stream.v != nullptr) {
    im.type = import_entry::kind::stream;
    parse_import_source(*stream.v, im, "the stream of " + what);
    if (prefix.v != nullptr && to.v != nullptr) fail(to.v->pos, what + " cannot have both a prefix and a to");
  } else {
    im.type = import_entry::kind::service;
    parse_import_source(*service.v, im, "the service of " + what);
    if (prefix.v != nullptr) fail(prefix.v->pos, what + ": prefix applies to stream imports only; use to");
    if (trace.v != nullptr) fail(trace.v->pos, what + ": allow_trace applies to stream imports only");
    if (im.to.empty()) im.to = im.subject;
  }
  return im;
}

// ---- limits ----

int64_t limit(const value& v, const std::string& what) {
  int64_t n = integer(v, what);
  if (n < -1 || n > INT32_MAX) fail(v.pos, what + " must be -1 (unlimited) or a number up to 2147483647");
  return n;
}

void parse_limits(const value& v, account_entry& acc, const std::string& where) {
  const std::string what = "limits of " + where;
  if (!v.is_map()) must_be(v, what, "a map such as {max_connections: 100}");
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    std::string name = what + " " + key;
    if (k == "max_connections" || k == "max_conn") acc.max_connections = limit(item, name);
    else if (k == "max_subscriptions" || k == "max_subs") acc.max_subscriptions = limit(item, name);
    else if (k == "max_payload" || k == "max_pay") acc.max_payload = limit(item, name);
    else if (k == "max_leafnodes" || k == "max_leafs") acc.max_leafnodes = limit(item, name);
    else unknown_field(item, key, what);
  }
}

// jetstream: enabled | disabled | true | false | {max_memory, max_file, max_streams, max_consumers}.
void parse_account_jetstream(const value& v, account_entry& acc, const std::string& where) {
  const std::string what = "jetstream of " + where;
  if (v.is_bool()) {
    acc.jetstream = v.b;
    return;
  }
  if (v.is_string()) {
    std::string s = lower(v.s);
    if (s == "enabled" || s == "enable") acc.jetstream = true;
    else if (s == "disabled" || s == "disable") acc.jetstream = false;
    else fail(v.pos, what + " must be 'enabled', 'disabled' or a map of limits");
    return;
  }
  if (!v.is_map()) must_be(v, what, "'enabled', 'disabled' or a map such as {max_file: 1G, max_streams: 10}");
  acc.jetstream = true;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    std::string name = what + " " + key;
    int64_t n = integer(item, name);
    if (n < -1) fail(item.pos, name + " must be -1 (unlimited) or a positive number");
    if (k == "max_memory" || k == "max_mem" || k == "mem" || k == "max_memory_store") acc.js_max_memory = n;
    else if (k == "max_file" || k == "max_store" || k == "store" || k == "max_file_store" || k == "disk")
      acc.js_max_store = n;
    else if (k == "max_streams") acc.js_max_streams = n;
    else if (k == "max_consumers") acc.js_max_consumers = n;
    else if (k == "max_ack_pending" || k == "max_bytes_required" || k == "memory_max_stream_bytes" ||
             k == "store_max_stream_bytes" || k == "max_bytes") {
      // accepted: nats-server tiered limits we do not enforce yet
    } else unknown_field(item, key, what);
  }
}

// ---- accounts ----

[[noreturn]] void reserved(const value& v) {
  fail(v.pos, "\"$G\" is a reserved account name: users outside accounts{} belong to it");
}

void parse_account(const std::string& name, const value& v, auth_config& cfg, std::vector<user_entry>& users,
                   const value*& users_at) {
  const std::string where = "account " + quoted(name);
  if (!v.is_map()) must_be(v, where, "a map such as {users: [...], exports: [...], imports: [...]}");
  if (name == "$G") reserved(v);
  account_entry acc;
  acc.name = name;
  acc.pos = v.pos;
  std::vector<user_entry> own;
  const value* own_at = nullptr;
  std::optional<user_permissions> defaults;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "users") {
      own_at = &item;
      parse_users(item, name, where, own);
    } else if (k == "exports") {
      if (!item.is_array()) must_be(item, "exports of " + where, "a list");
      for (const value& e : item.arr) acc.exports.push_back(parse_export(e, where));
    } else if (k == "imports") {
      if (!item.is_array()) must_be(item, "imports of " + where, "a list");
      for (const value& i : item.arr) acc.imports.push_back(parse_import(i, where));
    } else if (k == "default_permissions") {
      defaults = parse_permissions(item, "default_permissions of " + where);
    } else if (k == "limits") {
      parse_limits(item, acc, where);
    } else if (k == "jetstream") {
      parse_account_jetstream(item, acc, where);
    } else if (k == "nkey" || k == "mappings" || k == "maps" || k == "msg_trace" ||
               k == "trace_dest") {
      warn_ignored(cfg, item, where + " " + key + " is");
    } else {
      unknown_field(item, key, where);
    }
  }
  for (user_entry& u : own)
    if (!u.permissions) u.permissions = defaults;
  if (!own.empty() && users_at == nullptr) users_at = own_at;
  for (user_entry& u : own) users.push_back(std::move(u));
  cfg.accounts.push_back(std::move(acc));
}

}  // namespace

void parse_accounts(const value& v, auth_config& cfg, std::vector<user_entry>& users, const value*& users_at) {
  if (v.is_array()) {
    // accounts: [A, B]: names only.
    for (const value& n : v.arr) {
      const std::string& name = text(n, "an account name in accounts");
      if (name == "$G") reserved(n);
      if (cfg.find_account(name) != nullptr) fail(n.pos, "account " + quoted(name) + " is listed twice");
      account_entry acc;
      acc.name = name;
      acc.pos = n.pos;
      cfg.accounts.push_back(std::move(acc));
    }
    return;
  }
  if (!v.is_map()) must_be(v, "accounts", "a map of account names to accounts, or a list of names");
  for (const auto& [name, item] : v.map) {
    if (item.referenced) continue;  // a $variable definition, not an account
    parse_account(name, item, cfg, users, users_at);
  }
}

}  // namespace platform::accounts::detail
