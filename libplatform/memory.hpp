#pragma once
// How the server uses glibc's allocator.
//
// By default glibc hands freed memory back to the kernel as soon as a few hundred KiB
// sit free at the top of a heap, and serves hash-table arrays above 128 KiB with fresh
// mmaps. A client that subscribes 100k subjects, unsubscribes and subscribes again then
// pays a page fault for every 4 KiB it touches, on every burst; on a VM each fault can
// also cost the host a fault. keep_freed_memory() keeps freed memory in the process for
// reuse instead, and a scavenger gives it back once it has sat unused for a while (the
// way Go's runtime does for nats-server). Threads share one malloc arena (memory.cpp).
#include <cstddef>

namespace platform::memory {

// Call once at start-up, before other threads exist.
void keep_freed_memory();

// Free bytes the allocator holds across all its arenas (from mallinfo2).
size_t retained_free_bytes();

// How many arenas the allocator has made so far (from malloc_info).
int arena_count();

// Gives the free memory the allocator holds back to the kernel now (malloc_trim): the one
// way the server returns memory, used by the scavenger below and by code that has just
// released a known large amount (e.g. an account dropping a million subscriptions) and
// should not wait for the scavenger. Safe from any thread, but it walks every arena
// under its lock, so call it off the I/O threads. Returns whether anything went back.
bool return_free_memory();

// Calls return_free_memory() when more than `floor` bytes have been free at
// `calm_checks` consecutive checks. Not thread-safe: one owner calls check().
class scavenger {
 public:
  explicit scavenger(size_t floor = size_t(8) << 20, int calm_checks = 2) : floor_(floor), calm_(calm_checks) {}
  // Returns true when it trimmed.
  bool check();

 private:
  size_t floor_;
  int calm_;
  int above_ = 0;
};

}  // namespace platform::memory
