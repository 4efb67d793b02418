// One load-generator client connection: a non-blocking TCP socket to the server
// under test (plain, or TLS with OpenSSL when the endpoint names a CA), its inbound
// parser, and a buffer of bytes not yet written.
//
// Owner: one thread at a time. Connections are opened and subscribed on the main
// thread (so every SUB is registered before any publish), then handed to the
// worker thread that reads them. Nothing here allocates per message.
#pragma once

#include "inbound_parser.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

typedef struct ssl_st SSL;

namespace dialtone::bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

inline bench_clock::time_point deadline_after(double seconds) {
  return bench_clock::now() +
         std::chrono::duration_cast<bench_clock::duration>(std::chrono::duration<double>(seconds));
}

// What every load-generator client sends first; the PONG ends the handshake.
inline constexpr std::string_view connect_line =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,"
    "\"protocol\":1,\"name\":\"dialtone-loadgen\",\"lang\":\"c++\",\"version\":\"0.1\"}\r\n"
    "PING\r\n";

struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4222;
  std::string user;  // CONNECT credentials; none are sent while user is empty
  std::string pass;
  // Non-empty: TLS (as NATS does it: plain INFO, then the handshake), the server's
  // certificate verified against this CA file. One OpenSSL context per process.
  std::string tls_ca;
};

// connect_line, with "user" and "pass" added when ep.user is set.
std::string connect_line_for(const endpoint& ep);

class connection {
public:
  // Connects, reads INFO, sends CONNECT + PING and waits for PONG.
  // Returns nullptr (with *error set) on failure or when the deadline passes.
  static std::unique_ptr<connection> open(const endpoint& ep, bench_clock::time_point deadline,
                                          std::string* error);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // From now on, every MSG that carries a reply subject is answered with
  // `PUB <reply> <payload.size()>\r\n<payload>\r\n`, batched per read.
  void become_responder(std::string_view payload);

  // Appends to the outbound buffer; written by flush() or pump().
  void queue(std::string_view bytes) { out_.append(bytes); }

  // Writes all of `bytes` directly, waiting for the socket to drain as needed.
  // Used by publishers: one syscall per large batch. False on error/deadline.
  bool write_all(std::string_view bytes, bench_clock::time_point deadline);

  // Sends PING and reads (parsing everything) until the matching PONG arrives.
  bool ping_pong(bench_clock::time_point deadline);

  // Reads what is available and feeds the parser; writes pending output.
  // False on EOF, socket error or protocol error (see error()).
  bool on_readable();
  bool flush();
  bool wants_write() const { return out_pos_ < out_.size(); }

  std::uint64_t msgs() const { return parser_.msgs(); }
  std::uint64_t pongs() const { return parser_.pongs(); }
  std::uint64_t header_msgs() const { return parser_.header_msgs(); }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }
  // TLS: decrypted bytes OpenSSL holds that poll() cannot see.
  bool buffered() const;

  // Parser callbacks.
  void on_msg(std::string_view subject, std::string_view reply, std::size_t payload_size);
  void on_ping() { out_.append("PONG\r\n"); }

private:
  explicit connection(int fd);
  bool fail(std::string why);
  // send()/recv() for plain sockets, SSL_write/SSL_read under TLS: > 0 bytes moved,
  // 0 end of stream (reads), -1 with errno (EAGAIN: try again after poll()).
  ssize_t raw_write(const char* p, std::size_t n);
  ssize_t raw_read(char* p, std::size_t n);
  // Reads until one more PONG than already seen arrives (PING already sent).
  bool ping_pong_reply(bench_clock::time_point deadline);

  int fd_;
  SSL* ssl_ = nullptr;
  inbound_parser<connection> parser_{*this};
  std::unique_ptr<char[]> read_buf_;
  std::string out_;
  std::size_t out_pos_ = 0;
  bool responder_ = false;
  std::string reply_tail_; // " <n>\r\n<payload>\r\n"
  std::string error_;
};

// Most connections one pump() call serves.
inline constexpr std::size_t max_pump_conns = 64;

// One poll() over all connections, then reads/writes whichever are ready.
// Returns false as soon as one connection fails; *failed then points at it.
bool pump(std::span<connection* const> conns, int timeout_ms, connection** failed);

} // namespace dialtone::bench
