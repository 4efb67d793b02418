// The allocator policy: freed memory is kept for reuse, and the scavenger gives it back
// once it has been free at enough consecutive checks. glibc's allocator only: under
// AddressSanitizer (`make debug`) and ThreadSanitizer (`make tsan`) malloc is the
// sanitizer's own, and this file compiles to nothing.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "libplatform/memory.hpp"

using namespace platform::memory;

namespace {

// Allocates `total` bytes in 1 KiB blocks (each touched), frees them all.
void churn(size_t total) {
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t done = 0; done < total; done += 1024) {
    blocks.emplace_back(new char[1024]);
    std::memset(blocks.back().get(), 1, 1024);
  }
}

// Resident set size of this process, in bytes.
size_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  REQUIRE(f);
  unsigned long size = 0, resident = 0;
  REQUIRE(std::fscanf(f, "%lu %lu", &size, &resident) == 2);
  std::fclose(f);
  return resident * 4096;
}

}  // namespace

TEST_CASE("scavenger returns memory only after it stayed free at enough checks", "[memory]") {
  keep_freed_memory();
  return_free_memory();
  const size_t floor = size_t(8) << 20;
  churn(size_t(48) << 20);  // 48 MiB freed: below the 64 MiB trim threshold, so kept
  size_t kept = retained_free_bytes();
  size_t rss_kept = rss_bytes();
  CHECK(kept > floor);

  scavenger s(floor, 2);
  CHECK_FALSE(s.check());  // first sighting: not yet
  CHECK(retained_free_bytes() > floor);
  CHECK(s.check());  // second consecutive: trimmed
  CHECK(retained_free_bytes() < kept);
  CHECK(rss_bytes() + (size_t(24) << 20) < rss_kept);  // and the process really shrank

  // Below the floor nothing happens, and the count starts over.
  return_free_memory();
  scavenger quiet(size_t(1) << 40, 1);
  CHECK_FALSE(quiet.check());
}

TEST_CASE("return_free_memory gives back what was kept, at once", "[memory]") {
  keep_freed_memory();
  return_free_memory();
  churn(size_t(48) << 20);
  size_t kept = retained_free_bytes();
  size_t rss_kept = rss_bytes();
  REQUIRE(kept > (size_t(24) << 20));
  CHECK(return_free_memory());
  CHECK(retained_free_bytes() < kept);
  CHECK(rss_bytes() + (size_t(24) << 20) < rss_kept);
}

// Hidden from the full run ("[.]"): its own ctest entry (tests/CMakeLists.txt) runs it
// in a fresh process, where no thread has been given an arena before keep_freed_memory().
TEST_CASE("threads allocating at once share one arena", "[.][memory-arenas]") {
  keep_freed_memory();
  // Eight threads allocating side by side, as a stream's actor, the I/O loops and
  // RocksDB's flush and compaction threads do: with glibc's default each would get an
  // arena of its own (up to 8 per core), whose free top stays resident for good.
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] { churn(size_t(4) << 20); });
  for (auto& t : threads) t.join();
  CHECK(arena_count() == 1);
}

#endif  // !__SANITIZE_ADDRESS__
