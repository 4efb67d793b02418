// rocks_store: the persistent stream_store, one RocksDB database per server.
//
// Column families (see stream_store.hpp for the key layout):
//   default   unused (RocksDB requires it)
//   messages  stream id + sequence -> record (a large payload: a reference into the
//             value log, value_log.hpp)
//   subjects  stream id + subject + '\0' + sequence -> empty (the per-subject index)
//   meta      caller's text key -> caller's value
// All integers in keys are big-endian so RocksDB's bytewise order is numeric order:
// a stream's messages are contiguous and ascending, and so are one subject's sequences.
#include <cstring>
#include <rocksdb/cache.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_buffer_manager.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "libplatform/subject.hpp"
#include "services/store/stream_store.hpp"
#include "services/store/crc32c.hpp"
#include "services/store/value_log.hpp"

namespace store {
namespace {

// ---- encoding -----------------------------------------------------------------------

void append_be64(std::string& s, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  s.append(b, 8);
}

uint64_t read_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint32_t read_be32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string stream_prefix(uint64_t stream_id) {
  std::string k;
  append_be64(k, stream_id);
  return k;
}

std::string message_key(uint64_t stream_id, uint64_t seq) {
  std::string k;
  k.reserve(16);
  append_be64(k, stream_id);
  append_be64(k, seq);
  return k;
}

// stream id + subject + '\0': every index key of one subject starts with this, and no
// key of another subject does (a subject never contains '\0', and '\0' sorts before any
// subject byte, so "a.b" entries are not interleaved with "a.b.c" ones).
void append_subject_prefix(std::string& k, uint64_t stream_id, std::string_view subject) {
  append_be64(k, stream_id);
  k.append(subject);
  k.push_back('\0');
}

std::string subject_prefix(uint64_t stream_id, std::string_view subject) {
  std::string k;
  k.reserve(8 + subject.size() + 1 + 8);
  append_subject_prefix(k, stream_id, subject);
  return k;
}

// An index key: the subject's prefix, then the sequence.
void append_subject_key(std::string& k, uint64_t stream_id, std::string_view subject, uint64_t seq) {
  append_subject_prefix(k, stream_id, subject);
  append_be64(k, seq);
}

std::string subject_key(uint64_t stream_id, std::string_view subject, uint64_t seq) {
  std::string k;
  k.reserve(8 + subject.size() + 1 + 8);
  append_subject_key(k, stream_id, subject, seq);
  return k;
}

// The smallest key greater than every key starting with `prefix`, or "" when there is
// none (the prefix is all 0xff bytes): used as an exclusive upper bound.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(prefix.back());
    if (c != 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

constexpr size_t record_header = 8 + 4 + 4;
// Payloads from this size on go to the value log (value_log.hpp).
constexpr size_t external_min = 16 << 10;
// In a record's header length: the payload is a value-log reference.
constexpr uint32_t external_flag = 0x80000000u;
// An idle store with more write-ahead log than this still needed writes every family's
// memtable out, so the log files can go (rocks_store::release_memory).
constexpr uint64_t wal_release_bytes = 4u << 20;

// A record's parts, viewed in place.
struct record_view {
  int64_t time_ns = 0;
  std::string_view subject, headers, payload;  // payload: the reference when external
  bool external = false;
};

bool parse_record(rocksdb::Slice v, record_view& r) {
  if (v.size() < record_header) return false;
  uint32_t hword = read_be32(v.data() + 12);
  uint64_t slen = read_be32(v.data() + 8), hlen = hword & ~external_flag;
  if (slen + hlen > v.size() - record_header) return false;
  const char* p = v.data() + record_header;
  r.time_ns = static_cast<int64_t>(read_be64(v.data()));
  r.subject = std::string_view(p, slen);
  r.headers = std::string_view(p + slen, hlen);
  r.payload = std::string_view(p + slen + hlen, v.size() - record_header - slen - hlen);
  r.external = (hword & external_flag) != 0;
  return !r.external || r.payload.size() == vlog_ref::encoded_size;
}

// A message's head from its parsed record: a payload in the value log counts with the
// length its reference gives (it is not read).
message_head head_of(uint64_t seq, const record_view& r) {
  uint64_t payload = r.external ? vlog_ref::decode(r.payload.data()).length : r.payload.size();
  return message_head{seq, r.time_ns, std::string(r.subject), r.headers.size(), payload};
}

// Reads the subject out of a record without copying the rest (for scan filters).
bool record_subject(rocksdb::Slice v, std::string_view& subject) {
  record_view r;
  if (!parse_record(v, r)) return false;
  subject = r.subject;
  return true;
}

size_t message_bytes(const stored_message& m) { return m.subject.size() + m.headers.size() + m.payload.size(); }

// ---- status -------------------------------------------------------------------------

bool is_no_space(const rocksdb::Status& s) {
  if (s.IsNoSpace()) return true;
  if (!s.IsIOError()) return false;
  // Some paths report ENOSPC only in the message text (strerror(ENOSPC)).
  return s.ToString().find("No space left") != std::string::npos;
}

store_status to_status(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return {};
  return store_status::failure(std::string(what) + ": " + s.ToString(), is_no_space(s));
}

// ---- the store ----------------------------------------------------------------------

class rocks_store;

void put_be64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
void put_be32(char* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// message_key() written into a caller's 16 bytes (the write path's keys, no allocation).
void put_message_key(char* k, uint64_t stream_id, uint64_t seq) {
  put_be64(k, stream_id);
  put_be64(k + 8, seq);
}

std::string vlog_count_key(uint32_t file) {
  std::string k("\0vlog\0", 6);
  char b[4];
  put_be32(b, file);
  k.append(b, 4);
  return k;
}

class rocks_batch final : public write_batch {
 public:
  rocks_batch(rocksdb::ColumnFamilyHandle* messages, rocksdb::ColumnFamilyHandle* subjects,
              rocksdb::ColumnFamilyHandle* meta, value_log* vlog)
      : messages_(messages), subjects_(subjects), meta_(meta), vlog_(vlog) {}
  ~rocks_batch() override {
    // Payloads appended for a batch that never committed stop being pending (their
    // bytes are dead; the file goes when nothing else in it lives).
    if (vlog_ && !appended_.empty()) vlog_->settle(appended_, {}, false);
  }

  // WriteBatch::Put/Delete only fail on a batch over its size limit (none is set here),
  // so their statuses are not checked.
  using write_batch::put_message;
  void put_message(uint64_t stream_id, const message_view& m, subject_index index) override {
    // Straight into the RocksDB batch from where the message is: the record is the
    // 16-byte header followed by the three parts, with no intermediate copy.
    char key[16], head[record_header];
    put_message_key(key, stream_id, m.seq);
    put_be64(head, static_cast<uint64_t>(m.time_ns));
    put_be32(head + 8, static_cast<uint32_t>(m.subject.size()));
    put_be32(head + 12, static_cast<uint32_t>(m.headers.size()));
    rocksdb::Slice k(key, sizeof key);
    rocksdb::Slice payload(m.payload.data(), m.payload.size());
    char ref_bytes[vlog_ref::encoded_size];
    if (vlog_ && m.payload.size() >= external_min && !failed_) {
      // Large: written once to the value log, from where it is; the record refers to it.
      vlog_ref ref;
      if (!vlog_->append(std::string_view(key, sizeof key), m.payload, ref, error_, no_space_)) {
        failed_ = true;
        return;
      }
      ref.encode(ref_bytes);
      payload = rocksdb::Slice(ref_bytes, sizeof ref_bytes);
      put_be32(head + 12, static_cast<uint32_t>(m.headers.size()) | external_flag);
      appended_[ref.file]++;
      auto& d = delta_[ref.file];
      d.live++;
      d.bytes += ref.length;
      in_batch_[std::string(key, sizeof key)] = ref;
    }
    rocksdb::Slice parts[4] = {rocksdb::Slice(head, sizeof head), rocksdb::Slice(m.subject.data(), m.subject.size()),
                               rocksdb::Slice(m.headers.data(), m.headers.size()), payload};
    (void)batch_.Put(messages_, rocksdb::SliceParts(&k, 1), rocksdb::SliceParts(parts, 4));
    if (index != subject_index::skip) put_index(stream_id, m.subject, m.seq);
    ++count_;
  }
  void put_index(uint64_t stream_id, std::string_view subject, uint64_t seq) override {
    key_buf_.clear();
    append_subject_key(key_buf_, stream_id, subject, seq);
    (void)batch_.Put(subjects_, key_buf_, rocksdb::Slice());
  }
  void drop_subject_index(uint64_t stream_id) override {
    // Every key of the stream's index is the 8-byte id followed by a subject; the end
    // is the next id (or, for the last id, a byte no UTF-8 subject starts with).
    const std::string begin = stream_prefix(stream_id);
    std::string end = prefix_end(begin);
    if (end.empty()) end = begin + "\xff";
    (void)batch_.DeleteRange(subjects_, begin, end);
    ++count_;
  }
  using write_batch::delete_message;
  void delete_message(uint64_t stream_id, uint64_t seq, std::string_view subject, uint64_t max_payload,
                      subject_index index) override {
    char kb[16];
    put_message_key(kb, stream_id, seq);
    const std::string_view key(kb, sizeof kb);
    if (vlog_ && max_payload >= external_min) {
      // Its payload may be in the value log: one reference less there. Put by this
      // batch: known here; else the store looks the record up when writing.
      if (auto it = in_batch_.find(std::string(key)); it != in_batch_.end()) {
        auto& d = delta_[it->second.file];
        d.live--;
        d.bytes -= it->second.length;
        in_batch_.erase(it);
      } else {
        lookups_.emplace_back(key);
      }
    }
    // Both keys go into one buffer (no allocation per key once it has grown).
    deletes_.push_back({0, del_keys_.size(), key.size(), !vlog_ || max_payload < external_min});
    del_keys_.append(key);
    if (index != subject_index::skip) {
      size_t at = del_keys_.size();
      append_subject_key(del_keys_, stream_id, subject, seq);
      deletes_.push_back({1, at, del_keys_.size() - at, index == subject_index::keep});
    }
    ++count_;
  }
  void put_meta(std::string_view key, std::string_view value) override {
    (void)batch_.Put(meta_, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
    ++count_;
  }
  void delete_meta(std::string_view key) override {
    (void)batch_.Delete(meta_, rocksdb::Slice(key.data(), key.size()));
    ++count_;
  }
  size_t size() const override { return count_; }

  // The RocksDB batch. New messages go in as they come (ascending sequences, and each
  // subject's ascending too). Deletions are kept aside and added last, in key order: a
  // stream's drain mixes new sequences with deletions of old ones, and applied in that
  // order every memtable insert would search the skip list from the top, while in key
  // order each starts where the last one of its prefix went
  // (memtable_insert_with_hint_prefix_extractor). A message put and deleted in the same
  // batch is still put first. Measured with kvputa (KV overwrites): memtable work per
  // batch about halved. (Index entries in key order too made no difference: BENCHMARKS.md
  // run 26.)
  // For rocks_store::write.
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  bool no_space() const { return no_space_; }
  const std::vector<std::string>& lookups() const { return lookups_; }
  std::map<uint32_t, value_log::file_counts>& delta() { return delta_; }
  rocksdb::WriteBatch& raw() { return batch_; }
  // Committed: its appended payloads are live now, counted by delta().
  void committed() {
    if (vlog_) vlog_->settle(appended_, delta_, true);
    appended_.clear();
    delta_.clear();
    in_batch_.clear();
    lookups_.clear();
  }

  rocksdb::WriteBatch& finish() {
    const char* keys = del_keys_.data();
    std::sort(deletes_.begin(), deletes_.end(), [keys](const del& a, const del& b) {
      if (a.cf != b.cf) return a.cf < b.cf;
      return std::string_view(keys + a.at, a.len) < std::string_view(keys + b.at, b.len);
    });
    for (auto& d : deletes_) {
      auto* cf = d.cf == 0 ? messages_ : subjects_;
      if (d.single)
        (void)batch_.SingleDelete(cf, rocksdb::Slice(keys + d.at, d.len));
      else
        (void)batch_.Delete(cf, rocksdb::Slice(keys + d.at, d.len));
    }
    deletes_.clear();
    del_keys_.clear();
    return batch_;
  }

 private:
  struct del {
    int cf;  // 0 messages, 1 subjects
    size_t at, len;  // the key, in del_keys_
    bool single;     // SingleDelete: the key was put once and never again
  };
  std::string del_keys_, key_buf_;
  rocksdb::ColumnFamilyHandle* messages_;
  rocksdb::ColumnFamilyHandle* subjects_;
  rocksdb::ColumnFamilyHandle* meta_;
  value_log* vlog_;
  std::vector<del> deletes_;
  size_t count_ = 0;  // operations of this interface (a message is one)
  rocksdb::WriteBatch batch_;
  // Value log: payloads appended (file -> count, pending until committed), the live
  // count changes this batch makes, its own references by message key, and deleted
  // messages whose references must be looked up.
  std::map<uint32_t, int64_t> appended_;
  std::map<uint32_t, value_log::file_counts> delta_;
  std::unordered_map<std::string, vlog_ref> in_batch_;
  std::vector<std::string> lookups_;
  bool failed_ = false, no_space_ = false;
  std::string error_;
};

// RocksDB counts perf-context statistics per thread by default (kEnableCount), a
// thread-local access at every step of a write or read; nothing here reads them. The
// level is per thread, so each thread that calls in switches it off once.
void no_perf_counters() {
  thread_local bool done = false;
  if (!done) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    done = true;
  }
}

class rocks_store final : public stream_store {
 public:
  rocks_store(std::string dir, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
              std::shared_ptr<rocksdb::Logger> log)
      : dir_(std::move(dir)), db_(db), handles_(std::move(handles)), log_(std::move(log)) {
    // Open order in open_rocks_store: default, messages, subjects, meta.
    messages_ = handles_[1];
    subjects_ = handles_[2];
    meta_ = handles_[3];
  }

  ~rocks_store() override {
    if (compactor_.joinable()) {
      {
        std::lock_guard lk(compact_wait_mutex_);
        stopping_.store(true, std::memory_order_relaxed);
      }
      compact_cv_.notify_all();
      compactor_.join();
    }
    // Handles must go before the DB. Close() waits for background work; no flush is
    // needed since everything written is in the WAL.
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
    delete db_;
  }

  // Opens the value log with the file counts stored in `meta` (after the DB opened).
  bool open_value_log(const rocks_options& options, std::string& error) {
    std::map<uint32_t, value_log::file_counts> counts;
    for (auto& [k, v] : list_meta(std::string_view("\0vlog\0", 6))) {
      if (k.size() != 10 || v.size() != 16) continue;
      counts[read_be32(k.data() + 6)] = {int64_t(read_be64(v.data())), int64_t(read_be64(v.data() + 8)), 0};
    }
    vlog_ = value_log::open(dir_ + "/vlog", counts, options.value_log_file_size, error);
    if (!vlog_) return false;
    if (options.background_compaction) start_compactor(!vlog_->garbage().empty());
    return true;
  }

  std::unique_ptr<write_batch> make_batch() override {
    return std::make_unique<rocks_batch>(messages_, subjects_, meta_, vlog_.get());
  }

  store_status write(write_batch& b, bool sync) override { return apply(b, sync, true); }
  store_status try_write(write_batch& b) override { return apply(b, false, false); }

  store_status apply(write_batch& b, bool sync, bool may_wait) {
    no_perf_counters();
    auto* rb = dynamic_cast<rocks_batch*>(&b);
    if (rb == nullptr) return store_status::failure("write: batch was made by another store");
    if (rb->failed()) return store_status::failure("write: " + rb->error(), rb->no_space());
    if (rb->size() == 0) return {};
    // A failed write (disk full) leaves RocksDB in a read-only "background error" state
    // until Resume() succeeds. Try to leave it first, but not more than every 100 ms:
    // Resume flushes memtables, which is wasted I/O on a disk that is still full.
    if (failed_.load(std::memory_order_acquire)) {
      if (!may_wait) return would_block();
      try_resume();
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    // Instead of sleeping in a write stall, RocksDB fails the write with Incomplete.
    wo.no_slowdown = !may_wait;
    // One writer at a time. RocksDB would otherwise group concurrent writers and let
    // one thread apply the others' batches, handing them over through atomics inside
    // the library that ThreadSanitizer cannot see (make tsan). Each stream already
    // writes a whole drain as one batch, so this costs little: the WAL append is
    // serialized inside RocksDB anyway.
    std::unique_lock lock(write_mutex_, std::defer_lock);
    if (may_wait) {
      lock.lock();
    } else if (!lock.try_lock()) {
      return would_block();
    }
    std::map<uint32_t, value_log::file_counts> looked_up;
    if (vlog_ && !rb->lookups().empty() && !vlog_->empty()) {
      // Deleted messages from earlier batches: their references, if any.
      for (auto& key : rb->lookups()) {
        auto ref = current_ref(key);
        if (!ref) continue;
        auto& d = looked_up[ref->file];
        d.live--;
        d.bytes -= ref->length;
      }
    }
    auto& delta = rb->delta();
    for (auto& [file, d] : looked_up) {
      delta[file].live += d.live;
      delta[file].bytes += d.bytes;
    }
    // The files' live counts change in the same write as the references.
    put_vlog_counts(delta, rb->raw());
    if (sync && vlog_) {
      std::string error;
      if (!vlog_->sync(error)) return store_status::failure("write: " + error);
    }
    auto s = db_->Write(wo, &rb->finish());
    if (!s.ok()) {
      // Not stored: the looked-up changes are taken back (a retry looks them up again).
      for (auto& [file, d] : looked_up) {
        delta[file].live -= d.live;
        delta[file].bytes -= d.bytes;
      }
      if (!may_wait && s.IsIncomplete()) return would_block();  // a stall: nothing written
      failed_.store(true, std::memory_order_release);
      return to_status(s, "write");
    }
    bool freed = false;
    for (auto& [file, d] : delta) freed = freed || d.live < 0;
    rb->committed();
    failed_.store(false, std::memory_order_release);
    if (freed) want_compaction();
    return {};
  }

  static store_status would_block() {
    store_status st = store_status::failure("write: would wait");
    st.would_block = true;
    return st;
  }

  // A record's message, reading a large payload from the value log. `key` is the
  // record's: when compaction moved the payload after the record was read (its old
  // file is gone), the record is read again and the payload from where it is now.
  bool decode(rocksdb::Slice key, rocksdb::Slice v, stored_message& m) {
    record_view r;
    if (!parse_record(v, r)) return false;
    m.seq = read_be64(key.data() + 8);
    m.time_ns = r.time_ns;
    m.subject.assign(r.subject);
    m.headers.assign(r.headers);
    if (!r.external) {
      m.payload.assign(r.payload);
      return true;
    }
    std::string error;
    auto ref = vlog_ref::decode(r.payload.data());
    if (vlog_ && vlog_->read(ref, m.payload, error)) return true;
    if (vlog_) {
      std::string error2;
      auto moved = current_ref(key);
      if (moved && (moved->file != ref.file || moved->offset != ref.offset) && vlog_->read(*moved, m.payload, error2))
        return true;
    }
    rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, log_, "message %llu: %s", (unsigned long long)m.seq,
                 vlog_ ? error.c_str() : "value log not open");
    return false;
  }

  std::optional<stored_message> get(uint64_t stream_id, uint64_t seq) override {
    no_perf_counters();
    rocksdb::PinnableSlice v;
    const std::string key = message_key(stream_id, seq);
    auto s = db_->Get(rocksdb::ReadOptions(), messages_, key, &v);
    if (!s.ok()) return std::nullopt;
    stored_message m;
    if (!decode(key, v, m)) return std::nullopt;
    return m;
  }

  std::optional<message_head> head(uint64_t stream_id, uint64_t seq) override {
    no_perf_counters();
    rocksdb::PinnableSlice v;
    if (!db_->Get(rocksdb::ReadOptions(), messages_, message_key(stream_id, seq), &v).ok()) return std::nullopt;
    record_view r;
    if (!parse_record(v, r)) return std::nullopt;
    return head_of(seq, r);
  }

  void scan(uint64_t stream_id, uint64_t from, size_t max_msgs, size_t max_bytes, std::string_view filter,
            std::vector<stored_message>& out) override {
    out.clear();
    // A literal filter reads only that subject's messages through the index: a sparse
    // subject in a large stream costs its own size, not the stream's.
    if (!filter.empty() && platform::subject::is_literal(filter)) {
      scan_literal(stream_id, from, max_msgs, max_bytes, filter, out);
      return;
    }
    const std::string prefix = stream_prefix(stream_id);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
    size_t bytes = 0;
    for (it->Seek(message_key(stream_id, from)); it->Valid(); it->Next()) {
      auto k = it->key();
      if (k.size() != 16 || !k.starts_with(prefix)) break;
      if (!filter.empty()) {
        std::string_view subj;
        if (!record_subject(it->value(), subj) || !platform::subject::matches(filter, subj)) continue;
      }
      stored_message m;
      if (!decode(k, it->value(), m)) continue;
      bytes += message_bytes(m);
      out.push_back(std::move(m));
      if (limit_reached(out.size(), bytes, max_msgs, max_bytes)) break;
    }
  }

  std::optional<uint64_t> first_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) override {
    const std::string prefix = subject_prefix(stream_id, subject);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;  // never empty: the prefix ends in '\0'
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, subjects_));
    it->Seek(subject_key(stream_id, subject, from));
    if (!it->Valid() || it->key().size() != prefix.size() + 8 || !it->key().starts_with(prefix)) return std::nullopt;
    return read_be64(it->key().data() + prefix.size());
  }

