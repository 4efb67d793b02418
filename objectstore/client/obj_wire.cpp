// The object store's wire format and JetStream API requests. See obj_wire.hpp.
#include "objectstore/client/obj_wire.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>

namespace objectstore::client::detail {

context::~context() { jsCtx_Destroy(js); }

// ------------------------------------------------------------------ subjects and names

std::string stream_name(std::string_view bucket) { return "OBJ_" + std::string(bucket); }

std::string chunk_subject(std::string_view bucket, std::string_view nuid) {
  return "$O." + std::string(bucket) + ".C." + std::string(nuid);
}

std::string meta_subject(std::string_view bucket, std::string_view name) {
  return "$O." + std::string(bucket) + ".M." + base64_encode(name, true);
}

std::string meta_filter(std::string_view bucket) { return "$O." + std::string(bucket) + ".M.>"; }

std::string base64_encode(std::string_view data, bool url_safe) {
  static constexpr char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* a = url_safe ? url_alphabet : std_alphabet;
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(data[i])) << 16 | uint32_t(uint8_t(data[i + 1])) << 8 | uint8_t(data[i + 2]);
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += a[(v >> 6) & 63];
    out += a[v & 63];
  }
  if (size_t rest = data.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(data[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(data[i + 1])) << 8 : 0);
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += rest == 2 ? a[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string new_nuid() {
  static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  unsigned char buf[64];
  while (out.size() < 22) {
    if (RAND_bytes(buf, sizeof buf) != 1) {
      // No entropy from OpenSSL (should not happen): fall back to the OS's device.
      std::random_device rd;
      for (auto& b : buf) b = static_cast<unsigned char>(rd());
    }
    for (unsigned char b : buf)
      if (b < 248 && out.size() < 22) out += alphabet[b % 62];  // 248 = 4 * 62: no bias
  }
  return out;
}

std::string rfc3339(int64_t unix_nanos) {
  std::time_t secs = std::time_t(unix_nanos / 1'000'000'000);
  long nanos = long(unix_nanos % 1'000'000'000);
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
  return buf;
}

int64_t parse_rfc3339(std::string_view t) {
  auto digits = [&](size_t at, size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int year, mon, day, hour, min, sec;
  if (!digits(0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(5, 2, mon) || t[7] != '-' ||
      !digits(8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, hour) ||
      t[13] != ':' || !digits(14, 2, min) || t[16] != ':' || !digits(17, 2, sec))
    return 0;
  size_t at = 19;
  int64_t nanos = 0;
  if (at < t.size() && t[at] == '.') {
    int64_t scale = 100'000'000;
    for (++at; at < t.size() && std::isdigit(static_cast<unsigned char>(t[at])); ++at) {
      nanos += (t[at] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t offset = 0;
  if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh, om;
    if (!digits(at + 1, 2, oh) || at + 3 >= t.size() || t[at + 3] != ':' || !digits(at + 4, 2, om)) return 0;
    offset = (t[at] == '+' ? 1 : -1) * (int64_t(oh) * 3600 + int64_t(om) * 60);
  } else if (at >= t.size() || (t[at] != 'Z' && t[at] != 'z')) {
    return 0;
  }
  if (year <= 1) return 0;  // Go's zero time: "not set"
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  int64_t secs = int64_t(timegm(&tm)) - offset;
  return secs * 1'000'000'000 + nanos;
}

// ------------------------------------------------------------------ digests

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

sha256::~sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void sha256::update(const void* data, size_t len) {
  if (len > 0) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, len);
}

sha256_bytes sha256::finish() {
  sha256_bytes out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  return out;
}

std::string digest_text(const sha256_bytes& d) {
  return "SHA-256=" + base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()), true);
}

std::optional<sha256_bytes> parse_digest(std::string_view text) {
  static constexpr std::string_view prefix = "SHA-256=";
  if (text.size() >= prefix.size()) {
    std::string head(text.substr(0, prefix.size()));
    for (auto& c : head) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (head == prefix) text.remove_prefix(prefix.size());
  }
  sha256_bytes out{};
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() == 64) {  // hex, which readers also accept
    bool hex = true;
    for (size_t i = 0; i < 32 && hex; ++i) {
      int hi = nibble(text[i * 2]), lo = nibble(text[i * 2 + 1]);
      hex = hi >= 0 && lo >= 0;
      out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    if (hex) return out;
  }
  auto raw = base64_decode(text);
  if (!raw || raw->size() != out.size()) return std::nullopt;
  std::copy(raw->begin(), raw->end(), out.begin());
  return out;
}

// ------------------------------------------------------------------ the meta JSON

std::string encode_info(const object_info& info) {
  // Field order and omissions as nats.go's ObjectInfo marshals them.
  nlohmann::ordered_json j;
  j["name"] = info.name;
  if (!info.description.empty()) j["description"] = info.description;
  if (!info.headers.empty()) j["headers"] = info.headers;
  if (!info.metadata.empty()) j["metadata"] = info.metadata;
  if (info.link || info.max_chunk_size > 0) {
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    if (info.link) {
      o["link"]["bucket"] = info.link->bucket;
      if (!info.link->name.empty()) o["link"]["name"] = info.link->name;
    }
    if (info.max_chunk_size > 0) o["max_chunk_size"] = info.max_chunk_size;
    j["options"] = std::move(o);
  }
  j["bucket"] = info.bucket;
  j["nuid"] = info.nuid;
  j["size"] = info.size;
  j["mtime"] = rfc3339(info.mtime_ns);
  j["chunks"] = info.chunks;
  j["digest"] = info.digest;
  if (info.deleted) j["deleted"] = true;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

namespace {

std::string string_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t number_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

int64_t int_at(const nlohmann::json& j, const char* key, int64_t otherwise) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : otherwise;
}

bool bool_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

result<object_info> decode_info(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j["name"].is_string())
    return status(errc::bad_meta, "invalid object meta: not an object's JSON");
  object_info info;
  info.name = string_at(j, "name");
  info.description = string_at(j, "description");
  if (auto h = j.find("headers"); h != j.end() && h->is_object())
    for (const auto& [k, v] : h->items()) {
      auto& values = info.headers[k];
      if (v.is_array())
        for (const auto& s : v)
          if (s.is_string()) values.push_back(s.get<std::string>());
    }
  if (auto m = j.find("metadata"); m != j.end() && m->is_object())
    for (const auto& [k, v] : m->items())
      if (v.is_string()) info.metadata[k] = v.get<std::string>();
  if (auto o = j.find("options"); o != j.end() && o->is_object()) {
    if (auto l = o->find("link"); l != o->end() && l->is_object())
      info.link = object_link{string_at(*l, "bucket"), string_at(*l, "name")};
    info.max_chunk_size = uint32_t(number_at(*o, "max_chunk_size"));
  }
  info.bucket = string_at(j, "bucket");
  info.nuid = string_at(j, "nuid");
  info.size = number_at(j, "size");
  info.chunks = uint32_t(number_at(j, "chunks"));
  info.mtime_ns = parse_rfc3339(string_at(j, "mtime"));
  info.digest = string_at(j, "digest");
  info.deleted = bool_at(j, "deleted");
  return info;
}

// ------------------------------------------------------------------ JetStream API

status from_nats(natsStatus s, const std::string& what) {
  switch (s) {
    case NATS_TIMEOUT:
      return status(errc::timeout, what + ": timed out waiting for the server");
    case NATS_NO_RESPONDERS:
      return status(errc::not_enabled, "JetStream is not enabled on the server");
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
      return status(errc::connection_lost, what + ": connection to the server lost");
    default:
      break;
  }
  std::string text = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last && *last) {
    // libnats prefixes where it failed, "(js.c:123): text": keep the text.
    std::string t = last;
    if (t.front() == '(') {
      size_t end = t.find("): ");
      if (end != std::string::npos && t.find(".c:") < end) t.erase(0, end + 3);
    }
    if (!t.empty()) text = t;
  }
  return status(errc::client_error, what + ": " + text);
}

status from_api_error(const nlohmann::json& error, std::string_view bucket) {
  int64_t code = int_at(error, "code", 0);
  int64_t err_code = int_at(error, "err_code", 0);
  std::string description = string_at(error, "description");
  std::string b(bucket);
  switch (err_code) {
    case 10059:
      return status(errc::bucket_not_found, "bucket not found: " + b);
    case 10039:
      return status(errc::not_enabled, "JetStream is not enabled for this account");
    case 10058:
      return status(errc::bucket_exists, "bucket \"" + b + "\" already exists with a different configuration");
    case 10109:
      return status(errc::bucket_sealed, "bucket \"" + b + "\" is sealed");
    case 10037:
      return status(errc::object_not_found, "object not found");
    case 10077:
    case 10047:
    case 10023:
    case 10002:
      return status(errc::bucket_full, "no room in bucket \"" + b + "\": " + description);
    default:
      break;
  }
  if (description.empty()) description = "JetStream error " + std::to_string(code);
  return status(errc::server_error, description + (err_code ? " (" + std::to_string(err_code) + ")" : ""));
}

result<nlohmann::json> api_request(const context& ctx, const std::string& suffix, const std::string& body,
                                   std::string_view bucket) {
  std::string subject = ctx.api_prefix + "." + suffix;
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, ctx.nc, subject.c_str(), body.data(), int(body.size()),
                                        int64_t(ctx.wait.count()));
  if (s != NATS_OK) return from_nats(s, "JetStream request " + suffix);
  auto j = nlohmann::json::parse(std::string_view(natsMsg_GetData(reply), size_t(natsMsg_GetDataLength(reply))),
                                 nullptr, false);
  natsMsg_Destroy(reply);
  if (j.is_discarded() || !j.is_object())
    return status(errc::server_error, "invalid JetStream response to " + subject);
  if (auto e = j.find("error"); e != j.end() && e->is_object()) return from_api_error(*e, bucket);
  return j;
}

result<stored_message> last_message(const context& ctx, std::string_view bucket, const std::string& subject) {
  nlohmann::json req = {{"last_by_subj", subject}};
  auto r = api_request(ctx, "STREAM.MSG.GET." + stream_name(bucket), req.dump(), bucket);
  if (!r) return r.error();
  auto m = r->find("message");
  if (m == r->end() || !m->is_object()) return status(errc::server_error, "invalid STREAM.MSG.GET response");
  stored_message out;
  auto data = base64_decode(string_at(*m, "data"));
  if (!data) return status(errc::server_error, "invalid STREAM.MSG.GET response: data is not base64");
  out.data = std::move(*data);
  out.seq = number_at(*m, "seq");
  out.time_ns = parse_rfc3339(string_at(*m, "time"));
  return out;
}

// An ordered push consumer (libnats creates, resets and deletes it) on `filter` of the
// bucket's stream, bound to it by name (no STREAM.NAMES lookup).
result<natsSubscription*> ordered_consumer(const context& ctx, const std::string& bucket, const std::string& filter,
                                           jsDeliverPolicy policy) {
  if (ctx.js == nullptr) return status(errc::client_error, "no JetStream context");
  std::string stream = stream_name(bucket);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = int64_t(ctx.wait.count());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = policy;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_SubscribeSync(&sub, ctx.js, filter.c_str(), &jo, &so, &jerr);
  if (s == NATS_OK) return sub;
  if (jerr != 0) {
    const char* text = nats_GetLastError(nullptr);
    return from_api_error({{"err_code", int(jerr)}, {"description", text ? text : ""}}, bucket);
  }
  return from_nats(s, "cannot read bucket \"" + bucket + "\"");
}

void close_consumer(natsSubscription* sub) {
  if (sub == nullptr) return;
  natsSubscription_Unsubscribe(sub);  // also deletes the consumer
  natsSubscription_Destroy(sub);
}

bucket_status status_from_stream_info(const nlohmann::json& info) {
  bucket_status st;
  static const nlohmann::json empty = nlohmann::json::object();
  const auto& c = info.contains("config") && info["config"].is_object() ? info["config"] : empty;
  const auto& s = info.contains("state") && info["state"].is_object() ? info["state"] : empty;
  st.backing_stream = string_at(c, "name");
  st.bucket = st.backing_stream.rfind("OBJ_", 0) == 0 ? st.backing_stream.substr(4) : st.backing_stream;
  st.description = string_at(c, "description");
  st.ttl = std::chrono::nanoseconds(int_at(c, "max_age", 0));
  st.max_bytes = int_at(c, "max_bytes", -1);
  st.storage = string_at(c, "storage") == "memory" ? storage_type::memory : storage_type::file;
  st.replicas = int(int_at(c, "num_replicas", 1));
  st.sealed = bool_at(c, "sealed");
  st.size = number_at(s, "bytes");
  st.messages = number_at(s, "messages");
  st.created_ns = parse_rfc3339(string_at(info, "created"));
  return st;
}

}  // namespace objectstore::client::detail
