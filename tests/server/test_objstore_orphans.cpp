// Object-store buckets on the real server: chunks that no object refers to (a put cut
// off by a crash or a client that went away) are purged once the newest of them is
// older than `jetstream { orphan_chunk_age }`; chunks of live objects, and of a put
// still under way, stay. Written with raw JetStream publishes (libnats), exactly the
// layout @nats-io/obj and nats.go use (nats-wire.md 4.7). nats-server has no such
// cleanup (a documented difference), so this runs against dialtone only.
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "nats_handles.hpp"
#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

struct conn : js_client {
  using js_client::js_client;
  void publish(const std::string& subject, const std::string& body) {
    REQUIRE(js_Publish(nullptr, js.get(), subject.c_str(), body.data(), int(body.size()), nullptr, nullptr) ==
            NATS_OK);
  }
  // The stream of bucket "files", as @nats-io/obj creates it.
  void create_bucket_stream() {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "OBJ_files";
    const char* subjects[] = {"$O.files.C.>", "$O.files.M.>"};
    sc.Subjects = subjects;
    sc.SubjectsLen = 2;
    sc.AllowRollup = true;
    sc.AllowDirect = true;
    sc.Discard = js_DiscardNew;
    jsStreamInfo* si = nullptr;
    REQUIRE(js_AddStream(&si, js.get(), &sc, nullptr, nullptr) == NATS_OK);
    jsStreamInfo_Destroy(si);
  }
  // Messages on one subject of stream OBJ_files (0 when none).
  uint64_t count(const char* subject) {
    jsStreamInfo* si = nullptr;
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Info.SubjectsFilter = subject;
    REQUIRE(js_GetStreamInfo(&si, js.get(), "OBJ_files", &o, nullptr) == NATS_OK);
    uint64_t n = 0;
    if (si->State.Subjects)
      for (int i = 0; i < si->State.Subjects->Count; ++i) n += si->State.Subjects->List[i].Msgs;
    jsStreamInfo_Destroy(si);
    return n;
  }
};

}  // namespace

TEST_CASE("object store: orphaned chunks are purged, chunks of live objects and of puts under way stay",
          "[jetstream][objstore]") {
  if (std::getenv("DIALTONE_TEST_SERVER_BIN")) {
    WARN("nats-server does not clean orphaned object-store chunks: dialtone only");
    return;
  }
  temp_dir store;
  server_process s({"-js", "-sd", store.path}, "jetstream { orphan_chunk_age: \"2s\" }\n");
  conn c(s);
  c.create_bucket_stream();

  const std::string chunk(1000, 'x');
  // A live object: chunks and its meta.
  c.publish("$O.files.C.LIVE", chunk);
  c.publish("$O.files.C.LIVE", chunk);
  c.publish("$O.files.M.bGl2ZQ==", R"({"name":"live","bucket":"files","nuid":"LIVE","size":2000,"chunks":2})");
  // A put whose client vanished before the meta: no object refers to its chunks.
  c.publish("$O.files.C.CUT", chunk);
  c.publish("$O.files.C.CUT", chunk);
  c.publish("$O.files.C.CUT", chunk);
  // A delete whose client vanished after the meta but before purging the chunks.
  c.publish("$O.files.C.GONE", chunk);
  c.publish("$O.files.M.Z29uZQ==", R"({"name":"gone","bucket":"files","nuid":"GONE","size":0,"chunks":0,"deleted":true})");
  // A bucket-level meta written by another client library with fields we do not know.
  c.publish("$O.files.M.b3RoZXI=", R"({"name":"other","nuid":"OTHER","extra":{"x":[1,2]}})");
  c.publish("$O.files.C.OTHER", chunk);

  // A slow put still under way: a chunk every 300 ms for 6 s, three times the age, and
  // never more than 2 s apart, so it is never an orphan.
  auto start = std::chrono::steady_clock::now();
  int slow_chunks = 0;
  while (std::chrono::steady_clock::now() - start < 6s) {
    c.publish("$O.files.C.SLOW", chunk);
    ++slow_chunks;
    std::this_thread::sleep_for(300ms);
  }
  // The orphans are gone after the age (checks run every second at this age).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((c.count("$O.files.C.CUT") || c.count("$O.files.C.GONE")) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  CHECK(c.count("$O.files.C.CUT") == 0);
  CHECK(c.count("$O.files.C.GONE") == 0);
  CHECK(c.count("$O.files.C.LIVE") == 2);
  CHECK(c.count("$O.files.C.OTHER") == 1);
  CHECK(c.count("$O.files.M.>") == 3);
  CHECK(c.count("$O.files.C.SLOW") == uint64_t(slow_chunks));
  CHECK(s.log().find("orphaned chunks of $O.files.C.CUT") != std::string::npos);

  // Once the slow put stops (its client gone) its chunks are orphans too.
  deadline = std::chrono::steady_clock::now() + 20s;
  while (c.count("$O.files.C.SLOW") && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  CHECK(c.count("$O.files.C.SLOW") == 0);
  CHECK(c.count("$O.files.C.LIVE") == 2);
}

TEST_CASE("object store: orphan_chunk_age is a duration, 0 turns the cleanup off", "[jetstream][objstore][config]") {
  if (std::getenv("DIALTONE_TEST_SERVER_BIN")) return;
  temp_dir store;
  server_process s({"-js", "-sd", store.path}, "jetstream { orphan_chunk_age: 0 }\n");
  conn c(s);
  c.create_bucket_stream();
  c.publish("$O.files.C.CUT", "chunk");
  std::this_thread::sleep_for(1500ms);
  CHECK(c.count("$O.files.C.CUT") == 1);
}
