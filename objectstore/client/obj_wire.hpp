#pragma once
// Internal to dialtone_objclient: the object store's wire format (subjects, the meta
// JSON, names, digests, NUIDs, times) and JetStream API requests. No state of its own
// beyond detail::context, which a store and its buckets share.
#include <nats/nats.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "objectstore/client/obj_client.hpp"

namespace objectstore::client::detail {

// What an object_store and every bucket opened from it share. The connection is
// borrowed; `js` (for ordered consumers) is owned. Lives as long as its last user.
struct context {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::chrono::milliseconds wait{5000};
  std::string api_prefix = "$JS.API";
  ~context();
};

// ---- subjects and names

std::string stream_name(std::string_view bucket);                          // OBJ_<b>
std::string chunk_subject(std::string_view bucket, std::string_view nuid);  // $O.<b>.C.<nuid>
std::string meta_subject(std::string_view bucket, std::string_view name);   // $O.<b>.M.<b64url(name)>
std::string meta_filter(std::string_view bucket);                           // $O.<b>.M.>

// Base64 with padding: the standard alphabet, or the URL-safe one (- and _).
std::string base64_encode(std::string_view data, bool url_safe);
// Either alphabet, padding optional; nullopt when not base64.
std::optional<std::string> base64_decode(std::string_view text);

// 22 random base62 characters (the length of a NATS NUID).
std::string new_nuid();

// RFC 3339 in UTC with nanoseconds: "2026-12-01T06:23:11.703838123Z".
std::string rfc3339(int64_t unix_nanos);
// Also accepts offsets other than Z; 0 when invalid or the zero time 0001-01-01.
int64_t parse_rfc3339(std::string_view text);

// ---- digests

using sha256_bytes = std::array<unsigned char, 32>;

// Incremental SHA-256 (OpenSSL EVP).
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, size_t len);
  sha256_bytes finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// "SHA-256=" + URL-safe base64 with padding, as nats.go and nats.js write it.
std::string digest_text(const sha256_bytes& d);
// The digest a meta names: "SHA-256=" + base64 (either alphabet) or 64 hex digits.
std::optional<sha256_bytes> parse_digest(std::string_view text);

// ---- the meta JSON

std::string encode_info(const object_info& info);
// Fills everything but revision and mtime_ns from the JSON's own fields (mtime from
// its "mtime"); errc::bad_meta when it is not an object's meta.
result<object_info> decode_info(std::string_view json);

// ---- JetStream API

// A failed libnats call as a status; `what` says what was being done.
status from_nats(natsStatus s, const std::string& what);
// A JetStream error response {"code","err_code","description"} as a status.
status from_api_error(const nlohmann::json& error, std::string_view bucket);

// Sends a request to <api_prefix>.<suffix> and returns the JSON response, or the
// error it carried (or no responders: not_enabled; no answer: timeout).
result<nlohmann::json> api_request(const context& ctx, const std::string& suffix, const std::string& body,
                                   std::string_view bucket);

// STREAM.MSG.GET last_by_subj: the message's data and time, or errc::object_not_found
// (10037) when there is none.
struct stored_message {
  std::string data;
  uint64_t seq = 0;
  int64_t time_ns = 0;
};
result<stored_message> last_message(const context& ctx, std::string_view bucket, const std::string& subject);

// An ordered push consumer (libnats creates, resets and deletes it) on `filter` of the
// bucket's stream, bound to the stream by name (no STREAM.NAMES lookup).
result<natsSubscription*> ordered_consumer(const context& ctx, const std::string& bucket, const std::string& filter,
                                           jsDeliverPolicy policy);
// Unsubscribes (which deletes the consumer) and frees it; null is fine.
void close_consumer(natsSubscription* sub);

// The stream's config and state as bucket_status.
bucket_status status_from_stream_info(const nlohmann::json& info);

}  // namespace objectstore::client::detail
