// The live account registry: accounts created, kept, rewired and removed at run time.
#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace testing_support;

namespace {

const char* two_accounts = R"(
  accounts {
    A { users = [ { user: a, password: a } ], exports = [ { stream: "news.>" }, { service: "svc.>" } ] }
    B { users = [ { user: b, password: b } ], imports = [ { stream: { account: A, subject: "news.>" } } ] }
  }
)";

const char* without_import = R"(
  accounts {
    A { users = [ { user: a, password: a } ], exports = [ { stream: "news.>" }, { service: "svc.>" } ] }
    B { users = [ { user: b, password: b } ] }
    C { users = [ { user: c, password: c } ] }
  }
)";

std::string login(const char* user) {
  return std::string("CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"") + user + "\",\"pass\":\"" + user +
         "\"}\r\n";
}

}  // namespace

TEST_CASE("registry: accounts are kept, added and removed by a new configuration", "[registry]") {
  core_fixture f(two_accounts);
  auto& reg = f.core->accounts();
  auto a = reg.find("A");
  REQUIRE(a);
  REQUIRE(reg.find("B"));
  CHECK_FALSE(reg.find("C"));
  auto changes = f.core->configure(auth_from(without_import));
  CHECK(reg.find("A") == a);  // kept: the same object, with its subscriptions
  REQUIRE(reg.find("C"));
  CHECK(changes.added.size() == 1);
  CHECK(changes.removed.empty());
  // The new account's users log in.
  auto c = f.connect(login("c"));
  CHECK(c.conn->logged_in());
  CHECK(&c.conn->acc() == reg.find("C").get());

  auto removed = f.core->configure(auth_from(two_accounts));
  REQUIRE(removed.removed.size() == 1);
  CHECK(removed.removed[0]->name() == "C");
  CHECK_FALSE(reg.find("C"));
  auto again = f.connect(login("c"));
  CHECK(again.take() == "-ERR 'Authorization Violation'\r\n");
}

TEST_CASE("registry: a stream import is rewired and unwired at run time", "[registry]") {
  core_fixture f(two_accounts);
  auto a = f.connect(login("a"));
  auto b = f.connect(login("b"));
  b.feed("SUB news.> 1\r\n");
  a.feed("PUB news.x 2\r\nhi\r\n");
  CHECK(b.take() == "MSG news.x 1 2\r\nhi\r\n");

  auto changes = f.core->configure(auth_from(without_import));
  CHECK(std::find(changes.rewired.begin(), changes.rewired.end(), "B") != changes.rewired.end());
  a.feed("PUB news.x 2\r\nhi\r\n");
  b.feed("PING\r\n");
  CHECK(b.take() == "PONG\r\n");  // the import is gone; B's own subscription stays

  f.core->configure(auth_from(two_accounts));
  a.feed("PUB news.y 3\r\nyes\r\n");
  CHECK(b.take() == "MSG news.y 1 3\r\nyes\r\n");
}

TEST_CASE("registry: an exporter that changes rebuilds its importers' wiring", "[registry]") {
  core_fixture f(R"(
    accounts {
      A { users = [ { user: a, password: a } ], exports = [ { service: "svc.>" } ] }
      B { users = [ { user: b, password: b } ], imports = [ { service: { account: A, subject: "svc.q" } } ] }
    }
  )");
  auto changes = f.core->configure(auth_from(R"(
    accounts {
      A { users = [ { user: a, password: a } ], exports = [ { service: "svc.>", response: stream } ] }
      B { users = [ { user: b, password: b } ], imports = [ { service: { account: A, subject: "svc.q" } } ] }
    }
  )"));
  std::sort(changes.rewired.begin(), changes.rewired.end());
  CHECK(changes.rewired == std::vector<std::string>{"A", "B"});
  // The rebuilt service import works, with the new response type: several answers.
  auto a = f.connect(login("a"));
  auto b = f.connect(login("b"));
  a.feed("SUB svc.q 1\r\n");
  b.feed("SUB _INBOX.r 9\r\nPUB svc.q _INBOX.r 1\r\n?\r\n");
  auto req = a.take();
  REQUIRE(req.rfind("MSG svc.q 1 _R_.", 0) == 0);
  auto reply = req.substr(12, req.find(' ', 12) - 12);  // "MSG svc.q 1 <reply> 1"
  a.feed("PUB " + reply + " 1\r\n1\r\nPUB " + reply + " 1\r\n2\r\n");
  CHECK(b.take() == "MSG _INBOX.r 9 1\r\n1\r\nMSG _INBOX.r 9 1\r\n2\r\n");
}

TEST_CASE("registry: nothing refers to a removed account but what keeps it alive", "[registry]") {
  core_fixture f(without_import);
  std::weak_ptr<actors::account> c = f.core->accounts().find("C");
  REQUIRE_FALSE(c.expired());
  {
    auto s = f.connect(login("c"));
    f.core->configure(auth_from(two_accounts));
    CHECK_FALSE(c.expired());  // its client (until the loop revokes it) still holds it
    s.conn->revoke();
    CHECK(s.take() == "-ERR 'Authorization Violation'\r\n");
    f.sessions.clear();
  }
  CHECK(c.expired());
}
