#pragma once
// Bytes waiting to be written to one socket: a short list of blocks, written with
// writev. Not thread-safe by itself: the owning connection guards it with its outbound
// lock (producers on any I/O thread append; one flusher at a time writes). The bytes
// fill_iov() describes stay where they are and unchanged while more is appended
// (append/reserve/commit write only past them, and blocks never move), so the flusher
// may writev them with the lock released; consume() and clear() must wait until it
// has the lock again.
// Memory: blocks grow 1 KiB -> 64 KiB (or the size of one bigger message); each is
// freed as soon as it is written, and an idle connection holds none.
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace platform {

class outbound_buffer {
 public:
  static constexpr size_t min_block = 1024;
  static constexpr size_t max_block = 64 * 1024;

  void append(std::string_view a) { append3(a, {}, {}); }
  // One message is usually header + payload + CRLF: one bounds check for all three.
  void append3(std::string_view a, std::string_view b, std::string_view c);

  // Room for n bytes at the tail, to be filled by the caller and then commit(n)ed.
  // Lets a message line be formatted straight into the buffer.
  char* reserve(size_t n) {
    block& t = tail_for(n);
    return t.data.get() + t.end;
  }
  void commit(size_t n) noexcept {
    blocks_.back().end += uint32_t(n);
    size_ += n;
  }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Describes the pending bytes as at most max_iov iovecs; returns how many.
  int fill_iov(iovec* iov, int max_iov) const noexcept;
  // Drops n written bytes from the front and frees the blocks they emptied.
  void consume(size_t n) noexcept;
  // Memory the blocks hold (for tests and accounting): at most about size() plus one
  // block, however long the buffer has gone without draining.
  size_t held_bytes() const noexcept;
  void clear() noexcept;

 private:
  struct block {
    std::unique_ptr<char[]> data;
    uint32_t cap = 0, begin = 0, end = 0;
  };
  block& tail_for(size_t need);

  std::vector<block> blocks_;
  size_t head_ = 0;  // first block with unwritten bytes
  size_t size_ = 0;
};

}  // namespace platform
