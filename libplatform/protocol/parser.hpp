#pragma once
// The client->server NATS protocol parser (CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG;
// +OK and INFO are accepted and ignored, -ERR ends the parse: see peer_error()).
// A plain class: it does no I/O and allocates nothing on the fast path. The owning
// connection feeds it whatever bytes arrived; complete operations are handed straight
// to the handler with views into the read buffer. Only a control line or payload split
// across reads is copied, into buffers the parser keeps between calls.
// Owned by one connection and used from that connection's I/O thread only.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "libplatform/protocol/errors.hpp"

namespace platform::protocol {

struct message_args {
  std::string_view subject;
  std::string_view reply;     // empty when none
  int64_t header_len = -1;    // -1 for PUB; HPUB: bytes of the header block
  std::string_view data;      // header block followed by the payload
  std::string_view payload() const {
    return header_len > 0 ? data.substr(static_cast<size_t>(header_len)) : data;
  }
  std::string_view headers() const {
    return header_len > 0 ? data.substr(0, static_cast<size_t>(header_len)) : std::string_view{};
  }
};

// Callbacks for complete operations. Returning false stops parsing (the connection is
// closing); the parser then returns parse_status::stopped.
class parser_handler {
 public:
  virtual ~parser_handler() = default;
  virtual bool on_connect(std::string_view json) = 0;
  virtual bool on_msg(const message_args& m) = 0;
  virtual bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) = 0;
  virtual bool on_unsub(std::string_view sid, int64_t max_msgs) = 0;  // max_msgs -1 = none
  virtual bool on_ping() = 0;
  virtual bool on_pong() = 0;
};

enum class parse_status { ok, stopped, error };

// The SUB or UNSUB right after the one being handled, when it is already complete in
// the same read. A client that reconnects, or subscribes in bulk, pipelines thousands of
// them; knowing the next one lets the handler prefetch the hash-table slots it will
// touch while it works on this one, instead of waiting on those cache misses in turn.
// The views are valid only during the on_sub/on_unsub call.
struct upcoming_op {
  enum class kind { none, sub, unsub };
  kind what = kind::none;
  std::string_view subject;  // SUB only
  std::string_view sid;
};

class server_parser {
 public:
  void set_limits(int64_t max_control_line, int64_t max_payload) {
    max_control_line_ = max_control_line;
    max_payload_ = max_payload;
  }

  // Feeds bytes. On parse_status::error, error() says which -ERR to send before the
  // connection is closed; the parser must not be fed again.
  parse_status parse(const char* data, size_t len, parser_handler& h);

  err error() const noexcept { return error_; }
  // After parse_status::error: whether it was the client that sent `-ERR <text>`, and
  // the text. nats-server logs "Client Error <text>" and closes such a client without
  // an -ERR of its own; error() is then unknown_protocol_operation, for callers that
  // do not distinguish.
  bool has_peer_error() const noexcept { return has_peer_error_; }
  std::string_view peer_error() const noexcept { return peer_error_; }
  // During on_sub/on_unsub: the operation that follows, if already in the buffer.
  const upcoming_op& upcoming() const noexcept { return upcoming_; }
  // After parse_status::stopped: how many bytes of that call's input were consumed, so
  // the caller can keep the rest and feed it again later (e.g. after async auth).
  size_t consumed() const noexcept { return consumed_; }
  // Bytes the parser holds between calls (partial line or payload).
  size_t buffered() const noexcept { return line_.size() + payload_.size(); }
  // Releases memory held for split frames once they are no longer needed.
  void shrink();

 private:
  parse_status fail(err e) {
    error_ = e;
    return parse_status::error;
  }
  // Processes one complete control line. For PUB/HPUB, `p`/`end` is the rest of the
  // read buffer; on return `p` is advanced past any payload consumed from it.
  parse_status process_line(std::string_view line, const char*& p, const char* end,
                            parser_handler& h);
  bool valid_partial_op(std::string_view partial) const;
  // Fills upcoming_ from the complete line at [p, end), if it is a SUB or UNSUB.
  void look_ahead(const char* p, const char* end);

  enum class state { line, payload };
  upcoming_op upcoming_;
  // The arguments look_ahead split, reused when the main loop reaches that line (same
  // call only: reset at every parse()), so looking ahead costs no second split.
  const char* ahead_at_ = nullptr;
  std::array<std::string_view, 3> ahead_args_;
  size_t ahead_n_ = 0;
  size_t consumed_ = 0;
  state state_ = state::line;
  err error_ = err::unknown_protocol_operation;
  bool has_peer_error_ = false;
  std::string peer_error_;  // the text of a client's -ERR
  int64_t max_control_line_ = 4096;
  int64_t max_payload_ = 1024 * 1024;

  std::string line_;      // control line split across reads
  std::string payload_;   // payload (+CRLF) split across reads
  size_t payload_need_ = 0;  // total bytes wanted in payload_, including the CRLF
  std::string subject_;   // args of the pending PUB/HPUB while its payload arrives
  std::string reply_;
  int64_t header_len_ = -1;
};

}  // namespace platform::protocol
