// `dialtone-loadgen selftest`: checks the inbound parser on byte strings, split
// at every position, so the message counts the benchmark reports can be trusted.
// Lives here rather than in tests/ because the parser belongs to the bench tool.
#include "parser_selftest.hpp"

#include "inbound_parser.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace dialtone::bench {
namespace {

struct recording_sink {
  std::vector<std::string> subjects;
  std::vector<std::string> replies;
  std::vector<std::size_t> sizes;
  int pings = 0;
  void on_msg(std::string_view subject, std::string_view reply, std::size_t size) {
    subjects.emplace_back(subject);
    replies.emplace_back(reply);
    sizes.push_back(size);
  }
  void on_ping() { ++pings; }
};

// Well-formed stream: every op the server sends, payloads holding CR/LF,
// tab separators, an empty payload and an HMSG.
const std::string good_stream =
    "INFO {\"server_id\":\"x\",\"headers\":true} \r\n"
    "MSG a 1 5\r\nhello\r\n"
    "MSG b.c 22 _INBOX.x.1 0\r\n\r\n"
    "+OK\r\n"
    "HMSG r 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "PING\r\n"
    "MSG\tt\t7\t4\r\n\r\n\r\n\r\n"
    "PONG\r\n"
    "MSG long.subject.name 3 reply.to 10\r\n0123456789\r\n";

int failures = 0;

void check(bool ok, const char* what, std::size_t split) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "selftest FAILED: %s (split at %zu)\n", what, split);
  }
}

void check_good_split(std::size_t split) {
  recording_sink sink;
  inbound_parser<recording_sink> parser(sink);
  bool ok = parser.feed(good_stream.data(), split) &&
            parser.feed(good_stream.data() + split, good_stream.size() - split);
  check(ok, "good stream parses", split);
  check(parser.msgs() == 5, "five MSG/HMSG frames", split);
  check(parser.header_msgs() == 1, "one HMSG", split);
  check(parser.pongs() == 1 && sink.pings == 1, "one PING, one PONG", split);
  check(sink.sizes == std::vector<std::size_t>{5, 0, 14, 4, 10}, "payload sizes", split);
  check(sink.replies.size() == 5 && sink.replies[1] == "_INBOX.x.1" && sink.replies[4] == "reply.to" &&
            sink.replies[0].empty() && sink.replies[2].empty(),
        "reply subjects", split);
  check(sink.subjects.size() == 5 && sink.subjects[3] == "t" && sink.subjects[4] == "long.subject.name",
        "subjects", split);
}

void check_bytewise() {
  recording_sink sink;
  inbound_parser<recording_sink> parser(sink);
  bool ok = true;
  for (char c : good_stream) ok = ok && parser.feed(&c, 1);
  check(ok && parser.msgs() == 5, "byte-by-byte feed", 1);
}

void check_rejects(const std::string& bytes, const char* what) {
  recording_sink sink;
  inbound_parser<recording_sink> parser(sink);
  check(!parser.feed(bytes.data(), bytes.size()), what, bytes.size());
}

} // namespace

int run_parser_selftest() {
  for (std::size_t split = 0; split <= good_stream.size(); ++split) check_good_split(split);
  check_bytewise();
  check_rejects("MSG a 1 5\r\nhelloXX", "payload longer than declared");
  check_rejects("MSG a 1\r\n", "MSG without size");
  check_rejects("MSG a 1 x\r\n", "non-numeric size");
  check_rejects("-ERR 'Unknown Protocol Operation'\r\n", "-ERR is an error");
  check_rejects("BOGUS\r\n", "unknown operation");
  if (failures == 0) std::printf("selftest ok\n");
  return failures == 0 ? 0 : 1;
}

} // namespace dialtone::bench
