#pragma once
// Giving back the memory a burst of writes left, once a store has been idle: JetStream's
// ticker (services/jetstream/service.cpp) and the request log's recorder
// (services/reqlog/recorder.cpp) each watch their store's writes with an idle_watch and
// call release_idle() when it says so.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "libplatform/memory.hpp"
#include "services/store/stream_store.hpp"

namespace store {

// How long without a write before the memory goes back.
inline constexpr auto idle_release_after = std::chrono::seconds(2);
// Memtables smaller than this stay (an idle flush of a few records would only make
// small files for compaction to merge).
inline constexpr size_t idle_flush_min = 256u << 10;

// Watches a count of writes from its owner's periodic tick. One owner thread.
class idle_watch {
 public:
  // True once per quiet spell: when `writes` has not moved for idle_release_after.
  bool due(uint64_t writes, std::chrono::steady_clock::time_point now) {
    if (writes != seen_) {
      seen_ = writes;
      since_ = now;
      done_ = false;
      return false;
    }
    if (done_ || now - since_ < idle_release_after) return false;
    done_ = true;
    return true;
  }

 private:
  uint64_t seen_ = 0;
  std::chrono::steady_clock::time_point since_{};
  bool done_ = true;  // nothing to give back before the first write
};

// Writes `st`'s memtables of idle_flush_min or more out (stream_store::release_memory)
// and, when that and the `also_freed` bytes the caller released itself come to 1 MiB
// or more, hands the allocator's free memory to the kernel at once rather than at the
// server's next scavenger round (5-10 s). Returns the bytes the store released. May
// block for the flush: not on an I/O thread.
inline size_t release_idle(stream_store& st, size_t also_freed = 0) {
  size_t flushed = st.release_memory(idle_flush_min);
  if (flushed + also_freed >= (1u << 20)) platform::memory::return_free_memory();
  return flushed;
}

}  // namespace store
