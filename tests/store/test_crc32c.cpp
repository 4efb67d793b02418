// The CRC-32C that RocksDB uses in this build (services/store/crc32c.cpp replaces
// RocksDB's table-driven one): it must give exactly the standard CRC-32C, or a store
// written by another build (or by RocksDB's own code) would fail its checksums.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include "services/store/crc32c.hpp"

namespace {

// Bit by bit, straight from the definition: the reference the others are held to.
uint32_t reference(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
  }
  return c ^ 0xffffffffu;
}

uint32_t rocks(const std::string& s) { return rocksdb::crc32c::Extend(0, s.data(), s.size()); }

}  // namespace

TEST_CASE("CRC-32C matches the published vectors", "[crc32c]") {
  CHECK(rocks("123456789") == 0xE3069283u);
  // RFC 3720 (iSCSI), appendix B.4.
  CHECK(rocks(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(rocks(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(char(i));
    down.push_back(char(31 - i));
  }
  CHECK(rocks(up) == 0x46DD794Eu);
  CHECK(rocks(down) == 0x113FDB5Cu);
  CHECK(rocks("") == 0u);
}

TEST_CASE("CRC-32C: every length and offset agrees with the bitwise reference", "[crc32c]") {
  std::mt19937_64 rng(20261205);
  // Up to 12 KiB: none to eight of the three-way blocks (1536 bytes) and every remainder.
  std::string buf(12288 + 64, '\0');
  for (auto& c : buf) c = char(rng());
  for (int round = 0; round < 2000; ++round) {
    size_t off = rng() % 64, len = rng() % 12289;
    std::string s = buf.substr(off, len);
    uint32_t want = reference(s);
    REQUIRE(rocks(s) == want);
    REQUIRE(store::crc32c::extend_table(0, s.data(), s.size()) == want);
    // In pieces, as RocksDB extends a record's checksum over its parts.
    size_t cut = len == 0 ? 0 : rng() % (len + 1);
    uint32_t first = rocksdb::crc32c::Extend(0, s.data(), cut);
    REQUIRE(rocksdb::crc32c::Extend(first, s.data() + cut, len - cut) == want);
    uint32_t second = rocksdb::crc32c::Extend(0, s.data() + cut, len - cut);
    REQUIRE(rocksdb::crc32c::Crc32cCombine(first, second, len - cut) == want);
  }
}

TEST_CASE("CRC-32C: a long combine crosses the zero buffer", "[crc32c]") {
  std::string a(1000, 'a'), b(10000, 'b');
  uint32_t ca = rocks(a), cb = rocks(b);
  CHECK(rocksdb::crc32c::Crc32cCombine(ca, cb, b.size()) == reference(a + b));
}
