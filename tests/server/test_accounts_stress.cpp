// Sharing between accounts the way users push it: thousands of distinct subjects and
// requests, accounts importing from themselves, streams and services on the same
// subjects, subject mappings with $N, long chains. Each case was compared with
// nats-server 2.9.10; the expected counts are what it delivers.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "frame_reader.hpp"
#include "helpers.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

std::string pub(const std::string& subject, const std::string& reply, const std::string& body) {
  return "PUB " + subject + (reply.empty() ? "" : " " + reply) + " " + std::to_string(body.size()) + "\r\n" + body +
         "\r\n";
}

// Reads frames until a PONG, counting messages per subscription id.
std::map<std::string, int> count_until_pong(frame_reader& r, std::chrono::milliseconds timeout = 10s) {
  std::map<std::string, int> n;
  for (;;) {
    auto f = r.next(timeout);
    REQUIRE(f);
    if (f->op == "PONG") return n;
    REQUIRE((f->op == "MSG" || f->op == "HMSG"));
    ++n[f->sid];
  }
}

// A request from `req` (reply subject "inbox", subscribed as sid 1) answered by `resp`;
// returns the subject the responder saw it on, and checks the answer arrives.
std::string round_trip(raw_client& req, frame_reader& req_in, raw_client& resp, frame_reader& resp_in,
                       const std::string& subject, const std::string& body) {
  req.send(pub(subject, "inbox", body));
  auto q = resp_in.next();
  REQUIRE(q);
  REQUIRE(q->op == "MSG");
  REQUIRE(q->payload == body);
  resp.send(pub(q->reply, "", "re:" + body));
  auto a = req_in.next();
  REQUIRE(a);
  REQUIRE(a->op == "MSG");
  REQUIRE(a->subject == "inbox");
  REQUIRE(a->payload == "re:" + body);
  return q->subject;
}

std::string user(const std::string& name) { return "users = [ {user: " + name + ", password: p} ]\n"; }

// A client of `name` (password p) whose SUB lines are in place.
std::unique_ptr<raw_client> client_with(server_process& s, const std::string& name, const std::string& subs = "") {
  auto c = connect(s, connect_as(name, "p"));
  if (!subs.empty()) {
    c->send(subs);
    sync(*c);
  }
  return c;
}

// Publishes "<prefix>.0" ... "<prefix>.<n-1>" in one write and waits until the server has them.
void publish_numbered(raw_client& c, const std::string& prefix, int n) {
  std::string batch;
  for (int i = 0; i < n; ++i) batch += pub(prefix + "." + std::to_string(i), "", "m");
  c.send(batch);
  sync(c);
}

}  // namespace

TEST_CASE("latency tracking at 100%: 5,000 distinct requests, 5,000 answers and 5,000 reports",
          "[accounts][stress]") {
  // Used to crash after a few hundred: the latency report re-entered the responder's
  // own match cache while the answer's match result was being iterated.
  server_process s({}, "accounts {\n SVC { " + user("svc") +
                           " exports = [ {service: \"svc.>\", latency: {sampling: 100, subject: \"latency.svc\"}} ] }\n"
                           " A { " + user("a") + " imports = [ {service: {account: SVC, subject: \"svc.>\"}} ] }\n}\n");
  auto svc = client_with(s, "svc", "SUB svc.> 1\r\nSUB latency.svc 2\r\n");
  auto listener = client_with(s, "svc", "SUB latency.svc 1\r\n");
  auto a = client_with(s, "a", "SUB inbox 1\r\n");
  frame_reader svc_in(svc->fd()), a_in(a->fd()), reports(listener->fd());
  const int n = 5000;
  int reports_on_responder = 0;
  for (int i = 0; i < n; ++i) {
    std::string body = std::to_string(i);
    a->send(pub("svc." + body, "inbox", body));
    // The responder also listens to the reports: answer requests, count reports.
    for (;;) {
      auto q = svc_in.next();
      REQUIRE(q);
      if (q->sid == "2") {
        ++reports_on_responder;
        continue;
      }
      REQUIRE(q->subject == "svc." + body);
      svc->send(pub(q->reply, "", "re:" + body));
      break;
    }
    auto ans = a_in.next();
    REQUIRE(ans);
    REQUIRE(ans->payload == "re:" + body);
  }
  int got = 0;
  while (got < n) {
    auto f = reports.next();
    REQUIRE(f);
    REQUIRE(f->payload.find("\"type\":\"io.nats.server.metric.v1.service_latency\"") != std::string::npos);
    ++got;
  }
  CHECK(got == n);
  svc->send("PING\r\n");
  auto rest = count_until_pong(svc_in);
  CHECK(reports_on_responder + rest["2"] == n);
}

