// Accounts, users and sharing between accounts, against the real server with one
// multi-tenant configuration (the usage-service example from the README).
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "helpers.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

// SVC runs a usage service; each customer account may only ask about itself.
const std::string tenants_conf = R"(
accounts {
  SVC {
    users = [ {user: svc, password: svcpass} ]
    exports = [
      {service: "svc.usage.*", account_token_position: 3, latency: {sampling: 100, subject: "latency.usage"}}
      {service: "svc.feed", response_type: stream}
      {stream: "events.>"}
      {stream: "private.>", accounts: [A]}
    ]
  }
  A {
    users = [ {user: a, password: apass}, {user: a2, password: apass} ]
    imports = [
      {service: {account: SVC, subject: "svc.usage.A"}, to: "usage", share: true}
      {service: {account: SVC, subject: "svc.feed"}}
      {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
      {stream: {account: SVC, subject: "private.>"}}
    ]
  }
  B {
    users = [ {user: b, password: bpass} ]
    imports = [
      {service: {account: SVC, subject: "svc.usage.B"}, to: "usage"}
      {stream: {account: SVC, subject: "events.>"}, to: "feed.>"}
    ]
  }
  LIMITED {
    users = [ {user: l, password: lpass} ]
    limits { max_connections: 2, max_subscriptions: 2, max_payload: 100 }
  }
  OPS {
    users = [ {user: ops, password: opspass} ]
  }
}
system_account: OPS
)";

// A responder in SVC that answers every usage request with the subject it arrived on,
// so the test can see which account asked.
std::unique_ptr<raw_client> usage_responder(server_process& s) {
  auto svc = connect(s, connect_as("svc", "svcpass"));
  svc->send("SUB svc.usage.* 1\r\n");
  sync(*svc);
  return svc;
}

// Reads one MSG with a reply from `c` and answers it with `body`; returns the MSG line.
std::string answer_one(raw_client& c, const std::string& body) {
  auto line = c.read_until("\r\n");
  REQUIRE(line.rfind("MSG ", 0) == 0);
  c.read_until("\r\n");  // the payload
  std::istringstream in(line);
  std::string op, subject, sid, reply;
  in >> op >> subject >> sid >> reply;
  c.send("PUB " + reply + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  return line;
}

}  // namespace

TEST_CASE("accounts are isolated both ways; users of one account share it", "[accounts]") {
  server_process s({}, tenants_conf);
  auto a = connect(s, connect_as("a", "apass"));
  auto a2 = connect(s, connect_as("a2", "apass"));
  auto b = connect(s, connect_as("b", "bpass"));
  a->send("SUB news 1\r\n");
  b->send("SUB news 1\r\n");
  sync(*a);
  sync(*b);
  a2->send("PUB news 6\r\nfrom-a\r\n");
  sync(*a2);
  b->send("PUB news 6\r\nfrom-b\r\n");
  auto got_b = sync(*b);
  auto got_a = a->read_for(200ms);
  got_b += b->read_for(200ms);
  CHECK(got_a.find("MSG news 1 6\r\nfrom-a\r\n") != std::string::npos);
  CHECK(got_a.find("from-b") == std::string::npos);
  CHECK(got_b.find("MSG news 1 6\r\nfrom-b\r\n") != std::string::npos);
  CHECK(got_b.find("from-a") == std::string::npos);
}

TEST_CASE("a service import is remapped and bound to the importer", "[accounts]") {
  server_process s({}, tenants_conf);
  auto svc = usage_responder(s);
  auto a = connect(s, connect_as("a", "apass"));
  auto b = connect(s, connect_as("b", "bpass"));
  a->send("SUB _INBOX.a.* 9\r\nPUB usage _INBOX.a.1 5\r\nhello\r\n");
  // The responder sees the request under the exporter's subject with A's name in it,
  // and a reply subject minted by the server (never A's own inbox).
  auto line = answer_one(*svc, "usage-for-A");
  CHECK(line.rfind("MSG svc.usage.A 1 _R_.", 0) == 0);
  CHECK(line.find("_INBOX") == std::string::npos);
  CHECK(a->read_until("usage-for-A\r\n").find("MSG _INBOX.a.1 9 11\r\nusage-for-A\r\n") != std::string::npos);

  b->send("SUB _INBOX.b.* 3\r\nPUB usage _INBOX.b.7 0\r\n\r\n");
  line = answer_one(*svc, "usage-for-B");
  CHECK(line.rfind("MSG svc.usage.B 1 _R_.", 0) == 0);
  CHECK(b->read_until("usage-for-B\r\n").find("MSG _INBOX.b.7 3 11\r\nusage-for-B\r\n") != std::string::npos);
}

