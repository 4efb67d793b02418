// JetStream durability against the real server: kill -9 in the middle of acked writes
// from several clients, then restart on the same store. Every acknowledged put is
// there with its revision, sequences continue, and a durable consumer resumes where
// its acknowledgements left it.
#include <nats/nats.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

struct js_conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit js_conn(const server_process& s) {
    natsOptions* o = nullptr;
    REQUIRE(natsOptions_Create(&o) == NATS_OK);
    natsOptions_SetURL(o, s.url().c_str());
    natsOptions_SetAllowReconnect(o, false);
    natsOptions_SetTimeout(o, 5000);
    REQUIRE(natsConnection_Connect(&nc, o) == NATS_OK);
    natsOptions_Destroy(o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    REQUIRE(natsConnection_JetStream(&js, nc, &jo) == NATS_OK);
  }
  ~js_conn() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

kvStore* bucket(js_conn& c, const char* name, bool create) {
  kvStore* kv = nullptr;
  if (create) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name;
    cfg.History = 1;
    REQUIRE(js_CreateKeyValue(&kv, c.js, &cfg) == NATS_OK);
  } else {
    REQUIRE(js_KeyValue(&kv, c.js, name) == NATS_OK);
  }
  return kv;
}

// Writers putting to one KV bucket, each on its own connection, until stopped or the
// server dies: next(w, n) gives writer w's n-th key and value, acked(key, revision, n)
// is called (under a lock) for each put the server acknowledged. Connections are made
// in the constructor: Catch2's assertions are for the test's own thread.
struct kv_writers {
  using next_fn = std::function<std::pair<std::string, std::string>(int w, int n)>;
  using acked_fn = std::function<void(const std::string& key, uint64_t rev, int n)>;
  std::atomic<bool> stop{false};
  std::atomic<int> total{0};
  std::mutex acked_mutex;
  std::vector<std::unique_ptr<js_conn>> conns;
  std::vector<std::thread> threads;

  kv_writers(const server_process& s, const char* bucket_name, int writers, next_fn next, acked_fn acked) {
    for (int w = 0; w < writers; ++w) conns.push_back(std::make_unique<js_conn>(s));
    for (int w = 0; w < writers; ++w)
      threads.emplace_back([this, w, bucket_name, next, acked] {
        js_conn& c = *conns[size_t(w)];
        kvStore* kv = nullptr;
        if (js_KeyValue(&kv, c.js, bucket_name) != NATS_OK) return;
        for (int n = 0; !stop.load(); ++n) {
          auto [key, value] = next(w, n);
          uint64_t rev = 0;
          if (kvStore_Put(&rev, kv, key.c_str(), value.data(), int(value.size())) != NATS_OK) break;  // killed
          std::lock_guard lock(acked_mutex);
          acked(key, rev, n);
          total++;
        }
        kvStore_Destroy(kv);
      });
  }
  void join() {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~kv_writers() { join(); }
};

}  // namespace

