// dialtone-jsbench: JetStream and key-value benchmarks through the official NATS C
// client, libnats 3.x (jsCtx and kvStore), because that is the client users run.
// One scenario against one server per invocation; the result is one JSON line on
// stdout in the shape dialtone-loadgen prints, so bench/run.py reads both alike.
//
// Every wait is bounded: each synchronous JetStream call by op_wait_ms, every loop by
// --timeout and by stall_limit without progress, and a watchdog ends the process
// (after printing a failed JSON line) if anything still hangs past the budget.
#include "json_escape.hpp"
#include "objectstore/client/obj_client.hpp"
#include "proc_stats.hpp"

#include <nats/nats.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace dialtone::bench;
using bench_clock = std::chrono::steady_clock;

// A loop that sees no progress for this long gives up (as in dialtone-loadgen).
constexpr auto stall_limit = std::chrono::seconds(3);
// Time limit of one synchronous JetStream call (publish ack, KV get, API request).
constexpr int64_t op_wait_ms = 3000;
// Slice of the waits that poll for progress (watcher, js_PublishAsyncComplete).
constexpr int64_t poll_ms = 250;
// The watchdog fires this long after --timeout.
constexpr auto watchdog_grace = std::chrono::seconds(5);
constexpr const char* bucket_name = "bench";
constexpr const char* stream_name = "BENCH";
constexpr const char* stream_subject = "bench.js";
constexpr const char* object_name = "bench.bin";

constexpr const char* usage_text = R"(usage: dialtone-jsbench SCENARIO [options]

JetStream and key-value benchmarks through libnats (the official C client). The
server must run JetStream (-js); use a fresh store directory per run, since each
scenario creates bucket "bench" or stream "BENCH" (subject bench.js) and expects
it to be new.

Scenarios:
  kvput    kvStore_Put one at a time, --msgs puts over --keys keys; ops/s
  kvputa   puts pipelined: js_PublishAsync to $KV.bench.<key>, --window in
           flight (jsOptions.PublishAsync.MaxPending), then
           js_PublishAsyncComplete; ops/s up to the last ack
  kvget    kvStore_Get one at a time over --keys keys, after --keys untimed
           kvStore_Put (each value checked); ops/s
  kvwatch  kvStore_WatchAll on one connection; another connection puts --msgs
           values over --keys keys as kvputa does; updates/s received by the
           watcher, from the first put to the last update. A revision
           overwritten before the server delivered it may be skipped (history
           1): counted as "skipped"; a skipped revision that is still its key's
           latest fails the run
  jspub    js_Publish one at a time to stream BENCH; msgs/s
  jspuba   js_PublishAsync, --window in flight, then js_PublishAsyncComplete;
           msgs/s up to the last ack
  rawkvputa, rawjspuba
           kvputa and jspuba with a raw-socket publisher instead of libnats'
           (the bucket or stream is still made, and checked, through libnats):
           PUB with a reply subject, --window acks outstanding, every ack
           checked to be a pub-ack; measures the server rather than libnats'
           per-message work
  objput   object store (dialtone_objclient on libnats): one object of --size
           bytes into bucket "bench", generated on the fly, 128 KiB chunks
           pipelined (8 MiB unacknowledged), then its meta; MB/s (10^6 B/s)
           up to the stored meta
  objget   the same object put untimed, then read back through an ordered
           consumer with its size and SHA-256 checked; MB/s up to the check

Options:
  --host ADDR        server address (127.0.0.1)
  --port PORT        server port (4222)
  --msgs N           operations / messages (20000)
  --size BYTES       value or payload size (16); obj*: the object's size
  --keys N           kv*: distinct keys (1000)
  --window N         kvputa, kvwatch, jspuba, raw*: acks outstanding (1000); the
                     sync scenarios report 1
  --timeout SECONDS  time budget for the scenario (30)
  --version          print the libnats version
  --server-pid PID   the server's process: VmRSS at the end of the run and CPU
                     time over it, from /proc (same machine only)

Sync scenarios also report per-operation latency (p50_us ... max_us). Each run
checks what the server stored: publish-ack sequences / KV revisions, values read
back, the stream's message count or the bucket's value count at the end;
obj*: the object's meta (size, chunks, digest) and the stream's message count.
Prints one JSON line. Exit status: 0 complete, 1 incomplete or failed, 2 usage.
)";

struct options {
  std::string host = "127.0.0.1";
  unsigned port = 4222;
  std::uint64_t msgs = 20'000;
  std::size_t size = 16;
  std::uint64_t keys = 1'000;
  int window = 1'000;
  double timeout_s = 30.0;
  int server_pid = 0;
};

struct result {
  std::uint64_t target = 0;  // obj*: bytes
  std::uint64_t done = 0;
  double seconds = 0;  // obj*: rate is in MB/s
  double rate = 0;
  double publish_rate = 0;
  bool complete = false;
  std::string error;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
  std::vector<std::pair<std::string, double>> figures;
};

// ---------------------------------------------------------------- output

using bench::json_escape;

// The JSON line is printed once: by main, or by the watchdog if main hangs.
std::atomic<bool> g_printed{false};
std::atomic<const char*> g_phase{"starting"};
std::atomic<std::uint64_t> g_done{0};

void print_result(std::string_view scenario, const options& opt, const result& r) {
  if (g_printed.exchange(true)) return;
  std::printf(
      "{\"scenario\":\"%.*s\",\"port\":%u,\"msgs\":%llu,\"size\":%zu,\"subs\":0,\"responders\":0,"
      "\"window\":%d,\"target\":%llu,\"done\":%llu,\"seconds\":%.6f,\"rate\":%.1f,"
      "\"publish_rate\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
      "\"max_us\":%.2f,\"mean_us\":%.2f,\"complete\":%s,\"error\":\"%s\",\"keys\":%llu",
      static_cast<int>(scenario.size()), scenario.data(), opt.port,
      static_cast<unsigned long long>(opt.msgs), opt.size,
      scenario == "kvputa" || scenario == "kvwatch" || scenario == "jspuba" || scenario.substr(0, 3) == "raw"
          ? opt.window
          : 1,
      static_cast<unsigned long long>(r.target), static_cast<unsigned long long>(r.done), r.seconds,
      r.rate, r.publish_rate, r.p50_us, r.p90_us, r.p99_us, r.p999_us, r.max_us, r.mean_us,
      r.complete ? "true" : "false", json_escape(r.error).c_str(),
      static_cast<unsigned long long>(opt.keys));
  for (const auto& [name, value] : r.figures) {
    if (std::isfinite(value)) std::printf(",\"%s\":%.10g", json_escape(name).c_str(), value);
    else std::printf(",\"%s\":null", json_escape(name).c_str());
  }
  std::printf("}\n");
  std::fflush(stdout);
}

