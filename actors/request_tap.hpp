#pragma once
// Request recording on the data path (services/reqlog is the implementation): the router
// shows each request a client publishes, and each message that may answer one, to the
// tap of the publisher's account. The tap copies what it needs into its own bounded
// queue and returns; it never blocks, never delivers, never changes a message. A full
// queue drops the record (counted, and left as a gap record), never the message.
// Called from any I/O thread, concurrently.
#include <cstddef>
#include <cstdint>

#include "libplatform/protocol/parser.hpp"

namespace actors {

class account;
class client_connection;
class publisher;

class request_tap {
 public:
  virtual ~request_tap() = default;
  // A message with a reply subject that `from` (a client, or null) publishes in `acc`,
  // before it is delivered. Returns a token for delivered(), 0 when not recorded.
  virtual uint64_t request(account& acc, publisher* from, const platform::protocol::message_args& m) = 0;
  // After the delivery of a recorded request: `n` receivers took it (0: no responders).
  virtual void delivered(uint64_t token, size_t n) = 0;
  // Any message published in `acc` (by a client, or forwarded by a response route):
  // an answer if its subject is the reply subject of a recorded request.
  virtual void maybe_response(account& acc, publisher* from, const platform::protocol::message_args& m) = 0;
};

}  // namespace actors
