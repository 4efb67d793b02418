#include "libplatform/memory.hpp"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace platform::memory {

void keep_freed_memory() {
  // Allocations up to 32 MiB (glibc's own upper bound for the dynamic threshold) come
  // from the heaps, so a growing hash table's arrays are reused rather than re-mapped.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // Up to 64 MiB free at the top of a heap stays mapped; the scavenger returns the rest.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // One arena, not glibc's eight per core. Each thread that allocates gets an arena of
  // its own while there are fewer than the limit; memory freed in one arena is not
  // reused by the others, and malloc_trim() cannot give back the free top of a thread's
  // arena. After a 1 KiB JetStream publish burst (memtables, write batches, the
  // stream's inbox, freed on the stream's, the I/O loops' and RocksDB's threads) the
  // server stayed at 43-69 MiB with the default, 37-58 with two arenas and 36-41 with
  // one; peak RSS 58 MiB with two, 41 with one (BENCHMARKS.md runs 17, 19 and 20).
  // One arena shares one lock among all threads, which cost service-import requests a
  // third of their rate while each request allocated about twelve times on one I/O
  // thread and freed on the other; they now allocate twice (actors/response_table.hpp)
  // and run as fast with one arena as with two (run 20). The data path of plain
  // messages does not allocate per message. Run 17 saw KV puts lose a fifth of their
  // rate with one arena; runs 19 and 20 (after the stream changes since) saw no loss
  // beyond the spread between runs.
  mallopt(M_ARENA_MAX, 1);
}

size_t retained_free_bytes() { return mallinfo2().fordblks; }

int arena_count() {
  // malloc_info writes one <heap nr="N"> element per arena.
  char* text = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&text, &size);
  if (f == nullptr) return -1;
  int rc = malloc_info(0, f);
  std::fclose(f);
  int n = 0;
  if (rc == 0)
    for (const char* p = text; (p = std::strstr(p, "<heap nr=")) != nullptr; ++p) ++n;
  std::free(text);
  return rc == 0 ? n : -1;
}

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
