#pragma once
// A forwarder: a receiver that re-routes a message in place, in the publisher's thread,
// as part of the same delivery: service and stream imports and response routes
// (imports.cpp). Its subscriptions are marked `internal` so the router bounds the hops
// (router::context::max_depth) and holds match results by pointer while it runs.
// Implementations must be thread-safe and must not block. Work that must not happen
// on the data path (building a latency report) goes to an internal client's inbox
// (internal_client.hpp).
#include <cstddef>

#include "actors/receiver.hpp"
#include "actors/router.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

class account;

class internal_subscriber : public receiver {
 public:
  using receiver::receiver;

 protected:
  // One hop of a forwarder, held while it delivers onwards: refused past
  // router::context::max_depth and for a message that came through a stream import
  // (clients_only: it goes to the importer's clients, never on through the importer's
  // own imports, as in nats-server 2.9).
  class hop {
   public:
    explicit hop(router::context& ctx) noexcept
        : ctx_(ctx), ok_(!ctx.clients_only && ctx.depth < router::context::max_depth) {
      if (ok_) ++ctx_.depth;
    }
    ~hop() {
      if (ok_) --ctx_.depth;
    }
    hop(const hop&) = delete;
    hop& operator=(const hop&) = delete;
    explicit operator bool() const noexcept { return ok_; }

   private:
    router::context& ctx_;
    bool ok_;
  };
};

// Creates and indexes a forwarder's subscription in `acc` on `subject`.
platform::subscription_ptr add_internal_subscription(account& acc, std::string_view subject,
                                                     std::shared_ptr<internal_subscriber> owner);

}  // namespace actors
