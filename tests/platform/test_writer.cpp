#include <catch2/catch.hpp>
#include <string>

#include "libplatform/outbound_buffer.hpp"
#include "libplatform/protocol/writer.hpp"

using namespace platform::protocol;

namespace {
std::string line(std::string_view subject, std::string_view sid, std::string_view reply, int64_t hdr, size_t total) {
  std::string out(msg_line_length(subject, sid, reply, hdr, total), '\0');
  char* end = write_msg_line(out.data(), subject, sid, reply, hdr, total);
  REQUIRE(size_t(end - out.data()) == out.size());  // the length is exact
  return out;
}
}  // namespace

TEST_CASE("MSG and HMSG lines", "[writer]") {
  CHECK(line("foo", "1", "", -1, 5) == "MSG foo 1 5\r\n");
  CHECK(line("foo.bar", "sid9", "_INBOX.x", -1, 0) == "MSG foo.bar sid9 _INBOX.x 0\r\n");
  CHECK(line("h", "2", "", 16, 16) == "HMSG h 2 16 16\r\n");
  CHECK(line("h", "2", "r", 12, 1234567890) == "HMSG h 2 r 12 1234567890\r\n");
  for (size_t v : {0ul, 9ul, 10ul, 99ul, 100ul, 1048576ul, 18446744073709551615ul}) {
    INFO(v);
    CHECK(decimal_digits(v) == std::to_string(v).size());
  }
}

TEST_CASE("a line written in place into the outbound buffer", "[writer][buffer]") {
  platform::outbound_buffer b;
  std::string want;
  for (int i = 0; i < 3000; ++i) {
    std::string subj = "subject." + std::to_string(i);
    size_t n = msg_line_length(subj, "7", "", -1, 3);
    char* start = b.reserve(n + 5);
    char* p = write_msg_line(start, subj, "7", "", -1, 3);
    std::memcpy(p, "abc\r\n", 5);
    b.commit(size_t(p - start) + 5);
    want += "MSG " + subj + " 7 3\r\nabc\r\n";
  }
  std::string got;
  iovec iov[64];
  while (!b.empty()) {
    int n = b.fill_iov(iov, 64);
    size_t taken = 0;
    for (int i = 0; i < n; ++i) {
      got.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
      taken += iov[i].iov_len;
    }
    b.consume(taken);
  }
  CHECK(got == want);
}
