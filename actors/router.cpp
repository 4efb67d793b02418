#include "actors/router.hpp"

#include <random>

#include "actors/account.hpp"
#include "actors/client_connection.hpp"
#include "actors/internal_subscriber.hpp"
#include "actors/io/event_loop.hpp"

namespace actors {

platform::subscription_ptr add_internal_subscription(account& acc, std::string_view subject,
                                                     std::shared_ptr<internal_subscriber> owner) {
  auto sub = std::make_shared<platform::subscription>(subject, std::string_view(), "internal");
  sub->internal = true;
  sub->owner = std::move(owner);
  acc.subjects().insert(sub);
  return sub;
}

namespace router {

namespace {

using platform::protocol::message_args;

// Cheap per-thread random numbers for picking queue group members.
uint32_t fast_random() {
  thread_local uint64_t state = std::random_device{}() | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return uint32_t(state);
}

inline void bump(std::atomic<uint64_t>& a, uint64_t n) {
  // Only the owning loop thread writes this counter: no read-modify-write needed.
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Delivers to one subscription; returns how many client subscriptions got the message.
size_t deliver_to(context& ctx, const platform::subscription_ptr& sp, const message_args& m,
                  bool respect_echo = true) {
  platform::subscription& s = *sp;
  if (s.closed.load(std::memory_order_relaxed)) return 0;
  if (s.internal) {
    // A message that arrived through a stream import goes to the importer's clients
    // only: it does not travel on through the importer's own imports (nats-server 2.9
    // delivers it neither through a re-export nor into a service import).
    if (ctx.clients_only || ctx.depth >= context::max_depth) return 0;
    ++ctx.depth;
    size_t n = static_cast<internal_subscriber*>(s.owner.get())->deliver(ctx, m);
    --ctx.depth;
    return n;
  }
  auto* to = static_cast<client_connection*>(s.owner.get());
  if (respect_echo && to == ctx.from && !to->options().echo.load(std::memory_order_relaxed)) return 0;
  if (to->has_delivery_filter() && !to->accepts_delivery(m.subject, m.reply)) return 0;

  // Publishers on several loops may deliver to one subscription at once: enqueue_msg
  // counts the delivery against the auto-unsubscribe limit under the receiver's
  // outbound lock, so exactly max_msgs messages get through and exactly one delivery
  // is the last.
  bool last = false;
  size_t pending;
  if (m.header_len >= 0 && to->options().headers.load(std::memory_order_relaxed)) {
    pending = to->enqueue_msg(m.subject, s, m.reply, m.header_len, m.data, last);
  } else {
    // A receiver that did not ask for headers gets the payload alone.
    pending = to->enqueue_msg(m.subject, s, m.reply, -1, m.payload(), last);
  }
  if (last) to->remove_subscription(sp);
  if (pending == 0) return 0;
  if (ctx.loop) {
    ctx.loop->add_pending(std::static_pointer_cast<client_connection>(s.owner));
  } else {
    to->flush();
  }
  return 1;
}

size_t deliver_result(context& ctx, const platform::match_result& r, const message_args& m) {
  size_t delivered = 0;
  for (auto& s : r.plain) delivered += deliver_to(ctx, s, m);
  for (auto& g : r.queues) {
    size_t n = g.members.size();
    size_t start = fast_random() % n;
    for (size_t k = 0; k < n; ++k) {
      size_t got = deliver_to(ctx, g.members[(start + k) % n], m);
      if (got) {
        delivered += got;
        break;
      }
    }
  }
  return delivered;
}

void send_no_responders(client_connection& from, std::string_view reply) {
  static constexpr std::string_view status = "NATS/1.0 503\r\n\r\n";
  const auto& r = from.cache().lookup(from.acc().subjects(), reply);
  message_args m;
  m.subject = reply;
  m.header_len = int64_t(status.size());
  m.data = status;
  context ctx{&from, &from.loop()};
  auto mine = [&](const platform::subscription_ptr& s) {
    return !s->internal && s->owner.get() == static_cast<platform::subscriber*>(&from);
  };
  for (auto& s : r.plain)
    if (mine(s) && deliver_to(ctx, s, m, false)) return;
  for (auto& g : r.queues)
    for (auto& s : g.members)
      if (mine(s) && deliver_to(ctx, s, m, false)) return;
}

}  // namespace

size_t deliver_in(account& acc, context& ctx, const message_args& m) {
  if (ctx.from) {
    // Another account's results are cached per publisher too, keyed by that account;
    // hold a reference so nested hops cannot invalidate what is being iterated.
    auto r = ctx.from->cache_for(acc).lookup_ptr(acc.subjects(), m.subject);
    return deliver_result(ctx, *r, m);
  }
  auto r = acc.subjects().match(m.subject);
  return deliver_result(ctx, *r, m);
}

size_t deliver(client_connection& from, const message_args& m) {
  bump(from.msgs_in, 1);
  bump(from.bytes_in, m.data.size());
  context ctx{&from, &from.loop()};
  // The reference stays valid until the next lookup on this cache. Only an internal
  // subscription (an import, a response router) can lead to another lookup, possibly
  // into this same account and cache (a self-import, a latency report): then hold the
  // result by pointer so an eviction cannot free it while it is being iterated.
  auto& cache = from.cache();
  const platform::match_result* r = &cache.lookup(from.acc().subjects(), m.subject);
  size_t delivered;
  if (r->has_internal) {
    auto held = cache.lookup_ptr(from.acc().subjects(), m.subject);
    delivered = deliver_result(ctx, *held, m);
  } else {
    delivered = deliver_result(ctx, *r, m);
  }
  if (delivered == 0 && !m.reply.empty() && from.options().no_responders) send_no_responders(from, m.reply);
  return delivered;
}

size_t publish_internal(account& acc, std::string_view subject, std::string_view payload,
                        std::string_view reply) {
  message_args m;
  m.subject = subject;
  m.reply = reply;
  m.data = payload;
  context ctx;
  return deliver_in(acc, ctx, m);
}

}  // namespace router
}  // namespace actors
