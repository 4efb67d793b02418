#pragma once
// RFC 3339 timestamps with nanoseconds in UTC ("2026-12-01T06:23:11.703838123Z"), the
// form NATS puts in JSON events and JetStream metadata.
#include <chrono>
#include <string>

namespace platform {

std::string rfc3339(std::chrono::system_clock::time_point t);
// The same, appended to `out`. Remembers the last second it formatted (per thread), so
// a stream of timestamps (latency reports) only formats the nanoseconds.
void append_rfc3339(std::string& out, std::chrono::system_clock::time_point t);

}  // namespace platform