// Ends the process if the scenario (or libnats' cleanup) is still running well past
// its budget: prints a failed result naming the phase it was stuck in.
void start_watchdog(std::string scenario, options opt) {
  auto limit = std::chrono::duration_cast<bench_clock::duration>(std::chrono::duration<double>(opt.timeout_s)) +
               watchdog_grace;
  std::thread([scenario, opt, limit] {
    std::this_thread::sleep_for(limit);
    result r;
    r.target = opt.msgs;
    r.done = g_done.load();
    r.error = std::string("watchdog: still running ") + std::to_string(std::chrono::duration<double>(limit).count()) +
              " s after the start, stuck while " + g_phase.load();
    print_result(scenario, opt, r);
    std::fprintf(stderr, "dialtone-jsbench %s: %s\n", scenario.c_str(), r.error.c_str());
    std::_Exit(1);
  }).detach();
}

// ---------------------------------------------------------------- libnats helpers

std::string describe(natsStatus s, jsErrCode jerr = jsErrCode(0)) {
  std::string out = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last && *last && out != last) out.append(" (").append(last).append(")");
  if (jerr != 0) out.append(" [JetStream error ").append(std::to_string(int(jerr))).append("]");
  return out;
}

struct nc_deleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct js_deleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
struct kv_deleter {
  void operator()(kvStore* kv) const { kvStore_Destroy(kv); }
};
struct watcher_deleter {
  void operator()(kvWatcher* w) const { kvWatcher_Destroy(w); }
};
using conn_ptr = std::unique_ptr<natsConnection, nc_deleter>;
using js_ptr = std::unique_ptr<jsCtx, js_deleter>;
using kv_ptr = std::unique_ptr<kvStore, kv_deleter>;
using watcher_ptr = std::unique_ptr<kvWatcher, watcher_deleter>;

// Asynchronous errors libnats reports for a connection (slow consumer and the like).
// None is expected: every subscription libnats makes here has no pending limit.
struct async_errors {
  std::atomic<std::uint64_t> count{0};
  std::mutex mu;
  std::string first;
};
async_errors g_async;

void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void*) {
  if (g_async.count.fetch_add(1) == 0) {
    std::lock_guard lock(g_async.mu);
    g_async.first = natsStatus_GetText(err);
  }
}

// Publish acks of js_PublishAsync, counted in the ack handler (libnats' delivery thread).
struct ack_counter {
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> max_seq{0};
  std::mutex mu;
  std::string first_error;

  std::uint64_t responses() const { return acked.load(std::memory_order_relaxed) + errors.load(std::memory_order_relaxed); }
  std::string error() {
    std::lock_guard lock(mu);
    return first_error;
  }
};

// One per process (one scenario per invocation), never destroyed: libnats' delivery
// thread may still run the handler while a failed run's connection is torn down.
ack_counter g_acks;

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* c = static_cast<ack_counter*>(closure);
  if (pae != nullptr) {
    if (c->errors.fetch_add(1) == 0) {
      std::lock_guard lock(c->mu);
      c->first_error = std::string(natsStatus_GetText(pae->Err)) + ": " + (pae->ErrText ? pae->ErrText : "") +
                       (pae->ErrCode ? " [JetStream error " + std::to_string(int(pae->ErrCode)) + "]" : "");
    }
  } else {
    if (pa != nullptr) {
      std::uint64_t prev = c->max_seq.load(std::memory_order_relaxed);
      while (pa->Sequence > prev && !c->max_seq.compare_exchange_weak(prev, pa->Sequence)) {
      }
    }
    c->acked.fetch_add(1, std::memory_order_relaxed);
  }
  natsMsg_Destroy(msg);  // with an AckHandler, the message is ours
}

// One connection and its JetStream context. `acks` (optional) receives the
// js_PublishAsync acks; `max_pending` is jsOptions.PublishAsync.MaxPending.
struct client {
  conn_ptr nc;
  js_ptr js;

  bool open(const options& opt, int max_pending, ack_counter* acks, std::string* error) {
    natsOptions* o = nullptr;
    natsStatus s = natsOptions_Create(&o);
    std::string url = "nats://" + opt.host + ":" + std::to_string(opt.port);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, op_wait_ms);
    if (s == NATS_OK) s = natsOptions_SetName(o, "dialtone-jsbench");
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, on_async_error, nullptr);
    natsConnection* c = nullptr;
    if (s == NATS_OK) s = natsConnection_Connect(&c, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
      *error = "connect to " + url + ": " + describe(s);
      return false;
    }
    nc.reset(c);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = op_wait_ms;
    if (acks != nullptr) {
      jo.PublishAsync.MaxPending = max_pending;
      jo.PublishAsync.AckHandler = on_ack;
      jo.PublishAsync.AckHandlerClosure = acks;
    }
    jsCtx* j = nullptr;
    s = natsConnection_JetStream(&j, c, &jo);
    if (s != NATS_OK) {
      *error = "natsConnection_JetStream: " + describe(s);
      return false;
    }
    js.reset(j);
    return true;
  }
};

kv_ptr create_bucket(jsCtx* js, std::string* error) {
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket_name;
  cfg.History = 1;
  kvStore* kv = nullptr;
  natsStatus s = js_CreateKeyValue(&kv, js, &cfg);
  if (s != NATS_OK) *error = std::string("js_CreateKeyValue ") + bucket_name + ": " + describe(s);
  return kv_ptr(s == NATS_OK ? kv : nullptr);
}