TEST_CASE("an importer cannot reach the exporter's subjects directly", "[accounts]") {
  server_process s({}, tenants_conf);
  auto svc = usage_responder(s);
  auto a = connect(s, connect_as("a", "apass"));
  // svc.usage.A exists only in SVC's namespace: from A it has no responders.
  a->send("SUB _INBOX.x.* 1\r\nPUB svc.usage.A _INBOX.x.1 2\r\nhi\r\n");
  CHECK(a->read_until("\r\n\r\n\r\n") == "HMSG _INBOX.x.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  CHECK(svc->read_for(200ms).empty());
  // And the server's own reply subjects cannot be forged.
  a->send("PUB usage _R_.fake.1 2\r\nhi\r\n");
  CHECK(a->read_until("\r\n") == "-ERR 'Permissions Violation for Publish with Reply of \"_R_.fake.1\"'\r\n");
}

TEST_CASE("a service import with no responder gets no-responders", "[accounts]") {
  server_process s({}, tenants_conf);
  auto a = connect(s, connect_as("a", "apass"));
  a->send("SUB _INBOX.y.* 1\r\nPUB usage _INBOX.y.1 2\r\nhi\r\n");
  CHECK(a->read_until("\r\n\r\n\r\n") == "HMSG _INBOX.y.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

TEST_CASE("stream imports deliver with a prefix or a mapped subject", "[accounts]") {
  server_process s({}, tenants_conf);
  auto a = connect(s, connect_as("a", "apass"));
  auto b = connect(s, connect_as("b", "bpass"));
  auto svc = connect(s, connect_as("svc", "svcpass"));
  a->send("SUB svc.events.> 1\r\nSUB private.> 2\r\nSUB events.> 3\r\n");
  b->send("SUB feed.> 1\r\nSUB private.> 2\r\n");
  sync(*a);
  sync(*b);
  svc->send("PUB events.order.created 2\r\n42\r\nPUB private.note 3\r\nfor\r\n");
  sync(*svc);
  auto got_a = a->read_for(300ms);
  auto got_b = b->read_for(300ms);
  CHECK(got_a.find("MSG svc.events.order.created 1 2\r\n42\r\n") != std::string::npos);
  CHECK(got_a.find("MSG events.order.created 3") == std::string::npos);  // only under the prefix
  CHECK(got_a.find("MSG private.note 2 3\r\nfor\r\n") != std::string::npos);
  CHECK(got_b.find("MSG feed.order.created 1 2\r\n42\r\n") != std::string::npos);
  CHECK(got_b.find("private") == std::string::npos);  // the private export is A's only
}

TEST_CASE("streamed service responses all reach the requester", "[accounts]") {
  server_process s({}, tenants_conf);
  auto svc = connect(s, connect_as("svc", "svcpass"));
  svc->send("SUB svc.feed 1\r\n");
  sync(*svc);
  auto a = connect(s, connect_as("a", "apass"));
  a->send("SUB _INBOX.f.* 4\r\nPUB svc.feed _INBOX.f.1 0\r\n\r\n");
  auto line = svc->read_until("\r\n");
  svc->read_until("\r\n");
  std::istringstream in(line);
  std::string op, subject, sid, reply;
  in >> op >> subject >> sid >> reply;
  REQUIRE(reply.rfind("_R_.", 0) == 0);
  svc->send("PUB " + reply + " 2\r\np1\r\nPUB " + reply + " 2\r\np2\r\nPUB " + reply + " 0\r\n\r\nPUB " + reply +
            " 5\r\nlate!\r\n");
  sync(*svc);
  auto got = a->read_for(300ms);
  CHECK(got.find("MSG _INBOX.f.1 4 2\r\np1\r\n") != std::string::npos);
  CHECK(got.find("MSG _INBOX.f.1 4 2\r\np2\r\n") != std::string::npos);
  CHECK(got.find("MSG _INBOX.f.1 4 0\r\n\r\n") != std::string::npos);  // the end marker
  CHECK(got.find("late!") == std::string::npos);  // the route closed with the empty message
}

TEST_CASE("service latency reports are published in the exporting account", "[accounts]") {
  server_process s({}, tenants_conf);
  auto watcher = connect(s, connect_as("svc", "svcpass"));
  watcher->send("SUB latency.usage 1\r\n");
  sync(*watcher);
  auto svc = usage_responder(s);
  auto a = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"user\":\"a\",\"pass\":\"apass\","
                      "\"name\":\"billing-ui\",\"lang\":\"test\"}\r\n");
  a->send("SUB _INBOX.l.* 1\r\nPUB usage _INBOX.l.1 1\r\n?\r\n");
  answer_one(*svc, "ok");
  a->read_until("ok\r\n");
  auto head = watcher->read_until("\r\n");
  REQUIRE(head.rfind("MSG latency.usage 1 ", 0) == 0);
  auto body = watcher->read_until("\r\n");
  auto j = nlohmann::json::parse(body.substr(0, body.size() - 2));
  CHECK(j["type"] == "io.nats.server.metric.v1.service_latency");
  CHECK(j["status"] == 200);
  CHECK(j["requestor"]["acc"] == "A");
  CHECK(j["requestor"]["name"] == "billing-ui");
  CHECK(j["requestor"]["user"] == "a");
  CHECK(j["requestor"]["host"] == "127.0.0.1");  // nats-server's ClientInfo field names
  CHECK(j["requestor"]["id"].get<uint64_t>() > 0);
  CHECK(j["responder"]["acc"] == "SVC");
  CHECK(j["service"].get<int64_t>() > 0);
  CHECK(j["total"].get<int64_t>() >= j["service"].get<int64_t>());
  CHECK(j.contains("start"));
  CHECK(j.contains("id"));
  // B's import does not share: its reports name the account alone, as nats-server's do.
  auto b = connect(s, connect_as("b", "bpass"));
  b->send("SUB _INBOX.b.* 1\r\nPUB usage _INBOX.b.1 1\r\n?\r\n");
  answer_one(*svc, "ok");
  b->read_until("ok\r\n");
  head = watcher->read_until("\r\n");
  REQUIRE(head.rfind("MSG latency.usage 1 ", 0) == 0);
  body = watcher->read_until("\r\n");
  j = nlohmann::json::parse(body.substr(0, body.size() - 2));
  CHECK(j["requestor"] == nlohmann::json{{"acc", "B"}});
  CHECK(j["responder"]["acc"] == "SVC");
}

TEST_CASE("account limits are enforced with the documented errors", "[accounts][bad-input]") {
  server_process s({}, tenants_conf);
  auto l1 = connect(s, connect_as("l", "lpass"));
  SECTION("max_subscriptions, per connection") {
    l1->send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n");
    CHECK(l1->read_until("\r\n") == "-ERR 'maximum subscriptions exceeded'\r\n");
    sync(*l1);  // still open
  }
  SECTION("max_payload") {
    l1->send("PUB x 101\r\n");
    CHECK(l1->read_until("\r\n") == "-ERR 'Maximum Payload Violation'\r\n");
    CHECK(l1->closed_by_server());
  }
  SECTION("max_connections") {
    auto l2 = connect(s, connect_as("l", "lpass"));
    raw_client l3(s.port());
    l3.read_until("\r\n");
    l3.send(connect_as("l", "lpass") + "PING\r\n");
    CHECK(l3.read_until("\r\n") == "-ERR 'maximum account active connections exceeded'\r\n");
    CHECK(l3.closed_by_server());
    sync(*l2);
  }
}

TEST_CASE("bad credentials and missing CONNECT are refused", "[accounts][bad-input]") {
  server_process s({}, tenants_conf + "authorization { timeout: 0.5 }\n");
  SECTION("wrong password") {
    raw_client c(s.port());
    auto info = c.read_until("\r\n");
    CHECK(info.find("\"auth_required\":true") != std::string::npos);
    c.send(connect_as("a", "nope") + "PING\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("unknown user") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send(connect_as("mallory", "apass") + "PING\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
  }
  SECTION("no credentials") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
  }
  SECTION("an operation before CONNECT") {
    raw_client c(s.port());
    c.read_until("\r\n");
    c.send("SUB foo 1\r\n");
    CHECK(c.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
    CHECK(c.closed_by_server());
  }
  SECTION("no CONNECT at all") {
    raw_client c(s.port());
    c.read_until("\r\n");
    CHECK(c.read_until("\r\n", 3s) == "-ERR 'Authentication Timeout'\r\n");
    CHECK(c.closed_by_server());
  }
  // Everyone else is unaffected.
  auto a = connect(s, connect_as("a", "apass"));
  sync(*a);
}

TEST_CASE("the system account sees connect events and answers server pings", "[accounts]") {
  server_process s({}, tenants_conf);
  auto ops = connect(s, connect_as("ops", "opspass"));
  ops->send("SUB $SYS.ACCOUNT.*.CONNECT 1\r\nSUB $SYS.ACCOUNT.*.DISCONNECT 2\r\nSUB _INBOX.p.* 3\r\n");
  sync(*ops);
  {
    auto a = connect(s, connect_as("a", "apass"));
  }
  // The event of ops's own CONNECT is published asynchronously and may come after the
  // SUB: skip it.
  auto head = ops->read_until("\r\n");
  auto body = ops->read_until("\r\n");
  if (head.rfind("MSG $SYS.ACCOUNT.OPS.CONNECT 1 ", 0) == 0) {
    head = ops->read_until("\r\n");
    body = ops->read_until("\r\n");
  }
  CHECK(head.rfind("MSG $SYS.ACCOUNT.A.CONNECT 1 ", 0) == 0);
  auto ev = nlohmann::json::parse(body.substr(0, body.size() - 2));
  CHECK(ev["type"] == "io.nats.server.advisory.v1.client_connect");
  CHECK(ev["client"]["acc"] == "A");
  CHECK(ev["client"]["user"] == "a");
  CHECK(ev["client"]["host"] == "127.0.0.1");
  CHECK(ev["client"]["id"].get<uint64_t>() > 0);
  CHECK_FALSE(ev["client"].contains("in_msgs"));  // counters go in "sent"/"received" only
  head = ops->read_until("\r\n");
  CHECK(head.rfind("MSG $SYS.ACCOUNT.A.DISCONNECT 2 ", 0) == 0);
  body = ops->read_until("\r\n");
  ev = nlohmann::json::parse(body.substr(0, body.size() - 2));
  CHECK(ev["type"] == "io.nats.server.advisory.v1.client_disconnect");
  CHECK(ev["reason"] == "Client Closed");

  ops->send("PUB $SYS.REQ.SERVER.PING _INBOX.p.1 0\r\n\r\n");
  head = ops->read_until("\r\n");
  CHECK(head.rfind("MSG _INBOX.p.1 3 ", 0) == 0);
  body = ops->read_until("\r\n");
  auto ping = nlohmann::json::parse(body.substr(0, body.size() - 2));
  CHECK(ping["server"]["id"].get<std::string>().rfind("N", 0) == 0);
  CHECK(ping["statsz"]["connections"].get<int64_t>() >= 1);

  // Other accounts cannot see $SYS.
  auto a = connect(s, connect_as("a", "apass"));
  a->send("SUB _INBOX.q.* 1\r\nPUB $SYS.REQ.SERVER.PING _INBOX.q.1 0\r\n\r\n");
  CHECK(a->read_until("\r\n\r\n\r\n").find("503") != std::string::npos);
}

TEST_CASE("user permissions", "[accounts][bad-input]") {
  server_process s({}, R"(
authorization {
  users = [
    {user: writer, password: w, permissions: {publish: {allow: ["orders.>"], deny: ["orders.secret"]}, subscribe: ["_INBOX.>", "public.*"]}}
    {user: reader, password: r, permissions: {subscribe: {allow: [">"], deny: ["orders.secret"]}, publish: {deny: ">"}}}
    {user: worker, password: k, permissions: {subscribe: ["jobs q1"], publish: {deny: ">"}, allow_responses: true}}
    {user: boss, password: b}
  ]
}
)");
  auto w = connect(s, connect_as("writer", "w"));
  auto r = connect(s, connect_as("reader", "r"));
  auto boss = connect(s, connect_as("boss", "b"));
  r->send("SUB orders.> 1\r\n");
  sync(*r);
  SECTION("publish allow and deny") {
    w->send("PUB orders.new 1\r\n1\r\nPUB orders.secret 1\r\n2\r\nPUB billing.x 1\r\n3\r\n");
    auto errs = sync(*w);
    CHECK(errs ==
          "-ERR 'Permissions Violation for Publish to \"orders.secret\"'\r\n"
          "-ERR 'Permissions Violation for Publish to \"billing.x\"'\r\n");
    auto got = r->read_for(200ms);
    CHECK(got == "MSG orders.new 1 1\r\n1\r\n");
    r->send("PUB orders.new 1\r\nx\r\n");  // denied everything
    CHECK(sync(*r) == "-ERR 'Permissions Violation for Publish to \"orders.new\"'\r\n");
  }
  SECTION("subscribe allow, and a deny enforced on delivery") {
    w->send("SUB private.stuff 5\r\nSUB public.news 6\r\n");
    CHECK(sync(*w) == "-ERR 'Permissions Violation for Subscription to \"private.stuff\"'\r\n");
    // reader's SUB orders.> is broader than its deny: orders.secret is filtered out.
    boss->send("PUB orders.secret 1\r\ns\r\nPUB orders.open 1\r\no\r\n");
    sync(*boss);
    auto got = r->read_for(200ms);
    CHECK(got == "MSG orders.open 1 1\r\no\r\n");
  }
  SECTION("queue-restricted subscribe and allow_responses") {
    auto k = connect(s, connect_as("worker", "k"));
    k->send("SUB jobs 1\r\n");
    CHECK(k->read_until("\r\n") == "-ERR 'Permissions Violation for Subscription to \"jobs\"'\r\n");
    k->send("SUB jobs q2 2\r\n");
    CHECK(k->read_until("\r\n") ==
          "-ERR 'Permissions Violation for Subscription to \"jobs\" using queue \"q2\"'\r\n");
    k->send("SUB jobs q1 3\r\n");
    sync(*k);
    boss->send("SUB _INBOX.b.* 9\r\nPUB jobs _INBOX.b.1 4\r\ntask\r\n");
    CHECK(k->read_until("task\r\n") == "MSG jobs 3 _INBOX.b.1 4\r\ntask\r\n");
    // The worker may answer that one reply subject once, and nothing else.
    k->send("PUB _INBOX.b.1 4\r\ndone\r\nPUB _INBOX.b.1 5\r\nagain\r\nPUB jobs 1\r\nx\r\n");
    auto errs = sync(*k);
    CHECK(errs ==
          "-ERR 'Permissions Violation for Publish to \"_INBOX.b.1\"'\r\n"
          "-ERR 'Permissions Violation for Publish to \"jobs\"'\r\n");
    CHECK(boss->read_until("done\r\n") == "MSG _INBOX.b.1 9 4\r\ndone\r\n");
  }
}

TEST_CASE("no_auth_user, tokens and bcrypt passwords", "[accounts]") {
  SECTION("no_auth_user lands credential-less clients in its account") {
    server_process s({}, tenants_conf + "no_auth_user: a2\n");
    raw_client c(s.port());
    auto info = c.read_until("\r\n");
    CHECK(info.find("auth_required") == std::string::npos);
    auto anon = connect(s, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    auto a = connect(s, connect_as("a", "apass"));
    a->send("SUB shared 1\r\n");
    sync(*a);
    anon->send("PUB shared 2\r\nok\r\n");
    sync(*anon);
    CHECK(a->read_until("ok\r\n").find("MSG shared 1 2\r\nok\r\n") != std::string::npos);
  }
  SECTION("token") {
    server_process s({}, "authorization { token: s3cr3t }\n");
    auto good = connect(s, "CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\n");
    sync(*good);
    raw_client bad(s.port());
    bad.read_until("\r\n");
    bad.send("CONNECT {\"verbose\":false,\"auth_token\":\"guess\"}\r\nPING\r\n");
    CHECK(bad.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
  }
  SECTION("bcrypt") {
    // bcrypt("s3cret") at cost 4, made with libcrypt.
    server_process s({}, "authorization { users = [ {user: hashed, password: \"$2b$04$0YmuU.Qw61mYgwydiVObCuvRFM65i7q0xrC6bvtX2F1dqmSXp1bV.\"} ] }\n");
    auto good = connect(s, connect_as("hashed", "s3cret"));
    good->send("SUB x 1\r\nPUB x 2\r\nok\r\n");
    CHECK(sync(*good).find("MSG x 1 2\r\nok\r\n") != std::string::npos);
    raw_client bad(s.port());
    bad.read_until("\r\n");
    bad.send(connect_as("hashed", "wrong") + "PING\r\n");
    CHECK(bad.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
  }
}

TEST_CASE("forbidden imports stop the server at start-up", "[accounts][bad-input]") {
  auto refuse = [](const std::string& conf, const std::string& reason_part) {
    auto path = write_temp_file("bad.conf", conf);
    auto r = run_command({DIALTONE_SERVER_BIN, "-c", path, "-p", "-1"}, 5s);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(path + ":") != std::string::npos);
    CHECK(r.output.find(reason_part) != std::string::npos);
    CHECK(r.output.find("Server is ready") == std::string::npos);
  };
  const std::string svc = "SVC { exports = [ {service: \"svc.usage.*\", account_token_position: 3}, "
                          "{stream: \"priv.>\", accounts: [A]} ] }\n";
  SECTION("another account's name in a token-bound import") {
    refuse("accounts {\n" + svc + "A { imports = [ {service: {account: SVC, subject: \"svc.usage.B\"}} ] }\n}\n",
           "svc.usage.B");
  }
  SECTION("an export that does not exist") {
    refuse("accounts {\n" + svc + "A { imports = [ {service: {account: SVC, subject: \"nothing.here\"}} ] }\n}\n",
           "nothing.here");
  }
  SECTION("a private export") {
    refuse("accounts {\n" + svc + "A {}\nB { imports = [ {stream: {account: SVC, subject: \"priv.>\"}} ] }\n}\n",
           "priv.>");
  }
  SECTION("an unknown account") {
    refuse("accounts {\nA { imports = [ {stream: {account: NOPE, subject: \"x\"}} ] }\n}\n", "NOPE");
  }
  SECTION("a prefix with wildcards") {
    refuse("accounts {\nS { exports = [ {stream: \"x.>\"} ] }\nA { imports = [ {stream: {account: S, subject: "
           "\"x.>\"}, prefix: \"p.*\"} ] }\n}\n",
           "prefix");
  }
  SECTION("an import cycle") {
    refuse("accounts {\nA { exports = [ {service: \"a\"} ]\n imports = [ {service: {account: B, subject: \"b\"}, to: "
           "\"a\"} ] }\nB { exports = [ {service: \"b\"} ]\n imports = [ {service: {account: A, subject: \"a\"}, to: "
           "\"b\"} ] }\n}\n",
           "cycle");
  }
}