TEST_CASE("jetstream: kill -9 during acked puts loses no acknowledged put", "[jetstream][durability]") {
  temp_dir store;
  std::vector<std::string> args{"-js", "-sd", store.path};
  constexpr int writers = 4;
  // key -> revision, for every put the server acknowledged.
  std::map<std::string, uint64_t> acked;
  uint64_t consumed_upto = 0;
  {
    server_process s(args);
    {
      js_conn setup(s);
      kvStore* kv = bucket(setup, "durable", true);
      kvStore_Destroy(kv);
      jsStreamConfig sc;
      jsStreamConfig_Init(&sc);
      sc.Name = "WORK";
      const char* subjects[] = {"work.>"};
      sc.Subjects = subjects;
      sc.SubjectsLen = 1;
      jsStreamInfo* si = nullptr;
      REQUIRE(js_AddStream(&si, setup.js, &sc, nullptr, nullptr) == NATS_OK);
      jsStreamInfo_Destroy(si);
      for (int i = 1; i <= 200; ++i) {
        std::string body = "job " + std::to_string(i);
        REQUIRE(js_Publish(nullptr, setup.js, "work.item", body.data(), int(body.size()), nullptr, nullptr) == NATS_OK);
      }
      // A durable pull consumer acknowledges the first 120 jobs (synchronously: the
      // server confirmed each ack).
      natsSubscription* sub = nullptr;
      REQUIRE(js_PullSubscribe(&sub, setup.js, "work.>", "workers", nullptr, nullptr, nullptr) == NATS_OK);
      while (consumed_upto < 120) {
        natsMsgList list{};
        REQUIRE(natsSubscription_Fetch(&list, sub, int(std::min<uint64_t>(50, 120 - consumed_upto)), 5000, nullptr) ==
                NATS_OK);
        for (int i = 0; i < list.Count; ++i) {
          jsMsgMetaData* meta = nullptr;
          REQUIRE(natsMsg_GetMetaData(&meta, list.Msgs[i]) == NATS_OK);
          CHECK(meta->Sequence.Stream == consumed_upto + 1);
          jsMsgMetaData_Destroy(meta);
          REQUIRE(natsMsg_AckSync(list.Msgs[i], nullptr, nullptr) == NATS_OK);
          ++consumed_upto;
        }
        natsMsgList_Destroy(&list);
      }
      natsSubscription_Destroy(sub);
    }

    kv_writers puts(
        s, "durable", writers,
        [](int w, int n) {
          std::string key = "w" + std::to_string(w) + ".k" + std::to_string(n);
          return std::pair{key, "value of " + key};
        },
        [&](const std::string& key, uint64_t rev, int) { acked[key] = rev; });
    // Kill while the puts are in full flow.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (puts.total.load() < 2000 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    s.kill9();
    puts.join();
  }
  REQUIRE(acked.size() >= 2000);

  server_process again(args);
  js_conn c(again);
  kvStore* kv = bucket(c, "durable", false);
  uint64_t max_rev = 0;
  size_t checked = 0, missing = 0, wrong = 0;
  for (auto& [key, rev] : acked) {
    kvEntry* e = nullptr;
    auto st = kvStore_Get(&e, kv, key.c_str());
    if (st != NATS_OK) {
      ++missing;
      continue;
    }
    if (kvEntry_Revision(e) != rev || std::string(kvEntry_ValueString(e)) != "value of " + key) ++wrong;
    kvEntry_Destroy(e);
    max_rev = std::max(max_rev, rev);
    ++checked;
  }
  INFO(acked.size() << " acknowledged puts before kill -9");
  CHECK(missing == 0);
  CHECK(wrong == 0);
  // Sequences continue after the last acknowledged one.
  uint64_t next = 0;
  REQUIRE(kvStore_PutString(&next, kv, "after.restart", "x") == NATS_OK);
  CHECK(next > max_rev);
  kvStore_Destroy(kv);

  // The durable consumer resumes after its acknowledged jobs.
  natsSubscription* sub = nullptr;
  REQUIRE(js_PullSubscribe(&sub, c.js, "work.>", "workers", nullptr, nullptr, nullptr) == NATS_OK);
  natsMsgList list{};
  REQUIRE(natsSubscription_Fetch(&list, sub, 10, 5000, nullptr) == NATS_OK);
  REQUIRE(list.Count > 0);
  jsMsgMetaData* meta = nullptr;
  REQUIRE(natsMsg_GetMetaData(&meta, list.Msgs[0]) == NATS_OK);
  CHECK(meta->Sequence.Stream == consumed_upto + 1);
  jsMsgMetaData_Destroy(meta);
  natsMsgList_Destroy(&list);
  natsSubscription_Destroy(sub);
}

