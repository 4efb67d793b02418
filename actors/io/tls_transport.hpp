#pragma once
// TLS over a non-blocking socket: OpenSSL on the descriptor itself (SSL_set_fd), asio
// only to wait for readiness, as tcp_transport. The server writes INFO in plain text,
// then handshake() runs the TLS handshake (nats-server's order), then the protocol
// flows through SSL_read/SSL_write. Only the owning loop touches the SSL object
// (writes_from_any_thread() is false: see transport.hpp).
#include <asio/ip/tcp.hpp>
#include <memory>

#include "actors/io/tls_context.hpp"
#include "actors/io/transport.hpp"

namespace actors::io {

class tls_transport final : public transport {
 public:
  tls_transport(asio::ip::tcp::socket socket, std::shared_ptr<const tls_context> ctx);
  ~tls_transport() override;

  ssize_t read(char* buf, size_t len) override;
  ssize_t writev(const iovec* iov, int count) override;
  void wait_readable(std::shared_ptr<transport_handler> h) override;
  void wait_writable(std::shared_ptr<transport_handler> h) override;
  void close() override;
  bool writes_from_any_thread() const noexcept override { return false; }
  void handshake(std::function<void(const std::string& error)> done) override;
  bool secure() const noexcept override { return true; }
  std::vector<std::string> peer_identities() const override;
  const std::string& remote() const noexcept override { return remote_; }
  const std::string& remote_ip() const noexcept override { return ip_; }

 private:
  void step_handshake();
  void finish_handshake(const std::string& error);

  enum class state { plain, handshaking, ready, closed };
  asio::ip::tcp::socket socket_;
  int fd_;
  std::shared_ptr<const tls_context> ctx_;
  SSL* ssl_ = nullptr;
  state state_ = state::plain;
  std::function<void(const std::string&)> done_;
  // OpenSSL may need the other direction to make progress (TLS 1.3 post-handshake
  // messages): wait for that instead.
  bool read_wants_write_ = false, write_wants_read_ = false;
  // A write that returned WANT_WRITE must be repeated with the same bytes: this many.
  size_t retry_len_ = 0;
  std::string scratch_;  // small frames gathered into one TLS record
  std::string remote_, ip_;
};

}  // namespace actors::io
