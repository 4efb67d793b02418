// Accounts and users change at run time: the configuration file is edited and the
// server gets SIGHUP (as with nats-server). Connected clients of accounts that stay are
// untouched; clients whose account or user went are disconnected; new accounts and
// their imports work at once; a broken file changes nothing.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "helpers.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

const std::string before = R"(
accounts {
  A {
    users = [ {user: a, password: pa} ]
    exports = [ {stream: "news.>"}, {service: "svc.>"} ]
  }
  B {
    users = [ {user: b, password: pb} ]
    imports = [ {stream: {account: A, subject: "news.>"}} ]
  }
}
)";

// B goes; C arrives with a service import and a stream import from A; A is unchanged.
const std::string after = R"(
accounts {
  A {
    users = [ {user: a, password: pa} ]
    exports = [ {stream: "news.>"}, {service: "svc.>"} ]
  }
  C {
    users = [ {user: c, password: pc} ]
    imports = [
      {service: {account: A, subject: "svc.time"}, to: "time"}
      {stream: {account: A, subject: "news.>"}, prefix: "a"}
    ]
  }
}
)";

}  // namespace

TEST_CASE("reload: accounts are added and removed at run time with connected clients", "[reload]") {
  auto path = write_temp_file("reload_accounts.conf", before);
  server_process s({"-c", path});
  auto a = connect(s, connect_as("a", "pa"));
  auto b = connect(s, connect_as("b", "pb"));
  b->send("SUB a.> 9\r\nSUB news.> 1\r\n");
  sync(*b);
  a->send("SUB svc.time 2\r\nPUB news.x 2\r\nhi\r\n");
  sync(*a);
  CHECK(b->read_until("hi\r\n").find("MSG news.x 1 2\r\nhi\r\n") != std::string::npos);

  reload_config(s, path, after, 1);
  INFO(s.log());
  CHECK(s.log().find("Reloaded " + path + ": 1 account(s) added, 1 removed") != std::string::npos);
  // B's client is told and disconnected; B's users cannot log in any more.
  CHECK(b->read_until("\r\n").find("-ERR 'Authorization Violation'") != std::string::npos);
  CHECK(b->closed_by_server());
  {
    raw_client again(s.port());
    again.read_until("\r\n");
    again.send(connect_as("b", "pb"));
    CHECK(again.read_until("\r\n").find("-ERR 'Authorization Violation'") != std::string::npos);
  }
  // A's client never noticed: same connection, same subscriptions.
  a->send("PUB svc.time 3\r\nnow\r\n");
  CHECK(a->read_until("now\r\n").find("MSG svc.time 2 3\r\nnow\r\n") != std::string::npos);

  // C's user logs in, and C's imports from A work: a request to A's responder that
  // subscribed before the reload, and A's stream under C's prefix.
  auto c = connect(s, connect_as("c", "pc"));
  c->send("SUB _INBOX.c 5\r\nSUB a.news.> 6\r\nPUB time _INBOX.c 1\r\n?\r\n");
  auto req = a->read_until("?\r\n");
  auto at = req.find("MSG svc.time 2 _R_.");
  REQUIRE(at != std::string::npos);
  auto reply = req.substr(at + 15, req.find(' ', at + 15) - (at + 15));
  a->send("PUB " + reply + " 5\r\n12:00\r\nPUB news.y 3\r\nnew\r\n");
  auto got = c->read_until("new\r\n");
  CHECK(got.find("MSG _INBOX.c 5 5\r\n12:00\r\n") != std::string::npos);
  CHECK(got.find("MSG a.news.y 6 3\r\nnew\r\n") != std::string::npos);
}

TEST_CASE("reload: a broken file changes nothing and says why", "[reload]") {
  auto path = write_temp_file("reload_broken.conf", before);
  server_process s({"-c", path});
  auto b = connect(s, connect_as("b", "pb"));
  reload_config(s, path, "accounts { A { users = [ {user: a, password: pa} ] }\n  B { imports = [ {stream: {account: Z, subject: \"x\"}} ] } }\n", 1);
  CHECK(s.log().find("Reload failed, the running configuration is unchanged: configuration error") !=
        std::string::npos);
  sync(*b);  // still connected, still in B
  auto again = connect(s, connect_as("b", "pb"));
  sync(*again);
}

TEST_CASE("reload: a user whose password changed is disconnected, the others stay", "[reload]") {
  auto path = write_temp_file("reload_users.conf", "authorization { users = [ {user: u, password: one}, {user: v, password: same} ] }\n");
  server_process s({"-c", path});
  auto u = connect(s, connect_as("u", "one"));
  auto v = connect(s, connect_as("v", "same"));
  reload_config(s, path, "authorization { users = [ {user: u, password: two}, {user: v, password: same} ] }\n", 1);
  CHECK(u->read_until("\r\n").find("-ERR 'Authorization Violation'") != std::string::npos);
  CHECK(u->closed_by_server());
  sync(*v);
  auto u2 = connect(s, connect_as("u", "two"));
  sync(*u2);
}

TEST_CASE("reload: an account's JetStream is switched on and off, its streams kept", "[reload][jetstream]") {
  const std::string off = "accounts { A { users = [ {user: a, password: pa} ] } }\n";
  const std::string on = "accounts { A { users = [ {user: a, password: pa} ], jetstream: enabled } }\n";
  auto path = write_temp_file("reload_js.conf", off);
  temp_dir store;
  server_process s({"-c", path, "-js", "-sd", store.path});
  auto a = connect(s, connect_as("a", "pa"));
  a->send("SUB _INBOX.r 1\r\n");
  auto ask = [&](const std::string& subject, const std::string& body) {
    a->send("PUB " + subject + " _INBOX.r " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
    auto got = a->read_until("}\r\n");
    INFO(got);
    REQUIRE(got.find("MSG _INBOX.r 1 ") != std::string::npos);
    return got;
  };
  CHECK(ask("$JS.API.INFO", "").find("\"err_code\":10039") != std::string::npos);

  reload_config(s, path, on, 1);
  CHECK(ask("$JS.API.INFO", "").find("\"streams\":0") != std::string::npos);
  CHECK(ask("$JS.API.STREAM.CREATE.S", R"({"name":"S","subjects":["s.>"]})").find("\"did_create\":true") !=
        std::string::npos);
  CHECK(ask("s.one", "hello").find("{\"stream\":\"S\",\"seq\":1}") != std::string::npos);

  // Off again: the API answers "not enabled" and the stream captures nothing.
  reload_config(s, path, off, 2);
  CHECK(ask("$JS.API.INFO", "").find("\"err_code\":10039") != std::string::npos);
  // On again: the stream and its message are still there, and sequences go on.
  reload_config(s, path, on, 3);
  CHECK(ask("$JS.API.STREAM.INFO.S", "").find("\"messages\":1,") != std::string::npos);
  CHECK(ask("s.two", "again").find("{\"stream\":\"S\",\"seq\":2}") != std::string::npos);
  // The client that asked all along was never disconnected.
  CHECK_FALSE(a->closed_by_server(std::chrono::milliseconds(50)));
}
