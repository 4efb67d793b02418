// Client SDK core: the server->client parser fed byte strings (whole, split at every
// byte boundary, split twice, byte by byte), header blocks and server URLs.
#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "libplatform/client/client_parser.hpp"
#include "libplatform/client/message.hpp"
#include "libplatform/client/server_url.hpp"

using namespace platform::client;

namespace {

// Records every operation as an owned string, so views are copied during the call.
struct recorder final : client_parser_handler {
  std::vector<std::string> events;
  std::vector<const char*> payload_ptrs;  // where each payload view pointed

  void on_info(std::string_view json) override { events.push_back("INFO " + std::string(json)); }
  void on_msg(const msg_view& m) override {
    std::string e = m.has_headers ? "HMSG" : "MSG";
    e += " subj=" + std::string(m.subject) + " sid=" + std::string(m.sid) +
         " reply=" + std::string(m.reply) + " hdr=[" + std::string(m.header_block) +
         "] payload=[" + std::string(m.payload) + "]";
    events.push_back(std::move(e));
    payload_ptrs.push_back(m.payload.data());
  }
  void on_ping() override { events.push_back("PING"); }
  void on_pong() override { events.push_back("PONG"); }
  void on_ok() override { events.push_back("+OK"); }
  void on_err(std::string_view text) override { events.push_back("ERR " + std::string(text)); }
};

// Feeds each piece from its own heap copy, freed right after the call, so a view that
// outlives its buffer shows up under AddressSanitizer (and as garbage without it).
status feed_piece(client_parser& p, recorder& r, std::string_view piece) {
  auto copy = std::make_unique<char[]>(piece.size() + 1);
  std::copy(piece.begin(), piece.end(), copy.get());
  status s = p.feed(std::string_view(copy.get(), piece.size()), r);
  std::fill(copy.get(), copy.get() + piece.size(), '#');
  return s;
}

constexpr char stream_bytes[] =
    "INFO {\"server_id\":\"NABC\",\"headers\":true,\"max_payload\":1048576} \r\n"
    "MSG foo 1 5\r\nhello\r\n"
    "MSG foo.bar 22 _INBOX.abc.1 3\r\nxyz\r\n"
    "MSG empty 3 0\r\n\r\n"
    "HMSG _INBOX.abc.2 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "HMSG h 4 reply.to 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhi!!!\r\n"
    "PING\r\n"
    "PONG\r\n"
    "+OK\r\n"
    "-ERR 'Permissions Violation for Publish to \"secret\"'\r\n"
    "msg\tlow\t5\t4\r\nr\r\n\n\r\n"   // lower case, tabs, payload holding CR LF
    "ping\r\n"
    "MSG bin 6 6\r\n\0\r\n\0\r\0\r\n";

const std::vector<std::string> expected = {
    "INFO {\"server_id\":\"NABC\",\"headers\":true,\"max_payload\":1048576}",
    "MSG subj=foo sid=1 reply= hdr=[] payload=[hello]",
    "MSG subj=foo.bar sid=22 reply=_INBOX.abc.1 hdr=[] payload=[xyz]",
    "MSG subj=empty sid=3 reply= hdr=[] payload=[]",
    "HMSG subj=_INBOX.abc.2 sid=9 reply= hdr=[NATS/1.0 503\r\n\r\n] payload=[]",
    "HMSG subj=h sid=4 reply=reply.to hdr=[NATS/1.0\r\nA: b\r\nC: d\r\n\r\n] payload=[hi!!!]",
    "PING",
    "PONG",
    "+OK",
    "ERR Permissions Violation for Publish to \"secret\"",
    "MSG subj=low sid=5 reply= hdr=[] payload=[r\r\n\n]",
    "PING",
    std::string("MSG subj=bin sid=6 reply= hdr=[] payload=[") + std::string("\0\r\n\0\r\0", 6) + "]",
};

std::string full_stream() {
  // The literal above holds NUL bytes, so take its real length.
  return std::string(stream_bytes, sizeof stream_bytes - 1);
}

}  // namespace

TEST_CASE("client parser: whole stream in one read", "[client]") {
  client_parser p;
  recorder r;
  std::string s = full_stream();
  REQUIRE(p.feed(s, r).ok());
  CHECK(r.events == expected);
  CHECK(p.buffered() == 0);
}

