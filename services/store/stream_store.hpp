#pragma once
// Storage for streams: the one interface the stream actors use, so no actor includes a
// RocksDB header (as no data-path file includes a CAF header). Two implementations:
// rocks_store (persistent: one RocksDB per server, column families below) and
// memory_store (for `storage: memory` streams; same semantics, nothing on disk).
//
// Layout (rocks_store):
//   messages  key = stream id (8 bytes, big-endian) + sequence (8, BE)
//             value = record: time (8, BE ns since the epoch), subject length (4, BE),
//             header length (4, BE), subject, header block, payload. A payload of
//             16 KiB or more is kept in the value log instead (value_log.hpp): the
//             header length's top bit is set and a 24-byte reference replaces it.
//   subjects  key = stream id (8, BE) + subject + '\0' + sequence (8, BE); value empty.
//             The per-subject index: last/first message on a subject, counts, purges.
//             A stream may store its messages without it (subject_index::skip).
//   meta      key = any text (stream and consumer records, serialized by the caller);
//             keys starting with '\0' are the store's own (value log file counts)
// A stream id is unique per (account, stream) for the life of the store: the caller
// keeps the mapping in `meta`. Ids make keys short and let a whole stream be dropped
// with two range deletes.
//
// Thread safety: every method may be called from any thread at once (RocksDB is
// thread-safe); a stream writes only its own keys, from its own actor.
// Errors: nothing throws; failures come back as store_status with a text for logs and
// API errors. After a failed write (disk full) the next write tries to recover first.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace store {

struct stored_message {
  uint64_t seq = 0;
  int64_t time_ns = 0;    // nanoseconds since the Unix epoch, UTC
  std::string subject;
  std::string headers;    // a full "NATS/1.0\r\n...\r\n\r\n" block, or empty
  std::string payload;
};

// A message to store, viewed where it already is (no copy before the batch's own).
struct message_view {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string_view subject, headers, payload;
};

struct store_status {
  bool ok = true;
  bool no_space = false;  // the device is full (or over a configured size)
  std::string error;      // for logs and JetStream error descriptions
  bool would_block = false;  // try_write(): not applied, since applying it meant waiting
  explicit operator bool() const noexcept { return ok; }
  static store_status failure(std::string text, bool no_space = false) { return {false, no_space, std::move(text)}; }
};

// Whether a message has an entry in its stream's subject index (the `subjects` family):
// keep, the default; skip, for a stream that keeps at most one message per subject and
// answers "which sequences are on this subject" from its own table in memory (a KV
// bucket with history 1: an overwrite then costs two memtable inserts instead of four,
// kv/README.md); rewritten, to delete an entry that put_index() put (see below).
enum class subject_index { keep, skip, rewritten };

// Changes applied atomically by stream_store::write (one RocksDB WriteBatch: group
// commit of a whole drained inbox).
class write_batch {
 public:
  virtual ~write_batch() = default;
  // Stores a message and, with subject_index::keep, its subject-index entry. `m.subject`
  // must not contain '\0' (the index key separator). A sequence is put once in a
  // stream's life: it is not put again, not even after its deletion (see
  // delete_message). A batch that failed or was never written put nothing.
  virtual void put_message(uint64_t stream_id, const message_view& m, subject_index index) = 0;
  void put_message(uint64_t stream_id, const message_view& m) { put_message(stream_id, m, subject_index::keep); }
  void put_message(uint64_t stream_id, const stored_message& m) {
    put_message(stream_id, message_view{m.seq, m.time_ns, m.subject, m.headers, m.payload});
  }
  // Removes a message and, unless subject_index::skip, its subject-index entry (the
  // caller knows the subject: with a wrong one the message goes but its index entry
  // stays). `max_payload`: an upper bound of the message's payload size when the caller
  // knows one (it lets a store skip a lookup for small messages), else UINT64_MAX.
  // rocks_store removes a message below its value log threshold (by max_payload) and
  // every index entry put by put_message with RocksDB's SingleDelete: the deletion and
  // the put it cancels both go when they meet in a flush or compaction, instead of a
  // tombstone carried down every level. That is why a sequence is put only once (a
  // SingleDelete cancels one put; an older one would show again). A large message's
  // record is rewritten by value log compaction, and an entry put again by put_index
  // (subject_index::rewritten) may have been put before, so those get a plain Delete.
  virtual void delete_message(uint64_t stream_id, uint64_t seq, std::string_view subject, uint64_t max_payload,
                              subject_index index) = 0;
  void delete_message(uint64_t stream_id, uint64_t seq, std::string_view subject, uint64_t max_payload) {
    delete_message(stream_id, seq, subject, max_payload, subject_index::keep);
  }
  void delete_message(uint64_t stream_id, uint64_t seq, std::string_view subject) {
    delete_message(stream_id, seq, subject, UINT64_MAX);
  }
  // For a stream that changes whether it keeps a subject index: drop_subject_index()
  // removes whatever index the stream has; put_index() adds the entry of a message
  // already stored (one put with subject_index::skip), and such an entry is deleted
  // with subject_index::rewritten.
  virtual void drop_subject_index(uint64_t stream_id) = 0;
  virtual void put_index(uint64_t stream_id, std::string_view subject, uint64_t seq) = 0;
  virtual void put_meta(std::string_view key, std::string_view value) = 0;
  virtual void delete_meta(std::string_view key) = 0;
  virtual size_t size() const = 0;  // operations queued
};

// A stored message without its payload (see stream_store::head).
struct message_head {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  std::string subject;
  uint64_t headers_size = 0, payload_size = 0;
};

