#include "actors/io/tcp_transport.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace actors::io {

namespace {

// DIALTONE_OWNER_WRITES=1: plain TCP follows TLS's rule (only the owning loop writes);
// see transport.hpp.
bool owner_writes_only() {
  static const bool on = [] {
    const char* v = std::getenv("DIALTONE_OWNER_WRITES");
    return v && std::strcmp(v, "1") == 0;
  }();
  return on;
}

}  // namespace

void prepare_socket(asio::ip::tcp::socket& socket, std::string& remote, std::string& ip) {
  std::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) {
    ip = ep.address().to_string();
    remote = ip + ":" + std::to_string(ep.port());
  }
  socket.non_blocking(true, ec);
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
}

tcp_transport::tcp_transport(asio::ip::tcp::socket socket)
    : socket_(std::move(socket)), fd_(socket_.native_handle()), any_thread_(!owner_writes_only()) {
  prepare_socket(socket_, remote_, ip_);
}

ssize_t tcp_transport::read(char* buf, size_t len) { return fd_ < 0 ? (errno = EBADF, -1) : ::read(fd_, buf, len); }

ssize_t tcp_transport::writev(const iovec* iov, int count) {
  return fd_ < 0 ? (errno = EBADF, -1) : ::writev(fd_, iov, count);
}

void tcp_transport::wait_readable(std::shared_ptr<transport_handler> h) {
  socket_.async_wait(asio::socket_base::wait_read, [h = std::move(h)](const std::error_code& ec) { h->on_readable(ec); });
}

void tcp_transport::wait_writable(std::shared_ptr<transport_handler> h) {
  socket_.async_wait(asio::socket_base::wait_write, [h = std::move(h)](const std::error_code& ec) { h->on_writable(ec); });
}

void tcp_transport::close() {
  std::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  fd_ = -1;
}

}  // namespace actors::io