bool create_stream(jsCtx* js, std::string* error) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream_name;
  const char* subjects[] = {stream_subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  jsStreamInfo_Destroy(si);
  if (s != NATS_OK) *error = std::string("js_AddStream ") + stream_name + ": " + describe(s, jerr);
  return s == NATS_OK;
}

// The stream's message count, or false with *error.
bool stream_msgs(jsCtx* js, const char* stream, std::uint64_t* msgs, std::string* error) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_GetStreamInfo(&si, js, stream, nullptr, &jerr);
  if (s != NATS_OK) {
    *error = std::string("js_GetStreamInfo ") + stream + ": " + describe(s, jerr);
    return false;
  }
  *msgs = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return true;
}

// ---------------------------------------------------------------- scenario pieces

std::string make_payload(std::size_t size) {
  std::string p(size, 'x');
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

std::string key_name(std::uint64_t k) { return "k" + std::to_string(k); }

// kvget's value of key k: the payload with the key number written over its start.
std::string value_for(const std::string& payload, std::uint64_t k) {
  std::string v = payload;
  std::string n = std::to_string(k) + ":";
  std::memcpy(v.data(), n.data(), std::min(v.size(), n.size()));
  return v;
}

double seconds_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void set_latencies(result& r, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * double(us.size())))]; };
  r.p50_us = at(0.50);
  r.p90_us = at(0.90);
  r.p99_us = at(0.99);
  r.p999_us = at(0.999);
  r.max_us = us.back();
  double sum = 0;
  for (double v : us) sum += v;
  r.mean_us = sum / double(us.size());
}

// The server's CPU time over the measured interval and its VmRSS at the end.
struct server_probe {
  int pid = 0;
  double cpu0 = -1;
  void start() { cpu0 = read_cpu_seconds(pid); }
  void finish(result& r, std::uint64_t ops) {
    if (pid <= 0) return;
    double cpu1 = read_cpu_seconds(pid);
    double rss = read_rss_kib(pid);
    if (rss >= 0) r.figures.emplace_back("rss_kib", rss);
    if (cpu0 >= 0 && cpu1 >= 0) {
      r.figures.emplace_back("server_cpu_seconds", cpu1 - cpu0);
      if (ops > 0) r.figures.emplace_back("server_cpu_us_per_op", (cpu1 - cpu0) * 1e6 / double(ops));
    }
  }
};