// One subject's entry in a stream: what a stream keeps in memory per subject.
struct subject_state {
  uint64_t first = 0, last = 0, count = 0;
};

class stream_store {
 public:
  virtual ~stream_store() = default;

  // A batch for this store only (write() rejects another store's); it must not outlive
  // the store. A batch can be written again (it is not cleared by write()).
  virtual std::unique_ptr<write_batch> make_batch() = 0;
  // Applies the batch. `sync`: fsync the WAL before returning (sync_interval: always).
  // Without it the batch is in the WAL (the OS's page cache) on return, which survives
  // a kill -9 of the server but not a power loss.
  virtual store_status write(write_batch& b, bool sync) = 0;
  // As write(b, false), but only if that needs no waiting: while another write is in
  // progress, the store throttles writes (RocksDB's write stall) or it is recovering
  // from a failed write, nothing is applied and the status says would_block (not an
  // error: write() it later, from a thread that may wait). For an I/O loop that stores
  // a small batch itself (internal_client::set_inline_drain) and must not stop serving
  // its other connections.
  virtual store_status try_write(write_batch& b) { return write(b, false); }

  // The message at `seq`, if stored.
  virtual std::optional<stored_message> get(uint64_t stream_id, uint64_t seq) = 0;
  // Its subject, time and sizes, without reading a large payload (rocks_store keeps
  // those in its value log): for accounting when a message is removed.
  virtual std::optional<message_head> head(uint64_t stream_id, uint64_t seq) = 0;
  // Messages with sequence >= `from`, in order, until `max_msgs` messages or at least
  // `max_bytes` bytes (subject + headers + payload; at least one message if any) were
  // read. With `filter` (a subject with wildcards, empty = all) only matching ones.
  // Returns them in `out` (cleared first). Reads through a RocksDB iterator: a large
  // stream is never loaded whole. 0 for `max_msgs` or `max_bytes` means no limit on
  // that count. Cost: a literal filter walks that subject's index (cost ~ messages on
  // it, one point read each); a wildcard filter reads every message from `from` until
  // enough match, so a rare match in a large stream reads much of the stream.
  virtual void scan(uint64_t stream_id, uint64_t from, size_t max_msgs, size_t max_bytes,
                    std::string_view filter, std::vector<stored_message>& out) = 0;

  // Subject index. first_on_subject/last_on_subject are one index seek each (cheap);
  // sequences_on_subject is proportional to its result.
  // The smallest sequence >= `from` stored on exactly `subject`.
  virtual std::optional<uint64_t> first_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) = 0;
  // The largest sequence <= `upto` stored on exactly `subject`.
  virtual std::optional<uint64_t> last_on_subject(uint64_t stream_id, std::string_view subject, uint64_t upto) = 0;
  // Sequences stored on exactly `subject` that are >= `from`, ascending.
  virtual std::vector<uint64_t> sequences_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) = 0;
  // Every subject of a stream with its first/last sequence and count (to rebuild a
  // stream's in-memory index at start-up), in subject order (bytewise). Reads the whole
  // index of the stream: one entry per stored message.
  virtual void for_each_subject(uint64_t stream_id,
                                const std::function<void(std::string_view subject, const subject_state&)>& fn) = 0;
  // Every message of a stream, in sequence order, without payloads (a payload in the
  // value log is not read): for a stream without a subject index to rebuild its table
  // at start-up. Reads the whole stream's records through one iterator.
  virtual void for_each_head(uint64_t stream_id, const std::function<void(const message_head&)>& fn) = 0;

  // Removes every message of a stream and its subject index (range deletes).
  virtual store_status drop_stream(uint64_t stream_id) = 0;

  // Metadata records whose key starts with `prefix`, in key order.
  virtual std::vector<std::pair<std::string, std::string>> list_meta(std::string_view prefix) = 0;
  virtual std::optional<std::string> get_meta(std::string_view key) = 0;

  // Bytes the store takes on disk (0 for memory); for $JS.API.INFO and limits. Shared
  // by all streams (one RocksDB), and refreshed at most once a second.
  virtual uint64_t disk_usage() = 0;

  // The store has been idle: write what it buffers in memory out to disk, so that
  // memory can go back to the system (rocks_store: the memtables of each family
  // holding at least `min_bytes`, up to 8 MiB in all, and every non-empty one when
  // more than 4 MiB of write-ahead log is still needed, so the log files can go).
  // Returns about how many bytes were released. May block for the flush; any thread. A
  // store with nothing to write out (memory) does nothing.
  virtual size_t release_memory(size_t min_bytes) {
    (void)min_bytes;
    return 0;
  }

  // Compacts the value log (rocks store): copies the live payloads of files that are at
  // least half dead to the file being appended to, moving their references in the same
  // RocksDB writes, so the old files go. The store runs it by itself a second after
  // writes that left such files; tests call it directly. Returns how many files it
  // emptied. Any thread; blocks writers briefly (a group of up to 64 payloads at a time).
  virtual size_t compact_value_log() { return 0; }
};

struct rocks_options {
  uint64_t value_log_file_size = uint64_t(64) << 20;  // a value log file is closed past this
  bool background_compaction = true;                 // compact_value_log() by itself
};

// Opens (creating if needed) the RocksDB store in `dir`. Returns null and sets `error`
// on failure. Memory use is bounded (small write buffers, one shared block cache).
std::unique_ptr<stream_store> open_rocks_store(const std::string& dir, std::string& error);
std::unique_ptr<stream_store> open_rocks_store(const std::string& dir, const rocks_options& options,
                                               std::string& error);
// A store held in memory (storage: memory streams).
std::unique_ptr<stream_store> make_memory_store();

}  // namespace store
