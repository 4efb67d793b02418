#include "libplatform/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace platform {

void append_rfc3339(std::string& out, std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = time_t(ns / 1000000000);
  long frac = long(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  // "YYYY-MM-DDTHH:MM:SS" of the last second formatted on this thread.
  thread_local time_t cached_secs = -1;
  thread_local char cached[32];
  thread_local int cached_len = 0;
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    cached_len = std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  out.append(cached, size_t(cached_len));
  char digits[11] = {'.'};
  for (int i = 9; i >= 1; --i) {
    digits[i] = char('0' + frac % 10);
    frac /= 10;
  }
  digits[10] = 'Z';
  out.append(digits, sizeof digits);
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::string s;
  s.reserve(32);
  append_rfc3339(s, t);
  return s;
}

}  // namespace platform
