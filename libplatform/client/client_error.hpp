#pragma once
// Errors of the client SDK: one numbered enum, a status (code + human text) and a
// small result<T>. Every fallible SDK call returns one of these; nothing on the
// publish/deliver path throws. Plain values; safe to copy between threads.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace platform::client {

enum class errc : uint8_t {
  ok = 0,
  invalid_url,              // the server URL could not be parsed
  invalid_argument,         // a bad subject, queue, header, timeout or sid
  not_connected,            // the call needs an open connection
  already_connected,        // connect() on a connection that was used before
  resolve_failed,           // the host name did not resolve
  connection_refused,       // nobody listens on host:port
  connect_failed,           // any other TCP connect failure
  timeout,                  // handshake, flush or request deadline passed
  tls_required,             // the server wants TLS, which this client lacks
  authorization_violation,  // the server rejected our credentials
  server_error,             // any other -ERR from the server
  protocol_error,           // the server sent bytes we could not parse
  connection_closed,        // the connection went away (by us or by the server)
  no_responders,            // a request found no subscriber (status 503)
  payload_too_large,        // larger than the server's max_payload
  would_deadlock,           // a blocking call made from the callback thread
  io_error,                 // a socket read or write failed
  callback_failed,          // a message callback threw; reported, then ignored
};

// Short lower-case description, e.g. "connection refused". One table for all texts.
std::string_view describe(errc code) noexcept;

// The outcome of a call without a value: ok, or a code plus a message for humans.
// The message is complete on its own ("connection refused", "Authorization Violation").
class [[nodiscard]] status {
 public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  explicit status(errc code) : code_(code), message_(describe(code)) {}

  bool ok() const noexcept { return code_ == errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  errc code_ = errc::ok;
  std::string message_;
};

// A value or a non-ok status.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(status error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // An ok status when ok(), else the error.
  status error() const { return ok() ? status{} : std::get<1>(v_); }
  errc code() const noexcept { return ok() ? errc::ok : std::get<1>(v_).code(); }

 private:
  std::variant<T, status> v_;
};

}  // namespace platform::client
