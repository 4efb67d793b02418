// RFC 3339 timestamps as NATS writes them: UTC, nanoseconds, 'Z'.
#include <catch2/catch.hpp>
#include <chrono>

#include "libplatform/time_format.hpp"

using namespace std::chrono;

TEST_CASE("rfc3339 formats UTC with nanoseconds; consecutive seconds reuse nothing stale", "[time]") {
  // 2026-12-04T14:03:05Z = 1796392985 s since the epoch.
  system_clock::time_point t{duration_cast<system_clock::duration>(seconds(1796392985) + nanoseconds(7))};
  CHECK(platform::rfc3339(t) == "2026-12-04T14:03:05.000000007Z");
  CHECK(platform::rfc3339(t + milliseconds(1500)) == "2026-12-04T14:03:06.500000007Z");
  CHECK(platform::rfc3339(t) == "2026-12-04T14:03:05.000000007Z");  // back to the earlier second
  CHECK(platform::rfc3339(system_clock::time_point{}) == "1970-01-01T00:00:00.000000000Z");
  std::string s = "at ";
  platform::append_rfc3339(s, t + hours(24 * 365));
  CHECK(s == "at 2027-12-04T14:03:05.000000007Z");
}
