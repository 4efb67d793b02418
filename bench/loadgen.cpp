// dialtone-loadgen: a raw-socket NATS load generator. It measures one scenario
// against one server and prints the result as a single JSON line on stdout, so
// bench/run.py can drive it against dialtone-server and nats-server alike.
#include "json_escape.hpp"
#include "parser_selftest.hpp"
#include "scenarios.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using namespace dialtone::bench;

constexpr const char* usage_text = R"(usage: dialtone-loadgen SCENARIO [options]

Scenarios:
  pub        one publisher, no subscribers; msgs/s until the final PONG
  pubsub     one publisher, --subs N subscribers (default 1); delivered msgs/s
  fanout     pubsub with --subs 4 unless given
  req        request/reply throughput, --window requests outstanding
  lat        request/reply latency, one request outstanding (p50/p99 in us)
             (req, lat: with --latency-subject also counts the service latency
             reports and fails unless there is exactly one per request)
  index      pubsub 1:1 with --noise-small, then --noise, other subscriptions in the
             server's index; msgs/s for both and the ratio ("kept"); with
             --server-pid also the server's CPU time per message
  idle       --conns idle connections with --subs-per-conn subscriptions each; the
             server's VmRSS (--server-pid) once all are confirmed, then a health check
  subunsub   SUB then UNSUB distinct subjects, each pass on a fresh connection and
             ended by PING/PONG: --ops/--ops-small passes of --ops-small, against
             one pass of --ops (same work); us per op and growth
  selftest   check the protocol parser, no server needed

Options:
  --host ADDR        server IPv4 address (127.0.0.1)
  --port PORT        server port (4222)
  --msgs N           messages to publish / requests to send (1000000)
  --size BYTES       payload size (16)
  --subs N           pubsub subscriber connections (1; fanout: 4)
  --responders N     req/lat responders in queue group "q" on --subject (1)
  --window N         req: outstanding requests (256)
  --subject SUBJ     req/lat: the subject requests go to and responders
                     subscribe to ("svc"); through a service import, the
                     importing account's subject
  --tls-ca FILE      every connection over TLS (plain INFO, then the handshake, as
                     NATS clients do), the server's certificate checked against
                     this CA
  --user NAME        CONNECT user of every connection but the responders (none)
  --pass PASSWORD    CONNECT password that goes with --user
  --responder-user NAME, --responder-pass PASSWORD
                     req/lat: the responders' credentials, e.g. of the
                     exporting account (default: --user, --pass)
  --latency-subject SUBJ
                     req/lat: one more connection, with the responders'
                     credentials, subscribes to SUBJ and counts the reports;
                     after the last reply it waits (3 s without one at most)
                     for one report per request. Adds "requests",
                     "latency_reports" and "reports_lag_seconds" to the JSON
  --feed-subject SUBJ
                     req/lat: as --latency-subject, but counts what arrives
                     without wanting one per request (a feed, e.g. the request
                     log's $RLOG.EVENTS.>): "feed_msgs", "feed_lag_seconds"
  --warmup N         lat: unmeasured requests first (1000)
  --timeout SECONDS  hard time budget for the scenario (30)
  --noise N          index: other subscriptions, large case (1000000)
  --noise-small N    index: other subscriptions, small case (10)
  --conns N          idle: connections (10000)
  --subs-per-conn N  idle: subscriptions per connection (10)
  --server-pid PID   idle, index: the server's process, for its VmRSS and CPU time
                     (read from /proc, so only on the same machine)
  --ops N            subunsub: subjects, large case (100000)
  --ops-small N      subunsub: subjects, small case (10000)
  --reps N           subunsub: repetitions of both halves, the fastest counts (10)

Prints one JSON line. Exit status: 0 complete, 1 incomplete or failed, 2 usage.
)";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "dialtone-loadgen: %s\n\n%s", why.c_str(), usage_text);
  std::exit(2);
}

std::uint64_t parse_count(const char* flag, const char* value, std::uint64_t min, std::uint64_t max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
    usage_error(std::string("bad value for ") + flag + ": " + value);
  return v;
}

using bench::json_escape;

