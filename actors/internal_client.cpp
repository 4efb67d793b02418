#include "actors/internal_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "actors/io/event_loop.hpp"

namespace actors {

internal_client::internal_client(kind k, account_ptr acc, std::string name, inbox_limits limits)
    : receiver(k), acc_(std::move(acc)), name_(std::move(name)), limits_(limits) {}

internal_client::~internal_client() = default;

platform::subscription_ptr internal_client::subscribe(std::string_view subject, handler h, std::string_view queue) {
  platform::subscription_ptr sub;
  {
    std::lock_guard lock(handlers_mutex_);
    sub = std::make_shared<platform::subscription>(subject, queue, std::to_string(++next_sid_));
    sub->owner = shared_from_this();
    handlers_.emplace(sub.get(), std::make_pair(sub, std::make_shared<handler>(std::move(h))));
  }
  acc_->subjects().insert(sub);
  return sub;
}

void internal_client::unsubscribe(const platform::subscription_ptr& sub) {
  if (!sub || sub->closed.exchange(true)) return;
  acc_->subjects().remove(sub);
  std::lock_guard lock(handlers_mutex_);
  handlers_.erase(sub.get());
}

size_t internal_client::subscription_count() {
  std::lock_guard lock(handlers_mutex_);
  return handlers_.size();
}

void internal_client::close() {
  std::vector<platform::subscription_ptr> subs;
  {
    std::lock_guard lock(handlers_mutex_);
    for (auto& [p, entry] : handlers_) {
      entry.first->closed.store(true);
      subs.push_back(entry.first);
    }
    handlers_.clear();
  }
  acc_->subjects().remove_all(subs);
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.clear();
    inbox_used_ = 0;
    inbox_bytes_ = 0;
  }
  if (stopper_) stopper_();
}

bool internal_client::full_locked(size_t bytes) {
  if (inbox_used_ < limits_.max_msgs && inbox_bytes_ + bytes <= limits_.max_bytes) return false;
  dropped_msgs.fetch_add(1, std::memory_order_relaxed);
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = last_drop_log_.load(std::memory_order_relaxed);
  if (now - last >= std::chrono::nanoseconds(std::chrono::seconds(10)).count() &&
      last_drop_log_.compare_exchange_strong(last, now)) {
    spdlog::warn("Internal client \"{}\" (account {}) is a slow consumer: inbox full ({} messages), {} dropped so far",
                 name_, acc_->name(), inbox_used_, dropped_msgs.load(std::memory_order_relaxed));
  }
  return true;
}

void internal_client::wake_with(router::context* ctx) {
  // Wake the owner with the batch: the loop flushes this client once at its end.
  if (ctx) {
    router::schedule_flush(*ctx, *this, shared_from_this());
  } else {
    flush();
  }
}

size_t internal_client::deliver(router::context& ctx, const platform::subscription_ptr& sub,
                                const platform::protocol::message_args& m) {
  if (deliver_filter_ && !deliver_filter_(m.subject)) return 1;
  size_t bytes = m.subject.size() + m.reply.size() + m.data.size();
  {
    // The bound is checked before anything is copied: a flood costs no allocation.
    std::lock_guard lock(inbox_mutex_);
    if (full_locked(bytes)) return 1;  // shed (see the inbox policy)
    auto& in = next_slot_locked();
    in.sub = sub;
    in.subject.assign(m.subject);
    in.reply.assign(m.reply);
    in.data.assign(m.data);
    in.header_len = m.header_len;
    inbox_bytes_ += bytes;
  }
  msgs_in.fetch_add(1, std::memory_order_relaxed);
  bytes_in.fetch_add(m.data.size(), std::memory_order_relaxed);
  wake_with(&ctx);
  return 1;
}

bool internal_client::push_job(router::context* ctx, inbox_job&& job) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (full_locked(64)) return false;
    auto& in = next_slot_locked();
    in.sub.reset();
    in.job = std::move(job);
    inbox_jobs_ = true;
    inbox_bytes_ += 64;
  }
  wake_with(ctx);
  return true;
}

namespace {
// Drains running on this thread (a handler may publish into another internal client,
// whose flush() must then not start a drain inside this one).
thread_local int drains_on_thread = 0;
}  // namespace

