// value_log: large payloads outside RocksDB. See value_log.hpp.
#include "services/store/value_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <system_error>
#include <vector>

namespace store {

namespace {

void put_be(char* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get_be(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The first bytes of every file, and of every entry (see value_log.hpp).
constexpr char file_tag[] = "DTVLOG2\n";
constexpr uint64_t file_tag_size = 8;
constexpr char entry_tag[] = "DTE1";
constexpr size_t key_size = 16;
constexpr uint64_t entry_header = 4 + 4 + key_size;

// pread of exactly `n` bytes. False on an error (errno set) or at the end of the file
// (errno 0).
bool read_fully(int fd, char* out, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out + done, n - done, off_t(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) errno = 0;
    if (r <= 0) return false;
    done += size_t(r);
  }
  return true;
}

std::string file_name(const std::string& dir, uint32_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "/%010u.vlog", number);
  return dir + name;
}

std::string errno_text(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

// Writes the tag that starts every file (errno set on failure: ENOSPC for a short write).
bool write_file_tag(int fd, const std::string& path, std::string& error) {
  ssize_t n;
  do n = ::pwrite(fd, file_tag, file_tag_size, 0);
  while (n < 0 && errno == EINTR);
  if (n == ssize_t(file_tag_size)) return true;
  const int err = n < 0 ? errno : ENOSPC;
  error = errno_text("cannot write value log file", path, err);
  errno = err;
  return false;
}

}  // namespace

uint64_t payload_checksum_avx2(const char* data, size_t n);  // checksum_avx2.cpp

uint64_t payload_checksum(const char* data, size_t n) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? payload_checksum_avx2(data, n) : XXH3_64bits(data, n);
}

void vlog_ref::encode(char* out) const {
  put_be(out, file, 4);
  put_be(out + 4, offset, 8);
  put_be(out + 12, length, 4);
  put_be(out + 16, checksum, 8);
}

vlog_ref vlog_ref::decode(const char* in) {
  vlog_ref r;
  r.file = static_cast<uint32_t>(get_be(in, 4));
  r.offset = get_be(in + 4, 8);
  r.length = static_cast<uint32_t>(get_be(in + 12, 4));
  r.checksum = get_be(in + 16, 8);
  return r;
}

struct value_log::open_file {
  int fd = -1;
  std::string path;
  ~open_file() {
    if (fd >= 0) ::close(fd);
  }
};

value_log::value_log(std::string dir, uint64_t file_size) : dir_(std::move(dir)), file_size_(file_size) {}

value_log::~value_log() = default;

std::unique_ptr<value_log> value_log::open(const std::string& dir, const std::map<uint32_t, file_counts>& committed,
                                           uint64_t file_size, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create value log directory " + dir + ": " + ec.message();
    return nullptr;
  }
  std::unique_ptr<value_log> log(new value_log(dir, file_size));
  uint32_t highest = 0;
  for (auto& [n, c] : committed) highest = std::max(highest, n);
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 15 || name.substr(10) != ".vlog") continue;
    uint32_t number = static_cast<uint32_t>(std::strtoul(name.c_str(), nullptr, 10));
    highest = std::max(highest, number);
    auto c = committed.find(number);
    if (c == committed.end() || c->second.live <= 0) {
      // Nothing committed refers to it: payloads of batches a crash cut off.
      std::filesystem::remove(it->path(), ec);
      ec.clear();
      continue;
    }
    log->counts_[number] = file_counts{c->second.live, c->second.bytes, 0};
    // Readable through (entry headers) when it starts with the tag: compaction may take it.
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char tag[file_tag_size];
      struct stat st {};
      if (read_fully(fd, tag, sizeof tag, 0) && std::memcmp(tag, file_tag, file_tag_size) == 0 && ::fstat(fd, &st) == 0)
        log->sizes_[number] = uint64_t(st.st_size);
      ::close(fd);
    }
  }
  if (ec) {
    error = "cannot list value log directory " + dir + ": " + ec.message();
    return nullptr;
  }
  log->active_ = highest;  // start_file() takes the next number
  if (!log->start_file(error)) return nullptr;
  return log;
}