TEST_CASE("an account that stream-imports its own subjects under a prefix", "[accounts][stress]") {
  server_process s({}, "accounts {\n A { " + user("a") +
                           " exports = [ {stream: \"x.>\"} ]\n"
                           " imports = [ {stream: {account: A, subject: \"x.>\"}, prefix: copy} ] }\n}\n");
  auto sub = client_with(s, "a", "SUB x.> 1\r\nSUB copy.x.> 2\r\nSUB > 3\r\n");
  const int n = 3000;
  publish_numbered(*client_with(s, "a"), "x", n);
  frame_reader in(sub->fd());
  sub->send("PING\r\n");
  auto got = count_until_pong(in);
  CHECK(got["1"] == n);
  CHECK(got["2"] == n);
  CHECK(got["3"] == 2 * n);  // the original and the copy, nothing more
}

TEST_CASE("an account that imports its own service under another name", "[accounts][stress]") {
  server_process s({}, "accounts {\n A { " + user("a") +
                           " exports = [ {service: \"svc.>\"} ]\n"
                           " imports = [ {service: {account: A, subject: \"svc.>\"}, to: \"alias.>\"} ] }\n}\n");
  auto resp = client_with(s, "a", "SUB svc.> 1\r\n");
  auto req = client_with(s, "a", "SUB inbox 1\r\n");
  frame_reader req_in(req->fd()), resp_in(resp->fd());
  for (int i = 0; i < 2000; ++i) {
    auto k = std::to_string(i);
    CHECK(round_trip(*req, req_in, *resp, resp_in, "alias." + k, k) == "svc." + k);
  }
}

TEST_CASE("a stream and a service imported under the same local subjects", "[accounts][stress]") {
  // B imports A's stream x.> and A's service x.>. A message arriving in B through the
  // stream import reaches B's clients only; it must not go back into A through the
  // service import (nats-server delivers it once).
  server_process s({}, "accounts {\n A { " + user("a") +
                           " exports = [ {stream: \"x.>\"}, {service: \"x.>\"} ] }\n"
                           " B { " + user("b") +
                           " imports = [ {stream: {account: A, subject: \"x.>\"}}, {service: {account: A, subject: "
                           "\"x.>\"}} ] }\n}\n");
  auto in_a = client_with(s, "a", "SUB x.> 1\r\n");
  auto in_b = client_with(s, "b", "SUB x.> 1\r\n");
  const int n = 3000;
  publish_numbered(*client_with(s, "a"), "x", n);
  frame_reader ra(in_a->fd()), rb(in_b->fd());
  in_a->send("PING\r\n");
  in_b->send("PING\r\n");
  CHECK(count_until_pong(ra)["1"] == n);
  CHECK(count_until_pong(rb)["1"] == n);
  // The service still works from B.
  auto req = client_with(s, "b", "SUB inbox 1\r\n");
  frame_reader req_in(req->fd());
  for (int i = 0; i < 200; ++i) {
    auto k = std::to_string(i);
    CHECK(round_trip(*req, req_in, *in_a, ra, "x.req." + k, k) == "x.req." + k);
  }
}

