#pragma once
// The publish path after parsing: match the subject in an account's subject index
// (through the publisher's match cache), append the message to each receiver's
// outbound buffer, and mark each receiver for one flush at the end of the read batch.
// No parsing here, no allocation per message on the client-to-client path, no actor
// messages. Internal subscriptions (imports, system services) are called in place and
// may deliver into other accounts, bounded by max_depth.
#include <cstddef>
#include <string_view>

#include "libplatform/protocol/parser.hpp"

namespace actors {
class account;
class client_connection;
namespace io {
class event_loop;
}

namespace router {

struct context {
  client_connection* from = nullptr;  // the publishing client, if any
  io::event_loop* loop = nullptr;     // the loop running this delivery; null: flush at once
  int depth = 0;                      // import hops so far
  bool clients_only = false;          // set by a stream import: deliver to clients only
  // A request crosses at most this many service imports (and a response as many
  // response routes); past it the request has no responders. nats-server 2.9.10 answers
  // through 8 chained service imports and not through 10 or more. Stream imports do
  // not chain at all (clients_only), and import cycles are refused at load time.
  static constexpr int max_depth = 8;
};

// Delivers a message published by `from` in its account. Returns how many client
// subscriptions received it. Sends the no-responders status back to `from` when the
// message has a reply subject, nobody received it and `from` asked for no_responders.
size_t deliver(client_connection& from, const platform::protocol::message_args& m);

// Delivers within any account (import hops, server-originated messages).
size_t deliver_in(account& acc, context& ctx, const platform::protocol::message_args& m);

// A message the server itself publishes (events, system replies), from any thread.
size_t publish_internal(account& acc, std::string_view subject, std::string_view payload,
                        std::string_view reply = {});

}  // namespace router
}  // namespace actors
