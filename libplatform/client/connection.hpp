#pragma once
// A client connection to a NATS server: connect with handshake, publish, subscribe,
// request/reply, flush, close. No reconnect, no TLS.
//
// Threads: connect() starts one reader thread that owns the socket, runs the parser,
// answers server PINGs, writes queued bytes and calls every message callback. All
// public calls may be made from any thread. From a callback you may publish,
// subscribe, unsubscribe and close (a reply handler publishes to msg.reply); flush()
// and request() block on the reader thread's progress, so from a callback they return
// errc::would_deadlock. Never destroy the connection from one of its callbacks.
//
// Lifetime: one connection per connect(); after close() or a lost connection, make a
// new object. The destructor closes and joins the reader thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "libplatform/client/client_error.hpp"
#include "libplatform/client/message.hpp"

namespace platform::client {

// Runs on the reader thread; the message is only valid during the call (copy or
// move what you keep).
using message_handler = std::function<void(const message&)>;
using status_handler = std::function<void(const status&)>;

struct connect_options {
  std::string name;                            // "name" in CONNECT, shown by the server
  std::chrono::milliseconds timeout{2000};     // TCP connect plus INFO/CONNECT/PONG
  bool echo = true;                            // false: do not receive our own publishes
  size_t max_pending_bytes = 64 * 1024 * 1024; // publish() waits while more is queued
  status_handler on_error;   // a -ERR that keeps the connection open (e.g. permissions)
  status_handler on_closed;  // the connection ended, by close() or by the server
};

// What the server said about itself in INFO.
struct server_info {
  std::string server_id;
  std::string server_name;
  std::string version;
  int64_t max_payload = 1024 * 1024;
  bool headers = false;
};

class connection {
 public:
  connection();
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Connects to `url` ("nats://[user:pass@|token@]host[:port]", "host:port" or
  // "host"; port 4222 by default), sends CONNECT + PING and waits for PONG.
  // Errors: invalid_url, resolve_failed, connection_refused, connect_failed, timeout,
  // tls_required, authorization_violation, server_error, protocol_error,
  // connection_closed. The message is the cause alone ("connection refused",
  // "Authorization Violation"); callers add the URL.
  status connect(std::string_view url, connect_options options = {});

  // Queues a message; returns once it is queued, not once the server has it (see
  // flush()). Headers, when not empty, make it an HPUB.
  status publish(std::string_view subject, std::string_view payload,
                 std::string_view reply = {}, const headers& hdrs = {});

  // Returns the subscription id. `queue` empty means no queue group.
  result<uint64_t> subscribe(std::string_view subject, std::string_view queue,
                             message_handler callback);
  result<uint64_t> subscribe(std::string_view subject, message_handler callback) {
    return subscribe(subject, {}, std::move(callback));
  }

  // max 0: stop now. max > 0: stop after that many messages in total (the server
  // does the same), delivering the last one.
  status unsubscribe(uint64_t sid, uint64_t max = 0);

  // PING/PONG round trip: everything queued before has been processed by the server.
  status flush(std::chrono::milliseconds timeout = std::chrono::seconds(2));

  // Publishes with a fresh reply subject and waits for the first reply.
  // Errors: no_responders (the server's 503 status), timeout, connection_closed, ...
  result<message> request(std::string_view subject, std::string_view payload,
                          std::chrono::milliseconds timeout, const headers& hdrs = {});

  // "_INBOX." + 22 random base62 characters.
  static std::string new_inbox();

  // Sends what is queued (waits up to 2 s), closes the socket and, unless called from
  // a callback, joins the reader thread. Idempotent.
  void close();

  bool is_connected() const;
  server_info info() const;
  // Why the connection ended (ok while open).
  status close_reason() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace platform::client