TEST_CASE("client parser: payload views point into the read buffer (zero copy)", "[client]") {
  client_parser p;
  recorder r;
  std::string s = "MSG a 1 5\r\nhello\r\nMSG b 1 3\r\nxyz\r\n";
  REQUIRE(p.feed(s, r).ok());
  REQUIRE(r.payload_ptrs.size() == 2);
  CHECK(r.payload_ptrs[0] == s.data() + 11);
  CHECK(r.payload_ptrs[1] == s.data() + 29);
}

TEST_CASE("client parser: every frame split at every byte boundary", "[client]") {
  std::string s = full_stream();
  for (size_t i = 0; i <= s.size(); ++i) {
    client_parser p;
    recorder r;
    REQUIRE(feed_piece(p, r, std::string_view(s).substr(0, i)).ok());
    REQUIRE(feed_piece(p, r, std::string_view(s).substr(i)).ok());
    INFO("split at " << i);
    REQUIRE(r.events == expected);
    REQUIRE(p.buffered() == 0);
  }
}

TEST_CASE("client parser: split at every pair of boundaries", "[client]") {
  std::string s = full_stream();
  std::string_view v(s);
  for (size_t i = 0; i <= s.size(); ++i) {
    for (size_t j = i; j <= s.size(); ++j) {
      client_parser p;
      recorder r;
      REQUIRE(feed_piece(p, r, v.substr(0, i)).ok());
      REQUIRE(feed_piece(p, r, v.substr(i, j - i)).ok());
      REQUIRE(feed_piece(p, r, v.substr(j)).ok());
      if (r.events != expected) FAIL("splits at " << i << " and " << j);
    }
  }
}

TEST_CASE("client parser: one byte at a time", "[client]") {
  std::string s = full_stream();
  client_parser p;
  recorder r;
  for (char c : s) REQUIRE(feed_piece(p, r, std::string_view(&c, 1)).ok());
  CHECK(r.events == expected);
}

TEST_CASE("client parser: large payloads in random chunks", "[client]") {
  std::mt19937 rng(42);
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (char& c : big) c = static_cast<char>(rng());
  std::string hdr = "NATS/1.0\r\nK: v\r\n\r\n";
  std::string s = "MSG big 1 " + std::to_string(big.size()) + "\r\n" + big + "\r\n" +
                  "HMSG bigh 2 r " + std::to_string(hdr.size()) + " " +
                  std::to_string(hdr.size() + big.size()) + "\r\n" + hdr + big + "\r\nPONG\r\n";
  for (int round = 0; round < 4; ++round) {
    client_parser p;
    recorder r;
    std::uniform_int_distribution<size_t> chunk(1, round == 0 ? 17 : 200'000);
    for (size_t at = 0; at < s.size();) {
      size_t n = std::min(chunk(rng), s.size() - at);
      REQUIRE(feed_piece(p, r, std::string_view(s).substr(at, n)).ok());
      at += n;
    }
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0] == "MSG subj=big sid=1 reply= hdr=[] payload=[" + big + "]");
    CHECK(r.events[1] == "HMSG subj=bigh sid=2 reply=r hdr=[" + hdr + "] payload=[" + big + "]");
    CHECK(r.events[2] == "PONG");
    CHECK(p.buffered() == 0);
  }
}

TEST_CASE("client parser: tolerated variations", "[client]") {
  client_parser p;
  recorder r;
  REQUIRE(p.feed("PING\nPONG extra text\r\n\r\n+ok\r\n-ERR no quotes\r\nInfo {}\n", r).ok());
  CHECK(r.events == std::vector<std::string>{"PING", "PONG", "+OK", "ERR no quotes", "INFO {}"});
}

TEST_CASE("client parser: protocol errors stop the parser", "[client]") {
  auto fails = [](std::string bytes) {
    client_parser p;
    recorder r;
    status s = p.feed(bytes, r);
    if (s.ok()) return false;
    CHECK(s.code() == errc::protocol_error);
    CHECK(!p.feed("PING\r\n", r).ok());  // stays failed
    CHECK((r.events.empty() || r.events.back() != "PING"));
    return true;
  };
  CHECK(fails("HELLO world\r\n"));
  CHECK(fails("MSG foo 1\r\n"));                 // too few arguments
  CHECK(fails("MSG foo 1 r x y 3\r\n"));         // too many
  CHECK(fails("MSG foo 1 abc\r\n"));             // size not a number
  CHECK(fails("MSG foo 1 -3\r\n"));
  CHECK(fails("HMSG foo 1 10 5\r\n"));           // header larger than total
  CHECK(fails("HMSG foo 1 5\r\n"));
  CHECK(fails("MSG foo 1 2\r\nabXY"));           // payload not followed by CRLF
  CHECK(fails("MSG foo 1 2\r\nab\rX"));
  CHECK(fails("INFO\r\n"));

  client_parser small(16);
  recorder r;
  CHECK(small.feed("MSG foo 1 2\r\nab\r\n", r).ok());
  CHECK(small.feed("INFO {\"a\":\"0123456789\"}\r\n", r).code() == errc::protocol_error);
  client_parser split(16);
  CHECK(split.feed("INFO {\"a\":", r).ok());
  CHECK(split.feed("\"0123456789\"}", r).code() == errc::protocol_error);  // no '\n' yet
}