// Publishes n messages with js_PublishAsync to subject_of(i), at most the context's
// MaxPending unacknowledged, then waits for every ack with js_PublishAsyncComplete.
// Sets *published (last publish call returned) and *acked (all acks in). A stalled
// window (no ack for stall_limit), an ack error, or the deadline fails it.
template <class SubjectOf>
bool publish_async(natsConnection* nc, jsCtx* js, ack_counter& acks, std::uint64_t n, SubjectOf subject_of, const std::string& payload,
                   bench_clock::time_point deadline, bench_clock::time_point* published,
                   bench_clock::time_point* acked, std::string* error) {
  auto last_progress = bench_clock::now();
  std::uint64_t last_responses = acks.responses();
  // True while still making progress; false (with *error) once stalled or out of time.
  auto still_going = [&](const char* what) {
    auto now = bench_clock::now();
    std::uint64_t r = acks.responses();
    if (r != last_responses) {
      last_responses = r;
      last_progress = now;
    }
    g_done.store(acks.acked.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (acks.errors.load() > 0) {
      *error = "publish ack error: " + acks.error();
      return false;
    }
    if (natsConnection_IsClosed(nc)) {
      *error = std::string(what) + ": the connection is closed; " + std::to_string(r) + " acks for " +
               std::to_string(n) + " messages";
      return false;
    }
    if (now >= deadline) {
      *error = std::string(what) + ": timed out; " + std::to_string(r) + " of " + std::to_string(n) + " acked";
      return false;
    }
    if (now - last_progress >= stall_limit) {
      *error = std::string(what) + ": no publish ack for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stall_limit).count()) + " s; " +
               std::to_string(r) + " acks for " + std::to_string(n) + " messages";
      return false;
    }
    return true;
  };

  g_phase.store("publishing (js_PublishAsync)");
  for (std::uint64_t i = 0; i < n;) {
    natsStatus s = js_PublishAsync(js, subject_of(i), payload.data(), static_cast<int>(payload.size()), nullptr);
    if (s == NATS_OK) {
      ++i;
      if ((i & 1023) == 0 && !still_going("js_PublishAsync")) return false;
      continue;
    }
    if (s != NATS_TIMEOUT) {  // NATS_TIMEOUT: the window stayed full for StallWait (200 ms); try again
      *error = "js_PublishAsync message " + std::to_string(i + 1) + ": " + describe(s);
      return false;
    }
    if (!still_going("js_PublishAsync")) return false;
  }
  *published = bench_clock::now();

  g_phase.store("waiting for publish acks (js_PublishAsyncComplete)");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = poll_ms;  // 0 would wait forever
  for (;;) {
    natsStatus s = js_PublishAsyncComplete(js, &po);
    if (s == NATS_OK) break;
    if (s != NATS_TIMEOUT) {
      *error = "js_PublishAsyncComplete: " + describe(s);
      return false;
    }
    if (!still_going("js_PublishAsyncComplete")) return false;
  }
  *acked = bench_clock::now();
  g_done.store(acks.acked.load());
  if (acks.errors.load() > 0) {
    *error = "publish ack error: " + acks.error();
    return false;
  }
  if (acks.acked.load() != n) {
    *error = "js_PublishAsyncComplete returned with " + std::to_string(acks.acked.load()) + " acks for " +
             std::to_string(n) + " messages";
    return false;
  }
  return true;
}

bool async_error(std::string* error) {
  if (g_async.count.load() == 0) return false;
  std::lock_guard lock(g_async.mu);
  *error = "libnats asynchronous error (" + std::to_string(g_async.count.load()) + "x): " + g_async.first;
  return true;
}

bool out_of_time(bench_clock::time_point deadline, std::uint64_t done, std::uint64_t n, std::string* error) {
  if (bench_clock::now() < deadline) return false;
  *error = "timed out after " + std::to_string(done) + " of " + std::to_string(n);
  return true;
}

// ---------------------------------------------------------------- scenarios

// A scenario's target: bucket "bench" (kv) or stream "BENCH". False with
// *error if it cannot be made.
bool create_target(jsCtx* js, bool kv_scenario, kv_ptr& kv, std::string* error) {
  g_phase.store(kv_scenario ? "creating the bucket" : "creating the stream");
  if (!kv_scenario) return create_stream(js, error);
  kv = create_bucket(js, error);
  return kv != nullptr;
}

// kvput, kvget, jspub: one synchronous call at a time, timed one by one.
result run_sync(std::string_view scenario, const options& opt, bench_clock::time_point deadline) {
  result r;
  r.target = opt.msgs;
  client c;
  g_phase.store("connecting");
  if (!c.open(opt, 0, nullptr, &r.error)) return r;
  const bool kv_scenario = scenario != "jspub";
  kv_ptr kv;
  if (!create_target(c.js.get(), kv_scenario, kv, &r.error)) return r;
  const std::string payload = make_payload(opt.size);
  std::vector<std::string> keys;
  for (std::uint64_t k = 0; k < opt.keys; ++k) keys.push_back(key_name(k));

  if (scenario == "kvget") {
    g_phase.store("filling the bucket (kvStore_Put)");
    for (std::uint64_t k = 0; k < opt.keys; ++k) {
      std::string v = value_for(payload, k);
      uint64_t rev = 0;
      natsStatus s = kvStore_Put(&rev, kv.get(), keys[k].c_str(), v.data(), static_cast<int>(v.size()));
      if (s != NATS_OK) {
        r.error = "filling the bucket: kvStore_Put " + keys[k] + ": " + describe(s);
        return r;
      }
      if (out_of_time(deadline, k, opt.keys, &r.error)) {
        r.error = "filling the bucket: " + r.error;
        return r;
      }
    }
  }

  std::vector<double> lat_us;
  lat_us.reserve(opt.msgs);
  server_probe probe{opt.server_pid};
  g_phase.store(scenario == "kvput" ? "kvStore_Put" : scenario == "kvget" ? "kvStore_Get" : "js_Publish");
  probe.start();
  const auto t0 = bench_clock::now();
  std::uint64_t i = 0;
  for (; i < opt.msgs; ++i) {
    const auto start = bench_clock::now();
    if (start >= deadline) {
      r.error = "timed out after " + std::to_string(i) + " of " + std::to_string(opt.msgs);
      break;
    }
    natsStatus s = NATS_OK;
    std::string what;
    if (scenario == "kvput") {
      const std::string& key = keys[i % opt.keys];
      uint64_t rev = 0;
      s = kvStore_Put(&rev, kv.get(), key.c_str(), payload.data(), static_cast<int>(payload.size()));
      if (s != NATS_OK) what = "kvStore_Put " + key + ": " + describe(s);
      else if (rev != i + 1)
        what = "kvStore_Put " + key + ": revision " + std::to_string(rev) + ", expected " + std::to_string(i + 1);
    } else if (scenario == "kvget") {
      const std::uint64_t k = i % opt.keys;
      kvEntry* e = nullptr;
      s = kvStore_Get(&e, kv.get(), keys[k].c_str());
      if (s != NATS_OK) {
        what = "kvStore_Get " + keys[k] + ": " + describe(s);
      } else {
        std::string expect = value_for(payload, k);
        if (kvEntry_ValueLen(e) != static_cast<int>(expect.size()) ||
            std::memcmp(kvEntry_Value(e), expect.data(), expect.size()) != 0)
          what = "kvStore_Get " + keys[k] + ": wrong value (" + std::to_string(kvEntry_ValueLen(e)) + " bytes)";
        else if (kvEntry_Revision(e) != k + 1)
          what = "kvStore_Get " + keys[k] + ": revision " + std::to_string(kvEntry_Revision(e)) + ", expected " +
                 std::to_string(k + 1);
      }
      kvEntry_Destroy(e);
    } else {
      jsPubAck* pa = nullptr;
      jsErrCode jerr = jsErrCode(0);
      s = js_Publish(&pa, c.js.get(), stream_subject, payload.data(), static_cast<int>(payload.size()), nullptr,
                     &jerr);
      if (s != NATS_OK) what = std::string("js_Publish: ") + describe(s, jerr);
      else if (pa->Sequence != i + 1)
        what = "js_Publish: ack sequence " + std::to_string(pa->Sequence) + ", expected " + std::to_string(i + 1);
      jsPubAck_Destroy(pa);
    }
    const auto end = bench_clock::now();
    if (!what.empty()) {
      r.error = what + " (operation " + std::to_string(i + 1) + " of " + std::to_string(opt.msgs) + ", after " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(end - start).count()) + " ms)";
      break;
    }
    lat_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    g_done.store(i + 1, std::memory_order_relaxed);
  }
  const auto t1 = bench_clock::now();
  r.done = i;
  r.seconds = seconds_between(t0, t1);
  r.rate = r.seconds > 0 ? double(r.done) / r.seconds : 0;
  probe.finish(r, r.done);
  set_latencies(r, lat_us);
  if (!r.error.empty()) return r;

  // What the server holds now.
  g_phase.store("checking the stored state");
  if (scenario == "jspub") {
    std::uint64_t msgs = 0;
    if (!stream_msgs(c.js.get(), stream_name, &msgs, &r.error)) return r;
    if (msgs != opt.msgs) {
      r.error = "stream " + std::string(stream_name) + " holds " + std::to_string(msgs) + " messages, expected " +
                std::to_string(opt.msgs);
      return r;
    }
  } else {
    std::uint64_t msgs = 0;
    std::string stream = std::string("KV_") + bucket_name;
    if (!stream_msgs(c.js.get(), stream.c_str(), &msgs, &r.error)) return r;
    std::uint64_t expect = scenario == "kvget" ? opt.keys : std::min(opt.keys, opt.msgs);
    if (msgs != expect) {
      r.error = "bucket " + std::string(bucket_name) + " holds " + std::to_string(msgs) + " values (history 1), expected " +
                std::to_string(expect);
      return r;
    }
  }
  if (async_error(&r.error)) return r;
  r.complete = true;
  return r;
}

