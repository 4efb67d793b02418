#pragma once
// An internal client: something inside the server that subscribes and publishes like a
// client but has no socket. The $SYS server actor, the latency reporters of service
// exports, and next stream actors, the JetStream API, the request recorder and
// monitoring. It has a kind, an account, a name for logs and monitoring,
// subscriptions in the account's subject index, and a client's counters.
//
// Receiving: the data path hands it messages through a bounded inbox, in the
// publisher's thread (deliver()). The owner (an actor, or an I/O loop: drive_from) is
// woken once per read batch, not once per message: the client joins the loop's pending
// set like a client socket, and its flush() at the end of the batch wakes the owner if
// no wake is outstanding.
// The owner then drains the inbox (drain()) on its own thread, running each
// subscription's handler in order.
//
// Inbox full (max_msgs or max_bytes): the message is dropped and counted
// (dropped_msgs), and a warning is logged at most once per 10 s per client. The
// publisher is never slowed and never disconnected: an internal client is a slow
// consumer that loses messages, like a client over max_pending, but it stays. The
// delivery still counts as received, so a requester sees a timeout, not "no
// responders".
//
// Publishing: from the owner's thread only, through the client's own match caches,
// with or without headers. From an actor, receivers are flushed after the publish, or
// once per drain when handlers publish (router::flush_later): a plain TCP client is
// written from the actor's thread, a transport only its loop may write (TLS) by that
// loop (one post per loop). A client driven by an I/O loop (drive_from) flushes like a
// read batch on that loop.
//
// Jobs: post() queues a function to run on the owner's thread in inbox order (a
// latency report to build and publish), under the same bound.
//
// Threads: deliver(), post(), flush(), subscribe(), unsubscribe() and close() from any
// thread; publish() and drain() from the owner's thread only, where "the owner's
// thread" means whoever holds the drain: the owner, or an I/O loop that drains inline
// (set_inline_drain), never both at once. set_waker() and
// set_stopper() before the first subscription or post.
#include <atomic>
#include <cstddef>
#include <new>
#include <type_traits>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/account.hpp"
#include "actors/receiver.hpp"
#include "actors/router.hpp"
#include "libplatform/match_cache.hpp"

namespace actors {

class internal_client;

// Work queued for an internal client's owner (post()): a callable stored inline, with
// no allocation (a latency report is one per sampled request). Move-only.
class inbox_job {
 public:
  static constexpr size_t capacity = 96;
  inbox_job() noexcept = default;
  template <class F>
  explicit inbox_job(F&& f) {
    using T = std::decay_t<F>;
    static_assert(sizeof(T) <= capacity && alignof(T) <= alignof(std::max_align_t), "job too large to store inline");
    new (buf_) T(std::forward<F>(f));
    ops_ = &ops_for<T>;
  }
  inbox_job(inbox_job&& o) noexcept { take(o); }
  inbox_job& operator=(inbox_job&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  ~inbox_job() { reset(); }
  explicit operator bool() const noexcept { return ops_ != nullptr; }
  void operator()(internal_client& c) { ops_->invoke(buf_, c); }

 private:
  struct ops {
    void (*invoke)(void*, internal_client&);
    void (*move)(void* from, void* to);
    void (*destroy)(void*);
  };
  template <class T>
  static constexpr ops ops_for{
      [](void* p, internal_client& c) { (*static_cast<T*>(p))(c); },
      [](void* from, void* to) {
        new (to) T(std::move(*static_cast<T*>(from)));
        static_cast<T*>(from)->~T();
      },
      [](void* p) { static_cast<T*>(p)->~T(); }};
  void take(inbox_job& o) noexcept {
    if (o.ops_) {
      o.ops_->move(o.buf_, buf_);
      ops_ = o.ops_;
      o.ops_ = nullptr;
    }
  }
  void reset() noexcept {
    if (ops_) ops_->destroy(buf_);
    ops_ = nullptr;
  }
  alignas(std::max_align_t) unsigned char buf_[capacity];
  const ops* ops_ = nullptr;
};

// One message (or job) waiting in an internal client's inbox.
struct inbound_msg {
  platform::subscription_ptr sub;  // which subscription matched (null for a job)
  std::string subject, reply;
  std::string data;                // header block (if any) followed by the payload
  int64_t header_len = -1;         // -1: no headers
  inbox_job job;                    // set for post()ed work
  std::string_view headers() const {
    return header_len > 0 ? std::string_view(data).substr(0, size_t(header_len)) : std::string_view();
  }
  std::string_view payload() const {
    return header_len > 0 ? std::string_view(data).substr(size_t(header_len)) : std::string_view(data);
  }
};

struct inbox_limits {
  size_t max_msgs = 65536;
  size_t max_bytes = 64u << 20;
};

class internal_client : public receiver, public publisher, public std::enable_shared_from_this<internal_client> {
 public:
  using handler = std::function<void(internal_client&, const inbound_msg&)>;

