#pragma once
// The one interface the router delivers to. A published message travels one way:
//   transport -> session (client_connection) -> router -> receiver::deliver()
//   -> the receiver's outbound buffer or inbox -> receiver::flush() once per read batch.
// Receivers are client sessions (client_connection.hpp), internal clients with a bounded
// inbox (internal_client.hpp), and forwarders that re-route in place: service and
// stream imports and response routes (internal_subscriber.hpp). Routes and leaf nodes
// will be receivers too.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "libplatform/protocol/parser.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

namespace router {
struct context;
}
namespace io {
class event_loop;
}

class receiver : public platform::subscriber {
 public:
  enum class kind : uint8_t {
    client,   // a client connection
    system,   // the $SYS server actor's client
    service,  // a service's internal client (response routing and latency reports, later the JetStream API)
    stream,   // a stream import (later: stream actors)
    route,    // another server (not yet)
    leaf,     // a leaf node (not yet)
  };
  static constexpr int max_loops = 8;  // one flush mark per I/O loop (event_loop::max_loops)

  explicit receiver(kind k) noexcept : kind_(k) {}
  kind receiver_kind() const noexcept { return kind_; }

  // In the publisher's thread, inside one delivery: takes one message that matched
  // `sub` (one of this receiver's subscriptions). Returns how many client
  // subscriptions finally received it (an inbox counts as one). Must not block; a
  // receiver that takes the message schedules its flush with router::schedule_flush().
  virtual size_t deliver(router::context& ctx, const platform::subscription_ptr& sub,
                         const platform::protocol::message_args& m) = 0;

  // Once per read batch, after deliveries (io::event_loop::flush_pending), or from the
  // home loop for a publish made off the I/O threads: writes what is pending, or wakes
  // the actor that drains an inbox.
  virtual void flush() {}
  // Far enough behind that its producers should pause reading (event_loop::flush_pending).
  virtual bool backed_up() { return false; }
  // The loop that must run this receiver's flush when the publisher is not on an I/O
  // loop (an actor publishing), or null when any thread may call flush().
  virtual io::event_loop* home_loop() noexcept { return nullptr; }

  // Loop-local mark so a receiver joins a loop's pending set once per batch: slot i is
  // touched only by loop i's thread.
  uint64_t flush_mark[max_loops] = {};

 private:
  kind kind_;
};

using receiver_ptr = std::shared_ptr<receiver>;

}  // namespace actors
