#include "libplatform/outbound_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace platform {

outbound_buffer::block& outbound_buffer::tail_for(size_t need) {
  if (!blocks_.empty()) {
    auto& t = blocks_.back();
    if (t.cap - t.end >= need) return t;
  }
  size_t grow = blocks_.empty() ? min_block : std::min<size_t>(size_t(blocks_.back().cap) * 2, max_block);
  size_t cap = std::max(grow, need);
  block b;
  b.data.reset(new char[cap]);
  b.cap = uint32_t(cap);
  blocks_.push_back(std::move(b));
  return blocks_.back();
}

void outbound_buffer::append3(std::string_view a, std::string_view b, std::string_view c) {
  size_t n = a.size() + b.size() + c.size();
  if (n == 0) return;
  block& t = tail_for(n);
  char* dst = t.data.get() + t.end;
  std::memcpy(dst, a.data(), a.size());
  if (!b.empty()) std::memcpy(dst + a.size(), b.data(), b.size());
  if (!c.empty()) std::memcpy(dst + a.size() + b.size(), c.data(), c.size());
  t.end += uint32_t(n);
  size_ += n;
}

int outbound_buffer::fill_iov(iovec* iov, int max_iov) const noexcept {
  int n = 0;
  for (size_t i = head_; i < blocks_.size() && n < max_iov; ++i) {
    auto& b = blocks_[i];
    if (b.end == b.begin) continue;
    iov[n].iov_base = b.data.get() + b.begin;
    iov[n].iov_len = b.end - b.begin;
    ++n;
  }
  return n;
}

void outbound_buffer::consume(size_t n) noexcept {
  n = std::min(n, size_);
  size_ -= n;
  if (size_ == 0) {
    clear();
    return;
  }
  // Some bytes are left, so the tail block is not fully written: every block this
  // consumes entirely lies before it and is freed now. (Keeping written blocks until
  // the buffer drained once held a whole 1 GiB object for a reader fast enough never to
  // let it drain.)
  while (n > 0) {
    auto& b = blocks_[head_];
    size_t avail = b.end - b.begin;
    if (n < avail) {
      b.begin += uint32_t(n);
      break;
    }
    n -= avail;
    b = block{};
    ++head_;
  }
  if (head_ > 8) {  // drop the emptied slots now and then, not on every write
    blocks_.erase(blocks_.begin(), blocks_.begin() + long(head_));
    head_ = 0;
  }
}

size_t outbound_buffer::held_bytes() const noexcept {
  size_t n = 0;
  for (auto& b : blocks_) n += b.cap;
  return n;
}

void outbound_buffer::clear() noexcept {
  blocks_.clear();
  blocks_.shrink_to_fit();
  head_ = 0;
  size_ = 0;
}

}  // namespace platform