  internal_client(kind k, account_ptr acc, std::string name, inbox_limits limits = {});
  ~internal_client() override;

  const std::string& name() const noexcept { return name_; }
  account& acc() noexcept { return *acc_; }
  const account_ptr& acc_ptr() const noexcept { return acc_; }

  // Owner: which subjects its wildcard subscriptions take. A message the filter
  // refuses is dropped before it is queued (it still counts as delivered: the
  // subscription did match, so the requester sees a timeout, not "no responders"). The
  // JetStream API leaves $JS.API.DIRECT.GET.* to the streams: without the filter every
  // direct get would also wake the API's actor. Runs in publishers' threads: a pure
  // function of the subject. Set before the first subscription.
  void set_deliver_filter(std::function<bool(std::string_view subject)> f) { deliver_filter_ = std::move(f); }
  // Owner: how to wake it when the inbox has work (called from any thread, at most once
  // until the next drain()). Set before the first subscription.
  void set_waker(std::function<void()> wake) { waker_ = std::move(wake); }
  // Owner: an I/O loop instead of an actor, for work that belongs with the data path
  // (latency reports: with an actor in between, tracked requests ran 20% slower in
  // `make bench`). Drains run as tasks posted to `loop`; what handlers publish joins
  // that loop's pending set and is flushed at the end of the drain, like a read batch.
  // Instead of set_waker().
  void drive_from(io::event_loop& loop);
  // Owner: what close() does last (stop the owning actor), if anything.
  void set_stopper(std::function<void()> stop) { stopper_ = std::move(stop); }

  // Any thread (usually the owner's).
  platform::subscription_ptr subscribe(std::string_view subject, handler h, std::string_view queue = {});
  void unsubscribe(const platform::subscription_ptr& sub);
  // Any thread: removes every subscription, drops the inbox, and stops the owner
  // (set_stopper). Deliveries in flight are dropped by drain().
  void close();

  // Owner's thread: publishes `payload` (with `headers`, a full "NATS/1.0..." block,
  // when not empty) in this client's account. Returns how many client subscriptions
  // got it.
  size_t publish(std::string_view subject, std::string_view reply, std::string_view headers,
                 std::string_view payload);
  // Owner's thread: as publish(), but delivered to the subscribers of `route_subject`
  // while the message shows `subject` (router::deliver_as; JetStream consumers).
  size_t publish_to(std::string_view route_subject, std::string_view subject, std::string_view reply,
                    std::string_view headers, std::string_view payload);
  // Owner's thread, in a handler or job: starts writing what this drain published so
  // far instead of at the drain's end, so the receivers' sockets work while a long job
  // (a consumer sending megabytes) goes on producing. No effect for a client driven by
  // an I/O loop (drive_from): that loop flushes once per batch.
  void flush_early();
  // Owner's thread: does anything in the account listen on `subject` (through this
  // client's match cache)?
  bool has_interest(std::string_view subject);
  // Owner: runs at the end of every drain on the owner's thread, after the handlers
  // and before what they published is flushed (a stream commits its write batch and
  // publishes the acks there: group commit). Set before the first subscription.
  void set_after_drain(std::function<void()> fn) { after_drain_ = std::move(fn); }
  // Owner: above `bytes` waiting in the inbox this client is backed up (receiver.hpp):
  // a publishing client's loop pauses reading it until the owner has drained, so a
  // fast publisher is paced instead of losing messages to a full inbox (streams). 0,
  // the default: never backed up. Set before the first subscription.
  void set_backpressure(size_t bytes) { backpressure_bytes_ = bytes; }
  bool backed_up() override;
  // Owner's thread: runs queued handlers and jobs in order; returns how many ran.
  size_t drain();
  // Owner: may an I/O loop run the drain itself, at the end of the read batch that
  // filled the inbox, instead of waking the owner? Only when the inbox holds a few
  // small messages and no jobs, no wake is outstanding, no drain runs (a try-lock of
  // the drain; the owner's drain() takes the same lock, so drains never overlap and
  // each sees the last one's writes), and that loop is not already inside a drain.
  // What the handlers publish joins that loop's pending set (flushed in the same
  // flush_pending()). A stream turns it on while it has no consumers and does not
  // fsync per batch: a synchronous publish is then stored and acked without waking
  // another thread (nats-server stores in the reading goroutine too). Any thread.
  void set_inline_drain(bool on) { inline_drain_.store(on, std::memory_order_relaxed); }
  // Owner's thread (in a handler or after_drain): is an I/O loop running this drain?
  bool draining_inline() const noexcept { return inline_loop_ != nullptr; }
  static constexpr size_t inline_max_msgs = 16;
  static constexpr size_t inline_max_bytes = 64u << 10;

