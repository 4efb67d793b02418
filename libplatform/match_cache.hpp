#pragma once
// Per-publisher cache of subject -> match result, for one account's sublist (a
// publisher that delivers into other accounts keeps one per account). Owned by one
// publisher and used only on the one thread that publishes for it (a client
// connection's I/O thread, an internal client's owner), so it needs no lock. An entry
// is reused while its generation equals the sublist's; otherwise that one entry is
// re-matched. Bounded: past max_entries an arbitrary entry is evicted. One-off subjects
// (one_off()) are matched every time and never stored.
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "libplatform/sublist.hpp"

namespace platform {

class match_cache {
 public:
  static constexpr size_t max_entries = 256;

  // The reference stays valid until the next lookup or clear() on this cache (which
  // may evict it); use lookup_ptr() to hold a result across them.
  const match_result& lookup(const sublist& index, std::string_view subject) {
    uint64_t gen = index.generation();
    // Publishers often repeat one subject: compare with the last one before hashing.
    if (last_ && subject.size() == last_->first.size() &&
        std::memcmp(subject.data(), last_->first.data(), subject.size()) == 0 && last_->second.generation == gen)
      return *last_->second.result;
    auto it = entries_.find(subject);
    if (it != entries_.end()) {
      if (it->second.generation != gen) {
        it->second.result = index.match(subject);
        it->second.generation = gen;
      }
      last_ = &*it;
      return *it->second.result;
    }
    if (one_off(subject)) {
      // Matched but not kept: it would only push out an entry that is used again. The
      // router may ask twice in a row (lookup, then lookup_ptr): answered from here.
      if (!(uncached_ && uncached_generation_ == gen && subject == uncached_subject_)) {
        uncached_ = index.match(subject);
        uncached_generation_ = gen;
        uncached_subject_.assign(subject);  // reuses its capacity
      }
      last_ = nullptr;
      return *uncached_;
    }
    auto res = index.match(subject);
    if (entries_.size() >= max_entries) {
      entries_.erase(entries_.begin());
      last_ = nullptr;
    }
    auto [pos, inserted] = entries_.try_emplace(std::string(subject));
    pos->second.generation = gen;
    pos->second.result = std::move(res);
    last_ = &*pos;
    return *pos->second.result;
  }

  // As lookup(), but shares ownership of the result: safe to hold across other lookups.
  match_result_ptr lookup_ptr(const sublist& index, std::string_view subject) {
    lookup(index, subject);
    return last_ ? last_->second.result : uncached_;
  }

  void clear() {
    entries_.clear();
    last_ = nullptr;
    uncached_.reset();
  }

  // Subjects published once and never again: the reply subjects of service-import
  // response routes ("_R_.<account>.<id>", actors/response_table.hpp), one per request.
  static bool one_off(std::string_view subject) noexcept { return subject.substr(0, 4) == "_R_."; }
  size_t size() const { return entries_.size(); }

 private:
  struct entry {
    uint64_t generation = 0;
    match_result_ptr result;
  };
  using map = std::unordered_map<std::string, entry, string_hash, std::equal_to<>>;
  map entries_;
  map::value_type* last_ = nullptr;  // the entry looked up last (nodes are stable)
  match_result_ptr uncached_;         // the last one_off() subject's result
  std::string uncached_subject_;
  uint64_t uncached_generation_ = 0;
};

}  // namespace platform
