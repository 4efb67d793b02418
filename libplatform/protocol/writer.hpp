#pragma once
// Formats server->client MSG/HMSG lines straight into the receiver's outbound buffer,
// so the hot path formats without allocating or copying the line twice:
// "MSG <subject> <sid> [reply] <size>\r\n" or, with header_len >= 0,
// "HMSG <subject> <sid> [reply] <header_len> <total>\r\n".
#include <charconv>
#include <cstring>
#include <string_view>

namespace platform::protocol {

inline size_t decimal_digits(uint64_t v) noexcept {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// The exact length of the line format_msg_line/write_msg_line produce.
inline size_t msg_line_length(std::string_view subject, std::string_view sid, std::string_view reply,
                              int64_t header_len, size_t total) noexcept {
  size_t n = (header_len >= 0 ? 5 : 4) + subject.size() + 1 + sid.size() + 1 + decimal_digits(total) + 2;
  if (!reply.empty()) n += reply.size() + 1;
  if (header_len >= 0) n += decimal_digits(uint64_t(header_len)) + 1;
  return n;
}

// Writes the line at dst (which has msg_line_length() bytes of room); returns the end.
inline char* write_msg_line(char* dst, std::string_view subject, std::string_view sid, std::string_view reply,
                            int64_t header_len, size_t total) noexcept {
  auto put = [&](std::string_view s) {
    std::memcpy(dst, s.data(), s.size());
    dst += s.size();
  };
  if (header_len >= 0) {
    put("HMSG ");
  } else {
    put("MSG ");
  }
  put(subject);
  *dst++ = ' ';
  put(sid);
  *dst++ = ' ';
  if (!reply.empty()) {
    put(reply);
    *dst++ = ' ';
  }
  if (header_len >= 0) {
    dst = std::to_chars(dst, dst + 24, uint64_t(header_len)).ptr;
    *dst++ = ' ';
  }
  dst = std::to_chars(dst, dst + 24, total).ptr;
  *dst++ = '\r';
  *dst++ = '\n';
  return dst;
}

}  // namespace platform::protocol
