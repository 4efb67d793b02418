#pragma once
// A server core that is configured but not started (no listener, no loop threads), an
// I/O loop that the test thread drives by hand (poll()), and sessions on memory
// transports: the protocol session, internal clients and the account registry are
// tested without a socket.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>

#include "actors/client_connection.hpp"
#include "actors/io/event_loop.hpp"
#include "actors/server_core.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/conf_parser.hpp"
#include "memory_transport.hpp"

namespace testing_support {

inline platform::accounts::auth_config auth_from(const std::string& text) {
  if (text.empty()) return {};
  return platform::accounts::load_auth_config(platform::config::parse_string(text));
}

struct session {
  std::shared_ptr<actors::client_connection> conn;
  memory_transport* transport;
  void feed(const std::string& bytes) { conn->feed(bytes.data(), bytes.size()); }
  std::string take() { return transport->take(); }
};

class core_fixture {
 public:
  explicit core_fixture(const std::string& config = "") {
    loop.adopt_current_thread();
    core = std::make_unique<actors::server_core>(opts);
    core->configure(auth_from(config));
  }
  ~core_fixture() {
    for (auto& s : sessions) s->close(actors::close_reason::server_shutdown);
    poll();
  }

  session connect(const std::string& connect_line = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n") {
    auto t = std::make_unique<memory_transport>();
    auto* raw = t.get();
    auto c = std::make_shared<actors::client_connection>(*core, loop, std::move(t), ++next_id);
    c->start();
    sessions.push_back(c);
    session s{c, raw};
    REQUIRE(s.take().rfind("INFO {", 0) == 0);
    if (!connect_line.empty()) s.feed(connect_line);
    return s;
  }
  // Runs what was posted to the loop (closes, flushes asked of the owning loop).
  void poll() {
    loop.context().restart();
    loop.context().poll();
  }

  platform::config::server_options opts;
  std::unique_ptr<actors::server_core> core;
  actors::io::event_loop loop{0};
  std::vector<std::shared_ptr<actors::client_connection>> sessions;
  uint64_t next_id = 0;
};

}  // namespace testing_support
