#pragma once
// Request logging: compliance recording of service traffic, never in the request path.
// See services/reqlog/README.md for the behaviour, the record format and the API.
//
// Shape:
// - tap (actors::request_tap) is called by the router on the I/O threads. It matches
//   the publisher's account and subject against that account's rules (one atomic load
//   of account::tap_rules), copies a recorded request into a bounded queue, and
//   remembers its reply subject in a sharded table so the answer is noticed when it is
//   published. A full queue drops the record, never the message: the count and time
//   range become a gap record.
// - The recorder, a thread of its own at the lowest priority and within a CPU budget
//   (max_cpu), drains the queue in batches, pairs requests with answers, closes
//   unanswered ones as timeouts, and writes each drain's records in one RocksDB batch
//   (services/store, its own store in <store_dir>/reqlog). It enforces max_age and
//   max_bytes, and publishes each record on $RLOG.EVENTS.<subject> in the recorded
//   account.
// - Each account has an internal client answering $RLOG.API.QUERY, $RLOG.API.GET.<id>
//   and $RLOG.API.RULES; the account a request comes from is the one it was published
//   in (the wiring), never a field of the request.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/service_host.hpp"

namespace reqlog {

struct rule {
  std::string account;
  std::vector<std::string> subjects;
};

struct options {
  bool enabled = true;    // false: a reload removed the request_log block; nothing is
                          // recorded (not even rules added at run time), records stay
  std::string store_dir;  // the records go to <store_dir>/reqlog
  std::vector<rule> record;
  int64_t max_age_ns = 0;    // 0: no age limit
  int64_t max_bytes = -1;    // -1: no size limit
  std::string auditor;       // an account that may query every account and manage rules
  int64_t response_threshold_ns = 2'000'000'000;
  // The queue between the I/O threads and the recorder: beyond either bound, records
  // are dropped (and counted in a gap record).
  size_t queue_max_records = 2048;
  // The recorder's CPU, as a share of one core (1: no limit). Beyond it the recorder
  // rests and the queue fills: overload drops records (gap records), it never takes
  // the I/O loops' CPU.
  double max_cpu = 0.1;
  size_t queue_max_bytes = 64u << 20;
};

// The request_log block of a configuration; `store_dir` is the running server's.
options options_from(const platform::config::server_options& opts, const std::string& store_dir);

// The service for the server actor; `inner` (may be null) is started first and stopped
// last (JetStream). Always installed: without a request_log block it records nothing
// until a reload adds one (the recorder then starts without a restart); a reload that
// removes the block stops recording and keeps the records queryable.
std::shared_ptr<actors::service_host> make_host(const platform::config::server_options& opts,
                                                std::shared_ptr<actors::service_host> inner);

}  // namespace reqlog
