#pragma once
// An object-store client on libnats. libnats has no object-store API, so this speaks the
// JetStream Object Store protocol (ADR-20) itself, as @nats-io/obj and nats.go do:
// bucket B is stream OBJ_B with subjects $O.B.C.> (chunks) and $O.B.M.> (one meta
// message per object name, rolled up). Objects are streamed chunk by chunk in both
// directions and never held whole in memory. See objectstore/client/README.md.
//
// Threads: every call is synchronous. One object_store (and the buckets it opened) is
// meant for one thread at a time; separate stores may share a connection and run
// concurrently (each put publishes through a JetStream context of its own).
#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace objectstore::client {

enum class errc : uint8_t {
  ok = 0,
  invalid_argument,  // a bad bucket or object name, or an option out of range
  not_enabled,       // JetStream is not enabled on the server (or for the account)
  timeout,           // the server did not answer in time
  connection_lost,   // the connection closed during the call
  bucket_not_found,  // no stream OBJ_<bucket>
  bucket_exists,     // the bucket exists with a different configuration
  object_not_found,  // no such object, or it was deleted
  object_exists,     // add_link over an object that is not a link
  bucket_sealed,     // the bucket is sealed: nothing can be added or removed
  bucket_full,       // max_bytes (or another store limit) reached
  bucket_link,       // get of a link to a whole bucket
  link_to_link,      // links may point at objects only, not at other links
  digest_mismatch,   // the data read does not hash to the meta's digest
  size_mismatch,     // more or fewer bytes or chunks than the meta says
  bad_meta,          // a meta message that is not an object's JSON
  io_error,          // reading the input or writing the output failed
  server_error,      // any other JetStream error; the message is the server's text
  client_error,      // libnats failed otherwise
};

// Short lower-case description, e.g. "object not found". One table for all texts.
std::string_view describe(errc code) noexcept;

// The outcome of a call without a value: ok, or a code plus a one-line message that is
// complete on its own ("object not found: report.pdf").
class [[nodiscard]] status {
 public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  explicit status(errc code) : code_(code), message_(describe(code)) {}

  bool ok() const noexcept { return code_ == errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  errc code_ = errc::ok;
  std::string message_;
};

// A value or a non-ok status.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(status error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // An ok status when ok(), else the error.
  status error() const { return ok() ? status{} : std::get<1>(v_); }
  errc code() const noexcept { return ok() ? errc::ok : std::get<1>(v_).code(); }

 private:
  std::variant<T, status> v_;
};

enum class storage_type { file, memory };

inline constexpr uint32_t default_chunk_size = 128 * 1024;
inline constexpr size_t default_put_window = 8 * 1024 * 1024;

struct bucket_config {
  std::string bucket;  // [A-Za-z0-9_-]+
  std::string description;
  std::chrono::nanoseconds ttl{0};  // objects expire after this long; 0 = never
  int64_t max_bytes = -1;           // -1 = unlimited
  storage_type storage = storage_type::file;
  int replicas = 1;
};

struct bucket_status {
  std::string bucket;
  std::string description;
  std::chrono::nanoseconds ttl{0};
  int64_t max_bytes = -1;
  storage_type storage = storage_type::file;
  int replicas = 1;
  bool sealed = false;
  uint64_t size = 0;      // bytes stored: chunks and meta messages
  uint64_t messages = 0;  // chunks and meta messages
  int64_t created_ns = 0;
  std::string backing_stream;  // OBJ_<bucket>
};

// Where a link points: an object, or (empty name) a whole bucket.
struct object_link {
  std::string bucket;
  std::string name;
};

// What the writer of an object chooses; the rest of object_info is computed.
struct object_meta {
  std::string name;  // any non-empty text
  std::string description;
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::vector<std::string>> headers;
  std::optional<object_link> link;
  uint32_t max_chunk_size = 0;  // the chunk size it was written with
};

// One object version, as its meta message describes it.
struct object_info : object_meta {
  std::string bucket;
  std::string nuid;  // the chunks are on $O.<bucket>.C.<nuid>
  uint64_t size = 0;
  uint32_t chunks = 0;
  int64_t mtime_ns = 0;  // when the meta was stored (the server's time)
  std::string digest;    // "SHA-256=" + URL-safe base64 with padding
  bool deleted = false;
  uint64_t revision = 0;  // the meta message's stream sequence

  bool is_link() const { return link.has_value(); }
};

// Called with bytes done so far and the total (0 when not known, e.g. a pipe).
using progress_fn = std::function<void(uint64_t done, uint64_t total)>;

