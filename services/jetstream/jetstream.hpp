#pragma once
// JetStream for the server: streams on RocksDB and the JetStream API subset that the
// NATS KV and object-store clients use (services/jetstream/internal.hpp has the parts).
// This header is what the server actor sees: start it, enable accounts, stop it.
#include <cstdint>
#include <memory>
#include <string>

#include "actors/account.hpp"
#include "actors/service_host.hpp"

namespace actors {
class control_plane;
}

namespace jetstream {

struct options {
  std::string store_dir;
  int64_t max_memory = -1, max_file = -1;  // server-wide, bytes; -1 unlimited
  bool sync_always = false;                // fsync the WAL before every ack
  // Object-store buckets: chunks no object refers to are purged once the newest of
  // them is this old (kKV/objectstore README, "Orphaned chunks"); 0 never.
  int64_t orphan_chunk_age_ns = 600'000'000'000;
};

struct account_limits {
  int64_t max_memory = -1, max_store = -1, max_streams = -1, max_consumers = -1;
};

class service;

// Opens the store and starts the ticker; null with `error` set on failure.
std::shared_ptr<service> start(const options& opts, actors::control_plane& cp, std::string& error);
// Gives `acc` its JetStream API (and restores its streams); `enabled` false answers every
// API request with "JetStream not enabled for account".
void enable_account(service& s, const actors::account_ptr& acc, bool enabled, const account_limits& limits);
void disable_account(service& s, const actors::account_ptr& acc);
void stop(service& s);

// JetStream for the server actor (spawn_server_actor's `services`).
std::shared_ptr<actors::service_host> make_host(const options& opts);

}  // namespace jetstream
