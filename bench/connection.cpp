#include "connection.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dialtone::bench {
namespace {

constexpr std::size_t read_buf_size = 256 * 1024;
// Reads per wake-up before moving to the next connection, so one busy socket
// cannot starve the others sharing a thread.
constexpr int max_reads_per_wake = 8;

int ms_until(bench_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - bench_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 100 ? 100 : static_cast<int>(left.count());
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// The process's TLS client context, made on first use for `ca` (every connection of
// a run trusts the same CA). Null, with *error set, when the CA cannot be loaded.
SSL_CTX* client_context(const std::string& ca, std::string* error) {
  static SSL_CTX* ctx = [&]() -> SSL_CTX* {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (!c) return nullptr;
    if (SSL_CTX_load_verify_locations(c, ca.c_str(), nullptr) != 1) {
      SSL_CTX_free(c);
      return nullptr;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    // The outbound buffer keeps what is unwritten and may move as it grows.
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Many records per read(); what is read ahead shows in buffered().
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, 64 * 1024);
    return c;
  }();
  if (!ctx) *error = "cannot load the TLS CA file " + ca;
  return ctx;
}

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// Reads INFO (the server sends nothing else before the handshake), then does the TLS
// handshake on the still-blocking socket, as NATS clients do.
SSL* start_tls(int fd, const endpoint& ep, bench_clock::time_point deadline, std::string* error) {
  SSL_CTX* ctx = client_context(ep.tls_ca, error);
  if (!ctx) return nullptr;
  timeval tv{};
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - bench_clock::now()).count();
  tv.tv_sec = left > 0 ? left / 1000000 : 0;
  tv.tv_usec = left > 0 ? left % 1000000 : 1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string info;
  char ch;
  while (info.size() < 64 * 1024 && (info.size() < 2 || info.compare(info.size() - 2, 2, "\r\n") != 0)) {
    if (::recv(fd, &ch, 1, 0) != 1) {
      *error = "no INFO before the TLS handshake";
      return nullptr;
    }
    info.push_back(ch);
  }
  SSL* ssl = SSL_new(ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
    *error = "TLS handshake: " + ssl_error_text();
    if (ssl) SSL_free(ssl);
    return nullptr;
  }
  timeval none{};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  return ssl;
}

} // namespace

std::string connect_line_for(const endpoint& ep) {
  std::string line(connect_line);
  if (ep.user.empty()) return line;
  // connect_line is `CONNECT {...}\r\nPING\r\n`: the fields go before its only '}'.
  line.insert(line.rfind('}'), ",\"user\":" + json_string(ep.user) + ",\"pass\":" + json_string(ep.pass));
  return line;
}

connection::connection(int fd) : fd_(fd), read_buf_(new char[read_buf_size]) {}

connection::~connection() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool connection::buffered() const { return ssl_ && SSL_has_pending(ssl_); }

namespace {
// An OpenSSL read or write's outcome (`rc`, `n` bytes moved) as a socket call's: the
// bytes, 0 for the end of the stream (reads), or -1 with errno (EAGAIN: wait, retry).
ssize_t ssl_outcome(SSL* ssl, int rc, std::size_t n, bool reading) {
  if (rc == 1) return static_cast<ssize_t>(n);
  int e = SSL_get_error(ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (reading && (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))) return 0;
  if (e != SSL_ERROR_SYSCALL || errno == 0) errno = EPROTO;
  return -1;
}
} // namespace

ssize_t connection::raw_write(const char* p, std::size_t n) {
  if (!ssl_) return ::send(fd_, p, n, MSG_NOSIGNAL);
  std::size_t done = 0;
  ERR_clear_error();
  int rc = SSL_write_ex(ssl_, p, n, &done);
  return ssl_outcome(ssl_, rc, done, false);
}

ssize_t connection::raw_read(char* p, std::size_t n) {
  if (!ssl_) return ::recv(fd_, p, n, 0);
  std::size_t got = 0;
  ERR_clear_error();
  int rc = SSL_read_ex(ssl_, p, n, &got);
  return ssl_outcome(ssl_, rc, got, true);
}

