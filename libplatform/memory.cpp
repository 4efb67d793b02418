#include "libplatform/memory.hpp"

#include <malloc.h>

namespace platform::memory {

void keep_freed_memory() {
  // Allocations up to 32 MiB (glibc's own upper bound for the dynamic threshold) come
  // from the heaps, so a growing hash table's arrays are reused rather than re-mapped.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // Up to 64 MiB free at the top of a heap stays mapped; the scavenger returns the rest.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

size_t retained_free_bytes() { return mallinfo2().fordblks; }

bool return_free_memory() { return malloc_trim(0) != 0; }

bool scavenger::check() {
  if (retained_free_bytes() <= floor_) {
    above_ = 0;
    return false;
  }
  if (++above_ < calm_) return false;
  above_ = 0;
  return_free_memory();
  return true;
}

}  // namespace platform::memory
