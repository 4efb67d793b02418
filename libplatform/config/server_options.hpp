#pragma once
// Server options: every setting dialtone-server understands, with nats-server's
// defaults. Filled from the config file (load_options) and then from command-line
// flags, which win. Plain data; owned by main() and copied into the server actor.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace platform::config {

struct server_options {
  std::string host = "0.0.0.0";
  int port = 4222;                       // -1 = random ephemeral port
  std::string server_name;
  int64_t max_payload = 1024 * 1024;     // 1 MiB
  int64_t max_control_line = 4096;
  int64_t max_connections = 64 * 1024;
  int64_t max_pending = 64 * 1024 * 1024;  // per-connection outbound bytes
  int64_t max_subs = -1;                 // per connection; -1 = unlimited
  bool header_support = true;            // false: no_header_support
  std::chrono::milliseconds ping_interval{2 * 60 * 1000};
  int ping_max = 2;
  std::chrono::milliseconds write_deadline{10 * 1000};
  // Dialtone's own: after handling input, an I/O loop keeps polling (yielding the core
  // to anything else runnable) this long before it sleeps in epoll, so a client's next
  // request within a round trip finds it awake (a wake-up from sleep costs tens of us
  // on a VM). Costs CPU while traffic trickles; 0 turns it off.
  std::chrono::microseconds busy_poll{100};
  std::chrono::milliseconds auth_timeout{2000};
  bool debug = false;
  bool trace = false;
  std::string logfile;
  std::string store_dir = "./data";
  // jetstream { store_dir, max_memory_store, max_file_store, sync_interval } or -js.
  bool jetstream = false;
  int64_t js_max_memory = -1, js_max_file = -1;  // -1: unlimited
  bool js_sync_always = false;                    // sync_interval: always (fsync before every ack)
  // orphan_chunk_age: object-store chunks no object refers to are purged once the newest
  // of them is this old (a put cut off by a crash or a vanished client). 0: never.
  std::chrono::nanoseconds js_orphan_chunk_age{std::chrono::minutes(10)};
  // request_log { record: [{account, subjects}], max_age, max_bytes, auditor,
  // response_threshold }: Dialtone's own recording of requests and their answers
  // (services/reqlog). Stored under store_dir/reqlog.
  struct request_log_rule {
    std::string account;
    std::vector<std::string> subjects;
  };
  bool request_log = false;
  std::vector<request_log_rule> rlog_record;
  std::chrono::nanoseconds rlog_max_age{0};  // 0: kept whatever their age
  int64_t rlog_max_bytes = -1;               // -1: no size limit
  std::string rlog_auditor;
  std::chrono::nanoseconds rlog_response_threshold{std::chrono::seconds(2)};
  int64_t rlog_max_queue = 2048;  // requests waiting for the recorder; beyond: gap records
  double rlog_max_cpu = 0.1;       // the recorder's CPU as a share of one core (1: no limit)
  // tls { cert_file, key_file, ca_file, verify, verify_and_map, timeout, cipher_suites,
  // min_version } or --tls/--tlscert/--tlskey/--tlscacert/--tlsverify: every client
  // connection is TLS (INFO in plain text first, then the handshake, as nats-server).
  struct tls_options {
    bool enabled = false;
    std::string cert_file, key_file, ca_file;
    bool verify = false;          // clients must present a certificate signed by ca_file
    bool verify_and_map = false;  // ... and it names the user (no password needed)
    std::chrono::milliseconds timeout{2000};  // the handshake must finish within this
    std::vector<std::string> cipher_suites;   // TLS 1.2 suites, IANA names as nats-server
    std::string min_version;                  // "1.2" (default) or "1.3"
    bool from_flags = false;                  // set by --tls* flags: a reload keeps them
  };
  tls_options tls;
  std::string config_file;               // path the options came from, if any
  std::vector<std::string> warnings;     // e.g. unsupported keys, reported at start-up
};

}  // namespace platform::config
