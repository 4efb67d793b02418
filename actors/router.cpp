#include "actors/router.hpp"

#include <unordered_map>

#include "actors/account.hpp"
#include "actors/client_connection.hpp"
#include "actors/io/event_loop.hpp"
#include "actors/request_tap.hpp"
#include "libplatform/random_token.hpp"

namespace actors {

platform::match_cache& match_caches::for_account(const account& a, const account* home) {
  if (&a == home) return own_;
  if (foreign_.size() >= max_foreign && !foreign_.count(a.id())) foreign_.clear();
  return foreign_[a.id()];
}

void match_caches::clear() {
  own_.clear();
  foreign_.clear();
}

namespace router {

namespace {

using platform::protocol::message_args;

inline void bump(std::atomic<uint64_t>& a, uint64_t n) {
  // Only the owning loop thread writes this counter: no read-modify-write needed.
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Hands one message to the receiver of one subscription; returns how many client
// subscriptions got it. Every subscription's owner is a receiver (receiver.hpp): a
// client, an internal client or a forwarder, each applying its own rules.
inline size_t deliver_to(context& ctx, const platform::subscription_ptr& sp, const message_args& m) {
  if (sp->closed.load(std::memory_order_relaxed)) return 0;
  return static_cast<receiver*>(sp->owner.get())->deliver(ctx, sp, m);
}

size_t deliver_result(context& ctx, const platform::match_result& r, const message_args& m) {
  size_t delivered = 0;
  for (auto& s : r.plain) delivered += deliver_to(ctx, s, m);
  for (auto& g : r.queues) {
    size_t n = g.members.size();
    size_t start = platform::random_below(uint32_t(n));
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
  context ctx{nullptr, &from.loop()};  // not `from`: the status goes to it whatever its echo
  auto mine = [&](const platform::subscription_ptr& s) {
    return !s->internal && s->owner.get() == static_cast<platform::subscriber*>(&from);
  };
  for (auto& s : r.plain)
    if (mine(s) && deliver_to(ctx, s, m)) return;
  for (auto& g : r.queues)
    for (auto& s : g.members)
      if (mine(s) && deliver_to(ctx, s, m)) return;
}

}  // namespace

void schedule_flush(context& ctx, receiver& r, const std::shared_ptr<platform::subscriber>& owner) {
  if (ctx.loop) {
    ctx.loop->add_pending(r, owner);
  } else if (ctx.flush_list) {
    ctx.flush_list->push_back(std::static_pointer_cast<receiver>(owner));
  } else {
    r.flush();
  }
}

void flush_later(std::vector<receiver_ptr>& list) {
  if (list.empty()) return;
  // Group by home loop: one post per loop carries all of that loop's receivers.
  std::unordered_map<io::event_loop*, std::vector<receiver_ptr>> by_loop;
  receiver* last = nullptr;
  for (auto& r : list) {
    if (r.get() == last) continue;  // consecutive repeats (one receiver, many messages)
    last = r.get();
    if (auto* home = r->home_loop()) {
      by_loop[home].push_back(std::move(r));
    } else {
      r->flush();
    }
  }
  list.clear();
  for (auto& [loop, rs] : by_loop) {
    loop->post([rs = std::move(rs)] {
      receiver* prev = nullptr;
      for (auto& r : rs) {
        if (r.get() != prev) r->flush();
        prev = r.get();
      }
    });
  }
}

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

size_t deliver_as(account& acc, context& ctx, std::string_view route_subject, const message_args& m) {
  if (ctx.from) {
    auto r = ctx.from->cache_for(acc).lookup_ptr(acc.subjects(), route_subject);
    return deliver_result(ctx, *r, m);
  }
  auto r = acc.subjects().match(route_subject);
  return deliver_result(ctx, *r, m);
}

size_t deliver(client_connection& from, const message_args& m) {
  bump(from.msgs_in, 1);
  bump(from.bytes_in, m.data.size());
  context ctx{&from, &from.loop()};
  // The reference stays valid until the next lookup on this cache. Only a forwarder
  // (an import, a response route) can lead to another lookup, possibly into this same
  // account and cache (a self-import, a latency report): then hold the result by
  // pointer so an eviction cannot free it while it is being iterated.
  // Request recording: the tap copies what it records before the delivery (so an
  // answer can never come before the tap knows the request) and is told the outcome.
  uint64_t recorded = 0;
  request_tap* tap = from.acc().tap.load(std::memory_order_acquire);
  if (tap) {
    tap->maybe_response(from.acc(), &from, m);
    if (!m.reply.empty()) recorded = tap->request(from.acc(), &from, m);
  }
  auto& cache = from.cache();
  const platform::match_result* r = &cache.lookup(from.acc().subjects(), m.subject);
  size_t delivered;
  if (r->has_internal) {
    auto held = cache.lookup_ptr(from.acc().subjects(), m.subject);
    delivered = deliver_result(ctx, *held, m);
  } else {
    delivered = deliver_result(ctx, *r, m);
  }
  if (recorded) tap->delivered(recorded, delivered);
  if (delivered == 0 && !m.reply.empty() && from.options().no_responders) send_no_responders(from, m.reply);
  return delivered;
}

}  // namespace router
}  // namespace actors
