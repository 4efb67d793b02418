#pragma once
// In-flight service requests of one exporting account. When a request crosses into the
// exporter through a service import, its reply subject is replaced by a fresh
// "_R_.<account prefix>.<id>" and an entry here remembers where the answer goes (the
// importing account and the original reply). The exporter's response router (an
// internal subscription on "_R_.<prefix>.>") takes entries out as answers arrive.
// Thread-safe (one mutex); entries expire after the export's response_threshold.
//
// Nothing here allocates per request (the route's copy of the requester's reply aside):
// routes sit in a flat table keyed by the id that the reply subject carries, and the
// subject is built in a buffer on the caller's stack. A request allocated on one I/O
// thread is answered on another, and each allocation freed across threads costs a
// malloc arena's lock (BENCHMARKS.md, run 20).
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "libplatform/accounts/auth_config.hpp"

namespace actors {

class account;

// What a sampled request remembers for its latency report.
struct latency_sample {
  std::shared_ptr<const std::string> subject;  // where the report is published, in the exporter
  std::shared_ptr<const std::string> requestor_json;  // {"acc":..,"name":..,...}, shared per connection
  std::chrono::system_clock::time_point start;
  std::chrono::steady_clock::time_point forwarded;
};

struct pending_response {
  std::weak_ptr<account> requester;  // the account may be removed while the request is out
  std::string reply;  // the requester's own reply subject
  platform::accounts::response_type type = platform::accounts::response_type::singleton;
  std::chrono::nanoseconds threshold{};
  std::chrono::steady_clock::time_point expires;
  std::optional<latency_sample> latency;  // only on the first response
  uint32_t tag = 0;  // the reply subject's four random characters (set by add())
};

// "_R_.<6 characters>.<id, base62><4 random characters>": at most 4 + 6 + 1 + 11 + 4.
struct reply_subject {
  char data[32];
  uint8_t size = 0;
  std::string_view view() const noexcept { return {data, size}; }
  bool empty() const noexcept { return size == 0; }
};

class response_table {
 public:
  explicit response_table(std::string prefix);

  // "_R_.<prefix>." (the subscription subject is this plus ">").
  const std::string& reply_prefix() const noexcept { return reply_prefix_; }
  // Routes in flight at most: requests that are never answered stay until their
  // threshold passes, so a flood of them must not grow the table without bound.
  static constexpr size_t max_routes = 1 << 20;

  // Registers a response route and returns the reply subject to use in the exporter,
  // or an empty one when the table is full (the request is then shed, and a
  // requester that asked for no_responders is told so at once).
  // `now` is when the request was forwarded (its threshold counts from then).
  reply_subject add(pending_response r, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // Finds the route for a response on `subject`. Singleton routes are removed; stream
  // and chunked routes are removed on an empty payload and otherwise extended.
  std::optional<pending_response> take(std::string_view subject, bool empty_payload);
  void remove(std::string_view subject);
  // Drops routes whose threshold passed; returns how many.
  size_t expire(std::chrono::steady_clock::time_point now);
  size_t size();

 private:
  struct route_key {
    uint64_t id;
    uint32_t tag;
  };
  // The id and tag a reply subject of this table carries; nullopt for any other subject.
  std::optional<route_key> parse(std::string_view subject) const;

  std::string reply_prefix_;
  std::mutex mutex_;
  absl::flat_hash_map<uint64_t, pending_response> routes_;
  uint64_t next_ = 0;
};

}  // namespace actors