bool internal_client::try_inline_drain() {
  auto* loop = io::event_loop::current();
  if (!loop || drains_on_thread > 0) return false;
  {
    std::lock_guard lock(inbox_mutex_);
    if (inbox_used_ == 0 || wake_pending_) return true;  // nothing new, or the owner is coming
    if (inbox_jobs_ || inbox_used_ > inline_max_msgs || inbox_bytes_ > inline_max_bytes) return false;
  }
  if (!drain_mutex_.try_lock()) return false;  // the owner is draining: wake it again
  std::lock_guard drain(drain_mutex_, std::adopt_lock);
  inline_loop_ = loop;
  drain_locked(false);  // the loop's flush_pending() flushes what the handlers published
  inline_loop_ = nullptr;
  return true;
}

void internal_client::flush() {
  if (inline_drain_.load(std::memory_order_relaxed) && !drive_loop_ && try_inline_drain()) return;
  if (drive_loop_ && drive_loop_->in_loop_thread() && !in_drain_) {
    // The driving loop flushing its batch: drain right here, after the receivers
    // flushed before this one (answers before their latency reports); what the
    // handlers publish is flushed in the loop's next round.
    drain_inbox(false);
    return;
  }
  {
    std::lock_guard lock(inbox_mutex_);
    if (inbox_used_ == 0 || wake_pending_) return;
    wake_pending_ = true;
  }
  if (waker_) waker_();
}

void internal_client::drive_from(io::event_loop& loop) {
  drive_loop_ = &loop;
  waker_ = [weak = weak_from_this(), &loop] {
    loop.post([weak] {
      if (auto c = weak.lock()) c->drain();
    });
  };
}

bool internal_client::backed_up() {
  if (backpressure_bytes_ == 0) return false;
  std::lock_guard lock(inbox_mutex_);
  return inbox_bytes_ > backpressure_bytes_;
}

size_t internal_client::inbox_size() {
  std::lock_guard lock(inbox_mutex_);
  return inbox_used_;
}

inbound_msg& internal_client::next_slot_locked() {
  // Slots are reused from drain to drain: their strings keep their buffers, so a
  // steady flow copies each message into memory already allocated (no malloc/free
  // per message on the data path).
  if (inbox_used_ < inbox_.size()) return inbox_[inbox_used_++];
  ++inbox_used_;
  return inbox_.emplace_back();
}

size_t internal_client::drain() { return drain_inbox(true); }

size_t internal_client::drain_inbox(bool then_flush) {
  std::lock_guard drain(drain_mutex_);
  return drain_locked(then_flush);
}

size_t internal_client::drain_locked(bool then_flush) {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);
    draining_used_ = inbox_used_;
    inbox_used_ = 0;
    inbox_bytes_ = 0;
    inbox_jobs_ = false;
    // Messages arriving from now on wake the owner again.
    wake_pending_ = false;
  }
  in_drain_ = true;
  struct on_thread {
    on_thread() { ++drains_on_thread; }
    ~on_thread() { --drains_on_thread; }
  } counted;
  size_t ran = 0;
  for (size_t i = 0; i < draining_used_; ++i) {
    auto& m = draining_[i];
    if (m.job) {
      m.job(*this);
      m.job = inbox_job();  // what it captured is released now, not when the slot is reused
      ++ran;
      continue;
    }
    auto sub = std::move(m.sub);
    if (sub->closed.load(std::memory_order_relaxed)) continue;
    std::shared_ptr<handler> h;
    {
      std::lock_guard lock(handlers_mutex_);
      auto it = handlers_.find(sub.get());
      if (it == handlers_.end()) continue;
      h = it->second.second;
    }
    m.sub = std::move(sub);  // handlers see which subscription matched
    (*h)(*this, m);
    m.sub.reset();
    ++ran;
  }
  recycle_drained();
  if (after_drain_) after_drain_();
  in_drain_ = false;
  // What the handlers published (unless the driving loop's flush_pending() called
  // this: its next round flushes it).
  if (then_flush) flush_published();
  return ran;
}