struct put_options {
  uint32_t chunk_size = default_chunk_size;  // capped at the server's max_payload
  size_t window_bytes = default_put_window;  // unacknowledged chunk bytes in flight
  uint64_t size_hint = 0;                    // the total, for progress (0 = unknown)
  progress_fn progress;                      // bytes acknowledged by the server
};

struct get_options {
  progress_fn progress;  // bytes written to the output
  // Gives up when no chunk arrives for this long.
  std::chrono::milliseconds stall_timeout{20'000};
};

struct watch_options {
  bool include_history = false;  // every stored meta version, not only the latest per name
  bool updates_only = false;     // only what changes from now on
  bool ignore_deletes = false;
};

namespace detail {
struct context;
}

// Meta updates of one bucket, through an ordered push consumer on $O.<bucket>.M.>.
class watcher {
 public:
  ~watcher();
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  // The next object version; std::nullopt once, after the current ones (not with
  // updates_only); errc::timeout when nothing arrived within `timeout`.
  result<std::optional<object_info>> next(std::chrono::milliseconds timeout);

 private:
  friend class bucket;
  watcher() = default;
  std::shared_ptr<detail::context> ctx_;
  std::string bucket_;
  natsSubscription* sub_ = nullptr;
  watch_options options_;
  bool marker_pending_ = false;  // the end-of-current-values marker is due
  bool initial_done_ = false;
};

class bucket {
 public:
  const std::string& name() const { return name_; }

  // Stores everything `in` yields as object `meta.name`, replacing any previous version
  // (whose chunks are purged once the new meta is stored).
  result<object_info> put(const object_meta& meta, std::istream& in, const put_options& options = {});
  // The same from a file descriptor (read until end of file; not closed).
  result<object_info> put(const object_meta& meta, int fd, const put_options& options = {});
  // The same from a file; size_hint defaults to the file's size.
  result<object_info> put_file(const object_meta& meta, const std::string& path, put_options options = {});

  // Writes the object to `out`, following a link to another object, and checks its
  // size and digest (errc::size_mismatch, errc::digest_mismatch). Returns the info of
  // the object read (the link's target for a link).
  result<object_info> get(const std::string& name, std::ostream& out, const get_options& options = {});

  // The latest version; errc::object_not_found for a deleted one unless include_deleted.
  result<object_info> info(const std::string& name, bool include_deleted = false);
  // The latest version of every object, sorted by name.
  result<std::vector<object_info>> list(bool include_deleted = false);
  // Stores a deleted marker (size 0, no chunks) and purges the chunks.
  result<object_info> remove(const std::string& name);

  // `name` in this bucket points at `target` (an object of any bucket).
  result<object_info> add_link(const std::string& name, const object_info& target);
  // `name` in this bucket points at the whole bucket `target_bucket`.
  result<object_info> add_bucket_link(const std::string& name, const std::string& target_bucket);

  // Seals the bucket (STREAM.UPDATE with sealed:true): read-only from then on.
  status seal();
  // The backing stream's configuration and size.
  result<bucket_status> stat();

  result<std::unique_ptr<watcher>> watch(const watch_options& options = {});

 private:
  friend class object_store;
  bucket(std::shared_ptr<detail::context> ctx, std::string name);
  using reader_fn = std::function<result<size_t>(char* buf, size_t max)>;
  result<object_info> put_from(const object_meta& meta, const reader_fn& read, const put_options& options);
  result<object_info> get_depth(const std::string& name, std::ostream& out, const get_options& options, int depth);
  result<object_info> publish_meta(const object_info& info);
  status purge_chunks(const std::string& nuid);

  std::shared_ptr<detail::context> ctx_;
  std::string name_;
};

class object_store {
 public:
  // Borrows `nc`, which must stay open while this or any bucket it opened is used.
  // `wait`: how long a JetStream API request may take.
  explicit object_store(natsConnection* nc, std::chrono::milliseconds wait = std::chrono::seconds(5));
  ~object_store();
  object_store(const object_store&) = delete;
  object_store& operator=(const object_store&) = delete;

  // Creates the bucket, or opens an existing one with the same configuration
  // (errc::bucket_exists when it differs).
  result<bucket> create_bucket(const bucket_config& config);
  // Opens an existing bucket (errc::bucket_not_found).
  result<bucket> open_bucket(const std::string& name);
  status delete_bucket(const std::string& name);
  // Every object-store bucket (stream OBJ_*), sorted by name.
  result<std::vector<bucket_status>> list_buckets();

 private:
  std::shared_ptr<detail::context> ctx_;
};

// Bucket names: [A-Za-z0-9_-]+.
bool valid_bucket_name(std::string_view name);

}  // namespace objectstore::client