  // Any thread: queues `job` to run on the owner's thread. `ctx` (may be null) is the
  // delivery this happens in, for a wake with the batch. Returns false when the inbox
  // is full (the job is dropped and counted).
  template <class F>
  bool post(router::context* ctx, F&& job) {
    return push_job(ctx, inbox_job(std::forward<F>(job)));
  }

  // receiver
  size_t deliver(router::context& ctx, const platform::subscription_ptr& sub,
                 const platform::protocol::message_args& m) override;
  void flush() override;

  // publisher
  platform::match_cache& cache_for(const account& a) override;

  size_t inbox_size();
  size_t subscription_count();
  // String buffers and slots kept for reuse (not the messages waiting), in bytes.
  // Any thread; takes the drain lock (not from a handler).
  size_t spare_bytes_held();
  // The owner went idle: gives back the slots kept for reuse and their buffers, which
  // after a burst of large messages can be megabytes (a drain keeps up to twice its
  // slots). Skipped (0) while a drain runs. Returns the bytes released. Any thread
  // but a handler's (JetStream's ticker calls it once the store has been idle).
  size_t release_spare();

  // Counters, readable from any thread.
  std::atomic<uint64_t> msgs_in{0}, bytes_in{0}, msgs_out{0}, bytes_out{0}, dropped_msgs{0};

 private:
  // inbox_mutex_ held: no room for `bytes` more (the message is dropped and counted).
  bool full_locked(size_t bytes);
  inbound_msg& next_slot_locked();  // inbox_mutex_ held
  void recycle_drained();           // owner's thread, after a drain
  void wake_with(router::context* ctx);
  bool push_job(router::context* ctx, inbox_job&& job);
  // drain(); `then_flush` false when the driving loop's flush_pending() called it (that
  // call flushes what the handlers published).
  size_t drain_inbox(bool then_flush);
  size_t drain_locked(bool then_flush);  // drain_mutex_ held
  // flush() on an I/O loop's thread: drains here if the inbox qualifies and the drain
  // is free (set_inline_drain). True when it did (or there was nothing to do).
  bool try_inline_drain();
  void flush_published();

  account_ptr acc_;
  std::string name_;
  inbox_limits limits_;
  size_t backpressure_bytes_ = 0;
  std::function<void()> waker_, stopper_, after_drain_;
  std::function<bool(std::string_view)> deliver_filter_;
  io::event_loop* drive_loop_ = nullptr;

  std::mutex inbox_mutex_;  // guards the five below
  std::vector<inbound_msg> inbox_;  // slots [0, inbox_used_) hold messages; the rest are kept for reuse
  size_t inbox_used_ = 0;
  size_t inbox_bytes_ = 0;
  bool wake_pending_ = false;
  bool inbox_jobs_ = false;  // a post()ed job waits in inbox_
  std::atomic<int64_t> last_drop_log_{0};

  std::mutex handlers_mutex_;  // subscriptions and their handlers (a handler runs unlocked)
  std::unordered_map<const platform::subscription*, std::pair<platform::subscription_ptr, std::shared_ptr<handler>>>
      handlers_;
  uint64_t next_sid_ = 0;

  std::atomic<bool> inline_drain_{false};
  // Held by whoever drains: the owner (drain()), or an I/O loop draining inline.
  std::mutex drain_mutex_;

  // Owner's thread only (precisely: under drain_mutex_).
  io::event_loop* inline_loop_ = nullptr;  // the loop draining inline, during that drain
  std::vector<inbound_msg> draining_;  // the swapped-out inbox being drained
  size_t draining_used_ = 0;
  bool in_drain_ = false;
  match_caches caches_;
  std::vector<receiver_ptr> flush_list_;
};

using internal_client_ptr = std::shared_ptr<internal_client>;

}  // namespace actors