void print_result(std::string_view scenario, const scenario_options& opt, const scenario_result& r) {
  std::printf(
      "{\"scenario\":\"%.*s\",\"port\":%u,\"msgs\":%llu,\"size\":%zu,\"subs\":%d,\"responders\":%d,"
      "\"window\":%d,\"target\":%llu,\"done\":%llu,\"seconds\":%.6f,\"rate\":%.1f,"
      "\"publish_rate\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
      "\"max_us\":%.2f,\"mean_us\":%.2f,\"complete\":%s,\"error\":\"%s\"",
      static_cast<int>(scenario.size()), scenario.data(), opt.server.port,
      static_cast<unsigned long long>(opt.msgs), opt.size, opt.subs, opt.responders, opt.window,
      static_cast<unsigned long long>(r.target), static_cast<unsigned long long>(r.done), r.seconds,
      r.rate, r.publish_rate, r.p50_us, r.p90_us, r.p99_us, r.p999_us, r.max_us, r.mean_us,
      r.complete ? "true" : "false", json_escape(r.error).c_str());
  for (const auto& [name, value] : r.figures) {
    if (std::isfinite(value)) std::printf(",\"%s\":%.10g", json_escape(name).c_str(), value);
    else std::printf(",\"%s\":null", json_escape(name).c_str());
  }
  std::printf("}\n");
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("missing scenario");
  std::string_view scenario = argv[1];
  if (scenario == "-h" || scenario == "--help") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (scenario == "selftest") return run_parser_selftest();

  scenario_options opt;
  bool subs_given = false;
  bool responder_user_given = false, responder_pass_given = false;
  // Subjects go into protocol lines as they are: one token, no spaces or wildcards.
  auto subject_arg = [](const char* flag, const char* value) {
    std::string_view v = value;
    if (v.empty() || v.find_first_of(" \t\r\n*>") != std::string_view::npos || v.front() == '.' ||
        v.back() == '.' || v.find("..") != std::string_view::npos)
      usage_error(std::string("bad subject for ") + flag + ": " + value);
    return std::string(v);
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value for " + std::string(flag));
    const char* value = argv[++i];
    if (flag == "--host") opt.server.host = value;
    else if (flag == "--port") opt.server.port = static_cast<std::uint16_t>(parse_count(argv[i - 1], value, 1, 65535));
    else if (flag == "--msgs") opt.msgs = parse_count(argv[i - 1], value, 1, 1'000'000'000'000ULL);
    else if (flag == "--size") opt.size = parse_count(argv[i - 1], value, 0, 64 * 1024 * 1024);
    else if (flag == "--subs") { opt.subs = static_cast<int>(parse_count(argv[i - 1], value, 1, max_pump_conns)); subs_given = true; }
    else if (flag == "--responders") opt.responders = static_cast<int>(parse_count(argv[i - 1], value, 1, max_pump_conns));
    else if (flag == "--window") opt.window = static_cast<int>(parse_count(argv[i - 1], value, 1, 1'000'000));
    else if (flag == "--noise") opt.noise = parse_count(argv[i - 1], value, 0, 100'000'000);
    else if (flag == "--noise-small") opt.noise_small = parse_count(argv[i - 1], value, 0, 100'000'000);
    else if (flag == "--conns") opt.conns = static_cast<int>(parse_count(argv[i - 1], value, 1, 1'000'000));
    else if (flag == "--subs-per-conn") opt.subs_per_conn = static_cast<int>(parse_count(argv[i - 1], value, 0, 100'000));
    else if (flag == "--server-pid") opt.server_pid = static_cast<int>(parse_count(argv[i - 1], value, 0, 1u << 30));
    else if (flag == "--ops") opt.ops = parse_count(argv[i - 1], value, 1, 100'000'000);
    else if (flag == "--ops-small") opt.ops_small = parse_count(argv[i - 1], value, 1, 100'000'000);
    else if (flag == "--reps") opt.reps = static_cast<int>(parse_count(argv[i - 1], value, 1, 1000));
    else if (flag == "--subject") opt.subject = subject_arg(argv[i - 1], value);
    else if (flag == "--latency-subject") opt.latency_subject = subject_arg(argv[i - 1], value);
    else if (flag == "--feed-subject") {
      opt.latency_subject = subject_arg(argv[i - 1], value);
      opt.feed = true;
    }
    else if (flag == "--user") opt.server.user = value;
    else if (flag == "--tls-ca") opt.server.tls_ca = value;
    else if (flag == "--pass") opt.server.pass = value;
    else if (flag == "--responder-user") { opt.responder_user = value; responder_user_given = true; }
    else if (flag == "--responder-pass") { opt.responder_pass = value; responder_pass_given = true; }
    else if (flag == "--warmup") opt.warmup = parse_count(argv[i - 1], value, 0, 100'000'000);
    else if (flag == "--timeout") {
      char* end = nullptr;
      opt.timeout_s = std::strtod(value, &end);
      if (end == value || *end != '\0' || !(opt.timeout_s > 0)) usage_error(std::string("bad --timeout: ") + value);
    } else usage_error("unknown option " + std::string(flag));
  }
  if (!responder_user_given) opt.responder_user = opt.server.user;
  if (!responder_pass_given) opt.responder_pass = responder_user_given ? "" : opt.server.pass;
  // The report subscriber shares the responders' pump(), which serves max_pump_conns.
  if (!opt.latency_subject.empty() && opt.responders >= static_cast<int>(max_pump_conns))
    usage_error("--latency-subject allows at most " + std::to_string(max_pump_conns - 1) + " responders");

  scenario_result r;
  if (scenario == "pub") {
    r = run_pub(opt);
  } else if (scenario == "pubsub" || scenario == "fanout") {
    if (scenario == "fanout" && !subs_given) opt.subs = 4;
    r = run_pubsub(opt);
  } else if (scenario == "req") {
    r = run_request(opt);
  } else if (scenario == "lat") {
    r = run_latency(opt);
  } else if (scenario == "index") {
    r = run_index(opt);
  } else if (scenario == "idle") {
    r = run_idle(opt);
  } else if (scenario == "subunsub") {
    r = run_subunsub(opt);
  } else {
    usage_error("unknown scenario " + std::string(scenario));
  }
  print_result(scenario, opt, r);
  if (!r.complete) std::fprintf(stderr, "dialtone-loadgen %.*s: incomplete: %s\n",
                                static_cast<int>(scenario.size()), scenario.data(),
                                r.error.empty() ? "count not reached" : r.error.c_str());
  return r.complete ? 0 : 1;
}
