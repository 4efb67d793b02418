#include "connection.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
  if (fd_ >= 0) ::close(fd_);
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
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  // INFO is the first line; the parser accepts and ignores it, so the
  // handshake is just "send CONNECT+PING, read until PONG".
  std::unique_ptr<connection> conn(new connection(fd));
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
    ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
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
    int rc = ::poll(&pfd, 1, ms_until(deadline));
    if (rc < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    if (rc <= 0) continue;
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !on_readable()) return false;
    if (!flush()) return false;
  }
  return true;
}

bool connection::on_readable() {
  for (int i = 0; i < max_reads_per_wake; ++i) {
    ssize_t n = ::recv(fd_, read_buf_.get(), read_buf_size, 0);
    if (n > 0) {
      if (!parser_.feed(read_buf_.get(), static_cast<std::size_t>(n)))
        return fail("protocol: " + parser_.error());
      // A short read means the socket is drained; skip the EAGAIN round trip.
      if (static_cast<std::size_t>(n) < read_buf_size) break;
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
    ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
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
  for (std::size_t i = 0; i < n; ++i)
    fds[i] = pollfd{conns[i]->fd(), static_cast<short>(POLLIN | (conns[i]->wants_write() ? POLLOUT : 0)), 0};
  int rc = ::poll(fds, n, timeout_ms);
  if (rc <= 0) return true; // timeout or EINTR: the caller checks its deadline
  for (std::size_t i = 0; i < n; ++i) {
    short ev = fds[i].revents;
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
