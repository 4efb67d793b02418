#pragma once
// CRC-32C (Castagnoli) as RocksDB computes it, with the CPU's crc32 instruction when
// it has SSE 4.2. crc32c.cpp also gives RocksDB these functions in place of its own
// table-driven ones (see there). Thread-safe: pure functions.
#include <cstddef>
#include <cstdint>

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