TEST_CASE("headers: parse no-responders, status text and fields", "[client]") {
  auto nr = parse_headers("NATS/1.0 503\r\n\r\n");
  REQUIRE(nr.ok());
  CHECK(nr->status_code == 503);
  CHECK(nr->description.empty());
  CHECK(nr->fields.empty());

  auto hb = parse_headers(
      "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nA:  x y \r\nA: 2\r\n\r\n");
  REQUIRE(hb.ok());
  CHECK(hb->status_code == 100);
  CHECK(hb->description == "Idle Heartbeat");
  REQUIRE(hb->fields.size() == 3);
  CHECK(*hb->get("Nats-Last-Consumer") == "5");
  CHECK(*hb->get("A") == "x y");  // first value, spaces trimmed
  CHECK(hb->fields[2].second == "2");
  CHECK(hb->get("a") == nullptr);  // case-sensitive, like the server

  CHECK(!parse_headers("HTTP/1.1 200\r\n\r\n").ok());
  CHECK(!parse_headers("NATS/1.0 abc\r\n\r\n").ok());
}

TEST_CASE("headers: encode round trip and rejects broken framing", "[client]") {
  headers h;
  h.add("Key", "value").add("Key", "second").add("X-Empty", "");
  std::string block;
  REQUIRE(encode_headers(h, block).ok());
  CHECK(block == "NATS/1.0\r\nKey: value\r\nKey: second\r\nX-Empty: \r\n\r\n");
  auto back = parse_headers(block);
  REQUIRE(back.ok());
  CHECK(back->fields == h.fields);

  headers s;
  s.status_code = 503;
  std::string sb;
  REQUIRE(encode_headers(s, sb).ok());
  CHECK(sb == "NATS/1.0 503\r\n\r\n");

  std::string junk;
  CHECK(!encode_headers(headers{}.add("Bad Key", "v"), junk).ok());
  CHECK(!encode_headers(headers{}.add("K:", "v"), junk).ok());
  CHECK(!encode_headers(headers{}.add("K", "a\r\nInjected: 1"), junk).ok());
}

TEST_CASE("server URLs", "[client]") {
  auto u = parse_server_url("nats://127.0.0.1:4333");
  REQUIRE(u.ok());
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 4333);
  CHECK(u->user.empty());
  CHECK(u->token.empty());

  u = parse_server_url("demo.example");
  REQUIRE(u.ok());
  CHECK(u->host == "demo.example");
  CHECK(u->port == 4222);

  u = parse_server_url("localhost:5000");
  REQUIRE(u.ok());
  CHECK(u->endpoint() == "localhost:5000");

  u = parse_server_url("nats://alice:p%40ss:w@h:1/");
  REQUIRE(u.ok());
  CHECK(u->user == "alice");
  CHECK(u->pass == "p@ss:w");
  CHECK(u->host == "h");

  u = parse_server_url("NATS://s3cr3t@h");
  REQUIRE(u.ok());
  CHECK(u->token == "s3cr3t");
  CHECK(u->user.empty());

  u = parse_server_url("nats://[::1]:4223");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == 4223);
  CHECK(u->endpoint() == "[::1]:4223");
  u = parse_server_url("::1");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == 4222);

  for (const char* bad : {"", "nats://", "http://h:1", "tls://h:1", "h:0", "h:65536", "h:x",
                          "h:", "nats://:pw@h", "nats://@h", "[::1", "h/path", "nats://u:%zz@h"}) {
    INFO(bad);
    auto r = parse_server_url(bad);
    CHECK(!r.ok());
    CHECK(r.code() == errc::invalid_url);
  }

  CHECK(redact_url("nats://alice:pw@h:1") == "nats://alice:***@h:1");
  CHECK(redact_url("nats://tok@h") == "nats://***@h");
  CHECK(redact_url("nats://h:1") == "nats://h:1");
  CHECK(parse_server_url("nats://u:topsecret@h:x").error().message().find("topsecret") ==
        std::string::npos);
}
