#pragma once
// Formats server->client control lines (MSG/HMSG headers) into a caller's stack buffer,
// so the hot path formats without allocating.
#include <charconv>
#include <cstring>
#include <string_view>

namespace platform::protocol {

// Large enough for "HMSG " + subject + reply (both from one PUB line) + sid (from one SUB
// line) + two sizes with the default 4 KiB max_control_line. With a larger configured
// limit a line may not fit: overflow is set and the caller must handle it.
struct line_buffer {
  char data[8448];
  size_t len = 0;
  bool overflow = false;
  void put(std::string_view s) noexcept {
    if (len + s.size() > sizeof(data)) {
      overflow = true;
      return;
    }
    std::memcpy(data + len, s.data(), s.size());
    len += s.size();
  }
  void put(char c) noexcept {
    if (len + 1 > sizeof(data)) {
      overflow = true;
      return;
    }
    data[len++] = c;
  }
  void put_uint(uint64_t v) noexcept {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
    put(std::string_view(tmp, size_t(r.ptr - tmp)));
  }
  std::string_view view() const noexcept { return {data, len}; }
};

// "MSG <subject> <sid> [reply] <size>\r\n" or, with header_len >= 0,
// "HMSG <subject> <sid> [reply] <header_len> <total>\r\n".
inline void format_msg_line(line_buffer& b, std::string_view subject, std::string_view sid,
                            std::string_view reply, int64_t header_len, size_t total) noexcept {
  b.len = 0;
  b.overflow = false;
  b.put(header_len >= 0 ? std::string_view("HMSG ") : std::string_view("MSG "));
  b.put(subject);
  b.put(' ');
  b.put(sid);
  b.put(' ');
  if (!reply.empty()) {
    b.put(reply);
    b.put(' ');
  }
  if (header_len >= 0) {
    b.put_uint(uint64_t(header_len));
    b.put(' ');
  }
  b.put_uint(total);
  b.put("\r\n");
}

}  // namespace platform::protocol
