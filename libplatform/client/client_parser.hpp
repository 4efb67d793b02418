#pragma once
// The server->client NATS protocol parser (INFO, MSG, HMSG, PING, PONG, +OK, -ERR).
// A plain class: no I/O, no threads. The connection feeds it whatever bytes arrived;
// each complete operation goes straight to the handler with views into the caller's
// buffer. Only a control line or payload split across reads is copied, into buffers
// the parser keeps between calls, so frames may be split at any byte and payloads may
// be any size. Owned by one connection and used from its reader thread only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "libplatform/client/client_error.hpp"

namespace platform::client {

// One MSG or HMSG. Views are valid only during the handler call.
struct msg_view {
  std::string_view subject;
  std::string_view sid;
  std::string_view reply;         // empty when none
  std::string_view header_block;  // HMSG: "NATS/1.0...\r\n\r\n"; MSG: empty
  std::string_view payload;
  bool has_headers = false;       // true for HMSG
};

class client_parser_handler {
 public:
  virtual ~client_parser_handler() = default;
  virtual void on_info(std::string_view json) = 0;
  virtual void on_msg(const msg_view& m) = 0;
  virtual void on_ping() = 0;
  virtual void on_pong() = 0;
  virtual void on_ok() = 0;
  virtual void on_err(std::string_view text) = 0;  // quotes removed
};

class client_parser {
 public:
  // Longest control line accepted. INFO can be long (connect_urls), so this is far
  // above the server's 4096; it only guards against a peer that never sends '\n'.
  static constexpr size_t default_max_control_line = 1024 * 1024;

  explicit client_parser(size_t max_control_line = default_max_control_line)
      : max_control_line_(max_control_line) {}

  // Parses `data`, calling `h` for every complete operation. Once it returns an
  // error (errc::protocol_error) the parser stays failed; the connection must close.
  status feed(std::string_view data, client_parser_handler& h);

  // Bytes held between calls (a partial control line or payload).
  size_t buffered() const noexcept { return line_.size() + payload_.size(); }

 private:
  enum class state : uint8_t {
    control_line,  // reading up to '\n'
    payload,       // reading header block + payload (total_ bytes)
    payload_cr,    // expecting the '\r' (or '\n') after the payload
    payload_lf,    // expecting the '\n' after the payload
    failed,
  };

  // Where MSG/HMSG arguments sit inside the control line, so they can be re-pointed
  // when the line is copied into line_ for a payload that spans reads.
  struct span {
    uint32_t pos = 0;
    uint32_t len = 0;
  };
  struct msg_args {
    span subject, sid, reply;
    size_t header_len = 0;
    bool has_headers = false;
  };

  status fail(std::string message);
  // Handles one control line (without "\r\n"). May switch state to payload.
  status process_line(std::string_view line, client_parser_handler& h);
  status parse_msg_args(std::string_view line, std::string_view args, bool hmsg);
  void deliver(std::string_view line, std::string_view data, client_parser_handler& h);

  state state_ = state::control_line;
  size_t max_control_line_;
  std::string line_;     // control line split across reads, or kept for a split payload
  std::string payload_;  // header block + payload split across reads
  msg_args args_;        // arguments of the MSG/HMSG whose payload is being read
  size_t total_ = 0;     // header block + payload bytes of that message
  std::string_view current_line_;  // the MSG/HMSG line (in the input or in line_)
  std::string error_;
};

}  // namespace platform::client
