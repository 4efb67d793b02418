#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>
#include <vector>

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

TEST_CASE("random_below stays in range and hits every value about equally often", "[random]") {
  CHECK(platform::random_below(0) == 0);
  for (int i = 0; i < 100; ++i) REQUIRE(platform::random_below(1) == 0);
  for (uint32_t n : {3u, 7u, 100u}) {
    INFO(n);
    const size_t per_value = 10000;
    std::map<uint32_t, size_t> seen;
    for (size_t i = 0; i < per_value * n; ++i) {
      uint32_t v = platform::random_below(n);
      REQUIRE(v < n);
      ++seen[v];
    }
    REQUIRE(seen.size() == n);
    for (auto [v, count] : seen) {
      INFO(v);
      // A standard deviation is about 100: 5 % is 5 of them.
      CHECK(count > per_value * 95 / 100);
      CHECK(count < per_value * 105 / 100);
    }
  }
  // Near the top of the range, where rejection matters.
  const uint32_t big = 0xC0000000u;
  for (int i = 0; i < 1000; ++i) REQUIRE(platform::random_below(big) < big);
}

TEST_CASE("random_percent is true in about that share of calls", "[random]") {
  for (int i = 0; i < 1000; ++i) {
    REQUIRE_FALSE(platform::random_percent(0));
    REQUIRE_FALSE(platform::random_percent(-5));
    REQUIRE(platform::random_percent(100));
    REQUIRE(platform::random_percent(150));
  }
  size_t yes = 0;
  for (int i = 0; i < 100000; ++i) yes += platform::random_percent(30);
  CHECK(yes > 29000);
  CHECK(yes < 31000);
}

TEST_CASE("each thread has its own random sequence", "[random]") {
  auto draw = [] {
    std::vector<uint64_t> v;
    for (int i = 0; i < 4; ++i) v.push_back(platform::fast_random());
    return v;
  };
  std::vector<uint64_t> a, b;
  std::thread t1([&] { a = draw(); });
  std::thread t2([&] { b = draw(); });
  t1.join();
  t2.join();
  CHECK(a != b);
  CHECK(std::set<uint64_t>(a.begin(), a.end()).size() == a.size());
}
