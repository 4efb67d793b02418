#pragma once
// The subject index: a trie of subject tokens mapping subscriptions to the subjects
// they match. One per account. Writers take the write lock: SUB/UNSUB on I/O threads,
// bulk removals (a closed connection's subscriptions) and internal subscriptions on
// actor threads. Readers match under the shared lock, but the hot path rarely gets here:
// each publisher keeps a match_cache keyed by subject and validated against
// generation(), which every change bumps. Results are immutable and shared, so a cached
// result stays valid to read even after the subscriptions in it are removed.
#include <absl/container/inlined_vector.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace platform {
namespace subject {
class token_list;
}

// The receiving side of a subscription. The actors layer's client connection derives
// from it; the index only stores and hands back the pointer.
class subscriber {
 public:
  virtual ~subscriber() = default;
};

// One SUB. Created by the owning connection; shared by the index and by match results.
// Compact on purpose: a client can hold 100k+ of these, and their footprint is what a
// burst of SUB/UNSUB costs beyond the caches. Subject, queue and sid sit back to back in
// one buffer, inside the object when they fit (most do), so one allocation (make_shared)
// holds everything: 104 bytes with the control block, where three std::strings took 152.
class subscription {
 public:
  subscription(std::string_view subject, std::string_view queue, std::string_view sid);
  ~subscription();
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

  std::string_view subject() const noexcept { return {text(), subject_len_}; }
  std::string_view queue() const noexcept { return {text() + subject_len_, queue_len_}; }  // empty: plain
  std::string_view sid() const noexcept { return {text() + subject_len_ + queue_len_, sid_len_}; }

  std::shared_ptr<subscriber> owner;
  // Auto-unsubscribe: the limit (0 = none) and the messages delivered so far. Read and
  // written only under the receiving connection's outbound lock
  // (client_connection::enqueue_msg, on_unsub), which makes the count exact however
  // many loops deliver at once. Nothing touches them without that lock today; they are
  // atomics (relaxed: free under the lock) only so that such a read would be defined.
  std::atomic<uint64_t> max_msgs{0};
  std::atomic<uint64_t> delivered{0};
  // Set once the subscription is on its way out (UNSUB, its limit reached, its owner
  // closing); deliveries skip it from then on, though cached match results may still
  // hold it. Any thread.
  std::atomic<bool> closed{false};
  // A forwarder owned by the server (an import, a response route), not a client:
  // delivering to it can re-enter the router (see match_result::has_internal).
  bool internal = false;

 private:
  static constexpr size_t inline_capacity = 40;
  bool on_heap() const noexcept { return size_t(subject_len_) + queue_len_ + sid_len_ > inline_capacity; }
  const char* text() const noexcept { return on_heap() ? heap_ : inline_; }
  uint32_t subject_len_, queue_len_, sid_len_;
  union {
    char inline_[inline_capacity];
    char* heap_;
  };
};
using subscription_ptr = std::shared_ptr<subscription>;

// Everything one subject matches: every plain subscriber, and each queue group with its
// members (one member per group gets the message).
struct match_result {
  struct group {
    std::string_view name;  // points into a member's subscription
    std::vector<subscription_ptr> members;
  };
  // Most subjects have one plain subscriber (a reply inbox, a service): held inline.
  absl::InlinedVector<subscription_ptr, 1> plain;
  std::vector<group> queues;
  // Some subscription here is internal (an import): delivering to it can re-enter the
  // router, so a caller iterating this result must hold it by pointer (match_result_ptr)
  // rather than by a reference into a match cache that the nested delivery may evict.
  bool has_internal = false;
  bool empty() const noexcept { return plain.empty() && queues.empty(); }
};
using match_result_ptr = std::shared_ptr<const match_result>;

struct string_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace platform

// libstdc++ caches hash codes in hash table nodes only for hashes it does not consider
// "fast"; string hashing is not fast, and without the cached code every rehash and
// every bucket walk re-hashes or re-compares keys (the dominant cost at 100k+ entries).
template <>
struct std::__is_fast_hash<platform::string_hash> : std::false_type {};

namespace platform {

class sublist {
 public:
  sublist();
  ~sublist();
  sublist(const sublist&) = delete;
  sublist& operator=(const sublist&) = delete;

  // The subject must already be a valid subscription subject. `next_subject`, if given,
  // is the subject the caller will insert next (a pipelined burst of SUBs): if it is a
  // sibling of this one, the table slot it will probe is prefetched while this insert
  // still holds the lock.
  void insert(const subscription_ptr& sub, std::string_view next_subject = {});
  // Returns false when the subscription was not in the index.
  bool remove(const subscription_ptr& sub);
  void remove_all(const std::vector<subscription_ptr>& subs);

  // Matches a published subject. Wildcard tokens in it match only wildcard subscriptions
  // (as literals); a subject with an empty token matches nothing.
  match_result_ptr match(std::string_view subject) const;

  // Bumped by every change; compare to decide whether a cached result is stale.
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  // Interest watches: `fn` runs after each insert of a subscription that matches the
  // literal `subject` (as a publish to it would), on the inserting thread, with no lock
  // of this index held (it may use the index); it should be quick, since the insert
  // waits for it. A JetStream push consumer uses one to start delivering the moment
  // its client subscribes to the deliver subject (clients may subscribe after creating
  // the consumer). Costs an insert one relaxed load while no watch exists.
  uint64_t watch_interest(std::string subject, std::function<void()> fn);
  void unwatch_interest(uint64_t id);

 private:
  // A shared empty result, so a miss allocates nothing.
  static const match_result_ptr& empty_result();
  struct level;
  struct node;
  void match_level(const level* l, const subject::token_list& toks, size_t i,
                   match_result& out) const;
  static void add_node(const node* n, match_result& out);
  bool remove_locked(const subscription_ptr& sub);

  std::unique_ptr<level> root_;
  mutable std::shared_mutex mutex_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> count_{0};

  struct interest_watch {
    uint64_t id;
    std::string subject;
    std::shared_ptr<const std::function<void()>> fn;
  };
  void notify_watches(std::string_view sub_subject) const;
  mutable std::mutex watches_mutex_;
  std::vector<interest_watch> watches_;  // guarded by watches_mutex_
  uint64_t next_watch_id_ = 1;           // guarded by watches_mutex_
  std::atomic<size_t> watch_count_{0};
};

}  // namespace platform