// After n pipelined puts: the bucket holds one value per key written, the stream every
// message. False with *error otherwise.
bool check_stored(jsCtx* js, bool kv_scenario, const options& opt, std::string* error) {
  g_phase.store("checking the stored state");
  std::uint64_t msgs = 0;
  std::string stream = kv_scenario ? std::string("KV_") + bucket_name : stream_name;
  if (!stream_msgs(js, stream.c_str(), &msgs, error)) return false;
  std::uint64_t expect = kv_scenario ? std::min(opt.keys, opt.msgs) : opt.msgs;
  if (msgs != expect) {
    *error = "stream " + stream + " holds " + std::to_string(msgs) + " messages, expected " + std::to_string(expect);
    return false;
  }
  return true;
}

// kvputa, jspuba: js_PublishAsync with --window acks outstanding.
result run_async(std::string_view scenario, const options& opt, bench_clock::time_point deadline) {
  result r;
  r.target = opt.msgs;
  ack_counter& acks = g_acks;
  client c;
  g_phase.store("connecting");
  if (!c.open(opt, opt.window, &acks, &r.error)) return r;
  const bool kv_scenario = scenario == "kvputa";
  kv_ptr kv;
  if (!create_target(c.js.get(), kv_scenario, kv, &r.error)) return r;
  const std::string payload = make_payload(opt.size);
  std::vector<std::string> subjects;
  if (kv_scenario)
    for (std::uint64_t k = 0; k < opt.keys; ++k) subjects.push_back(std::string("$KV.") + bucket_name + "." + key_name(k));
  auto subject_of = [&](std::uint64_t i) { return kv_scenario ? subjects[i % opt.keys].c_str() : stream_subject; };

  server_probe probe{opt.server_pid};
  probe.start();
  const auto t0 = bench_clock::now();
  bench_clock::time_point published = t0, acked = t0;
  bool ok = publish_async(c.nc.get(), c.js.get(), acks, opt.msgs, subject_of, payload, deadline, &published, &acked, &r.error);
  const auto t1 = ok ? acked : bench_clock::now();
  r.done = acks.acked.load();
  r.seconds = seconds_between(t0, t1);
  r.rate = r.seconds > 0 ? double(r.done) / r.seconds : 0;
  if (ok) r.publish_rate = seconds_between(t0, published) > 0 ? double(opt.msgs) / seconds_between(t0, published) : 0;
  probe.finish(r, r.done);
  if (!ok) return r;

  if (!check_stored(c.js.get(), kv_scenario, opt, &r.error)) return r;
  if (acks.max_seq.load() != opt.msgs) {
    r.error = "highest ack sequence " + std::to_string(acks.max_seq.load()) + ", expected " + std::to_string(opt.msgs);
    return r;
  }
  if (async_error(&r.error)) return r;
  r.complete = true;
  return r;
}

// rawkvputa, rawjspuba: one plain socket, pipelined PUBs with reply subject "rawack"
// (one SUB receives every ack), at most --window unacknowledged. Every reply must be a
// pub-ack ({"stream":...}; an error reply is {"error":...} on both servers).
class raw_publisher {
 public:
  ~raw_publisher() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(const options& opt, bench_clock::time_point deadline, std::string* error) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(opt.port));
    if (fd_ < 0 || ::inet_pton(AF_INET, opt.host.c_str(), &a.sin_addr) != 1 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      *error = "raw connect: " + std::string(std::strerror(errno));
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    out_ = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,"
           "\"name\":\"dialtone-jsbench-raw\"}\r\nSUB rawack 1\r\nPING\r\n";
    while (pongs_ == 0) {
      if (!step(deadline, error)) return false;
    }
    return true;
  }

  // Publishes n frames (frame_of(i)), keeping at most `window` unacknowledged.
  bool run(std::uint64_t n, int window, const std::function<const std::string&(std::uint64_t)>& frame_of,
           bench_clock::time_point deadline, std::string* error) {
    std::uint64_t sent = 0;
    auto last_progress = bench_clock::now();
    std::uint64_t seen = 0;
    while (acks_ < n) {
      while (sent < n && sent - acks_ < std::uint64_t(window) && out_.size() < (256u << 10)) out_ += frame_of(sent++);
      if (!step(deadline, error)) return false;
      if (acks_ != seen) {
        seen = acks_;
        last_progress = bench_clock::now();
        g_done = seen;
      } else if (bench_clock::now() - last_progress > stall_limit) {
        *error = "raw publisher stalled: " + std::to_string(sent - acks_) + " acks never came";
        return false;
      }
    }
    return true;
  }

  std::uint64_t acks() const { return acks_; }

 private:
  // One poll, then whatever reads and writes it allows.
  bool step(bench_clock::time_point deadline, std::string* error) {
    if (bench_clock::now() >= deadline) return *error = "raw publisher out of time", false;
    pollfd p{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, 100) < 0 && errno != EINTR) return *error = "poll: " + std::string(std::strerror(errno)), false;
    if (p.revents & POLLOUT) {
      ssize_t w = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) return *error = "send: " + std::string(std::strerror(errno)), false;
      if (w > 0) out_.erase(0, size_t(w));
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[64 << 10];
      ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got == 0) return *error = "server closed the raw connection", false;
      if (got < 0 && errno != EAGAIN && errno != EINTR) return *error = "recv: " + std::string(std::strerror(errno)), false;
      if (got > 0) {
        in_.append(buf, size_t(got));
        if (!parse(error)) return false;
      }
    }
    return true;
  }

  bool parse(std::string* error) {
    size_t pos = 0;
    for (;;) {
      size_t eol = in_.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::string_view line(in_.data() + pos, eol - pos);
      if (line.rfind("MSG ", 0) == 0) {
        size_t size = std::strtoull(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr, 10);
        if (in_.size() < eol + 2 + size + 2) break;  // the payload is not all here yet
        std::string_view payload(in_.data() + eol + 2, size);
        if (payload.rfind("{\"stream\"", 0) != 0)
          return *error = "not a pub-ack: " + std::string(payload.substr(0, 300)), false;
        ++acks_;
        pos = eol + 2 + size + 2;
        continue;
      }
      if (line == "PING") out_ += "PONG\r\n";
      else if (line == "PONG") ++pongs_;
      else if (line.rfind("-ERR", 0) == 0) return *error = "server: " + std::string(line), false;
      pos = eol + 2;
    }
    in_.erase(0, pos);
    return true;
  }

  int fd_ = -1;
  std::string out_, in_;
  std::uint64_t acks_ = 0, pongs_ = 0;
};

