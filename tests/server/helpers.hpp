#pragma once
// Shared steps of the raw-protocol tests (need Catch2 for REQUIRE).
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "server_process.hpp"

namespace testing_support {

inline const std::string quiet_connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";

inline std::string connect_as(const std::string& user, const std::string& pass) {
  return "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"user\":\"" + user +
         "\",\"pass\":\"" + pass + "\"}\r\n";
}

// Connects, skips INFO, sends CONNECT (quiet unless given) and syncs with PING/PONG.
inline std::unique_ptr<raw_client> connect(server_process& s, const std::string& connect_line = quiet_connect) {
  auto c = std::make_unique<raw_client>(s.port());
  auto info = c->read_until("\r\n");
  REQUIRE(info.rfind("INFO {", 0) == 0);
  c->send(connect_line + "PING\r\n");
  auto r = c->read_until("PONG\r\n");
  INFO("received: " << r);
  REQUIRE(r.find("PONG\r\n") != std::string::npos);
  return c;
}

// PING/PONG round trip: everything sent before was processed. Returns what arrived
// before the PONG (messages are not lost by syncing).
inline std::string sync(raw_client& c) {
  c.send("PING\r\n");
  auto got = c.read_until("PONG\r\n");
  INFO("received: " << got);
  REQUIRE(got.size() >= 6);
  REQUIRE(got.substr(got.size() - 6) == "PONG\r\n");
  return got.substr(0, got.size() - 6);
}

}  // namespace testing_support
