// Byte-exact protocol tests against the real dialtone-server binary: raw bytes in,
// exact replies out (modeled on nats-server's proto tests).
#include <catch2/catch.hpp>
#include <sys/socket.h>

#include <thread>

#include "helpers.hpp"

using namespace testing_support;
using namespace std::chrono_literals;


TEST_CASE("INFO describes the server", "[protocol]") {
  server_process s;
  raw_client c(s.port());
  auto info = c.read_until("\r\n");
  CHECK(info.rfind("INFO {", 0) == 0);
  CHECK(info.find("\"server_id\":\"N") != std::string::npos);
  CHECK(info.find("\"headers\":true") != std::string::npos);
  CHECK(info.find("\"proto\":1") != std::string::npos);
  CHECK(info.find("\"max_payload\":1048576") != std::string::npos);
  CHECK(info.find("\"client_id\":") != std::string::npos);
  CHECK(info.find("\"version\":\"2.") != std::string::npos);
}

TEST_CASE("publish and subscribe, exact bytes", "[protocol]") {
  server_process s;
  auto sub = connect(s);
  auto pub = connect(s);
  sub->send("SUB foo 1\r\nSUB foo.* 2\r\nSUB > 3\r\n");
  sync(*sub);
  pub->send("PUB foo 5\r\nhello\r\nPUB foo.bar reply.x 2\r\nhi\r\nPUB foo.* 0\r\n\r\n");
  sync(*pub);
  auto got = sub->read_until("MSG foo.* 3 0\r\n\r\n");
  got += sub->read_for(100ms);
  CHECK(got.find("MSG foo 1 5\r\nhello\r\n") != std::string::npos);
  CHECK(got.find("MSG foo 3 5\r\nhello\r\n") != std::string::npos);
  CHECK(got.find("MSG foo.bar 2 reply.x 2\r\nhi\r\n") != std::string::npos);
  CHECK(got.find("MSG foo.bar 3 reply.x 2\r\nhi\r\n") != std::string::npos);
  // A '*' published is a literal token: the foo.* and > wildcards match it.
  CHECK(got.find("MSG foo.* 2 0\r\n\r\n") != std::string::npos);
  CHECK(got.find("MSG foo.* 3 0\r\n\r\n") != std::string::npos);
  CHECK(got.find("MSG foo 2") == std::string::npos);
}

TEST_CASE("operation names are case-insensitive and tabs separate arguments", "[protocol]") {
  server_process s;
  auto c = connect(s);
  c->send("sub\tfoo\t9\r\npub foo 2\r\nok\r\nping\r\n");
  auto got = c->read_until("PONG\r\n");
  CHECK(got.find("MSG foo 9 2\r\nok\r\n") != std::string::npos);
}

TEST_CASE("verbose mode acknowledges every operation", "[protocol]") {
  server_process s;
  raw_client c(s.port());
  c.read_until("\r\n");
  c.send("CONNECT {\"verbose\":true,\"pedantic\":false}\r\n");
  CHECK(c.read_until("+OK\r\n") == "+OK\r\n");
  c.send("SUB foo 1\r\n");
  CHECK(c.read_until("+OK\r\n") == "+OK\r\n");
  c.send("PUB foo 2\r\nhi\r\n");
  auto got = c.read_until("MSG foo 1 2\r\nhi\r\n");
  got += c.read_until("+OK\r\n", 500ms);
  CHECK(got.find("+OK\r\n") != std::string::npos);
  CHECK(got.find("MSG foo 1 2\r\nhi\r\n") != std::string::npos);
  c.send("UNSUB 1\r\n");
  CHECK(c.read_until("+OK\r\n") == "+OK\r\n");
  c.send("UNSUB 99\r\n");  // unknown sid: ignored, still acknowledged
  CHECK(c.read_until("+OK\r\n") == "+OK\r\n");
}

TEST_CASE("CONNECT defaults are verbose and pedantic", "[protocol]") {
  server_process s;
  raw_client c(s.port());
  c.read_until("\r\n");
  c.send("CONNECT {}\r\n");
  CHECK(c.read_until("+OK\r\n") == "+OK\r\n");
}

TEST_CASE("pedantic mode reports wildcard publishes but still delivers", "[protocol]") {
  server_process s;
  auto sub = connect(s);
  sub->send("SUB foo.* 1\r\n");
  sync(*sub);
  auto pub = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n");
  pub->send("PUB foo.* 2\r\nhi\r\n");
  CHECK(pub->read_until("\r\n") == "-ERR 'Invalid Publish Subject'\r\n");
  CHECK(sub->read_until("hi\r\n").find("MSG foo.* 1 2\r\nhi\r\n") != std::string::npos);
  sync(*pub);  // still open
}