TEST_CASE("an account that imports > from itself gets each message twice", "[accounts]") {
  server_process s({}, "accounts {\n A { " + user("a") +
                           " exports = [ {stream: \">\"} ]\n imports = [ {stream: {account: A, subject: \">\"}} ] }\n}\n");
  auto c = client_with(s, "a", "SUB > 1\r\n");
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += pub("s." + std::to_string(i), "", "m");
  c->send(batch + "PING\r\n");
  frame_reader in(c->fd());
  CHECK(count_until_pong(in)["1"] == 1000);  // nats-server: 2 each; before the fix: 9 each
}

TEST_CASE("a service import mapped with $N placeholders routes by position", "[accounts]") {
  server_process s({}, "accounts {\n SVC { " + user("svc") +
                           " exports = [ {service: \"svc.*.*\"} ] }\n A { " + user("a") +
                           " imports = [ {service: {account: SVC, subject: \"svc.*.*\"}, to: \"loc.$2.$1\"} ] }\n}\n");
  auto resp = client_with(s, "svc", "SUB svc.*.* 1\r\n");
  auto req = client_with(s, "a", "SUB inbox 1\r\n");
  frame_reader req_in(req->fd()), resp_in(resp->fd());
  CHECK(round_trip(*req, req_in, *resp, resp_in, "loc.x.y", "1") == "svc.y.x");
  for (int i = 0; i < 1000; ++i) {
    auto k = std::to_string(i);
    CHECK(round_trip(*req, req_in, *resp, resp_in, "loc." + k + ".b", k) == "svc.b." + k);
  }
}

namespace {

// A0 imports the service "svc" from A1, A1 from A2, ..., A<hops-1> from A<hops>,
// where a responder answers.
std::string service_chain(int hops) {
  std::string conf = "accounts {\n";
  for (int i = 0; i <= hops; ++i) {
    conf += " A" + std::to_string(i) + " { " + user("u" + std::to_string(i));
    if (i > 0) conf += " exports = [ {service: svc}, {stream: \"x.>\"} ]\n";
    if (i < hops)
      conf += " imports = [ {service: {account: A" + std::to_string(i + 1) + ", subject: svc}}, {stream: {account: A" +
              std::to_string(i + 1) + ", subject: \"x.>\"}} ]\n";
    conf += " }\n";
  }
  return conf + "}\n";
}

}  // namespace

TEST_CASE("service chains: 8 hops answer, 9 or more are no responders; streams do not chain", "[accounts]") {
  for (int hops : {1, 8, 9, 12}) {
    INFO("hops: " << hops);
    server_process s({}, service_chain(hops));
    auto resp = client_with(s, "u" + std::to_string(hops), "SUB svc 1\r\nSUB x.> 2\r\n");
    auto req = client_with(s, "u0", "SUB inbox 1\r\nSUB x.> 2\r\n");
    frame_reader req_in(req->fd()), resp_in(resp->fd());
    if (hops <= 8) {
      CHECK(round_trip(*req, req_in, *resp, resp_in, "svc", "hello") == "svc");
    } else {
      req->send(pub("svc", "inbox", "hello"));
      auto a = req_in.next();
      REQUIRE(a);
      CHECK(a->op == "HMSG");
      CHECK(a->headers == "NATS/1.0 503\r\n\r\n");
    }
    // A stream published at the end of the chain reaches the next account only.
    auto next = client_with(s, "u" + std::to_string(hops - 1), "SUB x.> 1\r\n");
    resp->send(pub("x.1", "", "m") + "PING\r\n");
    REQUIRE(resp_in.next()->op == "MSG");  // its own subscription
    REQUIRE(resp_in.next()->op == "PONG");
    frame_reader next_in(next->fd());
    next->send("PING\r\n");
    CHECK(count_until_pong(next_in)["1"] == 1);
    if (hops > 1) {
      req->send("PING\r\n");
      CHECK(count_until_pong(req_in).count("2") == 0);  // nats-server 2.9: no re-export
    }
  }
}
