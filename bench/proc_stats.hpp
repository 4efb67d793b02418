// Readings of another process on this machine from /proc: the server's resident
// memory and CPU time, for the scenarios given --server-pid. Linux only.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace dialtone::bench {

// VmRSS of `pid` in KiB, or -1.
inline double read_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  return -1;
}

// CPU seconds `pid` has run, summed over all its threads, or -1. Read from each
// thread's schedstat (nanoseconds), so short intervals measure well; threads that
// exit in between take their time with them, which the servers' long-lived I/O
// threads do not.
inline double read_cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  double total_ns = 0;
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(task.path() / "schedstat");
    double run_ns = 0;
    if (in >> run_ns) {
      total_ns += run_ns;
      any = true;
    }
  }
  return any ? total_ns / 1e9 : -1;
}

} // namespace dialtone::bench
