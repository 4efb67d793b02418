#pragma once
// Per-connection cache of subject -> match result. Owned by one connection and used
// only by the I/O thread that reads that connection, so it needs no lock. An entry is
// reused while its generation equals the sublist's; otherwise that one entry is
// re-matched. Bounded: past max_entries an arbitrary entry is evicted.
#include <string>
#include <string_view>
#include <unordered_map>

#include "libplatform/sublist.hpp"

namespace platform {

class match_cache {
 public:
  static constexpr size_t max_entries = 256;

  const match_result& lookup(const sublist& index, std::string_view subject) {
    uint64_t gen = index.generation();
    auto it = entries_.find(subject);
    if (it != entries_.end()) {
      if (it->second.generation == gen) return *it->second.result;
      it->second.result = index.match(subject);
      it->second.generation = gen;
      return *it->second.result;
    }
    if (entries_.size() >= max_entries) entries_.erase(entries_.begin());
    auto res = index.match(subject);
    auto& e = entries_[std::string(subject)];
    e.generation = gen;
    e.result = std::move(res);
    return *e.result;
  }

  // As lookup(), but shares ownership of the result: safe to hold across other lookups.
  match_result_ptr lookup_ptr(const sublist& index, std::string_view subject) {
    lookup(index, subject);
    return entries_.find(subject)->second.result;
  }

  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  struct entry {
    uint64_t generation = 0;
    match_result_ptr result;
  };
  std::unordered_map<std::string, entry, string_hash, std::equal_to<>> entries_;
};

}  // namespace platform