result run_raw_async(std::string_view scenario, const options& opt, bench_clock::time_point deadline) {
  result r;
  r.target = opt.msgs;
  client c;
  g_phase.store("connecting");
  if (!c.open(opt, 0, nullptr, &r.error)) return r;
  const bool kv_scenario = scenario == "rawkvputa";
  kv_ptr kv;
  if (!create_target(c.js.get(), kv_scenario, kv, &r.error)) return r;
  const std::string payload = make_payload(opt.size);
  std::vector<std::string> frames;  // one per key (KV), or the one stream frame
  auto frame = [&](const std::string& subject) {
    return "PUB " + subject + " rawack " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  };
  if (kv_scenario)
    for (std::uint64_t k = 0; k < opt.keys; ++k) frames.push_back(frame(std::string("$KV.") + bucket_name + "." + key_name(k)));
  else
    frames.push_back(frame(stream_subject));
  raw_publisher pub;
  g_phase.store("connecting the raw publisher");
  if (!pub.open(opt, deadline, &r.error)) return r;

  server_probe probe{opt.server_pid};
  g_phase.store("publishing");
  probe.start();
  const auto t0 = bench_clock::now();
  bool ok = pub.run(opt.msgs, opt.window, [&](std::uint64_t i) -> const std::string& { return frames[i % frames.size()]; },
                    deadline, &r.error);
  const auto t1 = bench_clock::now();
  r.done = pub.acks();
  r.seconds = seconds_between(t0, t1);
  r.rate = r.seconds > 0 ? double(r.done) / r.seconds : 0;
  probe.finish(r, r.done);
  if (!ok) return r;

  if (!check_stored(c.js.get(), kv_scenario, opt, &r.error)) return r;
  if (async_error(&r.error)) return r;
  r.complete = true;
  return r;
}

