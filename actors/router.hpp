#pragma once
// The publish path after parsing: match the subject in an account's subject index
// (through the publisher's match cache), hand the message to each matching receiver
// (receiver.hpp), and have each receiver flushed once at the end of the read batch.
// No parsing here, no allocation per message on the client-to-client path, no actor
// messages. Forwarders (imports, response routes) re-route in place and may deliver
// into other accounts, bounded by max_depth.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/receiver.hpp"
#include "libplatform/match_cache.hpp"
#include "libplatform/protocol/parser.hpp"

namespace actors {
class account;
class client_connection;
namespace io {
class event_loop;
}

// A publisher's match caches: one for its own account, and one per other account its
// deliveries reach (import hops), by account id (never reused, unlike an address, so
// an account removed at run time cannot be confused with a new one); at most
// max_foreign of those. Used from the publisher's thread only.
class match_caches {
 public:
  static constexpr size_t max_foreign = 64;
  platform::match_cache& own() noexcept { return own_; }
  // The cache for matches in `a`; `home` is the publisher's own account.
  platform::match_cache& for_account(const account& a, const account* home);
  void clear();

 private:
  platform::match_cache own_;
  std::unordered_map<uint64_t, platform::match_cache> foreign_;
};

// Whoever publishes: a client session or an internal client. Owns the match caches its
// deliveries use and is used from one thread at a time (its loop, or its actor).
class publisher {
 public:
  virtual ~publisher() = default;
  // The match cache for account `a` (import hops cache per account they reach).
  virtual platform::match_cache& cache_for(const account& a) = 0;
  // The client behind this publisher, if it is one (latency reports describe it).
  virtual client_connection* as_client() noexcept { return nullptr; }
};

namespace router {

struct context {
  publisher* from = nullptr;        // who published, if anyone
  io::event_loop* loop = nullptr;   // the I/O loop running this delivery, if any
  // Off the I/O loops (an actor publishing): the receivers to flush afterwards, by
  // their home loops (flush_later()). Null, with no loop: flush at once.
  std::vector<receiver_ptr>* flush_list = nullptr;
  int depth = 0;                    // import hops so far
  bool clients_only = false;        // set by a stream import: deliver to clients only
  // A request crosses at most this many service imports (and a response as many
  // response routes); past it the request has no responders. nats-server 2.9.10 answers
  // through 8 chained service imports and not through 10 or more. Stream imports do
  // not chain at all (clients_only), and import cycles are refused at load time.
  static constexpr int max_depth = 8;
};

// A receiver took a message: flush it at the end of this delivery's batch (the loop's
// pending set), or collect it for flush_later(), or flush it at once. `owner` is `r`
// (as a subscription holds it), so no new reference is taken unless one is needed.
void schedule_flush(context& ctx, receiver& r, const std::shared_ptr<platform::subscriber>& owner);

// Flushes receivers collected off the I/O loops: one post to each home loop that has
// some (a TLS connection may only be written by its own loop), the others at once.
void flush_later(std::vector<receiver_ptr>& list);

// Delivers a message published by a client in its account. Returns how many client
// subscriptions received it. Sends the no-responders status back to `from` when the
// message has a reply subject, nobody received it and `from` asked for no_responders.
size_t deliver(client_connection& from, const platform::protocol::message_args& m);

// Delivers within any account (import hops, internal clients).
size_t deliver_in(account& acc, context& ctx, const platform::protocol::message_args& m);
// Delivers `m` to the subscribers of `route_subject` while the message keeps its own
// subject (a JetStream consumer: matched on the deliver subject, shown with the
// stream subject the message was stored under).
size_t deliver_as(account& acc, context& ctx, std::string_view route_subject,
                  const platform::protocol::message_args& m);

}  // namespace router
}  // namespace actors