bool value_log::start_file(std::string& error) {
  uint32_t number = active_ + 1;
  auto f = std::make_shared<open_file>();
  f->path = file_name(dir_, number);
  f->fd = ::open(f->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f->fd < 0) {
    error = errno_text("cannot create value log file", f->path, errno);
    return false;
  }
  if (!write_file_tag(f->fd, f->path, error)) {
    int err = errno;
    ::unlink(f->path.c_str());
    errno = err;  // for append(): a full disk
    return false;
  }
  uint32_t old = active_;
  if (old != 0 && open_.count(old)) sizes_[old] = active_size_;
  active_ = number;
  active_size_ = file_tag_size;
  open_[number] = std::move(f);
  counts_[number];
  if (old != 0) remove_unused_locked(old);
  return true;
}

bool value_log::append(std::string_view key, std::string_view data, vlog_ref& out, std::string& error,
                       bool& no_space) {
  no_space = false;
  const uint64_t sum = payload_checksum(data.data(), data.size());
  char head[entry_header] = {};
  std::memcpy(head, entry_tag, 4);
  put_be(head + 4, data.size(), 4);
  std::memcpy(head + 8, key.data(), std::min(key.size(), key_size));
  std::lock_guard lock(mutex_);
  if (active_size_ >= file_size_ && !start_file(error)) {
    no_space = errno == ENOSPC || errno == EDQUOT;  // the new file's tag did not fit
    return false;
  }
  auto& f = *open_[active_];
  // Header and payload in one write, the payload straight from where it is.
  const uint64_t total = entry_header + data.size();
  uint64_t done = 0;
  while (done < total) {
    iovec iov[2];
    int n_iov = 0;
    if (done < entry_header) iov[n_iov++] = {head + done, size_t(entry_header - done)};
    uint64_t from = done > entry_header ? done - entry_header : 0;
    iov[n_iov++] = {const_cast<char*>(data.data()) + from, size_t(data.size() - from)};
    ssize_t n = ::pwritev(f.fd, iov, n_iov, off_t(active_size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      no_space = err == ENOSPC || err == EDQUOT;
      error = errno_text("cannot write value log file", f.path, err);
      // Cut the partial entry off, so the next append starts where this one did.
      (void)::ftruncate(f.fd, off_t(active_size_));
      return false;
    }
    done += uint64_t(n);
  }
  out = vlog_ref{active_, active_size_ + entry_header, static_cast<uint32_t>(data.size()), sum};
  active_size_ += total;
  counts_[active_].pending++;
  unsynced_.insert(active_);
  return true;
}

std::shared_ptr<value_log::open_file> value_log::file_for_read(uint32_t number, std::string& error) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(number); it != open_.end()) return it->second;
  auto f = std::make_shared<open_file>();
  f->path = file_name(dir_, number);
  f->fd = ::open(f->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) {
    error = errno_text("cannot open value log file", f->path, errno);
    return nullptr;
  }
  // Kept open while the file lives (a few dozen files at most per store, 64 MiB each,
  // bounded by the data stored).
  open_[number] = f;
  return f;
}

bool value_log::read(const vlog_ref& r, std::string& out, std::string& error) {
  auto f = file_for_read(r.file, error);
  if (!f) return false;
  out.resize(r.length);
  if (!read_fully(f->fd, out.data(), r.length, r.offset)) {
    error = errno != 0 ? errno_text("cannot read value log file", f->path, errno)
                       : "value log file " + f->path + " is shorter than a stored reference";
    return false;
  }
  if (payload_checksum(out.data(), out.size()) != r.checksum) {
    error = "checksum mismatch in value log file " + f->path + " at offset " + std::to_string(r.offset);
    return false;
  }
  return true;
}

bool value_log::sync(std::string& error) {
  std::vector<std::shared_ptr<open_file>> files;
  {
    std::lock_guard lock(mutex_);
    for (auto n : unsynced_)
      if (auto it = open_.find(n); it != open_.end()) files.push_back(it->second);
    unsynced_.clear();
  }
  for (auto& f : files)
    if (::fdatasync(f->fd) != 0) {
      error = errno_text("cannot sync value log file", f->path, errno);
      return false;
    }
  return true;
}