namespace {

// The JSON of a publish's ack (or error), as the server sent it.
std::string publish_raw(natsConnection* nc, const std::string& subject, const std::string& body) {
  natsMsg* reply = nullptr;
  auto st = natsConnection_Request(&reply, nc, subject.c_str(), body.data(), int(body.size()), 5000);
  if (st != NATS_OK) return std::string("request failed: ") + natsStatus_GetText(st);
  std::string out(natsMsg_GetData(reply), size_t(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return out;
}

std::string request_raw(natsConnection* nc, const std::string& subject, const std::string& body) {
  return publish_raw(nc, subject, body);
}

// Core messaging on the same server still works: a request answered by a subscriber.
void core_messaging_works(natsConnection* nc) {
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, "core.check") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "core.check", "still here") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
  CHECK(std::string(natsMsg_GetData(m)) == "still here");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("jetstream: kill -9 while small KV values are overwritten: each key keeps its last put, none older returns",
          "[jetstream][durability]") {
  // Overwrites delete the previous revision with a RocksDB SingleDelete (stream_store.hpp):
  // after a kill -9, the write-ahead log's replay and the flushes and compactions that
  // follow must leave exactly one revision per key, the newest.
  temp_dir store;
  std::vector<std::string> args{"-js", "-sd", store.path};
  constexpr int writers = 4, keys_per_writer = 50;
  struct last_put {
    uint64_t rev = 0;
    std::string value;
  };
  std::map<std::string, last_put> last;     // per key, its last acknowledged put
  std::vector<uint64_t> overwritten;        // acknowledged revisions a later acked put replaced
  auto put_all = [&](server_process& s, int min_puts, bool kill) {
    kv_writers puts(
        s, "over", writers,
        [](int w, int n) {
          std::string key = "w" + std::to_string(w) + ".k" + std::to_string(n % keys_per_writer);
          return std::pair{key, "put " + std::to_string(n) + " of " + key};
        },
        [&](const std::string& key, uint64_t rev, int n) {
          auto& l = last[key];
          if (l.rev) overwritten.push_back(l.rev);
          l.rev = rev;
          l.value = "put " + std::to_string(n) + " of " + key;
        });
    // Enough overwrites that RocksDB writes memtables out (each put is two entries).
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (puts.total.load() < min_puts && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    if (kill) s.kill9();
    puts.join();
  };
  auto check_all = [&](server_process& s) {
    js_conn c(s);
    kvStore* kv = bucket(c, "over", false);
    size_t missing = 0, older = 0, wrong = 0;
    for (auto& [key, l] : last) {
      kvEntry* e = nullptr;
      if (kvStore_Get(&e, kv, key.c_str()) != NATS_OK) {
        ++missing;
        continue;
      }
      // A put stored but not acknowledged before the kill may be newer.
      if (kvEntry_Revision(e) < l.rev) ++older;
      if (kvEntry_Revision(e) == l.rev && std::string(kvEntry_ValueString(e)) != l.value) ++wrong;
      kvEntry_Destroy(e);
    }
    kvStore_Destroy(kv);
    CHECK(missing == 0);
    CHECK(older == 0);
    CHECK(wrong == 0);
    // One message per key (history 1), and no replaced revision readable.
    auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.KV_over", ""), nullptr, false);
    CHECK(info["state"]["messages"].get<uint64_t>() == last.size());
    size_t back = 0;
    for (size_t i = 0; i < overwritten.size(); i += 7)
      if (request_raw(c.nc, "$JS.API.STREAM.MSG.GET.KV_over", "{\"seq\":" + std::to_string(overwritten[i]) + "}")
              .find("\"error\"") == std::string::npos)
        ++back;
    CHECK(back == 0);
  };
  {
    server_process s(args);
    {
      js_conn setup(s);
      kvStore_Destroy(bucket(setup, "over", true));
    }
    put_all(s, 40000, true);
  }
  REQUIRE(last.size() == size_t(writers * keys_per_writer));
  INFO(overwritten.size() << " acknowledged overwrites before kill -9");
  {
    server_process s(args);
    check_all(s);
    // Overwriting goes on over what the log's replay restored; then a clean restart.
    put_all(s, 5000, false);
    check_all(s);
  }
  server_process s(args);
  check_all(s);
}

TEST_CASE("jetstream: a size-limited store refuses publishes with an error, core messaging goes on",
          "[jetstream][durability]") {
  temp_dir store;
  server_process s({"-sd", store.path}, "jetstream { max_file_store: 262144 }\n");
  js_conn c(s);
  REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.BIG", R"({"name":"BIG","subjects":["big.>"]})")
              .find("\"did_create\":true") != std::string::npos);
  std::string chunk(16 * 1024, 'x');
  std::string first_error;
  int acked = 0;
  for (int i = 0; i < 64 && first_error.empty(); ++i) {
    auto r = publish_raw(c.nc, "big.data", chunk);
    if (r.find("\"error\"") != std::string::npos) first_error = r;
    else ++acked;
  }
  INFO(first_error);
  CHECK(acked > 0);
  CHECK(acked < 64);
  CHECK(first_error.find("\"err_code\":10023") != std::string::npos);
  CHECK(first_error.find("insufficient resources") != std::string::npos);
  // Nothing half-stored: the stream holds exactly the acknowledged messages.
  auto info = request_raw(c.nc, "$JS.API.STREAM.INFO.BIG", "");
  CHECK(info.find("\"messages\":" + std::to_string(acked) + ",") != std::string::npos);
  core_messaging_works(c.nc);
}

TEST_CASE("jetstream: a full disk answers the publisher with an error, logged once; the server keeps serving and recovers",
          "[jetstream][durability]") {
  temp_dir dir;
  // A tmpfs of a few MiB for the store; mounting needs root (the CI machine is).
  std::string cmd = "mount -t tmpfs -o size=24m tmpfs '" + dir.path + "' </dev/null >/dev/null 2>&1";
  if (geteuid() != 0 || std::system(cmd.c_str()) != 0) {
    WARN("not root: the full-disk test needs a tmpfs mount (the size-limited store test covers the rest)");
    return;
  }
  struct unmount {
    std::string path;
    ~unmount() { (void)std::system(("umount -l '" + path + "' </dev/null >/dev/null 2>&1").c_str()); }
  } guard{dir.path};
  int acked = 0;
  uint64_t last = 0;
  {
    server_process s({"-js", "-sd", dir.path});
    js_conn c(s);
    REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.FILL", R"({"name":"FILL","subjects":["fill.>"]})")
                .find("\"did_create\":true") != std::string::npos);
    std::string chunk(256 * 1024, 'y');
    std::string error;
    int errors = 0, store_errors = 0;  // store_errors: failed writes (err_code 10047)
    auto first_error = std::chrono::steady_clock::now();
    for (int i = 0; i < 400 && errors < 5; ++i) {
      auto r = publish_raw(c.nc, "fill.data", chunk);
      if (r.find("\"error\"") != std::string::npos) {
        if (error.empty()) {
          error = r;
          first_error = std::chrono::steady_clock::now();
        }
        ++errors;
        if (r.find("\"err_code\":10047") != std::string::npos) ++store_errors;
      } else if (r.find("\"seq\"") != std::string::npos) {
        ++acked;
      }
    }
    INFO(error);
    REQUIRE(errors > 0);
    CHECK(error.find("\"err_code\":10047") != std::string::npos);
    CHECK(error.find("insufficient storage resources available") != std::string::npos);
    // Core messaging and the API keep working; acknowledged messages are readable.
    core_messaging_works(c.nc);
    auto got = request_raw(c.nc, "$JS.API.STREAM.MSG.GET.FILL", R"({"seq":1})");
    CHECK(got.find("\"seq\":1") != std::string::npos);
    // One log line for the failure, not one per message: at most one per 10 s (a slow
    // sanitizer build may take longer than that for the five failures).
    std::this_thread::sleep_for(200ms);
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - first_error);
    auto lines = count(s.log(), "JetStream store write failed");
    CHECK(lines >= 1);
    CHECK(lines <= size_t(1 + seconds.count() / 10));
    js_conn fresh(s);  // a new connection still logs in and works
    core_messaging_works(fresh.nc);

    // Room again: publishing goes on (the store recovers at its next write), and the
    // sequences of the publishes that failed to be stored are not given out again (the
    // store cancels a small message's put with one RocksDB SingleDelete, so a sequence
    // is put once in a stream's life).
    REQUIRE(std::system(("mount -o remount,size=128m '" + dir.path + "' </dev/null >/dev/null 2>&1").c_str()) == 0);
    std::string again;
    for (int i = 0; i < 100; ++i) {
      again = publish_raw(c.nc, "fill.small", "back");
      if (again.find("\"error\"") == std::string::npos) break;
      if (again.find("\"err_code\":10047") != std::string::npos) ++store_errors;
      std::this_thread::sleep_for(100ms);
    }
    INFO(again);
    auto ack = nlohmann::json::parse(again, nullptr, false);
    REQUIRE(ack.contains("seq"));
    uint64_t seq = ack["seq"].get<uint64_t>();
    CHECK(seq > uint64_t(acked + store_errors));
    last = seq;
  }
  // Every acknowledged message is there after a restart, and nothing else.
  server_process s({"-js", "-sd", dir.path});
  js_conn c(s);
  for (uint64_t q : {uint64_t(1), uint64_t(acked), last})
    CHECK(request_raw(c.nc, "$JS.API.STREAM.MSG.GET.FILL", "{\"seq\":" + std::to_string(q) + "}")
              .find("\"seq\":" + std::to_string(q)) != std::string::npos);
  auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.FILL", ""), nullptr, false);
  CHECK(info["state"]["messages"].get<uint64_t>() == uint64_t(acked) + 1);
  CHECK(info["state"]["last_seq"].get<uint64_t>() == last);
}

