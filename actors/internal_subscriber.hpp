#pragma once
// A subscription owned by the server rather than a client: service and stream imports,
// response routing, system services. The router calls deliver() in the publisher's
// thread, as part of the same delivery; implementations must be thread-safe and must
// not block.
#include <cstddef>

#include "actors/router.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

class internal_subscriber : public platform::subscriber {
 public:
  // Returns how many client subscriptions finally received the message.
  virtual size_t deliver(router::context& ctx, const platform::protocol::message_args& m) = 0;
};

// Creates and indexes an internal subscription in `acc` on `subject`.
platform::subscription_ptr add_internal_subscription(class account& acc, std::string_view subject,
                                                     std::shared_ptr<internal_subscriber> owner);

}  // namespace actors
