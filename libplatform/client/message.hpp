#pragma once
// A received message and NATS headers (ADR-4): parsing the header block of an HMSG
// and encoding one for HPUB. Plain values, owned by whoever holds them.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libplatform/client/client_error.hpp"

namespace platform::client {

// "NATS/1.0[ <status>[ <description>]]" followed by "Key: Value" lines. Keys keep
// their case and may repeat, so this is an ordered list, not a map.
struct headers {
  int status_code = 0;       // 0 when the block has no status (e.g. 503 = no responders)
  std::string description;   // text after the status code, e.g. "Idle Heartbeat"
  std::vector<std::pair<std::string, std::string>> fields;

  bool empty() const noexcept { return status_code == 0 && fields.empty(); }
  // First value for `key` (exact, case-sensitive like the server), or nullptr.
  const std::string* get(std::string_view key) const noexcept;
  headers& add(std::string key, std::string value) {
    fields.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

struct message {
  std::string subject;
  std::string reply;  // empty when none
  headers header;     // empty for MSG
  std::string payload;
  uint64_t sid = 0;   // subscription that received it
  bool has_headers = false;

  // True for the server's 503 status reply to a request nobody received.
  bool is_no_responders() const noexcept {
    return has_headers && header.status_code == 503 && payload.empty();
  }
};

// Parses a header block as carried by HMSG ("NATS/1.0 ...\r\n...\r\n\r\n").
result<headers> parse_headers(std::string_view block);

// Appends the header block for `h` to `out`. Fails on a key or value that would
// break the framing (CR, LF, or ':' / whitespace in a key).
status encode_headers(const headers& h, std::string& out);

}  // namespace platform::client
