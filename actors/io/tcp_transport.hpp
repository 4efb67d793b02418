#pragma once
// Plain TCP: a non-blocking asio socket, read and written with the system calls
// directly; asio is used only to wait for readiness.
#include <asio/ip/tcp.hpp>

#include "actors/io/transport.hpp"

namespace actors::io {

// Both transports: non-blocking, no Nagle, and the peer's "ip:port" and ip (empty when
// unknown).
void prepare_socket(asio::ip::tcp::socket& socket, std::string& remote, std::string& ip);

class tcp_transport final : public transport {
 public:
  explicit tcp_transport(asio::ip::tcp::socket socket);

  ssize_t read(char* buf, size_t len) override;
  ssize_t writev(const iovec* iov, int count) override;
  void wait_readable(std::shared_ptr<transport_handler> h) override;
  void wait_writable(std::shared_ptr<transport_handler> h) override;
  void close() override;
  bool writes_from_any_thread() const noexcept override { return any_thread_; }
  const std::string& remote() const noexcept override { return remote_; }
  const std::string& remote_ip() const noexcept override { return ip_; }

 private:
  asio::ip::tcp::socket socket_;
  int fd_;
  bool any_thread_;
  std::string remote_, ip_;
};

}  // namespace actors::io
