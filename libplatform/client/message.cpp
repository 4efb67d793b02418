#include "libplatform/client/message.hpp"

#include <charconv>

namespace platform::client {

namespace {

constexpr std::string_view version_line = "NATS/1.0";

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits off the next line; accepts "\r\n" or a bare "\n".
bool next_line(std::string_view& rest, std::string_view& line) noexcept {
  if (rest.empty()) return false;
  size_t nl = rest.find('\n');
  line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

status bad_header(std::string what) {
  return status{errc::invalid_argument, "invalid header: " + std::move(what)};
}

}  // namespace

const std::string* headers::get(std::string_view key) const noexcept {
  for (const auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

result<headers> parse_headers(std::string_view block) {
  headers h;
  std::string_view rest = block, line;
  if (!next_line(rest, line) || line.substr(0, version_line.size()) != version_line) {
    return status{errc::protocol_error, "protocol error: header block without NATS/1.0"};
  }
  std::string_view status_part = trim(line.substr(version_line.size()));
  if (!status_part.empty()) {
    size_t sp = status_part.find_first_of(" \t");
    std::string_view code = status_part.substr(0, sp);
    int value = 0;
    auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
    if (ec != std::errc{} || ptr != code.data() + code.size()) {
      return status{errc::protocol_error, "protocol error: bad header status"};
    }
    h.status_code = value;
    if (sp != std::string_view::npos) h.description = std::string(trim(status_part.substr(sp)));
  }
  while (next_line(rest, line)) {
    if (line.empty()) break;  // the blank line that ends the block
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;  // tolerate junk lines
    h.add(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  return h;
}

status encode_headers(const headers& h, std::string& out) {
  for (const auto& [k, v] : h.fields) {
    if (k.empty()) return bad_header("empty key");
    for (char c : k)
      if (c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
        return bad_header("key \"" + k + "\"");
    for (char c : v)
      if (c == '\r' || c == '\n') return bad_header("value of \"" + k + "\" has a line break");
  }
  for (char c : h.description)
    if (c == '\r' || c == '\n') return bad_header("status description has a line break");

  out.append(version_line);
  if (h.status_code != 0) {
    out.push_back(' ');
    out.append(std::to_string(h.status_code));
    if (!h.description.empty()) out.append(" ").append(h.description);
  }
  out.append("\r\n");
  for (const auto& [k, v] : h.fields) out.append(k).append(": ").append(v).append("\r\n");
  out.append("\r\n");
  return status{};
}

}  // namespace platform::client
