// See progress_bar.hpp.
#include "progress_bar.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli_util.hpp"

namespace dialtone_cli {

namespace {

std::string eta_text(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--:--";
  long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

std::string rate_text(uint64_t bytes, double seconds) {
  char buf[64];
  double mbs = seconds > 0 ? double(bytes) / 1e6 / seconds : 0;
  std::snprintf(buf, sizeof buf, seconds < 10 ? "%.2f s (%.1f MB/s)" : "%.1f s (%.1f MB/s)", seconds, mbs);
  return buf;
}

progress_bar::progress_bar(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double progress_bar::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string progress_bar::line(uint64_t done, uint64_t total) const {
  double secs = elapsed();
  double rate = secs > 0 ? double(done) / secs : 0;  // bytes per second
  std::string out = label_ + "  " + format_bytes(done);
  char buf[96];
  if (total > 0) {
    out += " / " + format_bytes(total);
    std::snprintf(buf, sizeof buf, "  %3d%%", int(100.0 * double(done) / double(total)));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "  %.1f MB/s", rate / 1e6);
  out += buf;
  if (total > 0 && done < total) out += "  ETA " + (rate > 0 ? eta_text(double(total - done) / rate) : "--:--");
  return out;
}

void progress_bar::draw(uint64_t done, uint64_t total) {
  std::string text = line(done, total);
  if (tty_) {
    size_t width = display_width(text);
    std::string pad = last_width_ > width ? std::string(last_width_ - width, ' ') : "";
    std::cerr << '\r' << text << pad << std::flush;
    last_width_ = width;
  } else {
    std::cerr << text << '\n' << std::flush;
  }
  last_draw_ = std::chrono::steady_clock::now();
}

void progress_bar::update(uint64_t done, uint64_t total) {
  done_ = done;
  total_ = total;
  if (!enabled_) return;
  auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
  if (std::chrono::steady_clock::now() - last_draw_ >= every) draw(done, total);
}

void progress_bar::finish() {
  if (!enabled_) return;
  draw(done_, total_);  // the final state, however fast it went
  if (tty_) std::cerr << '\n' << std::flush;
}

}  // namespace dialtone_cli