  std::optional<uint64_t> last_on_subject(uint64_t stream_id, std::string_view subject, uint64_t upto) override {
    const std::string prefix = subject_prefix(stream_id, subject);
    rocksdb::Slice lower(prefix);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, subjects_));
    it->SeekForPrev(subject_key(stream_id, subject, upto));
    if (!it->Valid() || it->key().size() != prefix.size() + 8 || !it->key().starts_with(prefix)) return std::nullopt;
    return read_be64(it->key().data() + prefix.size());
  }

  std::vector<uint64_t> sequences_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) override {
    std::vector<uint64_t> seqs;
    walk_subject(stream_id, subject, from, [&](uint64_t seq) {
      seqs.push_back(seq);
      return true;
    });
    return seqs;
  }

  void for_each_subject(uint64_t stream_id,
                        const std::function<void(std::string_view subject, const subject_state&)>& fn) override {
    const std::string prefix = stream_prefix(stream_id);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;  // one pass over the whole index at start-up: keep the cache for hot data
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, subjects_));
    std::string current;
    subject_state st;
    bool have = false;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      auto k = it->key();
      if (!k.starts_with(prefix) || k.size() < 8 + 1 + 8) break;
      std::string_view subj(k.data() + 8, k.size() - 8 - 1 - 8);
      uint64_t seq = read_be64(k.data() + k.size() - 8);
      if (have && subj != current) {
        fn(current, st);
        have = false;
      }
      if (!have) {
        current.assign(subj);
        st = subject_state{seq, seq, 0};
        have = true;
      }
      st.last = seq;  // keys ascend within a subject
      ++st.count;
    }
    if (have) fn(current, st);
  }

  void for_each_head(uint64_t stream_id, const std::function<void(const message_head&)>& fn) override {
    const std::string prefix = stream_prefix(stream_id);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;  // one pass at start-up: keep the cache for hot data
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      auto k = it->key();
      if (k.size() != 16 || !k.starts_with(prefix)) break;
      record_view r;
      if (parse_record(it->value(), r)) fn(head_of(read_be64(k.data() + 8), r));
    }
  }

  store_status drop_stream(uint64_t stream_id) override {
    std::lock_guard lock(write_mutex_);
    const std::string begin = stream_prefix(stream_id);
    const std::string end = prefix_end(begin);
    if (end.empty()) return drop_by_iteration(begin);
    rocksdb::WriteBatch wb;
    (void)wb.DeleteRange(messages_, begin, end);
    (void)wb.DeleteRange(subjects_, begin, end);
    auto delta = stream_references(begin, end, wb);
    if (failed_.load(std::memory_order_acquire)) try_resume();
    auto s = db_->Write(rocksdb::WriteOptions(), &wb);
    if (!s.ok()) {
      failed_.store(true, std::memory_order_release);
      return to_status(s, "drop stream");
    }
    if (!delta.empty()) {
      vlog_->settle({}, delta, true);
      want_compaction();
    }
    // The range tombstones hide the data at once; the space comes back when compaction
    // reaches it. SST files wholly inside the range can go now (cheap, metadata only),
    // which matters when a stream is dropped to free a full disk. Best effort.
    rocksdb::Slice b(begin), e(end);
    (void)rocksdb::DeleteFilesInRange(db_, messages_, &b, &e, false);
    (void)rocksdb::DeleteFilesInRange(db_, subjects_, &b, &e, false);
    return {};
  }

  size_t compact_value_log() override {
    if (!vlog_) return 0;
    std::lock_guard one(compact_mutex_);  // the background thread or a caller, not both
    size_t emptied = 0;
    for (uint32_t file : vlog_->garbage()) {
      if (stopping_.load(std::memory_order_relaxed) || failed_.load(std::memory_order_acquire)) break;
      if (uncompactable_.count(file)) continue;
      switch (compact_file(file)) {
        case compacted::all: ++emptied; break;
        case compacted::not_all: uncompactable_.insert(file); break;  // damaged: not again until a restart
        case compacted::stopped: break;  // a full disk, a failed write: again after the next deletes
      }
    }
    return emptied;
  }

  std::vector<std::pair<std::string, std::string>> list_meta(std::string_view prefix) override {
    std::vector<std::pair<std::string, std::string>> out;
    const std::string end = prefix_end(std::string(prefix));
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, meta_));
    rocksdb::Slice p(prefix.data(), prefix.size());
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next())
      out.emplace_back(it->key().ToString(), it->value().ToString());
    return out;
  }

  std::optional<std::string> get_meta(std::string_view key) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, rocksdb::Slice(key.data(), key.size()), &v);
    if (!s.ok()) return std::nullopt;
    return v;
  }

  uint64_t disk_usage() override {
    // Every file in the directory (SSTs, WAL, MANIFEST, the bounded info LOG): what the
    // store really takes on disk. A directory walk is a few dozen stat calls, but limits
    // checks may ask often, so the answer is kept for a second.
    std::lock_guard lock(usage_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (usage_valid_ && now - usage_time_ < std::chrono::seconds(1)) return usage_;
    uint64_t total = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code fec;
      if (!it->is_regular_file(fec) || fec) continue;
      auto size = it->file_size(fec);
      if (!fec) total += size;
    }
    if (vlog_) total += vlog_->disk_usage();
    usage_ = total;
    usage_time_ = now;
    usage_valid_ = true;
    return usage_;
  }

 private:
  static bool limit_reached(size_t msgs, size_t bytes, size_t max_msgs, size_t max_bytes) {
    return (max_msgs != 0 && msgs >= max_msgs) || (max_bytes != 0 && bytes >= max_bytes);
  }

  // Calls fn(seq) for each index entry of `subject` with sequence >= from, ascending,
  // until fn returns false.
  template <class Fn>
  void walk_subject(uint64_t stream_id, std::string_view subject, uint64_t from, Fn&& fn) {
    const std::string prefix = subject_prefix(stream_id, subject);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, subjects_));
    for (it->Seek(subject_key(stream_id, subject, from)); it->Valid(); it->Next()) {
      auto k = it->key();
      if (k.size() != prefix.size() + 8 || !k.starts_with(prefix)) continue;
      if (!fn(read_be64(k.data() + prefix.size()))) break;
    }
  }

  void scan_literal(uint64_t stream_id, uint64_t from, size_t max_msgs, size_t max_bytes, std::string_view subject,
                    std::vector<stored_message>& out) {
    size_t bytes = 0;
    rocksdb::PinnableSlice v;
    walk_subject(stream_id, subject, from, [&](uint64_t seq) {
      v.Reset();
      const std::string key = message_key(stream_id, seq);
      if (!db_->Get(rocksdb::ReadOptions(), messages_, key, &v).ok()) return true;
      stored_message m;
      if (!decode(key, v, m)) return true;
      bytes += message_bytes(m);
      out.push_back(std::move(m));
      return !limit_reached(out.size(), bytes, max_msgs, max_bytes);
    });
  }

  // The value log files' live counts after `delta`, written into `wb` so they change
  // in the same RocksDB write as the references (a file with nothing live: no record).
  void put_vlog_counts(const std::map<uint32_t, value_log::file_counts>& delta, rocksdb::WriteBatch& wb) {
    for (auto& [file, d] : delta) {
      if (d.live == 0 && d.bytes == 0) continue;
      auto c = vlog_->counts_after(file, d);
      if (c.live <= 0) {
        (void)wb.Delete(meta_, vlog_count_key(file));
      } else {
        char v[16];
        put_be64(v, uint64_t(c.live));
        put_be64(v + 8, uint64_t(c.bytes));
        (void)wb.Put(meta_, vlog_count_key(file), rocksdb::Slice(v, 16));
      }
    }
  }

  // Dropping a stream: one reference less in the value log for each of its messages
  // kept there, with the new file counts added to `wb`. Reads the stream's records
  // (small: large payloads are elsewhere), only when the value log holds anything.
  std::map<uint32_t, value_log::file_counts> stream_references(const std::string& begin, const std::string& end,
                                                               rocksdb::WriteBatch& wb) {
    std::map<uint32_t, value_log::file_counts> delta;
    if (!vlog_ || vlog_->empty()) return delta;
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
    for (it->Seek(begin); it->Valid() && it->key().starts_with(begin); it->Next()) {
      record_view r;
      if (!parse_record(it->value(), r) || !r.external) continue;
      auto ref = vlog_ref::decode(r.payload.data());
      delta[ref.file].live--;
      delta[ref.file].bytes -= ref.length;
    }
    put_vlog_counts(delta, wb);
    return delta;
  }

  // Only for stream id 2^64-1, whose keys have no finite exclusive upper bound.
  store_status drop_by_iteration(const std::string& prefix) {
    rocksdb::WriteBatch wb;
    auto delta = stream_references(prefix, "", wb);
    for (auto* cf : {messages_, subjects_}) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) (void)wb.Delete(cf, it->key());
    }
    if (failed_.load(std::memory_order_acquire)) try_resume();
    auto s = db_->Write(rocksdb::WriteOptions(), &wb);
    if (!s.ok()) failed_.store(true, std::memory_order_release);
    else if (!delta.empty()) vlog_->settle({}, delta, true);
    return to_status(s, "drop stream");
  }

  // Moves the live payloads of value log file `file` to the active file, in groups of
  // up to 64 payloads or 8 MiB. For each group, without the writers' lock: copy the
  // payloads whose records still point at `file`, and sync the copies. Then under
  // write_mutex_ (no stream's write interleaves): read each record again, point the
  // ones still unchanged at their copies (a message deleted or moved meanwhile keeps
  // its state; its copy is dead space), and write them with both files' counts in one
  // synced RocksDB write. Streams wait for that write only, not for the copying. The
  // old file goes when its count reaches zero.
  enum class compacted { all, not_all, stopped };
  compacted compact_file(uint32_t file) {
    struct entry {
      std::string key;
      uint64_t offset;
    };
    std::vector<entry> entries;
    std::string error;
    auto warn = [this](const std::string& text) {
      rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, log_, "dialtone: value log compaction: %s", text.c_str());
    };
    if (!vlog_->for_each_entry(
            file, [&](std::string_view key, const vlog_ref& ref) { entries.push_back({std::string(key), ref.offset}); },
            error)) {
      warn(error);
      return compacted::not_all;
    }
    struct copy {
      const entry* from;
      vlog_ref old_ref, new_ref;
    };
    std::string payload;
    bool all = true;
    for (size_t i = 0; i < entries.size();) {
      if (stopping_.load(std::memory_order_relaxed) || failed_.load(std::memory_order_acquire)) return compacted::stopped;
      std::vector<copy> copies;
      std::map<uint32_t, int64_t> appended;
      size_t bytes = 0;
      for (; i < entries.size() && copies.size() < 64 && bytes < (8u << 20); ++i) {
        const auto& e = entries[i];
        auto ref = current_ref(e.key);
        if (!ref || ref->file != file || ref->offset != e.offset) continue;  // dead: deleted, or a later copy
        if (!vlog_->read(*ref, payload, error)) {
          // Damaged on disk: left where it is (reads report it), and so is the file.
          warn(error);
          all = false;
          continue;
        }
        vlog_ref moved;
        bool no_space = false;
        if (!vlog_->append(e.key, payload, moved, error, no_space)) {
          warn(error);
          vlog_->settle(appended, {}, false);
          return compacted::stopped;
        }
        appended[moved.file]++;
        copies.push_back({&e, *ref, moved});
        bytes += ref->length;
      }
      if (copies.empty()) continue;
      // The copies are on disk before any record points at them.
      if (!vlog_->sync(error)) {
        warn(error);
        vlog_->settle(appended, {}, false);
        return compacted::stopped;
      }
      std::lock_guard lock(write_mutex_);
      if (failed_.load(std::memory_order_acquire)) {
        vlog_->settle(appended, {}, false);
        return compacted::stopped;
      }
      rocksdb::WriteBatch wb;
      std::map<uint32_t, value_log::file_counts> delta;
      for (auto& c : copies) {
        rocksdb::PinnableSlice v;
        auto now = current_ref(c.from->key, &v);
        if (!now || now->file != c.old_ref.file || now->offset != c.old_ref.offset) continue;
        delta[file].live--;
        delta[file].bytes -= c.old_ref.length;
        delta[c.new_ref.file].live++;
        delta[c.new_ref.file].bytes += c.new_ref.length;
        // The same record with the new reference (its last bytes).
        std::string record(v.data(), v.size());
        char encoded[vlog_ref::encoded_size];
        c.new_ref.encode(encoded);
        record.replace(record.size() - sizeof encoded, sizeof encoded, encoded, sizeof encoded);
        (void)wb.Put(messages_, c.from->key, record);
      }
      if (delta.empty()) {
        vlog_->settle(appended, {}, false);
        continue;
      }
      put_vlog_counts(delta, wb);
      // Synced: the old file goes once its count is zero, so the records pointing away
      // from it must survive a power loss too.
      rocksdb::WriteOptions wo;
      wo.sync = true;
      auto s = db_->Write(wo, &wb);
      if (!s.ok()) {
        vlog_->settle(appended, {}, false);
        failed_.store(true, std::memory_order_release);
        warn(s.ToString());
        return compacted::stopped;
      }
      vlog_->settle(appended, delta, true);
    }
    return all ? compacted::all : compacted::not_all;
  }

  // Where a message's payload is now, if it is in the value log; the record itself in
  // `record` when given.
  std::optional<vlog_ref> current_ref(rocksdb::Slice key, rocksdb::PinnableSlice* record = nullptr) {
    rocksdb::PinnableSlice local;
    rocksdb::PinnableSlice& v = record ? *record : local;
    record_view r;
    if (!db_->Get(rocksdb::ReadOptions(), messages_, key, &v).ok() || !parse_record(v, r) || !r.external)
      return std::nullopt;
    return vlog_ref::decode(r.payload.data());
  }

  // The compaction thread: waits until a write has left dead payloads, lets a second
  // pass (deletes come in runs), then compacts what is at least half dead.
  void start_compactor(bool now) {
    compact_wanted_ = now;
    compactor_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "dialtone-vlog");
      std::unique_lock lk(compact_wait_mutex_);
      for (;;) {
        compact_cv_.wait(lk, [this] { return stopping_.load(std::memory_order_relaxed) || compact_wanted_; });
        if (stopping_.load(std::memory_order_relaxed)) return;
        compact_cv_.wait_for(lk, std::chrono::seconds(1), [this] { return stopping_.load(std::memory_order_relaxed); });
        if (stopping_.load(std::memory_order_relaxed)) return;
        compact_wanted_ = false;
        lk.unlock();
        compact_value_log();
        lk.lock();
      }
    });
  }

  void want_compaction() {
    if (!compactor_.joinable()) return;
    {
      std::lock_guard lk(compact_wait_mutex_);
      compact_wanted_ = true;
    }
    compact_cv_.notify_one();
  }

  size_t release_memory(size_t min_bytes) override {
    // Not while writes fail (a full disk): the flush would fail the same way.
    if (failed_.load(std::memory_order_acquire)) return 0;
    // Bytes of all memtables (active, flushing, pinned) of all families.
    auto memtable_bytes = [this] {
      uint64_t total = 0;
      for (auto* h : handles_) {
        uint64_t all = 0;
        if (db_->GetIntProperty(h, rocksdb::DB::Properties::kSizeAllMemTables, &all)) total += all;
      }
      return total;
    };
    // A write-ahead log file goes once every family's memtable holding part of it is
    // written out. The meta family's (a stream's state record per batch, a few KiB)
    // never reaches min_bytes, and would keep every log file until max_total_wal_size
    // (64 MiB) forced a flush: past wal_release_bytes of live log, each family holding
    // anything is written out too, and the files go.
    const bool log_large = live_log_bytes() >= wal_release_bytes;
    std::vector<rocksdb::ColumnFamilyHandle*> full;
    for (auto* h : handles_) {
      uint64_t active = 0, entries = 0;
      if (!db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeActiveMemTable, &active)) continue;
      if (active >= min_bytes ||
          (log_large && db_->GetIntProperty(h, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &entries) &&
           entries > 0))
        full.push_back(h);
    }
    if (full.empty()) return 0;
    uint64_t before = memtable_bytes();
    rocksdb::FlushOptions fo;
    fo.wait = true;
    fo.allow_write_stall = true;
    auto st = db_->Flush(fo, full);
    if (!st.ok()) {
      rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, log_, "dialtone: idle flush failed: %s", st.ToString().c_str());
      return 0;
    }
    uint64_t after = memtable_bytes();
    return before > after ? size_t(before - after) : 0;
  }

  // Bytes in the write-ahead log files still needed for recovery.
  uint64_t live_log_bytes() {
    rocksdb::VectorLogPtr files;
    if (!db_->GetSortedWalFiles(files).ok()) return 0;
    uint64_t total = 0;
    for (auto& f : files)
      if (f->Type() == rocksdb::kAliveLogFile) total += f->SizeFileBytes();
    return total;
  }

  void try_resume() {
    std::lock_guard lock(resume_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (resume_tried_ && now - last_resume_ < std::chrono::milliseconds(100)) return;
    resume_tried_ = true;
    last_resume_ = now;
    // OK when there is no background error (e.g. the failure was something else).
    if (db_->Resume().ok()) failed_.store(false, std::memory_order_release);
  }

  std::string dir_;
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::shared_ptr<rocksdb::Logger> log_;
  std::unique_ptr<value_log> vlog_;  // set right after open; before the DB goes (destructor)
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
  rocksdb::ColumnFamilyHandle* subjects_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  std::atomic<bool> failed_{false};
  std::mutex write_mutex_;  // write() and drop_stream(): one writer at a time (see write())
  std::mutex resume_mutex_;
  bool resume_tried_ = false;
  std::chrono::steady_clock::time_point last_resume_;

  // Value log compaction (compact_value_log): one at a time; the thread that runs it
  // when writes left garbage, and how it is woken and stopped.
  std::mutex compact_mutex_;
  std::set<uint32_t> uncompactable_;  // damaged files (guarded by compact_mutex_)
  std::mutex compact_wait_mutex_;
  std::condition_variable compact_cv_;
  bool compact_wanted_ = false;  // guarded by compact_wait_mutex_
  std::atomic<bool> stopping_{false};
  std::thread compactor_;

  std::mutex usage_mutex_;
  bool usage_valid_ = false;
  uint64_t usage_ = 0;
  std::chrono::steady_clock::time_point usage_time_;
};

