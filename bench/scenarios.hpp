// The load generator's scenarios. Each one opens its own connections to one
// server, runs until its message count is reached or its time budget is spent,
// and returns what it measured. All run on the calling thread plus at most one
// worker thread (subscribers or responders share it, each with its own socket),
// because the benchmark machine may have only two cores. The scaling scenarios
// (idle connections, subscribe/unsubscribe) live in scaling.cpp.
#pragma once

#include "connection.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dialtone::bench {

struct scenario_options {
  endpoint server;                 // also the credentials of every connection but responders
  std::uint64_t msgs = 1'000'000;  // messages published / requests sent
  std::size_t size = 16;           // payload bytes
  int subs = 1;                    // pubsub: subscriber connections
  int responders = 1;              // req/lat: responder connections (queue group "q")
  int window = 256;                // req: outstanding requests
  std::string subject = "svc";     // req/lat: requests are published to it, responders subscribe to it
  std::string responder_user;      // req/lat: responders' (and the report subscriber's) credentials
  std::string responder_pass;
  std::string latency_subject;     // req/lat: if set, one more connection with the responders'
                                   // credentials subscribes to it and counts the latency reports
  bool feed = false;               // latency_subject is a feed (--feed-subject): counted, not
                                   // required to carry one message per request
  std::uint64_t warmup = 1'000;    // lat: requests not measured
  double timeout_s = 30.0;         // hard time budget for the whole scenario
  int conns = 10'000;              // idle: client connections held open
  int subs_per_conn = 10;          // idle: subscriptions per connection
  std::uint64_t noise = 1'000'000; // index: non-matching subscriptions, large case
  std::uint64_t noise_small = 10;  // index: non-matching subscriptions, small case
  std::uint64_t ops = 100'000;     // subunsub: SUBs (then UNSUBs), large case
  std::uint64_t ops_small = 10'000;// subunsub: small case
  int reps = 10;                   // subunsub: repetitions per size; the fastest counts
  int server_pid = 0;              // idle: read this process's VmRSS (0 = don't)
};

struct scenario_result {
  std::uint64_t target = 0;     // messages (or replies) expected
  std::uint64_t done = 0;       // messages (or replies) actually counted
  double seconds = 0;           // measured interval
  double rate = 0;              // done / seconds
  double publish_rate = 0;      // pubsub: publisher's rate up to its PONG
  bool complete = false;        // done == target within the time budget
  std::string error;            // first failure, if any
  // lat only, microseconds
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
  // Scenario-specific figures, printed as extra fields of the JSON line.
  std::vector<std::pair<std::string, double>> figures;
};

// Publisher only: pre-built PUB frames written in large batches, then PING/PONG.
scenario_result run_pub(const scenario_options& opt);
// One publisher, opt.subs subscribers on the same subject (1 = 1:1, 4 = fan-out).
scenario_result run_pubsub(const scenario_options& opt);
// Pipelined request/reply: opt.window requests outstanding. With opt.latency_subject,
// every request must also produce exactly one report on that subject (after the last
// reply the run waits for missing ones; the rate ends at the last reply).
scenario_result run_request(const scenario_options& opt);
// One request outstanding at a time; latency percentiles. opt.latency_subject as above.
scenario_result run_latency(const scenario_options& opt);
// pubsub 1:1 while the index holds opt.noise_small, then opt.noise, other subscriptions;
// opt.msgs per phase, in bursts whose median rate counts.
scenario_result run_index(const scenario_options& opt);
// scaling.cpp: opt.conns idle connections with opt.subs_per_conn subscriptions each;
// the server's VmRSS once all are confirmed; then a health check after closing them.
scenario_result run_idle(const scenario_options& opt);
// scaling.cpp: SUB then UNSUB opt.ops_small, then opt.ops, subjects on one connection.
scenario_result run_subunsub(const scenario_options& opt);

} // namespace dialtone::bench
