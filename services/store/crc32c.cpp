// CRC32C for RocksDB with the CPU's crc32 instruction.
//
// Debian's RocksDB 7.8 is built portable, without its SSE 4.2 path: every checksum it
// computes (each write-ahead-log record over all of its bytes, each SST block) ran
// through a byte table. Profiled on 1 KiB stream publishes, that was 24% of the stream's
// thread (BENCHMARKS.md run 16). RocksDB's checksum functions are ordinary global
// functions (rocksdb::crc32c::Extend, Crc32cCombine, IsFastCrc32Supported in its
// util/crc32c.h, which Debian does not install, hence the declarations in crc32c.hpp); this file
// defines all three, so the linker takes these and never pulls RocksDB's crc32c object
// from librocksdb.a (with the shared library, the executable's definitions take
// precedence the same way). A RocksDB that added another function to that object would
// fail to link with a duplicate definition, not run with a mixture.
//
// The result is the standard CRC-32C (Castagnoli, reflected, as iSCSI and RocksDB use):
// the same bits RocksDB's table computes, so stores written before read back. Checked
// against RFC 3720's vectors and a bitwise reference in tests/store/test_crc32c.cpp.
#include "services/store/crc32c.hpp"

#include <nmmintrin.h>

#include <array>
#include <cstring>
#include <string>

namespace store::crc32c {

namespace {

constexpr uint32_t poly = 0x82F63B78u;  // Castagnoli, reflected

// Built at compile time: RocksDB may checksum during static initialisation, before
// this file's run-time initialisers would have run.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? poly : 0u);
    t[i] = c;
  }
  return t;
}

constexpr std::array<uint32_t, 256> table = make_table();

// On the raw register (no pre/post inversion).
uint32_t table_update(uint32_t c, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<unsigned char>(p[i])) & 0xffu] ^ (c >> 8);
  return c;
}

__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t c, const char* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c64);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p++));
    --n;
  }
  return c32;
}

}  // namespace

bool hardware() {
  // On first use, whenever that is (possibly during static initialisation).
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("sse4.2") != 0);
  return yes;
}

uint32_t extend(uint32_t crc, const char* data, size_t n) {
  uint32_t c = crc ^ 0xffffffffu;
  c = hardware() ? hardware_update(c, data, n) : table_update(c, data, n);
  return c ^ 0xffffffffu;
}

uint32_t extend_table(uint32_t crc, const char* data, size_t n) {
  return table_update(crc ^ 0xffffffffu, data, n) ^ 0xffffffffu;
}

uint32_t combine(uint32_t crc1, uint32_t crc2, size_t len2) {
  // CRC is linear: crc(A || B) = crc(A || 0^n) ^ crc(0^n) ^ crc(B), n = |B|.
  static const char zeros[4096] = {};
  uint32_t shifted = crc1, of_zeros = 0;
  while (len2 > 0) {
    size_t k = len2 < sizeof zeros ? len2 : sizeof zeros;
    shifted = extend(shifted, zeros, k);
    of_zeros = extend(of_zeros, zeros, k);
    len2 -= k;
  }
  return shifted ^ of_zeros ^ crc2;
}

}  // namespace store::crc32c

namespace rocksdb::crc32c {

std::string IsFastCrc32Supported() {
  return store::crc32c::hardware() ? "Supported on x86 (dialtone: SSE 4.2 crc32)"
                                   : "Not supported on x86 (dialtone: table)";
}

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) { return store::crc32c::extend(init_crc, data, n); }

uint32_t Crc32cCombine(uint32_t crc1, uint32_t crc2, size_t crc2len) {
  return store::crc32c::combine(crc1, crc2, crc2len);
}

}  // namespace rocksdb::crc32c
