// An internal client owned by an actor of its own (control_plane::start_internal_client):
// the path a service takes (actors/README.md).
#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "actors/control_plane_actors.hpp"
#include "actors/internal_client.hpp"
#include "fixture.hpp"

using namespace testing_support;
using actors::inbound_msg;
using actors::internal_client;

TEST_CASE("internal client on its own actor: an echo service answers through the loop", "[internal]") {
  core_fixture f;
  caf::actor_system_config cfg;
  // As the server configures it (apps/dialtone-server/main.cpp): work sharing, whose
  // queue hand-offs ThreadSanitizer can see (work stealing's deque it cannot).
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{cfg};
  auto cp = actors::make_actor_control_plane(sys, caf::actor{}, "test", "NTEST", {});
  auto echo = std::make_shared<internal_client>(actors::receiver::kind::service, f.core->global_account(), "echo");
  cp->start_internal_client(echo);
  std::atomic<int> handled{0};
  echo->subscribe("echo.>", [&](internal_client& c, const inbound_msg& m) {
    if (!m.reply.empty()) c.publish(m.reply, {}, "NATS/1.0\r\nX-Echo: yes\r\n\r\n", m.payload());
    handled++;
  });
  auto s = f.connect();
  s.feed("SUB _INBOX.1 1\r\nPUB echo.a _INBOX.1 2\r\nhi\r\nPUB echo.b _INBOX.1 3\r\nyou\r\n");
  // The actor drains on its own thread; its answers are flushed by the session's loop
  // (this thread: poll()).
  std::string got;
  for (int i = 0; i < 500 && got.find("you\r\n") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    f.poll();
    got += s.take();
  }
  CHECK(handled.load() == 2);
  CHECK(got == "HMSG _INBOX.1 1 25 27\r\nNATS/1.0\r\nX-Echo: yes\r\n\r\nhi\r\n"
               "HMSG _INBOX.1 1 25 28\r\nNATS/1.0\r\nX-Echo: yes\r\n\r\nyou\r\n");
  echo->close();  // unsubscribes and stops the actor
  s.feed("PUB echo.c _INBOX.1 1\r\nx\r\n");
  CHECK(echo->inbox_size() == 0);
}