namespace {
int64_t rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}
}  // namespace

TEST_CASE("jetstream: a consumer that never reads does not make the server hold the stream in memory",
          "[jetstream][memory]") {
  temp_dir store;
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed memory in quarantine (256 MiB by default), so RSS would measure
  // allocation churn rather than what the server holds: this server runs without it.
  const char* was = std::getenv("ASAN_OPTIONS");
  std::string saved = was ? was : "";
  setenv("ASAN_OPTIONS", (saved + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0").c_str(), 1);
#endif
  // A small outbound limit: a reader that stops is cut off at 4 MiB, as any slow consumer.
  server_process s({"-js", "-sd", store.path}, "max_pending: 4194304\n");
#if defined(__SANITIZE_ADDRESS__)
  setenv("ASAN_OPTIONS", saved.c_str(), 1);
#endif
  js_conn c(s);
  REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.BULK", R"({"name":"BULK","subjects":["bulk.>"]})")
              .find("\"did_create\":true") != std::string::npos);
  // 96 MiB in 384 messages of 256 KiB, each acknowledged.
  std::string chunk(256 * 1024, 'z');
  for (int i = 0; i < 384; ++i) {
    auto r = publish_raw(c.nc, "bulk.data", chunk);
    REQUIRE(r.find("\"seq\":" + std::to_string(i + 1)) != std::string::npos);
  }
  std::this_thread::sleep_for(500ms);
  int64_t before = rss_kib(s.pid());
  REQUIRE(before > 0);

  // A raw client subscribes to the deliver subject and never reads a byte.
  raw_client idle(s.port());
  idle.read_until("\r\n");
  idle.send("CONNECT {\"verbose\":false}\r\nSUB deliver.idle 1\r\nPING\r\n");
  // A push consumer without flow control, and a pull request for everything that is
  // never read either.
  REQUIRE(request_raw(c.nc, "$JS.API.CONSUMER.CREATE.BULK",
                      R"({"stream_name":"BULK","config":{"deliver_subject":"deliver.idle","ack_policy":"none"}})")
              .find("\"num_pending\":384") != std::string::npos);
  REQUIRE(request_raw(c.nc, "$JS.API.CONSUMER.DURABLE.CREATE.BULK.puller",
                      R"({"stream_name":"BULK","config":{"durable_name":"puller","ack_policy":"explicit"}})")
              .find("\"num_pending\":384") != std::string::npos);
  raw_client puller(s.port());
  puller.read_until("\r\n");
  puller.send("CONNECT {\"verbose\":false}\r\nSUB pulled 1\r\n"
              "PUB $JS.API.CONSUMER.MSG.NEXT.BULK.puller pulled 14\r\n{\"batch\":1000}\r\nPING\r\n");
  int64_t peak = before;
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(100ms);
    peak = std::max(peak, rss_kib(s.pid()));
  }
  INFO("RSS before " << before / 1024 << " MiB, peak while delivering " << peak / 1024 << " MiB");
  // Two readers that stopped cost at most their outbound limits (4 MiB each) plus
  // store read buffers, never the 96 MiB stream.
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer maps shadow memory (several times the size) for all the server
  // touches while delivering: the bound scales with it; holding the stream would still
  // fail it (96 MiB, and its shadow).
  constexpr int64_t bound_kib = 4 * 40 * 1024;
#else
  constexpr int64_t bound_kib = 40 * 1024;
#endif
  CHECK(peak - before < bound_kib);
  // Deliveries did start (to the pull request too), and the idle push reader was cut
  // off as a slow consumer once its 4 MiB filled; the server keeps serving.
  auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.CONSUMER.INFO.BULK.puller", ""));
  CHECK(info["delivered"]["stream_seq"].get<uint64_t>() > 0);
  CHECK(idle.closed_by_server(std::chrono::seconds(10)));
  core_messaging_works(c.nc);
}

