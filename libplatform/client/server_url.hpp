#pragma once
// Server addresses as users write them: "nats://user:pass@host:port",
// "nats://token@host:port", "host:port", "host" or "[::1]:4222". Pure functions.
#include <cstdint>
#include <string>
#include <string_view>

#include "libplatform/client/client_error.hpp"

namespace platform::client {

constexpr uint16_t default_port = 4222;

struct server_url {
  std::string host;  // without IPv6 brackets
  uint16_t port = default_port;
  std::string user;  // user/pass, or token alone (user and pass empty)
  std::string pass;
  std::string token;

  // "host:port" ("[::1]:4222" for IPv6), for messages.
  std::string endpoint() const;
};

// Parses `url`; user info is percent-decoded. Only the nats:// scheme is accepted.
result<server_url> parse_server_url(std::string_view url);

// `url` with any password or token replaced by "***", safe to print.
std::string redact_url(std::string_view url);

}  // namespace platform::client
