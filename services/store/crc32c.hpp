#pragma once
// CRC-32C (Castagnoli) as RocksDB computes it, with the CPU's crc32 instruction when
// it has SSE 4.2. crc32c.cpp also gives RocksDB these functions in place of its own
// table-driven ones (see there). Thread-safe: pure functions.
#include <cstddef>
#include <cstdint>
#include <string>

namespace store::crc32c {

// The CRC-32C of `data` appended to bytes whose CRC-32C is `crc` (0 to start).
uint32_t extend(uint32_t crc, const char* data, size_t n);
// The same with the byte table, whatever the CPU (for tests).
uint32_t extend_table(uint32_t crc, const char* data, size_t n);
// The CRC-32C of A || B from crc(A), crc(B) and |B|.
uint32_t combine(uint32_t crc1, uint32_t crc2, size_t len2);
// Whether extend() uses the crc32 instruction. open_rocks_store calls it (and logs
// the answer), which is what links crc32c.cpp, and its definitions of RocksDB's
// functions with it, before librocksdb.a is searched.
bool hardware();

}  // namespace store::crc32c

// RocksDB's own CRC functions (its util/crc32c.h, which Debian does not install),
// defined by crc32c.cpp in place of RocksDB's.
namespace rocksdb::crc32c {
std::string IsFastCrc32Supported();
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
uint32_t Crc32cCombine(uint32_t crc1, uint32_t crc2, size_t crc2len);
}  // namespace rocksdb::crc32c