void internal_client::recycle_drained() {
  // Keep the slots for the next drains, but not more memory than a normal drain uses:
  // a slot that held a large message gives its buffer back, and after a burst the
  // slots beyond twice this drain (and beyond 1024) go.
  constexpr size_t keep_bytes = 64 << 10;
  for (size_t i = 0; i < draining_used_; ++i) {
    auto& m = draining_[i];
    if (m.data.capacity() > keep_bytes) std::string().swap(m.data);
  }
  size_t keep = std::max<size_t>(1024, 2 * draining_used_);
  if (draining_.size() > keep) draining_.resize(keep);
  draining_used_ = 0;
}

namespace {
size_t slot_bytes(const inbound_msg& m) {
  constexpr size_t sso = std::string().capacity();  // a string without a buffer of its own
  size_t n = 0;
  for (const auto* s : {&m.subject, &m.reply, &m.data})
    if (s->capacity() > sso) n += s->capacity();
  return n;
}

size_t spare_in(const std::vector<inbound_msg>& v, size_t used) {
  size_t n = (v.capacity() - used) * sizeof(inbound_msg);
  for (size_t i = used; i < v.size(); ++i) n += slot_bytes(v[i]);
  return n;
}
}  // namespace

size_t internal_client::spare_bytes_held() {
  std::lock_guard drain(drain_mutex_);
  std::lock_guard lock(inbox_mutex_);
  return spare_in(inbox_, inbox_used_) + spare_in(draining_, draining_used_);
}

size_t internal_client::release_spare() {
  // The drain lock first, as drains take it: the slots being drained are the drain's.
  std::unique_lock drain(drain_mutex_, std::try_to_lock);
  if (!drain.owns_lock()) return 0;
  size_t released = spare_in(draining_, draining_used_);
  std::vector<inbound_msg>().swap(draining_);  // draining_used_ is 0 outside a drain
  std::lock_guard lock(inbox_mutex_);
  if (inbox_used_ == 0) {
    released += spare_in(inbox_, 0);
    std::vector<inbound_msg>().swap(inbox_);
  } else if (inbox_.size() > inbox_used_) {
    // Messages arrived meanwhile: they stay; the slots after them go.
    released += spare_in(inbox_, inbox_used_);
    inbox_.resize(inbox_used_);
    inbox_.shrink_to_fit();
  }
  return released;
}

void internal_client::flush_published() {
  // Once: by the driving loop, or by the receivers' own loops (one post each).
  if (drive_loop_) {
    drive_loop_->flush_pending();
  } else {
    router::flush_later(flush_list_);
  }
}

void internal_client::flush_early() {
  if (!drive_loop_ && !inline_loop_) router::flush_later(flush_list_);
}

size_t internal_client::publish(std::string_view subject, std::string_view reply, std::string_view headers,
                                std::string_view payload) {
  return publish_to({}, subject, reply, headers, payload);
}

bool internal_client::has_interest(std::string_view subject) {
  const auto& r = caches_.own().lookup(acc_->subjects(), subject);
  return !r.plain.empty() || !r.queues.empty();
}

size_t internal_client::publish_to(std::string_view route_subject, std::string_view subject, std::string_view reply,
                                   std::string_view headers, std::string_view payload) {
  std::string joined;
  platform::protocol::message_args m;
  m.subject = subject;
  m.reply = reply;
  if (headers.empty()) {
    m.data = payload;
  } else {
    joined.reserve(headers.size() + payload.size());
    joined.append(headers).append(payload);
    m.header_len = int64_t(headers.size());
    m.data = joined;
  }
  router::context ctx;
  ctx.from = this;
  if (drive_loop_ || inline_loop_) {
    ctx.loop = drive_loop_ ? drive_loop_ : inline_loop_;
  } else {
    ctx.flush_list = &flush_list_;
  }
  size_t n = route_subject.empty() ? router::deliver_in(*acc_, ctx, m)
                                   : router::deliver_as(*acc_, ctx, route_subject, m);
  msgs_out.fetch_add(1, std::memory_order_relaxed);
  bytes_out.fetch_add(m.data.size(), std::memory_order_relaxed);
  if (!in_drain_) flush_published();
  return n;
}

platform::match_cache& internal_client::cache_for(const account& a) { return caches_.for_account(a, acc_.get()); }

}  // namespace actors