TEST_CASE("jetstream: memory a publish burst used goes back once the store is idle", "[jetstream][memory]") {
  temp_dir store;
  server_process s({"-js", "-sd", store.path, "-D"});
  js_conn c(s);
  REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.BURST", R"({"name":"BURST","subjects":["burst.>"]})")
              .find("\"did_create\":true") != std::string::npos);
  // 2 MiB in 2000 pipelined 1 KiB publishes: they stay in the store's memtable (3 MiB
  // before the messages' family is flushed), the stream's inbox slots grow with them.
  std::string body(1024, 'b');
  jsPubOptions po;
  jsPubOptions_Init(&po);
  for (int i = 0; i < 2000; ++i)
    REQUIRE(js_PublishAsync(c.js, "burst.data", body.data(), int(body.size()), &po) == NATS_OK);
  jsPubOptions done;
  jsPubOptions_Init(&done);
  done.MaxWait = 30000;
  REQUIRE(js_PublishAsyncComplete(c.js, &done) == NATS_OK);
  int64_t after_burst = rss_kib(s.pid());
  REQUIRE(after_burst > 0);

  // Two seconds without a write: the memtables go to disk, the spare slots are freed,
  // and the allocator hands the memory back (logged at debug level).
  std::string line;
  for (int i = 0; i < 100 && line.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    auto log = s.log();
    if (auto at = log.find("JetStream idle: released "); at != std::string::npos) line = log.substr(at, log.find('\n', at) - at);
  }
  INFO(line);
  REQUIRE(!line.empty());
  auto write_buffers_kib = std::stoll(line.substr(std::string("JetStream idle: released ").size()));
  CHECK(write_buffers_kib >= 2000);
  CHECK(line.find("KiB of spare inbox slots") != std::string::npos);
  int64_t settled = rss_kib(s.pid());
  INFO("RSS after the burst " << after_burst / 1024 << " MiB, once idle " << settled / 1024 << " MiB");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // glibc's allocator gives pages back (malloc_trim). The sanitizers bring allocators of
  // their own that keep freed memory (ASan's quarantine, TSan's shadow), so there RSS
  // does not tell what the server released; the log line above does.
  CHECK(after_burst - settled >= 2 * 1024);
