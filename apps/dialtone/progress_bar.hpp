#pragma once
// A transfer progress line on stderr for `dialtone obj put/get`: bytes done of the
// total, percentage, rate in MB/s and ETA, redrawn in place (\r) at most 10 times a
// second on a terminal, or printed as plain lines at most once a second otherwise
// (--progress into a log). Used from the transferring thread only.
#include <chrono>
#include <cstdint>
#include <string>

namespace dialtone_cli {

class progress_bar {
 public:
  // `label`, e.g. "put report.pdf"; nothing is drawn unless `enabled`.
  progress_bar(std::string label, bool enabled);
  // `total` 0 = not known (no percentage, no ETA).
  void update(uint64_t done, uint64_t total);
  // Draws the final state and ends the line, so a summary can follow.
  void finish();
  // Seconds since construction.
  double elapsed() const;

 private:
  std::string line(uint64_t done, uint64_t total) const;
  void draw(uint64_t done, uint64_t total);

  std::string label_;
  bool enabled_;
  bool tty_;
  size_t last_width_ = 0;
  uint64_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1.2 s (83.4 MB/s)" for `bytes` moved in `seconds`.
std::string rate_text(uint64_t bytes, double seconds);

}  // namespace dialtone_cli