// kvwatch: a watcher on one connection, puts pipelined from another.
result run_watch(const options& opt, bench_clock::time_point deadline) {
  result r;
  r.target = opt.msgs;
  ack_counter& acks = g_acks;
  client pub, sub;
  g_phase.store("connecting");
  if (!pub.open(opt, opt.window, &acks, &r.error) || !sub.open(opt, 0, nullptr, &r.error)) return r;
  g_phase.store("creating the bucket");
  kv_ptr kv = create_bucket(pub.js.get(), &r.error);
  if (!kv) return r;
  kvStore* wkv_raw = nullptr;
  natsStatus s = js_KeyValue(&wkv_raw, sub.js.get(), bucket_name);
  if (s != NATS_OK) {
    r.error = "js_KeyValue on the watcher's connection: " + describe(s);
    return r;
  }
  kv_ptr wkv(wkv_raw);
  g_phase.store("starting the watcher (kvStore_WatchAll)");
  kvWatcher* w_raw = nullptr;
  s = kvStore_WatchAll(&w_raw, wkv.get(), nullptr);
  if (s != NATS_OK) {
    r.error = "kvStore_WatchAll: " + describe(s);
    return r;
  }
  watcher_ptr w(w_raw);
  {
    kvEntry* e = nullptr;
    s = kvWatcher_Next(&e, w.get(), op_wait_ms);
    if (s != NATS_OK || e != nullptr) {
      r.error = s != NATS_OK ? "kvWatcher_Next (waiting for the end of the initial values of an empty bucket): " + describe(s)
                             : "kvWatcher_Next: an entry in a new bucket, expected the end-of-initial-values marker";
      kvEntry_Destroy(e);
      return r;
    }
  }

  // The watcher's thread: counts the updates it gets until revision --msgs (the last
  // put) arrives. Put i (revision i+1) went to key i % keys. The bucket keeps one
  // revision per key, so a revision overwritten before the server delivered it may
  // be skipped (nats-server does so when the watcher falls more than --keys puts
  // behind); a skipped revision that is still its key's latest is lost, which fails.
  std::atomic<bool> stop{false}, started{false};
  std::atomic<std::uint64_t> received{0};
  std::uint64_t duplicates = 0, skipped = 0, skip_gaps = 0;
  std::string watch_error;
  bench_clock::time_point last_update{};
  std::thread watcher([&] {
    std::uint64_t last_rev = 0, seen = 0;
    auto last_progress = bench_clock::now();
    while (!stop.load()) {
      kvEntry* e = nullptr;
      natsStatus ws = kvWatcher_Next(&e, w.get(), poll_ms);
      auto now = bench_clock::now();
      if (ws == NATS_OK && e != nullptr) {
        const std::uint64_t rev = kvEntry_Revision(e);
        const std::string key = kvEntry_Key(e) ? kvEntry_Key(e) : "";
        const int len = kvEntry_ValueLen(e);
        const kvOperation op = kvEntry_Operation(e);
        kvEntry_Destroy(e);
        if (rev == 0 || rev > opt.msgs || key != key_name((rev - 1) % opt.keys) || op != kvOp_Put ||
            len != static_cast<int>(opt.size)) {
          watch_error = "watcher got revision " + std::to_string(rev) + " of key '" + key + "' (" +
                        std::to_string(len) + " bytes, operation " + std::to_string(int(op)) + "), expected a put of " +
                        std::to_string(opt.size) + " bytes to key " + key_name((rev - 1) % opt.keys) + " within the " +
                        std::to_string(opt.msgs) + " puts";
          return;
        }
        if (rev <= last_rev) {
          ++duplicates;
          continue;
        }
        if (rev > last_rev + 1) {
          // Revisions last_rev+1 .. rev-1 never came: fine only if each was overwritten
          // by a later put to its key, i.e. the newest of them, rev-1, by put rev-1+keys.
          if (rev - 1 + opt.keys > opt.msgs) {
            watch_error = "watcher never got revisions " + std::to_string(last_rev + 1) + ".." +
                          std::to_string(rev - 1) + " (the next was " + std::to_string(rev) +
                          "), and revision " + std::to_string(rev - 1) + " is still the latest of key " +
                          key_name((rev - 2) % opt.keys);
            return;
          }
          skipped += rev - last_rev - 1;
          ++skip_gaps;
        }
        last_rev = rev;
        received.store(++seen, std::memory_order_relaxed);
        last_progress = now;
        if (rev == opt.msgs) {
          last_update = now;
          return;
        }
        continue;
      }
      kvEntry_Destroy(e);
      if (ws != NATS_OK && ws != NATS_TIMEOUT) {
        watch_error = "kvWatcher_Next: " + describe(ws);
        return;
      }
      if (!started.load()) last_progress = now;
      if (now >= deadline) {
        watch_error = "watcher timed out with " + std::to_string(seen) + " of " + std::to_string(opt.msgs) + " updates";
        return;
      }
      if (now - last_progress >= stall_limit) {
        watch_error = "watcher: no update for " +
                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stall_limit).count()) + " s; " +
                      std::to_string(seen) + " of " + std::to_string(opt.msgs) + " updates, last revision " +
                      std::to_string(last_rev);
        return;
      }
    }
  });

  std::vector<std::string> subjects;
  for (std::uint64_t k = 0; k < opt.keys; ++k) subjects.push_back(std::string("$KV.") + bucket_name + "." + key_name(k));
  auto subject_of = [&](std::uint64_t i) { return subjects[i % opt.keys].c_str(); };
  const std::string payload = make_payload(opt.size);

  server_probe probe{opt.server_pid};
  probe.start();
  const auto t0 = bench_clock::now();
  started.store(true);
  bench_clock::time_point published = t0, acked = t0;
  bool ok = publish_async(pub.nc.get(), pub.js.get(), acks, opt.msgs, subject_of, payload, deadline, &published, &acked, &r.error);
  if (!ok) {
    stop.store(true);
    r.error = "putting: " + r.error;
  }
  g_phase.store("waiting for the watcher");
  watcher.join();  // it stops by itself: last revision, deadline or stall_limit without an update
  r.done = received.load();
  r.seconds = seconds_between(t0, last_update == bench_clock::time_point{} ? bench_clock::now() : last_update);
  r.rate = r.seconds > 0 ? double(r.done) / r.seconds : 0;
  if (ok) r.publish_rate = seconds_between(t0, acked) > 0 ? double(opt.msgs) / seconds_between(t0, acked) : 0;
  probe.finish(r, opt.msgs);
  r.figures.emplace_back("skipped", double(skipped));
  r.figures.emplace_back("skip_gaps", double(skip_gaps));
  r.figures.emplace_back("duplicates", double(duplicates));
  if (!ok) return r;
  if (!watch_error.empty()) {
    r.error = watch_error;
    return r;
  }
  if (r.done + skipped != opt.msgs) {
    r.error = "watcher: " + std::to_string(r.done) + " updates + " + std::to_string(skipped) +
              " overwritten before delivery, of " + std::to_string(opt.msgs) + " puts";
    return r;
  }
  if (async_error(&r.error)) return r;
  r.complete = true;
  return r;
}

// ---------------------------------------------------------------- object store

// --size bytes made on the fly from a 1 MiB random block (each block stamped with its
// number, so no two chunks are alike): the object is never held in memory.
class generated_input : public std::streambuf {
 public:
  explicit generated_input(std::uint64_t size) : left_(size), block_(1 << 20) {
    std::mt19937_64 rng(20261204);
    for (std::size_t i = 0; i + 8 <= block_.size(); i += 8) {
      std::uint64_t v = rng();
      std::memcpy(block_.data() + i, &v, 8);
    }
  }

 protected:
  int_type underflow() override {
    if (left_ == 0) return traits_type::eof();
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, block_.size()));
    std::memcpy(block_.data(), &number_, std::min<std::size_t>(n, sizeof number_));
    ++number_;
    left_ -= n;
    setg(block_.data(), block_.data(), block_.data() + n);
    return traits_type::to_int_type(block_[0]);
  }

 private:
  std::uint64_t left_;
  std::uint64_t number_ = 0;
  std::vector<char> block_;
};

// Counts what get writes and drops it.
class counting_sink : public std::streambuf {
 public:
  std::uint64_t bytes = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += std::uint64_t(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) ++bytes;
    return traits_type::not_eof(c);
  }
};