// ---- info log -----------------------------------------------------------------------

// RocksDB's own diagnostic log ("LOG" in the store directory). RocksDB's default logger
// must not be used: once one of its writes fails (disk full) the next one hits an
// assert in WritableFileWriter, and Debian's librocksdb keeps asserts on, so a full
// disk would abort the server instead of failing writes. This one writes with plain
// write(2), ignores errors (losing log lines on a full disk is fine), and keeps the file
// small: at 4 MiB it becomes LOG.old (replacing the previous one).
class info_logger final : public rocksdb::Logger {
 public:
  info_logger(std::string dir, rocksdb::InfoLogLevel level)
      : rocksdb::Logger(level), path_(std::move(dir) + "/LOG") {
    open_file();
  }
  ~info_logger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    int n = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06lldZ ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us));
    if (n < 0) return;
    int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), format, ap);
    if (m < 0) return;
    size_t len = std::min(sizeof line - 1, static_cast<size_t>(n) + static_cast<size_t>(m));  // truncated if long
    line[len++] = '\n';
    std::lock_guard lock(mutex_);
    if (size_ + len > max_size) rotate();
    if (fd_ < 0) return;
    auto w = ::write(fd_, line, len);
    if (w > 0) size_ += static_cast<size_t>(w);
  }

 private:
  static constexpr size_t max_size = 4 << 20;

  void open_file() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st {};
    size_ = (fd_ >= 0 && ::fstat(fd_, &st) == 0) ? static_cast<size_t>(st.st_size) : 0;
  }
  void rotate() {
    if (fd_ >= 0) ::close(fd_);
    (void)std::rename(path_.c_str(), (path_ + ".old").c_str());
    open_file();
  }

  std::string path_;
  std::mutex mutex_;
  int fd_ = -1;
  size_t size_ = 0;
};