#endif

  // Nothing was lost by writing the memtables out: the last message reads back, and
  // publishing goes on from the next sequence.
  auto last = request_raw(c.nc, "$JS.API.STREAM.MSG.GET.BURST", R"({"seq":2000})");
  CHECK(last.find("\"seq\":2000") != std::string::npos);
  CHECK(publish_raw(c.nc, "burst.data", "more").find("\"seq\":2001") != std::string::npos);
  auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.BURST", ""));
  CHECK(info["state"]["messages"].get<uint64_t>() == 2001);
  CHECK(info["state"]["bytes"].get<uint64_t>() > 2000u * 1024u);
}

TEST_CASE("jetstream: requests that would loop or corrupt the index are refused", "[jetstream]") {
  temp_dir store;
  server_process s({"-js", "-sd", store.path});
  js_conn c(s);
  REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.O", R"({"name":"O","subjects":["orders.>"]})")
              .find("\"did_create\":true") != std::string::npos);
  // A push consumer delivering into the stream's own subjects would store every
  // delivery again, forever (nats-server refuses it the same way).
  auto cycle = request_raw(c.nc, "$JS.API.CONSUMER.CREATE.O.c",
                           R"({"stream_name":"O","config":{"name":"c","deliver_subject":"orders.deliver"}})");
  CHECK(cycle.find("\"err_code\":10081") != std::string::npos);
  CHECK(cycle.find("consumer deliver subject forms a cycle") != std::string::npos);
  // A subject with a NUL byte (which the protocol lets through) cannot be indexed: an
  // error ack, nothing stored, and the stream goes on.
  raw_client raw(s.port());
  raw.read_until("\r\n");
  raw.send("CONNECT {\"verbose\":false}\r\nSUB _INBOX.n 1\r\n" + std::string("PUB orders.a\0b _INBOX.n 1\r\nx\r\n", 30));
  auto refused = raw.read_until("}\r\n");
  INFO(refused);
  CHECK(refused.find("\"err_code\":10003") != std::string::npos);
  CHECK(publish_raw(c.nc, "orders.ok", "y").find("\"seq\":1") != std::string::npos);
  CHECK(request_raw(c.nc, "$JS.API.STREAM.INFO.O", "").find("\"messages\":1,") != std::string::npos);
}

namespace {
std::string publish_with_id(natsConnection* nc, const std::string& subject, const std::string& id,
                            const std::string& body) {
  natsMsg* m = nullptr;
  REQUIRE(natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), int(body.size())) == NATS_OK);
  REQUIRE(natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str()) == NATS_OK);
  natsMsg* reply = nullptr;
  auto st = natsConnection_RequestMsg(&reply, nc, m, 5000);
  natsMsg_Destroy(m);
  if (st != NATS_OK) return std::string("request failed: ") + natsStatus_GetText(st);
  std::string out(natsMsg_GetData(reply), size_t(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return out;
}
}  // namespace

TEST_CASE("jetstream: after kill -9 the counts, the times and the de-duplication window are as before",
          "[jetstream][durability]") {
  temp_dir store;
  std::vector<std::string> args{"-js", "-sd", store.path};
  nlohmann::json before;
  {
    server_process s(args);
    js_conn c(s);
    REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.D", R"({"name":"D","subjects":["d.>"]})")
                .find("\"did_create\":true") != std::string::npos);
    for (int i = 1; i <= 50; ++i) {
      auto r = publish_with_id(c.nc, "d." + std::to_string(i % 7), "id-" + std::to_string(i), std::string(i, 'x'));
      REQUIRE(r.find("\"seq\":" + std::to_string(i)) != std::string::npos);
    }
    REQUIRE(request_raw(c.nc, "$JS.API.STREAM.MSG.DELETE.D", R"({"seq":1})").find("\"success\":true") !=
            std::string::npos);
    before = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.D", ""))["state"];
    s.kill9();
  }
  server_process again(args);
  js_conn c(again);
  auto after = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.D", ""))["state"];
  for (auto key : {"messages", "bytes", "first_seq", "first_ts", "last_seq", "last_ts", "num_subjects"}) {
    INFO(key);
    CHECK(after[key] == before[key]);
  }
  // A message id from before the kill is still a duplicate, with its sequence.
  auto dup = publish_with_id(c.nc, "d.3", "id-10", "again");
  CHECK(dup.find("\"seq\":10") != std::string::npos);
  CHECK(dup.find("\"duplicate\":true") != std::string::npos);
  CHECK(publish_with_id(c.nc, "d.3", "id-51", "new").find("\"seq\":51") != std::string::npos);
}

