// The load generator's scenarios. Each one opens its own connections to one
// server, runs until its message count is reached or its time budget is spent,
// and returns what it measured. All run on the calling thread plus at most one
// worker thread (subscribers or responders share it, each with its own socket),
// because the benchmark machine may have only two cores.
#pragma once

#include "connection.hpp"

#include <cstdint>
#include <string>

namespace dialtone::bench {

struct scenario_options {
  endpoint server;
  std::uint64_t msgs = 1'000'000;  // messages published / requests sent
  std::size_t size = 16;           // payload bytes
  int subs = 1;                    // pubsub: subscriber connections
  int responders = 1;              // req/lat: responder connections (queue group "q")
  int window = 256;                // req: outstanding requests
  std::uint64_t warmup = 1'000;    // lat: requests not measured
  double timeout_s = 30.0;         // hard time budget for the whole scenario
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
};

// Publisher only: pre-built PUB frames written in large batches, then PING/PONG.
scenario_result run_pub(const scenario_options& opt);
// One publisher, opt.subs subscribers on the same subject (1 = 1:1, 4 = fan-out).
scenario_result run_pubsub(const scenario_options& opt);
// Pipelined request/reply: opt.window requests outstanding.
scenario_result run_request(const scenario_options& opt);
// One request outstanding at a time; latency percentiles.
scenario_result run_latency(const scenario_options& opt);

} // namespace dialtone::bench
