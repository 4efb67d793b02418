#include <catch2/catch.hpp>
#include <map>
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

TEST_CASE("append_random_token appends to what is there", "[random]") {
  std::string s = "_INBOX.";
  platform::append_random_token(s, 22);
  REQUIRE(s.size() == 29);
  CHECK(s.rfind("_INBOX.", 0) == 0);
  for (char c : s.substr(7)) CHECK(platform::base62_alphabet.find(c) != std::string_view::npos);
}

TEST_CASE("random tokens draw every character of the alphabet about equally often", "[random]") {
  for (std::string_view alphabet : {platform::base62_alphabet, platform::base32_alphabet, std::string_view("abc")}) {
    INFO(alphabet);
    const size_t per_char = 20000;
    auto t = platform::random_token(per_char * alphabet.size(), alphabet);
    std::map<char, size_t> n;
    for (char c : t) ++n[c];
    REQUIRE(n.size() == alphabet.size());
    for (auto [c, count] : n) {
      INFO(c);
      // 20,000 expected; a standard deviation is about 140, so 5 % is over 7 of them.
      CHECK(count > per_char * 95 / 100);
      CHECK(count < per_char * 105 / 100);
    }
  }
}