void value_log::settle(const std::map<uint32_t, int64_t>& appended, const std::map<uint32_t, file_counts>& delta,
                       bool committed) {
  std::lock_guard lock(mutex_);
  std::vector<uint32_t> touched;
  for (auto& [file, n] : appended) {
    counts_[file].pending -= n;
    touched.push_back(file);
  }
  if (committed)
    for (auto& [file, d] : delta) {
      auto& c = counts_[file];
      c.live = std::max<int64_t>(0, c.live + d.live);
      c.bytes = std::max<int64_t>(0, c.bytes + d.bytes);
      touched.push_back(file);
    }
  for (auto f : touched) remove_unused_locked(f);
}

void value_log::remove_unused_locked(uint32_t number) {
  auto it = counts_.find(number);
  if (it != counts_.end() && (it->second.live > 0 || it->second.pending > 0)) return;
  if (number == active_) {
    // Everything in it is dead: start it over (what frees a full disk once a stream
    // is purged). No reader can be inside: nothing refers to it.
    if (active_size_ > file_tag_size && ::ftruncate(open_[active_]->fd, off_t(file_tag_size)) == 0)
      active_size_ = file_tag_size;
    return;
  }
  if (it != counts_.end()) counts_.erase(it);
  sizes_.erase(number);
  open_.erase(number);  // a read in flight keeps its descriptor until it finishes
  ::unlink(file_name(dir_, number).c_str());
  unsynced_.erase(number);
}

value_log::file_counts value_log::counts_after(uint32_t file, const file_counts& delta) {
  std::lock_guard lock(mutex_);
  file_counts c;
  if (auto it = counts_.find(file); it != counts_.end()) c = it->second;
  c.live = std::max<int64_t>(0, c.live + delta.live);
  c.bytes = std::max<int64_t>(0, c.bytes + delta.bytes);
  return c;
}

bool value_log::empty() const {
  std::lock_guard lock(mutex_);
  for (auto& [n, c] : counts_)
    if (c.live > 0 || c.pending > 0) return false;
  return true;
}

std::vector<uint32_t> value_log::garbage() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<uint64_t, uint32_t>> found;  // (dead bytes, file)
  for (auto& [number, size] : sizes_) {
    if (number == active_) continue;
    auto c = counts_.find(number);
    if (c == counts_.end() || c->second.pending > 0 || c->second.live <= 0) continue;
    uint64_t live = file_tag_size + uint64_t(c->second.bytes) + uint64_t(c->second.live) * entry_header;
    if (live >= size) continue;
    uint64_t dead = size - live;
    if (dead * 2 >= size) found.emplace_back(dead, number);
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<uint32_t> out;
  for (auto& [dead, number] : found) out.push_back(number);
  return out;
}

bool value_log::for_each_entry(uint32_t number,
                               const std::function<void(std::string_view key, const vlog_ref& ref)>& fn,
                               std::string& error) {
  uint64_t size = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = sizes_.find(number);
    if (it == sizes_.end()) {
      error = "value log file " + std::to_string(number) + " cannot be read through";
      return false;
    }
    size = it->second;
  }
  auto f = file_for_read(number, error);
  if (!f) return false;
  // Entry headers are read through a window of the file; payloads are skipped.
  std::vector<char> buf(256 << 10);
  uint64_t buf_at = 0, buf_len = 0;
  auto header_at = [&](uint64_t pos, const char*& out) {
    if (pos < buf_at || pos + entry_header > buf_at + buf_len) {
      uint64_t want = std::min<uint64_t>(buf.size(), size - pos);
      if (want < entry_header || !read_fully(f->fd, buf.data(), size_t(want), pos)) return false;
      buf_at = pos;
      buf_len = want;
    }
    out = buf.data() + (pos - buf_at);
    return true;
  };
  for (uint64_t pos = file_tag_size; pos < size;) {
    // An entry cut off at the end is an append a kill interrupted: never referenced.
    if (pos + entry_header > size) break;
    const char* h = nullptr;
    if (!header_at(pos, h) || std::memcmp(h, entry_tag, 4) != 0) {
      error = "value log file " + f->path + ": no entry header at offset " + std::to_string(pos);
      return false;
    }
    uint64_t length = get_be(h + 4, 4);
    if (pos + entry_header + length > size) break;
    fn(std::string_view(h + 8, key_size), vlog_ref{number, pos + entry_header, uint32_t(length), 0});
    pos += entry_header + length;
  }
  return true;
}

uint64_t value_log::disk_usage() {
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    auto size = it->file_size(fec);
    if (!fec) total += size;
  }
  return total;
}

}  // namespace store