TEST_CASE("invalid subscriptions are refused and the connection stays open", "[protocol][bad-input]") {
  server_process s;
  auto c = connect(s);
  for (auto bad : {"foo..bar", "foo.>.bar", ".foo", "foo."}) {
    INFO(bad);
    c->send(std::string("SUB ") + bad + " 1\r\n");
    CHECK(c->read_until("\r\n") == "-ERR 'Invalid Subject'\r\n");
  }
  sync(*c);
}

TEST_CASE("a SUB reusing a live sid is ignored", "[protocol]") {
  server_process s;
  auto c = connect(s);
  c->send("SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n");
  auto got = c->read_until("MSG foo 1 1\r\ny\r\n");
  CHECK(got.find("MSG bar") == std::string::npos);
}

TEST_CASE("echo false suppresses a connection's own messages", "[protocol]") {
  server_process s;
  auto c = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n");
  auto other = connect(s);
  c->send("SUB foo 1\r\nPUB foo 4\r\nself\r\n");
  auto got = sync(*c);
  other->send("PUB foo 5\r\nother\r\n");
  sync(*other);
  got += c->read_until("other\r\n");
  CHECK(got.find("self") == std::string::npos);
  CHECK(got.find("MSG foo 1 5\r\nother\r\n") != std::string::npos);
}

TEST_CASE("auto-unsubscribe delivers exactly max messages", "[protocol]") {
  server_process s;
  auto c = connect(s);
  c->send("SUB foo 1\r\nUNSUB 1 2\r\n");
  for (int i = 0; i < 5; ++i) c->send("PUB foo 1\r\n" + std::to_string(i) + "\r\n");
  auto got = sync(*c);
  got += c->read_for(200ms);
  CHECK(got.find("MSG foo 1 1\r\n0\r\n") != std::string::npos);
  CHECK(got.find("MSG foo 1 1\r\n1\r\n") != std::string::npos);
  CHECK(got.find("MSG foo 1 1\r\n2\r\n") == std::string::npos);
  // max not above what was delivered: removed at once.
  c->send("SUB bar 2\r\nPUB bar 1\r\na\r\nUNSUB 2 1\r\nPUB bar 1\r\nb\r\n");
  got = sync(*c);
  got += c->read_for(200ms);
  CHECK(got.find("MSG bar 2 1\r\na\r\n") != std::string::npos);
  CHECK(got.find("MSG bar 2 1\r\nb\r\n") == std::string::npos);
}

TEST_CASE("a SUB reusing a live sid is ignored; a finished one can be reused", "[protocol]") {
  server_process s;
  auto c = connect(s);
  // Live sid 1: the second SUB changes nothing (nats-server ignores it too).
  c->send("SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\nf\r\nPUB bar 1\r\nb\r\n");
  auto got = sync(*c);
  CHECK(got.find("MSG foo 1 1\r\nf\r\n") != std::string::npos);
  CHECK(got.find("MSG bar") == std::string::npos);
  // Sid 2 finishes by auto-unsubscribe; a new SUB may take the sid over.
  c->send("SUB baz 2\r\nUNSUB 2 1\r\nPUB baz 1\r\na\r\nPUB baz 1\r\nb\r\n");
  got = sync(*c);
  CHECK(got.find("MSG baz 2 1\r\na\r\n") != std::string::npos);
  CHECK(got.find("MSG baz 2 1\r\nb\r\n") == std::string::npos);
  c->send("SUB qux 2\r\nPUB qux 1\r\nq\r\nPUB baz 1\r\nc\r\n");
  got = sync(*c);
  CHECK(got.find("MSG qux 2 1\r\nq\r\n") != std::string::npos);
  CHECK(got.find("MSG baz") == std::string::npos);
  // And a plain UNSUB frees the sid at once.
  c->send("UNSUB 1\r\nSUB bar 1\r\nPUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\n");
  got = sync(*c);
  CHECK(got.find("MSG bar 1 1\r\nb\r\n") != std::string::npos);
  CHECK(got.find("MSG foo") == std::string::npos);
}

