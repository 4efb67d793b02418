#include "libplatform/client/server_url.hpp"

#include <charconv>

namespace platform::client {

namespace {

status bad_url(std::string_view url, std::string_view why) {
  return status{errc::invalid_url,
                "invalid server URL \"" + redact_url(url) + "\": " + std::string(why)};
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string server_url::endpoint() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<server_url> parse_server_url(std::string_view url) {
  std::string_view rest = url;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty()) return bad_url(url, "empty");

  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    std::string_view scheme = rest.substr(0, sep);
    if (iequals(scheme, "tls") || iequals(scheme, "wss") || iequals(scheme, "ws")) {
      return bad_url(url, std::string(scheme) + ":// is not supported");
    }
    if (!iequals(scheme, "nats")) return bad_url(url, "scheme must be nats://");
    rest.remove_prefix(sep + 3);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad_url(url, "unexpected path");

  server_url out;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    bool ok;
    if (size_t colon = info.find(':'); colon != std::string_view::npos) {
      ok = percent_decode(info.substr(0, colon), out.user) &&
           percent_decode(info.substr(colon + 1), out.pass);
      if (ok && out.user.empty()) return bad_url(url, "empty user name");
    } else {
      ok = percent_decode(info, out.token);
      if (ok && out.token.empty()) return bad_url(url, "empty token");
    }
    if (!ok) return bad_url(url, "bad %-escape in user info");
  }

  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad_url(url, "missing ']'");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url(url, "junk after ']'");
      port = after.substr(1);
      if (port.empty()) return bad_url(url, "empty port");
    }
  } else if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    if (rest.find(':', colon + 1) == std::string_view::npos) {  // else a bare IPv6 address
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return bad_url(url, "empty port");
    }
  }
  if (host.empty()) return bad_url(url, "missing host");
  for (char c : host)
    if (c == ' ' || c == '\t' || c == '@' || c == '[' || c == ']')
      return bad_url(url, "bad host");
  out.host = std::string(host);

  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return bad_url(url, "bad port \"" + std::string(port) + "\"");
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

std::string redact_url(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string_view info = url.substr(start, at - start);
  size_t colon = info.find(':');
  std::string out(url.substr(0, start));
  if (colon != std::string_view::npos) {
    out.append(info.substr(0, colon)).append(":***");
  } else {
    out.append("***");
  }
  out.append(url.substr(at));
  return out;
}

}  // namespace platform::client