// RocksDB recovers from a NoSpace error on its own by polling free space every few
// seconds (through its SstFileManager), and while that recovery is pending a manual
// Resume() only returns Busy. Recovery is driven from write() instead (see
// rocks_store::try_resume): the store is writable again on the first write after space
// comes back, not up to ~5 s later.
class manual_recovery final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "dialtone.manual_recovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }
};

// ---- options ------------------------------------------------------------------------

// LZ4 when this RocksDB build has it (Debian's does): cheap enough for the write path
// and good on the JSON-ish payloads streams usually carry. Otherwise no compression.
rocksdb::CompressionType pick_compression() {
  for (auto c : rocksdb::GetSupportedCompressions())
    if (c == rocksdb::kLZ4Compression) return c;
  return rocksdb::kNoCompression;
}

// The part of a subject-index key up to and including the '\0' after the subject:
// stream id + subject. Inserts of one subject's growing sequences share it. A range
// deletion's start key (8 bytes) is out of the domain (message_prefix_transform).
class subject_prefix_transform final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dialtone.subject_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const char* nul = static_cast<const char*>(std::memchr(key.data() + 8, '\0', key.size() - 8));
    return rocksdb::Slice(key.data(), size_t(nul - key.data()) + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > 8 && std::memchr(key.data() + 8, '\0', key.size() - 8) != nullptr;
  }
};