namespace {

// A large value (over the value log threshold) that names its key and its round.
std::string big_value(const std::string& key, int round) {
  std::string head = key + "#" + std::to_string(round) + "#";
  std::string v;
  v.reserve(24 << 10);
  while (v.size() < (24 << 10)) v += head;
  v.resize(24 << 10);
  return v;
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) n += it->file_size(ec);
  return n;
}

}  // namespace

TEST_CASE("jetstream: kill -9 while large KV values are overwritten and their files compacted loses no acked put",
          "[jetstream][durability][vlog]") {
  // Values of 24 KiB go to the value log (64 MiB files). Each writer overwrites eight
  // hot keys and, every 200 puts, writes a cold key once: every file keeps a few cold
  // values among dead hot ones, so the store compacts files all along.
  temp_dir store;
  std::vector<std::string> args{"-js", "-sd", store.path};
  const std::string vlog = store.path + "/jetstream/vlog";
  constexpr int writers = 4;
  std::map<std::string, std::pair<uint64_t, int>> acked;  // key -> revision, round
  uint64_t written_bytes = 0;
  bool compacted_before_kill = false;
  {
    server_process s(args);
    {
      js_conn setup(s);
      kvStore* kv = bucket(setup, "large", true);
      kvStore_Destroy(kv);
    }
    kv_writers puts(
        s, "large", writers,
        [](int w, int n) {
          std::string key = n % 200 == 199 ? "w" + std::to_string(w) + ".cold" + std::to_string(n / 200)
                                           : "w" + std::to_string(w) + ".hot" + std::to_string(n % 8);
          return std::pair{key, big_value(key, n)};
        },
        [&](const std::string& key, uint64_t rev, int n) { acked[key] = {rev, n}; });
    // At least 12,000 puts of 24 KiB (280 MiB, five value log files), and on until the
    // files on disk are under half of what was put: compaction runs along with the
    // writes. Then the kill. (Bounded: a server that never compacts fails after 2 GiB.)
    auto put_bytes = [&] { return uint64_t(puts.total.load()) * (24 << 10); };
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((puts.total.load() < 12000 || dir_bytes(vlog) >= put_bytes() / 2) && put_bytes() < (2ull << 30) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    compacted_before_kill = puts.total.load() >= 12000 && dir_bytes(vlog) < put_bytes() / 2;
    s.kill9();
    puts.join();
    written_bytes = put_bytes();
  }
  INFO(acked.size() << " keys acknowledged before kill -9, " << written_bytes << " bytes put");
  REQUIRE(written_bytes >= (200ull << 20));
  // Files were compacted (or deleted) along the way: far less on disk than was put.
  CHECK(compacted_before_kill);

  server_process again(args);
  js_conn c(again);
  kvStore* kv = bucket(c, "large", false);
  size_t missing = 0, wrong = 0, extra_history = 0;
  for (auto& [key, got] : acked) {
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv, key.c_str()) != NATS_OK) {
      ++missing;
      continue;
    }
    std::string value(static_cast<const char*>(kvEntry_Value(e)), size_t(kvEntry_ValueLen(e)));
    // The acked round, or a later put of the same key whose ack the kill cut off.
    if (kvEntry_Revision(e) < got.first || (kvEntry_Revision(e) == got.first && value != big_value(key, got.second)))
      ++wrong;
    kvEntry_Destroy(e);
    // History 1: no overwritten revision came back.
    kvEntryList list{};
    if (kvStore_History(&list, kv, key.c_str(), nullptr) == NATS_OK) {
      if (list.Count != 1) ++extra_history;
      kvEntryList_Destroy(&list);
    }
  }
  CHECK(missing == 0);
  CHECK(wrong == 0);
  CHECK(extra_history == 0);
  kvStore_Destroy(kv);
  // Once the store has settled, what stays is close to the live values.
  uint64_t live = acked.size() * (24 << 10);
  auto settle = std::chrono::steady_clock::now() + 60s;
  while (dir_bytes(vlog) > live + (130ull << 20) && std::chrono::steady_clock::now() < settle)
    std::this_thread::sleep_for(100ms);
  CHECK(dir_bytes(vlog) <= live + (130ull << 20));
}

