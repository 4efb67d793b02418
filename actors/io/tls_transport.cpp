#include "actors/io/tls_transport.hpp"

#include "actors/io/tcp_transport.hpp"

#include <openssl/err.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <cerrno>
#include <cstring>

namespace actors::io {

namespace {
// Frames smaller than this are gathered so a burst of small messages becomes one TLS
// record (16 KiB is the largest record).
constexpr size_t gather_limit = 16 * 1024;
}  // namespace

tls_transport::tls_transport(asio::ip::tcp::socket socket, std::shared_ptr<const tls_context> ctx)
    : socket_(std::move(socket)), fd_(socket_.native_handle()), ctx_(std::move(ctx)) {
  prepare_socket(socket_, remote_, ip_);
  ssl_ = SSL_new(ctx_->native());
  if (ssl_) {
    SSL_set_fd(ssl_, fd_);
    SSL_set_accept_state(ssl_);
  }
}

tls_transport::~tls_transport() {
  if (ssl_) SSL_free(ssl_);
}

ssize_t tls_transport::read(char* buf, size_t len) {
  if (state_ != state::ready) {
    errno = state_ == state::closed ? EBADF : EAGAIN;
    return -1;
  }
  ERR_clear_error();
  size_t n = 0;
  int r = SSL_read_ex(ssl_, buf, len, &n);
  if (r == 1) return static_cast<ssize_t>(n);
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      read_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify: end of stream
    case SSL_ERROR_SYSCALL:
      if (errno == 0) return 0;  // the peer went away without close_notify
      return -1;
    default:
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

ssize_t tls_transport::writev(const iovec* iov, int count) {
  if (state_ == state::plain) return fd_ < 0 ? (errno = EBADF, -1) : ::writev(fd_, iov, count);
  if (state_ != state::ready) {
    errno = EPIPE;  // nothing but INFO goes out before the handshake
    return -1;
  }
  if (count <= 0) return 0;
  // What to hand SSL_write: the first frame alone when it is large, else small frames
  // gathered up to a record; a repeated write takes exactly the bytes of the last try.
  const char* data;
  size_t len;
  size_t want = retry_len_;
  if (want == 0 && iov[0].iov_len >= gather_limit) want = iov[0].iov_len;
  if (want != 0 && iov[0].iov_len >= want) {
    data = static_cast<const char*>(iov[0].iov_base);
    len = want;
  } else {
    size_t limit = want != 0 ? want : gather_limit;
    scratch_.clear();
    for (int i = 0; i < count && scratch_.size() < limit; ++i) {
      size_t take = std::min(iov[i].iov_len, limit - scratch_.size());
      scratch_.append(static_cast<const char*>(iov[i].iov_base), take);
    }
    data = scratch_.data();
    len = scratch_.size();
  }
  ERR_clear_error();
  size_t n = 0;
  int r = SSL_write_ex(ssl_, data, len, &n);
  if (r == 1) {
    retry_len_ = 0;
    return static_cast<ssize_t>(n);
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_WRITE:
      retry_len_ = len;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_READ:
      retry_len_ = len;
      write_wants_read_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_SYSCALL:
      if (errno == 0) errno = EPIPE;
      return -1;
    default:
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

void tls_transport::wait_readable(std::shared_ptr<transport_handler> h) {
  // Bytes OpenSSL already took off the socket never wake epoll: hand them over now.
  if (state_ == state::ready && SSL_has_pending(ssl_)) {
    asio::post(socket_.get_executor(), [h = std::move(h)] { h->on_readable({}); });
    return;
  }
  auto what = read_wants_write_ ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  read_wants_write_ = false;
  socket_.async_wait(what, [h = std::move(h)](const std::error_code& ec) { h->on_readable(ec); });
}

void tls_transport::wait_writable(std::shared_ptr<transport_handler> h) {
  auto what = write_wants_read_ ? asio::socket_base::wait_read : asio::socket_base::wait_write;
  write_wants_read_ = false;
  socket_.async_wait(what, [h = std::move(h)](const std::error_code& ec) { h->on_writable(ec); });
}

void tls_transport::handshake(std::function<void(const std::string& error)> done) {
  done_ = std::move(done);
  if (!ssl_) {
    finish_handshake("cannot create a TLS session: " + openssl_error_text());
    return;
  }
  state_ = state::handshaking;
  step_handshake();
}

void tls_transport::step_handshake() {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    state_ = state::ready;
    finish_handshake({});
    return;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    // done_ holds the session, and so this transport, until the handshake ends; a
    // close() cancels the wait and ends it.
    auto what = e == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write;
    socket_.async_wait(what, [this](const std::error_code& ec) {
      if (ec || state_ != state::handshaking) {
        finish_handshake(ec == asio::error::operation_aborted || state_ == state::closed ? "connection closed"
                                                                                         : ec.message());
        return;
      }
      step_handshake();
    });
    return;
  }
  std::string why;
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
    why = "the client closed the connection during the handshake";
  else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
    why = std::strerror(errno);
  else
    why = openssl_error_text();
  finish_handshake(why);
}

void tls_transport::finish_handshake(const std::string& error) {
  if (!done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done(error);
}

std::vector<std::string> tls_transport::peer_identities() const {
  if (!ssl_ || state_ != state::ready) return {};
  return certificate_identities(SSL_get0_peer_certificate(ssl_));
}

void tls_transport::close() {
  if (state_ == state::ready) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one close_notify, best effort: never waits
    ERR_clear_error();
  }
  state_ = state::closed;
  std::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  fd_ = -1;
}

}  // namespace actors::io