// The stream id of a message key (8 of its 16 bytes). Only full message keys are in
// the domain: a range deletion's start key (the bare 8-byte stream prefix, see
// drop_stream) must stay out, since RocksDB 7.8 would apply a hint taken in the main
// memtable to its range-deletion table (an assertion, or worse without asserts).
class message_prefix_transform final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dialtone.message_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return rocksdb::Slice(key.data(), 8); }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() == 16; }
};

rocksdb::ColumnFamilyOptions cf_options(const std::shared_ptr<rocksdb::Cache>& cache, size_t write_buffer,
                                        std::shared_ptr<const rocksdb::SliceTransform> insert_hint = {}) {
  rocksdb::ColumnFamilyOptions o;
  // Keys with one prefix arrive in ascending order (a stream's sequences, a subject's
  // sequences): the memtable remembers where the last one went and inserts the next
  // there instead of searching the skip list from the top.
  o.memtable_insert_with_hint_prefix_extractor = std::move(insert_hint);
  // Memtables: at most two per family (one filling, one flushing), so memory is
  // bounded by 2 x write_buffer per family whatever the write rate.
  o.write_buffer_size = write_buffer;
  o.max_write_buffer_number = 2;
  o.min_write_buffer_number_to_merge = 1;
  // Level compaction with dynamic level sizes keeps space amplification near 1.1x,
  // which matters more here than write amplification (streams are append-mostly, and
  // sequential keys make compaction mostly trivial moves).
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 32 << 20;
  o.max_bytes_for_level_base = 128 << 20;
  o.compression = pick_compression();
  rocksdb::BlockBasedTableOptions t;
  // One LRU cache for all families; index blocks live in it too (and are charged to
  // it), so a store with many SST files does not grow memory beyond the cache size.
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.block_size = 16 << 10;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

std::unique_ptr<stream_store> open_rocks_store(const std::string& dir, std::string& error) {
  return open_rocks_store(dir, rocks_options{}, error);
}

std::unique_ptr<stream_store> open_rocks_store(const std::string& dir, const rocks_options& options,
                                               std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create store directory " + dir + ": " + ec.message();
    return nullptr;
  }

  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_open_files = 256;  // bounds file descriptors and the table cache
  db.max_background_jobs = 2;
  // A WAL cannot be deleted until every family with data in it has flushed; without a
  // cap, a rarely written family (meta) would pin old WALs forever.
  db.max_total_wal_size = 64 << 20;
  // Write back SST data in 1 MiB steps rather than in one burst at fsync.
  db.bytes_per_sync = 1 << 20;
  // RocksDB's own diagnostic LOG, through a logger that survives a full disk (above).
  db.info_log = std::make_shared<info_logger>(dir, rocksdb::InfoLogLevel::INFO_LEVEL);
  db.listeners.push_back(std::make_shared<manual_recovery>());

  // Memtables of all families together stay under 8 MiB (a flush starts beyond it):
  // the server's memory does not grow with the rate of writes. Streams are written
  // once and read mostly soon after (consumers) or by key (KV): small memtables and an
  // 8 MiB block cache keep the footprint near nats-server's (BENCHMARKS.md).
  // The messages family's write buffer is 3 MiB: with 4, 200k pipelined 1 KiB publishes
  // peaked at 33.5-34.4 MiB of RSS, with 3 at 31.8-32.5, at the same rates (also for
  // 16 B publishes; with 2, those lost a fifth: BENCHMARKS.md run 27).
  db.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(8 << 20);
  auto cache = rocksdb::NewLRUCache(8 << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, cf_options(cache, 1 << 20)},
      {"messages", cf_options(cache, 3 << 20, std::make_shared<message_prefix_transform>())},
      {"subjects", cf_options(cache, 2 << 20, std::make_shared<subject_prefix_transform>())},
      {"meta", cf_options(cache, 1 << 20)},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db, dir, families, &handles, &raw);
  if (!s.ok()) {
    error = "cannot open store in " + dir + ": " + s.ToString();
    return nullptr;
  }
  // RocksDB's checksums are crc32c.cpp's (SSE 4.2 where the CPU has it); this call is
  // also what links that file in ahead of librocksdb.a.
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, db.info_log, "dialtone: CRC-32C %s",
               crc32c::hardware() ? "with the SSE 4.2 crc32 instruction" : "by table (no SSE 4.2)");
  auto st = std::make_unique<rocks_store>(dir, raw, std::move(handles), db.info_log);
  if (!st->open_value_log(options, error)) return nullptr;
  return st;
}

}  // namespace store
