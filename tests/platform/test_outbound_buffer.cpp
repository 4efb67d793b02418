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

TEST_CASE("outbound buffer frees written blocks while it never drains", "[buffer]") {
  // A fast reader of a long stream of big messages: the writer takes a little less than
  // was appended each time, so the buffer is never empty. What it holds must follow
  // what is pending, not everything that went through it (a 1 GiB object get once kept
  // every written 128 KiB block until the end).
  outbound_buffer b;
  const std::string msg(128 * 1024, 'x');
  std::string out;
  size_t appended = 0, peak_held = 0;
  for (int i = 0; i < 2100; ++i) {  // over 256 MiB through the buffer
    b.append3("MSG a 1 131072\r\n", msg, "\r\n");
    appended += msg.size() + 18;
    // Write all but 1000 bytes, in one writev of up to 64 iovecs, as a socket would.
    size_t want = b.size() - 1000, took = 0;
    iovec iov[64];
    int n = b.fill_iov(iov, 64);
    for (int k = 0; k < n && took < want; ++k) took += std::min(want - took, iov[k].iov_len);
    b.consume(took);
    REQUIRE(b.size() == 1000);
    peak_held = std::max(peak_held, b.held_bytes());
  }
  CHECK(appended > 256u * 1024 * 1024);
  CHECK(peak_held < 2 * (msg.size() + 18) + outbound_buffer::max_block);
  drain(b, 4096);
  CHECK(b.held_bytes() == 0);
}