TEST_CASE("queue groups deliver each message to one member", "[protocol]") {
  server_process s;
  auto a = connect(s);
  auto b = connect(s);
  auto plain = connect(s);
  a->send("SUB work q 1\r\n");
  b->send("SUB work q 1\r\n");
  plain->send("SUB work 7\r\n");
  sync(*a);
  sync(*b);
  sync(*plain);
  auto pub = connect(s);
  const int n = 200;
  for (int i = 0; i < n; ++i) pub->send("PUB work 1\r\nx\r\n");
  sync(*pub);
  auto count = [](const std::string& s, const std::string& what) {
    size_t c = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++c;
    return c;
  };
  auto ga = a->read_for(300ms), gb = b->read_for(300ms), gp = plain->read_for(300ms);
  size_t na = count(ga, "MSG work 1 1"), nb = count(gb, "MSG work 1 1");
  CHECK(na + nb == n);
  CHECK(na > 0);
  CHECK(nb > 0);
  CHECK(count(gp, "MSG work 7 1") == n);
}

TEST_CASE("headers: HMSG to header clients, stripped for others", "[protocol]") {
  server_process s;
  auto h = connect(s);  // headers:true
  auto plain = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  h->send("SUB foo 1\r\n");
  plain->send("SUB foo 2\r\n");
  sync(*h);
  sync(*plain);
  auto pub = connect(s);
  pub->send("HPUB foo r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
  sync(*pub);
  CHECK(h->read_until("hello\r\n") == "HMSG foo 1 r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
  CHECK(plain->read_until("hello\r\n") == "MSG foo 2 r 5\r\nhello\r\n");
}

TEST_CASE("HPUB from a client that did not negotiate headers closes it", "[protocol][bad-input]") {
  server_process s;
  auto c = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  c->send("HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  CHECK(c->read_until("\r\n").rfind("-ERR '", 0) == 0);
  CHECK(c->closed_by_server());
}

TEST_CASE("no responders status for requests nobody receives", "[protocol]") {
  server_process s;
  auto c = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n");
  c->send("SUB _INBOX.abc.* 5\r\nPUB nobody.home _INBOX.abc.1 2\r\nhi\r\n");
  CHECK(c->read_until("\r\n\r\n\r\n") == "HMSG _INBOX.abc.1 5 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  // Without a reply subject, or when someone is listening: no status.
  c->send("SUB svc 6\r\nPUB svc _INBOX.abc.2 2\r\nhi\r\nPUB nobody.home 2\r\nhi\r\n");
  auto got = sync(*c);
  got += c->read_for(200ms);
  CHECK(got.find("MSG svc 6 _INBOX.abc.2 2\r\nhi\r\n") != std::string::npos);
  CHECK(got.find("503") == std::string::npos);
}

TEST_CASE("CONNECT errors", "[protocol][bad-input]") {
  server_process s;
  SECTION("invalid protocol version") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("CONNECT {\"protocol\":2}\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'invalid client protocol'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("no_responders without headers") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("CONNECT {\"no_responders\":true}\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'no responders requires headers support'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("bad JSON") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("CONNECT {not json\r\n");
    CHECK(c.read_until("\r\n").rfind("-ERR '", 0) == 0);
    CHECK(c.closed_by_server());
  }
}

TEST_CASE("garbage, oversized lines and wrong byte counts close only the offender", "[protocol][bad-input]") {
  server_process s({}, "max_payload: 1KB\n");
  auto healthy = connect(s);
  healthy->send("SUB ok 1\r\n");
  sync(*healthy);
  auto check_healthy = [&] {
    auto pub = connect(s);
    pub->send("PUB ok 2\r\nok\r\n");
    sync(*pub);
    CHECK(healthy->read_until("ok\r\n").find("MSG ok 1 2\r\nok\r\n") != std::string::npos);
  };
  SECTION("garbage bytes") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send(std::string("\x16\x03\x01\x02\x00\x01\x00\xff garbage", 17));
    CHECK(c.read_until("\r\n") == "-ERR 'Unknown Protocol Operation'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("oversized control line") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("SUB " + std::string(5000, 'a') + " 1\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'maximum control line exceeded'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("payload longer than announced") {
    auto c = connect(s);
    c->send("PUB foo 3\r\nhello\r\n");
    CHECK(c->read_until("\r\n") == "-ERR 'Unknown Protocol Operation'\r\n");
    CHECK(c->closed_by_server());
  }
  SECTION("payload over max_payload") {
    auto c = connect(s);
    c->send("PUB foo 1025\r\n");
    CHECK(c->read_until("\r\n") == "-ERR 'Maximum Payload Violation'\r\n");
    CHECK(c->closed_by_server());
  }
  SECTION("a missing argument") {
    auto c = connect(s);
    c->send("SUB foo\r\n");
    CHECK(c->read_until("\r\n") == "-ERR 'Unknown Protocol Operation'\r\n");
    CHECK(c->closed_by_server());
  }
  check_healthy();
}

TEST_CASE("a client that never reads is cut off as a slow consumer", "[protocol][bad-input]") {
  server_process s({}, "max_pending: 256KB\nwrite_deadline: \"2s\"\n");
  auto lazy = std::make_unique<raw_client>(s.port());
  int small = 4096;
  setsockopt(lazy->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  lazy->read_until("\r\n");
  lazy->send(quiet_connect + "SUB big 1\r\nPING\r\n");
  lazy->read_until("PONG\r\n");
  auto healthy = connect(s);
  healthy->send("SUB ok 1\r\n");
  sync(*healthy);
  auto pub = connect(s);
  std::string payload(8192, 'x');
  std::string frame = "PUB big 8192\r\n" + payload + "\r\n";
  std::string burst;
  for (int i = 0; i < 64; ++i) burst += frame;
  // Bounded: at most ~64 MiB offered; the lazy reader must be cut off long before.
  bool cut = false;
  for (int i = 0; i < 128 && !cut; ++i) {
    pub->send(burst);
    cut = s.log().find("Slow Consumer") != std::string::npos;
  }
  sync(*pub);
  for (int i = 0; i < 100 && !cut; ++i) {
    std::this_thread::sleep_for(50ms);
    cut = s.log().find("Slow Consumer") != std::string::npos;
  }
  CHECK(cut);
  // The publisher and everyone else keep working.
  pub->send("PUB ok 2\r\nok\r\n");
  sync(*pub);
  CHECK(healthy->read_until("ok\r\n").find("MSG ok 1 2\r\nok\r\n") != std::string::npos);
}

TEST_CASE("a client that stops answering PINGs is dropped as stale", "[protocol]") {
  server_process s({}, "ping_interval: \"300ms\"\nping_max: 1\n");
  raw_client c(s.port());
  c.read_until("\r\n");
  c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  auto got = c.read_until("-ERR 'Stale Connection'\r\n", 5s);
  CHECK(got.find("PING\r\n") != std::string::npos);
  CHECK(got.find("-ERR 'Stale Connection'\r\n") != std::string::npos);
  CHECK(c.closed_by_server());
}

TEST_CASE("a client answering PINGs stays connected", "[protocol]") {
  server_process s({}, "ping_interval: \"200ms\"\nping_max: 1\n");
  auto c = connect(s);
  for (int i = 0; i < 5; ++i) {
    auto got = c->read_until("PING\r\n", 2s);
    REQUIRE(got.find("PING\r\n") != std::string::npos);
    c->send("PONG\r\n");
  }
  sync(*c);
}

TEST_CASE("max_connections refuses extra clients after INFO", "[protocol]") {
  server_process s({}, "max_connections: 1\n");
  auto first = connect(s);
  raw_client second(s.port());
  auto got = second.read_until("exceeded'\r\n");
  CHECK(got.rfind("INFO {", 0) == 0);
  CHECK(got.find("-ERR 'maximum connections exceeded'\r\n") != std::string::npos);
  CHECK(second.closed_by_server());
  sync(*first);
}

TEST_CASE("large payloads pass through intact", "[protocol]") {
  server_process s;
  auto sub = connect(s);
  sub->send("SUB big 1\r\n");
  sync(*sub);
  auto pub = connect(s);
  std::string payload(1024 * 1024, 'a');
  for (size_t i = 0; i < payload.size(); i += 1000) payload[i] = char('a' + (i / 1000) % 26);
  pub->send("PUB big " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  sync(*pub);
  auto got = sub->read_until(payload.substr(payload.size() - 100) + "\r\n", 5s);
  CHECK(got == "MSG big 1 1048576\r\n" + payload + "\r\n");
}

TEST_CASE("SIGTERM shuts down cleanly", "[protocol]") {
  server_process s;
  auto c = connect(s);
  CHECK(s.stop() == 0);
  CHECK(c->closed_by_server());
}

TEST_CASE("a client that sends -ERR is closed without an answer, as nats-server does", "[protocol]") {
  server_process s;
  auto c = connect(s);
  c->send("-ERR 'boom'\r\nPING\r\n");
  CHECK(c->closed_by_server());
  CHECK(s.log().find("Client Error 'boom'") != std::string::npos);
  auto other = connect(s);  // the server goes on serving
  sync(*other);
}