TEST_CASE("jetstream: an empty store opens with the first stream - and one server per store directory",
          "[jetstream][bad-input]") {
  temp_dir store;
  const std::string js_dir = store.path + "/jetstream";
  auto second_server = [&] {
    return run_command({DIALTONE_SERVER_BIN, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store.path}, 10s);
  };
  {
    server_process s({"-js", "-sd", store.path});
    // Nothing stored yet: RocksDB is not open (no CURRENT file), the API answers.
    CHECK_FALSE(std::filesystem::exists(js_dir + "/CURRENT"));
    js_conn c(s);
    auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.INFO", ""));
    CHECK(info["streams"].get<int>() == 0);
    CHECK(info["storage"].get<int64_t>() == 0);
    // A second server on the same directory is refused at start, store open or not.
    auto r = second_server();
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("JetStream: store directory " + js_dir + " is in use by another server") !=
          std::string::npos);

    // The first stream opens the store; its messages are in it.
    REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.FIRST", R"({"name":"FIRST","subjects":["first.>"]})")
                .find("\"did_create\":true") != std::string::npos);
    CHECK(std::filesystem::exists(js_dir + "/CURRENT"));
    CHECK(s.log().find("JetStream: opened the store in " + js_dir + " for the first stream") != std::string::npos);
    CHECK(publish_raw(c.nc, "first.a", "one").find("\"seq\":1") != std::string::npos);
    // A memory stream's definition is stored there too.
    REQUIRE(request_raw(c.nc, "$JS.API.STREAM.CREATE.MEM", R"({"name":"MEM","subjects":["mem.>"],"storage":"memory"})")
                .find("\"did_create\":true") != std::string::npos);
    r = second_server();
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("is in use by another server") != std::string::npos);
    s.kill9();
  }
  // kill -9 released the lock. A store with data opens at start, and has both streams.
  server_process s({"-js", "-sd", store.path});
  CHECK(s.log().find("for the first stream") == std::string::npos);
  js_conn c(s);
  auto info = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.INFO.FIRST", ""));
  CHECK(info["state"]["messages"].get<uint64_t>() == 1);
  CHECK(request_raw(c.nc, "$JS.API.STREAM.INFO.MEM", "").find("\"name\":\"MEM\"") != std::string::npos);
  CHECK(publish_raw(c.nc, "first.b", "two").find("\"seq\":2") != std::string::npos);
}

TEST_CASE("jetstream: when the first stream cannot open the store its create gets the error, and nothing is created",
          "[jetstream][bad-input]") {
  temp_dir store;
  const std::string js_dir = store.path + "/jetstream";
  server_process s({"-js", "-sd", store.path});
  js_conn c(s);
  // The store's directory replaced by a file after the start: RocksDB cannot open there.
  std::filesystem::remove_all(js_dir);
  { std::ofstream(js_dir) << "not a directory"; }
  auto r = nlohmann::json::parse(
      request_raw(c.nc, "$JS.API.STREAM.CREATE.FIRST", R"({"name":"FIRST","subjects":["first.>"]})"));
  INFO(r.dump());
  CHECK(r["error"]["err_code"].get<int>() == 10077);
  CHECK(r["error"]["description"].get<std::string>().find(js_dir) != std::string::npos);
  CHECK(s.log().find("JetStream: cannot") != std::string::npos);
  auto names = nlohmann::json::parse(request_raw(c.nc, "$JS.API.STREAM.NAMES", ""));
  CHECK(names["total"].get<int>() == 0);
  // Core messaging goes on; with the directory back, the next create opens the store.
  core_messaging_works(c.nc);
  CHECK(publish_raw(c.nc, "first.a", "x").find("request failed") != std::string::npos);  // no stream took it
  std::filesystem::remove(js_dir);
  std::filesystem::create_directory(js_dir);
  CHECK(request_raw(c.nc, "$JS.API.STREAM.CREATE.FIRST", R"({"name":"FIRST","subjects":["first.>"]})")
            .find("\"did_create\":true") != std::string::npos);
  CHECK(publish_raw(c.nc, "first.a", "x").find("\"seq\":1") != std::string::npos);
}
