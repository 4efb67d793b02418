#include <catch2/catch.hpp>
#include <set>

#include "libplatform/random_token.hpp"

TEST_CASE("random tokens use the given alphabet and do not repeat", "[random]") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = platform::random_token(22);
    REQUIRE(t.size() == 22);
    REQUIRE(t.find_first_not_of(platform::base62_alphabet) == std::string::npos);
    seen.insert(t);
  }
  CHECK(seen.size() == 1000);
  auto id = platform::random_token(55, platform::base32_alphabet);
  CHECK(id.find_first_not_of(platform::base32_alphabet) == std::string::npos);
}
