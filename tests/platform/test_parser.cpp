// The client->server parser: every operation, fed whole, split at every byte boundary
// and one byte at a time, must produce the same events; bad input gets the right error.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "libplatform/protocol/parser.hpp"

using namespace platform::protocol;

namespace {

struct recorder : parser_handler {
  std::vector<std::string> events;
  bool stop_on_ping = false;
  bool on_connect(std::string_view json) override {
    events.push_back("CONNECT " + std::string(json));
    return true;
  }
  bool on_msg(const message_args& m) override {
    std::string e = m.header_len >= 0 ? "HPUB " : "PUB ";
    e += std::string(m.subject) + "|" + std::string(m.reply) + "|" + std::to_string(m.header_len) + "|" +
         std::string(m.data);
    events.push_back(e);
    return true;
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override {
    events.push_back("SUB " + std::string(s) + "|" + std::string(q) + "|" + std::string(sid));
    return true;
  }
  bool on_unsub(std::string_view sid, int64_t max) override {
    events.push_back("UNSUB " + std::string(sid) + "|" + std::to_string(max));
    return true;
  }
  bool on_ping() override {
    events.push_back("PING");
    return !stop_on_ping;
  }
  bool on_pong() override {
    events.push_back("PONG");
    return true;
  }
};

const std::string all_ops =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n"
    "PING\r\n"
    "pong\r\n"
    "SUB foo 1\r\n"
    "sub bar.* q1 2\r\n"
    "SUB\tbaz.>\t\tq2   3\r\n"
    "PUB foo 5\r\nhello\r\n"
    "pub foo reply.1 0\r\n\r\n"
    "PUB foo  reply.2   12\r\nhello\r\nworld\r\n"
    "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n"
    "hpub foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n"
    "UNSUB 1\r\n"
    "UNSUB 2 10\r\n"
    "+OK\r\n"
    "info {\"server_id\":\"x\"}\r\n"
    "+ok\n"
    "PING\n"
    "PUB x 3\r\n\r\n\n\r\n";

std::vector<std::string> expected_events() {
  return {"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}",
          "PING",
          "PONG",
          "SUB foo||1",
          "SUB bar.*|q1|2",
          "SUB baz.>|q2|3",
          "PUB foo||-1|hello",
          "PUB foo|reply.1|-1|",
          "PUB foo|reply.2|-1|hello\r\nworld",
          "HPUB foo||12|NATS/1.0\r\n\r\nhello",
          "HPUB foo|r|12|NATS/1.0\r\n\r\n",
          "UNSUB 1|-1",
          "UNSUB 2|10",
          "PING",
          "PUB x||-1|\r\n\n"};
}

std::vector<std::string> feed(const std::vector<std::string>& pieces, parse_status* last = nullptr) {
  server_parser p;
  recorder r;
  parse_status st = parse_status::ok;
  for (auto& piece : pieces) {
    st = p.parse(piece.data(), piece.size(), r);
    if (st != parse_status::ok) break;
  }
  if (last) *last = st;
  return r.events;
}

}  // namespace

TEST_CASE("parser handles every operation in one buffer", "[parser]") {
  parse_status st;
  CHECK(feed({all_ops}, &st) == expected_events());
  CHECK(st == parse_status::ok);
}

TEST_CASE("parser handles every split point", "[parser]") {
  auto want = expected_events();
  for (size_t i = 1; i < all_ops.size(); ++i) {
    INFO("split at " << i);
    REQUIRE(feed({all_ops.substr(0, i), all_ops.substr(i)}) == want);
  }
}

TEST_CASE("parser handles three-way splits and byte-at-a-time input", "[parser]") {
  auto want = expected_events();
  for (size_t i = 1; i < all_ops.size(); i += 7) {
    for (size_t j = i + 1; j < all_ops.size(); j += 5) {
      INFO("split at " << i << " and " << j);
      REQUIRE(feed({all_ops.substr(0, i), all_ops.substr(i, j - i), all_ops.substr(j)}) == want);
    }
  }
  std::vector<std::string> bytes;
  for (char c : all_ops) bytes.emplace_back(1, c);
  CHECK(feed(bytes) == want);
}

TEST_CASE("parser errors", "[parser]") {
  auto error_of = [](const std::string& input, size_t max_line = 4096, int64_t max_payload = 1 << 20) {
    server_parser p;
    p.set_limits(int64_t(max_line), max_payload);
    recorder r;
    auto st = p.parse(input.data(), input.size(), r);
    REQUIRE(st == parse_status::error);
    return p.error();
  };
  SECTION("unknown operations are caught at once, even without a newline") {
    CHECK(error_of("GARBAGE\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("XYZ") == err::unknown_protocol_operation);
    CHECK(error_of("PUBX foo 1\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("\r\n") == err::unknown_protocol_operation);
    CHECK(error_of(std::string("\x00\x01\x02\xff", 4)) == err::unknown_protocol_operation);
  }
  SECTION("wrong argument counts and sizes") {
    CHECK(error_of("PUB foo\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("PUB foo bar baz 1\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("PUB foo -1\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("PUB foo abc\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("HPUB foo 10 5\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("SUB foo\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("SUB a b c d\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("UNSUB\r\n") == err::unknown_protocol_operation);
  }
  SECTION("a payload not followed by CRLF (wrong byte count)") {
    CHECK(error_of("PUB foo 3\r\nhello\r\n") == err::unknown_protocol_operation);
    CHECK(error_of("PUB foo 7\r\nhello\r\nPING\r\n") == err::unknown_protocol_operation);
  }
  SECTION("limits") {
    CHECK(error_of("PUB foo 2000000\r\n") == err::maximum_payload_violation);
    CHECK(error_of("PUB foo 101\r\n", 4096, 100) == err::maximum_payload_violation);
    CHECK(error_of("SUB " + std::string(5000, 'a') + " 1\r\n") == err::maximum_control_line_exceeded);
    // No newline yet, but already too long: refused without buffering more.
    CHECK(error_of("SUB " + std::string(5000, 'a')) == err::maximum_control_line_exceeded);
    CHECK(error_of("PING " + std::string(100, 'x'), 50) == err::maximum_control_line_exceeded);
  }
}

TEST_CASE("parser: +OK, INFO and -ERR from a client are handled as nats-server does", "[parser]") {
  // Every operation in the parser's table has a case: each of these is complete in one
  // read, and each is also accepted while it is still arriving.
  auto run = [](const std::string& in, server_parser& p, recorder& r) {
    for (size_t i = 1; i < in.size(); ++i) {
      server_parser partial;
      recorder ignored;
      INFO("prefix " << in.substr(0, i));
      REQUIRE(partial.parse(in.data(), i, ignored) == parse_status::ok);
    }
    return p.parse(in.data(), in.size(), r);
  };
  SECTION("+OK is ignored (nats-server: OP_PLUS_OK skips to the newline)") {
    server_parser p;
    recorder r;
    CHECK(run("+OK\r\n+ok\n+OK whatever\r\nPING\r\n", p, r) == parse_status::ok);
    CHECK(r.events == std::vector<std::string>{"PING"});
  }
  SECTION("INFO is ignored") {
    server_parser p;
    recorder r;
    CHECK(run("INFO {}\r\nPING\r\n", p, r) == parse_status::ok);
    CHECK(r.events == std::vector<std::string>{"PING"});
  }
  SECTION("-ERR ends the parse with the client's text (nats-server: processErr closes)") {
    server_parser p;
    recorder r;
    std::string in = "PING\r\n-ERR 'Slow Consumer'\r\nPING\r\n";
    CHECK(p.parse(in.data(), in.size(), r) == parse_status::error);
    CHECK(r.events == std::vector<std::string>{"PING"});
    CHECK(p.error() == err::unknown_protocol_operation);
    CHECK(p.has_peer_error());
    CHECK(p.peer_error() == "'Slow Consumer'");
    // Split anywhere, the same.
    in = "-err\t  x y\r\n";
    for (size_t i = 1; i < in.size(); ++i) {
      server_parser q;
      REQUIRE(q.parse(in.data(), i, r) == parse_status::ok);
      REQUIRE(q.parse(in.data() + i, in.size() - i, r) == parse_status::error);
      CHECK(q.has_peer_error());
      CHECK(q.peer_error() == "x y");
    }
  }
  SECTION("-ERR needs a blank after it, as in nats-server") {
    for (std::string in : {"-ERR\r\n", "-ERRx\r\n", "-ERRx", "-EX", "+X", "+OX"}) {
      INFO(in);
      server_parser p;
      recorder r;
      CHECK(p.parse(in.data(), in.size(), r) == parse_status::error);
      CHECK(p.error() == err::unknown_protocol_operation);
      CHECK_FALSE(p.has_peer_error());
    }
  }
}

TEST_CASE("parser: an UNSUB max that is not a positive number is ignored, as nats-server does", "[parser]") {
  auto events = feed({"UNSUB 1 x\r\nUNSUB 2 -1\r\nUNSUB 3 5\r\nPING\r\n"});
  REQUIRE(events.size() == 4);
  CHECK(events[0] == "UNSUB 1|-1");
  CHECK(events[1] == "UNSUB 2|-1");
  CHECK(events[2] == "UNSUB 3|5");
  CHECK(events[3] == "PING");
}

TEST_CASE("parser stops when the handler says so", "[parser]") {
  server_parser p;
  recorder r;
  r.stop_on_ping = true;
  std::string in = "PING\r\nPONG\r\n";
  CHECK(p.parse(in.data(), in.size(), r) == parse_status::stopped);
  CHECK(r.events == std::vector<std::string>{"PING"});
}

TEST_CASE("parser passes large payloads split across many reads", "[parser]") {
  std::string payload(300000, 'x');
  for (size_t i = 0; i < payload.size(); i += 97) payload[i] = char('a' + i % 26);
  std::string in = "PUB big 300000\r\n" + payload + "\r\nPING\r\n";
  std::vector<std::string> pieces;
  for (size_t i = 0; i < in.size(); i += 4096) pieces.push_back(in.substr(i, 4096));
  auto ev = feed(pieces);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0] == "PUB big||-1|" + payload);
  CHECK(ev[1] == "PING");
}

TEST_CASE("parser survives random and mutated input", "[parser][bad-input]") {
  // Every input either parses or stops with an error; nothing crashes, nothing is
  // buffered beyond the limits.
  std::mt19937 rng(4242);
  for (int round = 0; round < 3000; ++round) {
    std::string in;
    if (round % 2 == 0) {
      size_t n = rng() % 300;
      for (size_t i = 0; i < n; ++i) in += char(rng() % 256);
    } else {
      in = all_ops;
      for (int k = 0; k < 5; ++k) in[rng() % in.size()] = char(rng() % 256);
    }
    server_parser p;
    p.set_limits(256, 1024);
    recorder r;
    size_t pos = 0;
    while (pos < in.size()) {
      size_t take = 1 + rng() % 64;
      take = std::min(take, in.size() - pos);
      auto st = p.parse(in.data() + pos, take, r);
      pos += take;
      if (st == parse_status::error) break;
      REQUIRE(p.buffered() <= 1024 + 2 + 256);
    }
  }
}

namespace {

// Records, at each SUB/UNSUB, what the parser says comes next.
struct lookahead_recorder : recorder {
  server_parser* parser = nullptr;
  std::vector<std::string> next;
  void note() {
    const auto& u = parser->upcoming();
    switch (u.what) {
      case upcoming_op::kind::none: next.push_back("-"); break;
      case upcoming_op::kind::sub: next.push_back("SUB " + std::string(u.subject) + " " + std::string(u.sid)); break;
      case upcoming_op::kind::unsub: next.push_back("UNSUB " + std::string(u.sid)); break;
    }
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override {
    note();
    return recorder::on_sub(s, q, sid);
  }
  bool on_unsub(std::string_view sid, int64_t max) override {
    note();
    return recorder::on_unsub(sid, max);
  }
};

}  // namespace

TEST_CASE("parser: a SUB/UNSUB sees the next SUB/UNSUB already in the buffer", "[parser]") {
  server_parser p;
  lookahead_recorder r;
  r.parser = &p;
  std::string in =
      "SUB a.1 1\r\n"
      "sub a.2 q 2\r\n"   // queue: the sid is the last argument
      "UNSUB 1\r\n"
      "unsub 2 5\r\n"
      "PING\r\n"          // not a SUB/UNSUB: nothing to look at
      "SUB a.3 3\r\n"
      "PUB a.3 1\r\nx\r\n"
      "SUB a.4 4\r\n"
      "SUB a.5";           // incomplete: not reported
  REQUIRE(p.parse(in.data(), in.size(), r) == parse_status::ok);
  CHECK(r.next == std::vector<std::string>{"SUB a.2 2", "UNSUB 1", "UNSUB 2", "-", "-", "-"});
  // Outside a callback there is nothing upcoming.
  CHECK(p.upcoming().what == upcoming_op::kind::none);
  // The operations themselves are unchanged by the look-ahead.
  CHECK(r.events == std::vector<std::string>{"SUB a.1||1", "SUB a.2|q|2", "UNSUB 1|-1", "UNSUB 2|5", "PING",
                                             "SUB a.3||3", "PUB a.3||-1|x", "SUB a.4||4"});
}