std::unique_ptr<connection> connection::open(const endpoint& ep, bench_clock::time_point deadline,
                                             std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ep.port);
  if (::inet_pton(AF_INET, ep.host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    *error = "bad IPv4 address: " + ep.host;
    return nullptr;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect " + ep.host + ":" + std::to_string(ep.port) + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  if (!ep.tls_ca.empty() && !(ssl = start_tls(fd, ep, deadline, error))) {
    ::close(fd);
    return nullptr;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  // INFO is the first line (TLS: read already); the parser accepts and ignores it,
  // so the handshake is just "send CONNECT+PING, read until PONG".
  std::unique_ptr<connection> conn(new connection(fd));
  conn->ssl_ = ssl;
  if (!conn->write_all(connect_line_for(ep), deadline) || !conn->ping_pong_reply(deadline)) {
    *error = "handshake: " + conn->error();
    return nullptr;
  }
  return conn;
}

void connection::become_responder(std::string_view payload) {
  responder_ = true;
  reply_tail_ = " " + std::to_string(payload.size()) + "\r\n";
  reply_tail_.append(payload);
  reply_tail_.append("\r\n");
}

void connection::on_msg(std::string_view subject, std::string_view reply, std::size_t payload_size) {
  if (!responder_ || reply.empty()) return;
  out_.append("PUB ");
  out_.append(reply);
  out_.append(reply_tail_);
}

bool connection::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool connection::write_all(std::string_view bytes, bench_clock::time_point deadline) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = raw_write(p, left);
    if (n > 0) {
      p += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return fail(std::string("send: ") + std::strerror(errno));
    if (bench_clock::now() >= deadline) return fail("timed out writing");
    pollfd pfd{fd_, POLLOUT, 0};
    ::poll(&pfd, 1, ms_until(deadline));
    if (pfd.revents & (POLLERR | POLLHUP)) return fail("connection closed while writing");
  }
  return true;
}

bool connection::ping_pong(bench_clock::time_point deadline) {
  if (!write_all("PING\r\n", deadline)) return false;
  return ping_pong_reply(deadline);
}

bool connection::ping_pong_reply(bench_clock::time_point deadline) {
  // PONGs answer PINGs in order, so waiting for one more PONG than we have
  // seen is enough: earlier PINGs were already answered.
  std::uint64_t want = parser_.pongs() + 1;
  while (parser_.pongs() < want) {
    if (bench_clock::now() >= deadline) return fail("timed out waiting for PONG");
    pollfd pfd{fd_, static_cast<short>(POLLIN | (wants_write() ? POLLOUT : 0)), 0};
    int rc = ::poll(&pfd, 1, buffered() ? 0 : ms_until(deadline));
    if (rc == 0 && buffered()) rc = 1, pfd.revents = POLLIN;
    if (rc < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    if (rc <= 0) continue;
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !on_readable()) return false;
    if (!flush()) return false;
  }
  return true;
}

bool connection::on_readable() {
  for (int i = 0; i < max_reads_per_wake; ++i) {
    ssize_t n = raw_read(read_buf_.get(), read_buf_size);
    if (n > 0) {
      if (!parser_.feed(read_buf_.get(), static_cast<std::size_t>(n)))
        return fail("protocol: " + parser_.error());
      // A short read means the socket is drained; skip the EAGAIN round trip. (Not
      // under TLS: a read returns one record at most.)
      if (!ssl_ && static_cast<std::size_t>(n) < read_buf_size) break;
      continue;
    }
    if (n == 0) return fail("connection closed by server");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return fail(std::string("recv: ") + std::strerror(errno));
  }
  return flush();
}

bool connection::flush() {
  while (out_pos_ < out_.size()) {
    ssize_t n = raw_write(out_.data() + out_pos_, out_.size() - out_pos_);
    if (n > 0) {
      out_pos_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return fail(std::string("send: ") + std::strerror(errno));
  }
  out_.clear();
  out_pos_ = 0;
  return true;
}

bool pump(std::span<connection* const> conns, int timeout_ms, connection** failed) {
  pollfd fds[max_pump_conns];
  std::size_t n = conns.size() < max_pump_conns ? conns.size() : max_pump_conns;
  bool buffered = false;
  for (std::size_t i = 0; i < n; ++i) {
    fds[i] = pollfd{conns[i]->fd(), static_cast<short>(POLLIN | (conns[i]->wants_write() ? POLLOUT : 0)), 0};
    buffered = buffered || conns[i]->buffered();
  }
  int rc = ::poll(fds, n, buffered ? 0 : timeout_ms);
  if (rc < 0 || (rc == 0 && !buffered)) return true; // timeout or EINTR: the caller checks its deadline
  for (std::size_t i = 0; i < n; ++i) {
    short ev = fds[i].revents;
    if (conns[i]->buffered()) ev |= POLLIN;
    if (ev == 0) continue;
    bool ok = true;
    if (ev & (POLLIN | POLLHUP | POLLERR)) ok = conns[i]->on_readable();
    else if (ev & POLLOUT) ok = conns[i]->flush();
    if (!ok) {
      if (failed) *failed = conns[i];
      return false;
    }
  }
  return true;
}

} // namespace dialtone::bench
