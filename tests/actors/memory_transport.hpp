#pragma once
// A transport with no socket, for session tests: what the session writes is collected
// in `written`; a write budget makes writev return EAGAIN like a full socket.
#include <cerrno>
#include <string>

#include "actors/io/transport.hpp"

namespace testing_support {

class memory_transport final : public actors::io::transport {
 public:
  std::string written;
  bool closed = false;
  long budget = -1;  // bytes writev may still take; -1: unlimited
  bool any_thread = true;

  ssize_t read(char*, size_t) override {
    errno = EAGAIN;
    return -1;
  }
  ssize_t writev(const iovec* iov, int count) override {
    if (closed) {
      errno = EBADF;
      return -1;
    }
    ssize_t n = 0;
    for (int i = 0; i < count; ++i) {
      size_t take = iov[i].iov_len;
      if (budget >= 0) take = std::min<size_t>(take, size_t(budget - n));
      written.append(static_cast<const char*>(iov[i].iov_base), take);
      n += ssize_t(take);
      if (take < iov[i].iov_len) break;
    }
    if (n == 0 && budget >= 0) {
      errno = EAGAIN;
      return -1;
    }
    if (budget >= 0) budget -= n;
    return n;
  }
  void wait_readable(std::shared_ptr<actors::io::transport_handler>) override {}
  void wait_writable(std::shared_ptr<actors::io::transport_handler> h) override { writable_waiter = std::move(h); }
  void close() override {
    closed = true;
    writable_waiter.reset();  // as a socket's pending wait ends when it closes
  }
  bool writes_from_any_thread() const noexcept override { return any_thread; }
  const std::string& remote() const noexcept override { return remote_; }
  const std::string& remote_ip() const noexcept override { return ip_; }

  // Takes what was written so far.
  std::string take() {
    std::string out;
    out.swap(written);
    return out;
  }
  std::shared_ptr<actors::io::transport_handler> writable_waiter;

 private:
  std::string remote_ = "memory:0", ip_ = "memory";
};

}  // namespace testing_support
