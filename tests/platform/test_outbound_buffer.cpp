#include <catch2/catch.hpp>
#include <string>

#include "libplatform/outbound_buffer.hpp"

using platform::outbound_buffer;

namespace {
std::string drain(outbound_buffer& b, size_t step) {
  std::string out;
  while (!b.empty()) {
    iovec iov[4];
    int n = b.fill_iov(iov, 4);
    size_t take = 0;
    for (int i = 0; i < n && take < step; ++i) {
      size_t k = std::min(step - take, iov[i].iov_len);
      out.append(static_cast<char*>(iov[i].iov_base), k);
      take += k;
    }
    b.consume(take);
  }
  return out;
}
}  // namespace

TEST_CASE("outbound buffer keeps order across blocks and partial writes", "[buffer]") {
  outbound_buffer b;
  std::string want;
  for (int i = 0; i < 5000; ++i) {
    std::string head = "MSG s " + std::to_string(i) + " 3\r\n";
    b.append3(head, "abc", "\r\n");
    want += head + "abc\r\n";
  }
  std::string big(200000, 'z');
  b.append(big);
  want += big;
  CHECK(b.size() == want.size());
  CHECK(drain(b, 777) == want);
  CHECK(b.empty());
  CHECK(b.size() == 0);
}
