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

// Polynomials mod the Castagnoli polynomial in the reflected order (bit 31 is x^0):
// a * b mod p, bit by bit.
constexpr uint32_t multiply_mod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ poly : b >> 1;
  }
  return product;
}

// x^(2^k) mod p for k = 0..63, by squaring from x^1.
constexpr std::array<uint32_t, 64> make_x_pow2() {
  std::array<uint32_t, 64> t{};
  t[0] = 1u << 30;  // x^1
  for (int k = 1; k < 64; ++k) t[k] = multiply_mod(t[k - 1], t[k - 1]);
  return t;
}

constexpr auto x_pow2 = make_x_pow2();

// x^(8 * bytes) mod p: what a register is multiplied by when `bytes` zero bytes pass.
constexpr uint32_t x_pow_bytes(uint64_t bytes) {
  uint32_t r = 1u << 31;  // x^0
  for (int k = 3; bytes != 0; bytes >>= 1, ++k)
    if (bytes & 1u) r = multiply_mod(x_pow2[k], r);
  return r;
}

// Advancing the register over `Len` zero bytes as four byte-indexed tables: row k maps
// byte k of the register to its image (XOR of the images of its bits, by linearity).
template <size_t Len>
constexpr std::array<std::array<uint32_t, 256>, 4> make_shift_table() {
  std::array<uint32_t, 32> basis{};
  for (int i = 0; i < 32; ++i) basis[i] = multiply_mod(x_pow_bytes(Len), uint32_t(1) << i);
  std::array<std::array<uint32_t, 256>, 4> t{};
  for (int k = 0; k < 4; ++k)
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t v = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (b & (1u << bit)) v ^= basis[8 * k + bit];
      t[k][b] = v;
    }
  return t;
}

// Three independent crc32 chains over three adjacent blocks of this size, then joined:
// the instruction's latency is three cycles and its throughput one, so one chain uses a
// third of it (Intel's "three-way" CRC-32C, as RocksDB's own SSE 4.2 path does).
constexpr size_t lane = 512;
constexpr auto shift_lane = make_shift_table<lane>();
constexpr auto shift_two_lanes = make_shift_table<2 * lane>();

uint32_t shift(const std::array<std::array<uint32_t, 256>, 4>& t, uint32_t c) {
  return t[0][c & 0xffu] ^ t[1][(c >> 8) & 0xffu] ^ t[2][(c >> 16) & 0xffu] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2"))) inline uint64_t load_crc(uint64_t c, const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return _mm_crc32_u64(c, v);
}

__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t c, const char* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 3 * lane) {
    // raw(c, A||B||C) = shift_2L(raw(c, A)) ^ shift_L(raw(0, B)) ^ raw(0, C)
    uint64_t a = c64, b = 0, d = 0;
    for (size_t i = 0; i < lane; i += 8) {
      a = load_crc(a, p + i);
      b = load_crc(b, p + lane + i);
      d = load_crc(d, p + 2 * lane + i);
    }
    c64 = shift(shift_two_lanes, uint32_t(a)) ^ shift(shift_lane, uint32_t(b)) ^ uint32_t(d);
    p += 3 * lane;
    n -= 3 * lane;
  }
  while (n >= 8) {
    c64 = load_crc(c64, p);
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
  // CRC is linear: crc(A || B) = crc(A) advanced over |B| zero bytes ^ crc(B), the pre-
  // and post-inversions cancelling. Advancing is one multiplication by x^(8|B|) mod p,
  // that power from the squares above: at most 64 multiplications whatever |B| is, where
  // running the register over |B| zeros cost as much as checksumming B twice (RocksDB
  // combines on every write-ahead-log fragment: two thirds of the checksum time on 1 KiB
  // publishes).
  return multiply_mod(x_pow_bytes(len2), crc1) ^ crc2;
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