// objput, objget: one object of --size bytes through dialtone_objclient.
result run_obj(std::string_view scenario, const options& opt) {
  namespace objc = objectstore::client;
  result r;
  r.target = opt.size;
  client c;
  g_phase.store("connecting");
  if (!c.open(opt, 0, nullptr, &r.error)) return r;
  objc::object_store store(c.nc.get(), std::chrono::milliseconds(op_wait_ms));
  g_phase.store("creating the bucket");
  objc::bucket_config cfg;
  cfg.bucket = bucket_name;
  auto bucket = store.create_bucket(cfg);
  if (!bucket) {
    r.error = "create_bucket " + std::string(bucket_name) + ": " + bucket.error().message();
    return r;
  }
  objc::put_options put_opts;
  put_opts.size_hint = opt.size;
  put_opts.progress = [](std::uint64_t done, std::uint64_t) { g_done.store(done, std::memory_order_relaxed); };
  objc::object_meta meta;
  meta.name = object_name;
  generated_input source(opt.size);
  std::istream in(&source);
  const bool timed_put = scenario == "objput";

  server_probe probe{opt.server_pid};
  g_phase.store(timed_put ? "putting the object" : "putting the object (untimed)");
  if (timed_put) probe.start();
  auto t0 = bench_clock::now();
  auto put = bucket->put(meta, in, put_opts);
  auto t1 = bench_clock::now();
  if (!put) {
    r.error = "put: " + put.error().message();
    r.done = g_done.load();
    return r;
  }
  counting_sink sink;
  std::ostream out(&sink);
  objc::result<objc::object_info> got = *put;
  if (!timed_put) {
    g_done.store(0);
    objc::get_options get_opts;
    get_opts.progress = [](std::uint64_t done, std::uint64_t) { g_done.store(done, std::memory_order_relaxed); };
    g_phase.store("getting the object");
    probe.start();
    t0 = bench_clock::now();
    got = bucket->get(object_name, out, get_opts);
    t1 = bench_clock::now();
    if (!got) {
      r.error = "get: " + got.error().message();
      r.done = sink.bytes;
      return r;
    }
  }
  r.done = timed_put ? put->size : sink.bytes;
  r.seconds = seconds_between(t0, t1);
  r.rate = r.seconds > 0 ? double(r.done) / 1e6 / r.seconds : 0;
  probe.finish(r, put->chunks);
  r.figures.emplace_back("objects", 1);
  r.figures.emplace_back("objects_per_s", r.seconds > 0 ? 1 / r.seconds : 0);
  r.figures.emplace_back("chunks", put->chunks);

  g_phase.store("checking the stored state");
  auto info = bucket->info(object_name);
  if (!info) {
    r.error = "info: " + info.error().message();
    return r;
  }
  if (info->size != opt.size || info->digest != put->digest || got->digest != put->digest ||
      info->chunks != put->chunks) {
    r.error = "the stored meta says " + std::to_string(info->size) + " bytes in " + std::to_string(info->chunks) +
              " chunks, " + info->digest + "; put " + std::to_string(put->size) + " bytes in " +
              std::to_string(put->chunks) + " chunks, " + put->digest;
    return r;
  }
  if (r.done != opt.size) {
    r.error = "got " + std::to_string(r.done) + " bytes of " + std::to_string(opt.size);
    return r;
  }
  std::uint64_t msgs = 0;
  std::string stream = std::string("OBJ_") + bucket_name;
  if (!stream_msgs(c.js.get(), stream.c_str(), &msgs, &r.error)) return r;
  if (msgs != std::uint64_t(put->chunks) + 1) {
    r.error = "stream " + stream + " holds " + std::to_string(msgs) + " messages, expected " +
              std::to_string(put->chunks) + " chunks and the meta";
    return r;
  }
  if (async_error(&r.error)) return r;
  r.complete = true;
  return r;
}

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "dialtone-jsbench: %s\n\n%s", why.c_str(), usage_text);
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("missing scenario");
  std::string_view scenario = argv[1];
  if (scenario == "-h" || scenario == "--help") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (scenario == "--version") {
    std::printf("dialtone-jsbench (libnats %s)\n", nats_GetVersion());
    return 0;
  }
  const bool obj_scenario = scenario == "objput" || scenario == "objget";
  if (scenario != "kvput" && scenario != "kvputa" && scenario != "kvget" && scenario != "kvwatch" &&
      scenario != "jspub" && scenario != "jspuba" && scenario != "rawkvputa" && scenario != "rawjspuba" &&
      !obj_scenario)
    usage_error("unknown scenario " + std::string(scenario));
  options opt;
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value for " + std::string(flag));
    const char* value = argv[++i];
    if (flag == "--host") opt.host = value;
    else if (flag == "--port") opt.port = static_cast<unsigned>(parse_count(argv[i - 1], value, 1, 65535));
    else if (flag == "--msgs") opt.msgs = parse_count(argv[i - 1], value, 1, 1'000'000'000ULL);
    else if (flag == "--size")
      opt.size = parse_count(argv[i - 1], value, obj_scenario ? 0 : 1, obj_scenario ? 1ull << 40 : 8 * 1024 * 1024);
    else if (flag == "--keys") opt.keys = parse_count(argv[i - 1], value, 1, 10'000'000);
    else if (flag == "--window") opt.window = static_cast<int>(parse_count(argv[i - 1], value, 1, 1'000'000));
    else if (flag == "--server-pid") opt.server_pid = static_cast<int>(parse_count(argv[i - 1], value, 0, 1u << 30));
    else if (flag == "--timeout") {
      char* end = nullptr;
      opt.timeout_s = std::strtod(value, &end);
      if (end == value || *end != '\0' || !(opt.timeout_s > 0)) usage_error(std::string("bad --timeout: ") + value);
    } else usage_error("unknown option " + std::string(flag));
  }

  if (obj_scenario) opt.msgs = 1;  // one object; its size is --size
  start_watchdog(std::string(scenario), opt);
  const auto deadline = bench_clock::now() + std::chrono::duration_cast<bench_clock::duration>(
                                                 std::chrono::duration<double>(opt.timeout_s));
  result r;
  if (scenario == "kvputa" || scenario == "jspuba") r = run_async(scenario, opt, deadline);
  else if (scenario == "rawkvputa" || scenario == "rawjspuba") r = run_raw_async(scenario, opt, deadline);
  else if (scenario == "kvwatch") r = run_watch(opt, deadline);
  else if (obj_scenario) r = run_obj(scenario, opt);
  else r = run_sync(scenario, opt, deadline);
  // The clients are gone by now (their destructors ran inside the scenario).
  g_phase.store("closing libnats");
  print_result(scenario, opt, r);
  if (!r.complete)
    std::fprintf(stderr, "dialtone-jsbench %.*s: incomplete: %s\n", static_cast<int>(scenario.size()),
                 scenario.data(), r.error.empty() ? "count not reached" : r.error.c_str());
  nats_CloseAndWait(2000);
  return r.complete ? 0 : 1;
}
