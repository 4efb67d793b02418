// XXH3 with AVX2, compiled with -mavx2 (CMakeLists.txt) and called only after a CPU
// check (value_log.cpp): about twice the SSE2 build's speed on the payloads of a get.
#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace store {
uint64_t payload_checksum_avx2(const char* data, size_t n) { return XXH3_64bits(data, n); }
}  // namespace store
