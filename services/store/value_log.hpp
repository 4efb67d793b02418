#pragma once
// value_log: where rocks_store keeps large payloads (object-store chunks, big messages),
// outside RocksDB. A payload of at least `min_size` bytes is appended once to the active
// log file with write(2), straight from where the message already is; the RocksDB
// record keeps a 24-byte reference (file, offset, length, XXH3 checksum). Inside RocksDB the
// same payload would be copied into the write batch, the WAL, the memtable, then
// rewritten by the flush and by every compaction: measured on a 1 GiB put of 128 KiB
// chunks, the value log is what lets the store keep up with the client (objectstore/
// README.md, "Storage").
//
// Files: <dir>/<number, 10 digits>.vlog, appended until they pass `file_size`, then a
// new one starts. A file begins with an 8-byte tag ("DTVLOG2\n"); each payload follows
// a 24-byte entry header (tag "DTE1", payload length, the 16-byte message key), so a
// file can be read through without RocksDB. A file is deleted when no stored message
// refers to it any more: the store counts live references per file and keeps the
// counts in the same RocksDB write as the references (see rocks_store.cpp), so they
// survive a crash exactly as the data does. A file without a count after a restart
// holds only payloads whose write batch never committed (a kill -9 between the append
// and the WAL write): it is deleted.
// Compaction: a file that is at least half dead (garbage() lists them) has its live
// payloads copied to the active file by the store (rocks_store::compact_value_log), which
// moves each reference in one RocksDB write with the counts; once nothing refers to the
// old file it goes like any other. Files written before entry headers existed (no tag)
// cannot be read through and are only deleted once wholly dead.
//
// Durability: an append is in the page cache when append() returns (it survives a kill
// -9 of the server, like RocksDB's WAL); sync() fdatasyncs the files appended to since
// the last sync, before the WAL is synced (sync_interval: always).
//
// Thread safety: all methods may be called from any thread; appends are serialized by
// a mutex, reads use pread on shared descriptors.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace store {

struct vlog_ref {
  uint32_t file = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint64_t checksum = 0;  // XXH3-64 of the payload (libxxhash): checked on every read
  static constexpr size_t encoded_size = 4 + 8 + 4 + 8;
  void encode(char* out) const;
  static vlog_ref decode(const char* in);
};

// The payload checksum. XXH3 runs at memory speed: measured on a 1 GiB object get,
// CRC-32C with the SSE 4.2 instruction took 17% of the stream's time, XXH3 (AVX2) 6%.
uint64_t payload_checksum(const char* data, size_t n);

class value_log {
 public:
  struct file_counts {
    int64_t live = 0;     // committed messages whose payload is in the file
    int64_t bytes = 0;    // their payload bytes
    int64_t pending = 0;  // appended by batches not yet committed or abandoned
  };

  // Opens (creates) `dir`; `committed` are the live counts the store read back (file
  // number -> live messages, bytes). Files not among them are deleted, and appends
  // go to a new file. Null with `error` set on failure.
  static std::unique_ptr<value_log> open(const std::string& dir, const std::map<uint32_t, file_counts>& committed,
                                         uint64_t file_size, std::string& error);
  ~value_log();

  // Appends `data`, stored under the message key `key` (16 bytes: what compaction
  // looks up); on success `out` refers to it and the file counts one pending append
  // (release with settle()). A short write (disk full) is cut off again.
  bool append(std::string_view key, std::string_view data, vlog_ref& out, std::string& error, bool& no_space);
  // Reads a payload back into `out`, checking its length and checksum.
  bool read(const vlog_ref& r, std::string& out, std::string& error);
  // fdatasync of every file appended to since the last sync.
  bool sync(std::string& error);

  // After a batch: its `appended` payloads (file -> count) are no longer pending;
  // `delta` (file -> live count and bytes change) applies when `committed`. Files left
  // with nothing live or pending, except the active one, are deleted.
  void settle(const std::map<uint32_t, int64_t>& appended, const std::map<uint32_t, file_counts>& delta,
              bool committed);

  // The live counts after `delta` (file -> counts), for the store to persist with
  // the batch that causes them.
  file_counts counts_after(uint32_t file, const file_counts& delta);
  bool empty() const;  // nothing live or pending anywhere: deletes need no lookups
  // Files worth compacting: not the active one, nothing pending, readable through, and
  // at least half of their bytes dead. Most garbage first.
  std::vector<uint32_t> garbage() const;
  // Reads file `number` through, calling fn(key, ref) for each entry (the reference
  // carries no checksum: read() of it is not checked). False on a read error or a
  // damaged entry header; entries before it were passed on. An entry cut off at the
  // end (an append a kill interrupted) ends the file.
  bool for_each_entry(uint32_t number, const std::function<void(std::string_view key, const vlog_ref& ref)>& fn,
                      std::string& error);
  uint64_t disk_usage();
  const std::string& dir() const { return dir_; }

 private:
  struct open_file;
  value_log(std::string dir, uint64_t file_size);
  bool start_file(std::string& error);
  std::shared_ptr<open_file> file_for_read(uint32_t number, std::string& error);
  void remove_unused_locked(uint32_t number);

  const std::string dir_;
  const uint64_t file_size_;
  mutable std::mutex mutex_;
  std::map<uint32_t, file_counts> counts_;               // every existing file
  std::map<uint32_t, uint64_t> sizes_;                   // closed files with entry headers: their size
  std::map<uint32_t, std::shared_ptr<open_file>> open_;  // descriptors (read and active)
  uint32_t active_ = 0;
  uint64_t active_size_ = 0;
  std::set<uint32_t> unsynced_;
};

}  // namespace store
