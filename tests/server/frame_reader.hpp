#pragma once
// Reads server frames (MSG, HMSG, PONG, -ERR, ...) from a socket at volume: one buffer
// consumed by offset, so tests that move hundreds of thousands of messages stay
// linear. For raw-protocol tests that count or answer many messages.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testing_support {

struct frame {
  std::string op;  // MSG, HMSG, PONG, PING, -ERR, +OK, INFO
  std::string subject, sid, reply;
  std::string line;     // the whole control line, without CRLF
  std::string headers;  // HMSG only
  std::string payload;
};

class frame_reader {
 public:
  // `chunk` limits each read(); with `pause` between reads it paces a slow reader.
  explicit frame_reader(int fd, size_t chunk = 1 << 16, std::chrono::microseconds pause = {})
      : fd_(fd), chunk_(chunk), pause_(pause) {}

  // The next frame, or nullopt when none completes within `timeout` (or the socket closed).
  std::optional<frame> next(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto f = parse()) return f;
      if (closed_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      fill(left);
    }
  }

  bool closed() const { return closed_; }

 private:
  std::optional<frame> parse() {
    size_t eol = buf_.find("\r\n", pos_);
    if (eol == std::string::npos) return std::nullopt;
    frame f;
    f.line = buf_.substr(pos_, eol - pos_);
    std::istringstream in(f.line);
    std::vector<std::string> t;
    for (std::string w; in >> w;) t.push_back(w);
    if (t.empty()) {
      pos_ = eol + 2;
      return parse();
    }
    f.op = t[0];
    size_t body = eol + 2;
    if (f.op == "MSG" || f.op == "HMSG") {
      bool h = f.op == "HMSG";
      size_t n = t.size();
      size_t total = std::stoul(t[n - 1]);
      size_t hdr = h ? std::stoul(t[n - 2]) : 0;
      f.subject = t[1];
      f.sid = t[2];
      if (n == (h ? 6u : 5u)) f.reply = t[3];
      if (buf_.size() < body + total + 2) return std::nullopt;
      f.headers = buf_.substr(body, hdr);
      f.payload = buf_.substr(body + hdr, total - hdr);
      body += total + 2;
    }
    pos_ = body;
    if (pos_ > (1 << 20)) {  // compact now and then, not per frame
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    return f;
  }

  void fill(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, int(std::min<int64_t>(wait.count(), 50))) <= 0) return;
    std::string tmp(chunk_, '\0');
    ssize_t n = ::read(fd_, tmp.data(), tmp.size());
    if (n <= 0) {
      closed_ = true;
      return;
    }
    buf_.append(tmp.data(), size_t(n));
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
  }

  int fd_;
  size_t chunk_;
  std::chrono::microseconds pause_;
  std::string buf_;
  size_t pos_ = 0;
  bool closed_ = false;
};

}  // namespace testing_support
