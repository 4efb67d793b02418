// JetStream through the official C client (libnats 3.x): the key-value API (kvStore) and
// streams, publish acks and pull consumers (jsCtx). Every case starts its own server with
// `-js -sd <fresh dir>`; run against a reference with
// DIALTONE_TEST_SERVER_BIN=/usr/sbin/nats-server test_server "[jetstream]".
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nats_handles.hpp"
#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

kv_ptr create_bucket(jsCtx* js, const char* bucket, int history = 1, int64_t ttl_ns = 0) {
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket;
  cfg.History = uint8_t(history);
  cfg.TTL = ttl_ns;
  kvStore* kv = nullptr;
  auto st = js_CreateKeyValue(&kv, js, &cfg);
  INFO("js_CreateKeyValue: " << natsStatus_GetText(st) << " " << nats_GetLastError(nullptr));
  REQUIRE(st == NATS_OK);
  return kv_ptr(kv);
}

uint64_t put(kvStore* kv, const char* key, const std::string& value) {
  uint64_t rev = 0;
  auto st = kvStore_Put(&rev, kv, key, value.data(), int(value.size()));
  INFO("kvStore_Put " << key << ": " << natsStatus_GetText(st) << " " << nats_GetLastError(nullptr));
  REQUIRE(st == NATS_OK);
  return rev;
}

std::string value_of(kvEntry* e) {
  return std::string(static_cast<const char*>(kvEntry_Value(e)), size_t(kvEntry_ValueLen(e)));
}

entry_ptr get(kvStore* kv, const char* key, natsStatus expect = NATS_OK) {
  kvEntry* e = nullptr;
  auto st = kvStore_Get(&e, kv, key);
  INFO("kvStore_Get " << key << ": " << natsStatus_GetText(st));
  REQUIRE(st == expect);
  return entry_ptr(e);
}

// A bound for kvStore_Keys and kvStore_History, which by default wait forever for the
// end of the current values. libnats subtracts the time since the start after every
// entry, so the bound shrinks faster than real time: keep it generous.
kvWatchOptions bounded(int64_t ms = 20'000) {
  kvWatchOptions o;
  kvWatchOptions_Init(&o);
  o.Timeout = ms;
  return o;
}

std::string data_of(natsMsg* m) { return std::string(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))); }

// Next watcher entry; `marker` is set when it is the end-of-initial-values marker (NULL).
entry_ptr next_entry(kvWatcher* w, bool& marker, int64_t timeout_ms = 3000) {
  kvEntry* e = nullptr;
  auto st = kvWatcher_Next(&e, w, timeout_ms);
  INFO("kvWatcher_Next: " << natsStatus_GetText(st));
  REQUIRE(st == NATS_OK);
  marker = e == nullptr;
  return entry_ptr(e);
}

stream_info_ptr add_stream(jsCtx* js, const char* name, std::vector<const char*> subjects,
                           jsRetentionPolicy retention = js_LimitsPolicy) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = int(subjects.size());
  cfg.Retention = retention;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  auto st = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  INFO("js_AddStream: " << natsStatus_GetText(st) << " jerr=" << int(jerr) << " "
                        << nats_GetLastError(nullptr));
  REQUIRE(st == NATS_OK);
  return stream_info_ptr(si);
}

stream_info_ptr stream_info(jsCtx* js, const char* name) {
  jsStreamInfo* si = nullptr;
  REQUIRE(js_GetStreamInfo(&si, js, name, nullptr, nullptr) == NATS_OK);
  return stream_info_ptr(si);
}

uint64_t num_delivered(natsMsg* m) {
  jsMsgMetaData* meta = nullptr;
  REQUIRE(natsMsg_GetMetaData(&meta, m) == NATS_OK);
  uint64_t n = meta->NumDelivered;
  jsMsgMetaData_Destroy(meta);
  return n;
}

}  // namespace

TEST_CASE("jetstream kv: create a bucket, put and get", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "TEST", 5);
  CHECK(std::string(kvStore_Bucket(kv.get())) == "TEST");

  CHECK(put(kv.get(), "color", "blue") == 1);
  CHECK(put(kv.get(), "size", "") == 2);  // empty values are values
  CHECK(put(kv.get(), "color", "red") == 3);

  auto e = get(kv.get(), "color");
  CHECK(value_of(e.get()) == "red");
  CHECK(kvEntry_Revision(e.get()) == 3);
  CHECK(std::string(kvEntry_Key(e.get())) == "color");
  CHECK(std::string(kvEntry_Bucket(e.get())) == "TEST");
  CHECK(kvEntry_Operation(e.get()) == kvOp_Put);
  CHECK(kvEntry_Created(e.get()) > 0);

  auto empty = get(kv.get(), "size");
  CHECK(kvEntry_ValueLen(empty.get()) == 0);

  kvEntry* old = nullptr;
  REQUIRE(kvStore_GetRevision(&old, kv.get(), "color", 1) == NATS_OK);
  CHECK(value_of(old) == "blue");
  kvEntry_Destroy(old);
  // A revision that belongs to another key is not found.
  CHECK(kvStore_GetRevision(&old, kv.get(), "color", 2) == NATS_NOT_FOUND);

  get(kv.get(), "missing", NATS_NOT_FOUND);

  // Binary values and keys with all the allowed characters.
  std::string binary("a\0b\r\n\xff", 6);
  put(kv.get(), "path/to=x_y-z.v1", binary);
  CHECK(value_of(get(kv.get(), "path/to=x_y-z.v1").get()) == binary);

  // A second handle on the same bucket sees the same data.
  kvStore* again = nullptr;
  REQUIRE(js_KeyValue(&again, c.js.get(), "TEST") == NATS_OK);
  CHECK(value_of(get(again, "color").get()) == "red");
  kvStore_Destroy(again);

  kvStore* none = nullptr;
  CHECK(js_KeyValue(&none, c.js.get(), "NOPE") == NATS_NOT_FOUND);
}

TEST_CASE("jetstream kv: create an existing bucket", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "SAME", 3);
  put(kv.get(), "k", "v");
  // The same configuration again is accepted and keeps the data.
  auto again = create_bucket(c.js.get(), "SAME", 3);
  CHECK(value_of(get(again.get(), "k").get()) == "v");
  // A different one is refused.
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = "SAME";
  cfg.History = 7;
  kvStore* other = nullptr;
  CHECK(js_CreateKeyValue(&other, c.js.get(), &cfg) != NATS_OK);
  // Bad bucket names never reach the server.
  cfg.Bucket = "bad.name";
  CHECK(js_CreateKeyValue(&other, c.js.get(), &cfg) == NATS_INVALID_ARG);
}

TEST_CASE("jetstream kv: create conflicts and updates by revision", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "CAS", 5);

  uint64_t rev = 0;
  REQUIRE(kvStore_CreateString(&rev, kv.get(), "lock", "owner-1") == NATS_OK);
  CHECK(rev == 1);
  // Create on an existing key: the server refuses the expected-last-subject-sequence 0.
  uint64_t rev2 = 0;
  CHECK(kvStore_CreateString(&rev2, kv.get(), "lock", "owner-2") == NATS_ERR);
  CHECK(value_of(get(kv.get(), "lock").get()) == "owner-1");

  // The same check through js_Publish shows the JetStream error code.
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = 99;
  jsPubAck* pa = nullptr;
  jsErrCode jerr = jsErrCode(0);
  CHECK(js_Publish(&pa, c.js.get(), "$KV.CAS.lock", "x", 1, &po, &jerr) == NATS_ERR);
  CHECK(jerr == JSStreamWrongLastSequenceErr);
  CHECK(pa == nullptr);

  // Update with the current revision succeeds; with a stale one it fails.
  REQUIRE(kvStore_UpdateString(&rev, kv.get(), "lock", "owner-3", 1) == NATS_OK);
  CHECK(rev == 2);
  CHECK(kvStore_UpdateString(&rev2, kv.get(), "lock", "owner-4", 1) == NATS_ERR);
  CHECK(value_of(get(kv.get(), "lock").get()) == "owner-3");

  // After a delete, create works again (the delete marker counts as absent).
  REQUIRE(kvStore_Delete(kv.get(), "lock") == NATS_OK);
  REQUIRE(kvStore_CreateString(&rev, kv.get(), "lock", "owner-5") == NATS_OK);
  CHECK(rev == 4);
  CHECK(value_of(get(kv.get(), "lock").get()) == "owner-5");
}

TEST_CASE("jetstream kv: delete and purge", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto wo = bounded();
  auto kv = create_bucket(c.js.get(), "DEL", 10);
  put(kv.get(), "a", "1");
  put(kv.get(), "a", "2");
  put(kv.get(), "b", "x");

  REQUIRE(kvStore_Delete(kv.get(), "a") == NATS_OK);
  get(kv.get(), "a", NATS_NOT_FOUND);
  // Older revisions are still there after a delete.
  kvEntry* e = nullptr;
  REQUIRE(kvStore_GetRevision(&e, kv.get(), "a", 2) == NATS_OK);
  CHECK(value_of(e) == "2");
  kvEntry_Destroy(e);
  // The delete marker itself is not returned as a value.
  CHECK(kvStore_GetRevision(&e, kv.get(), "a", 4) == NATS_NOT_FOUND);

  kvEntryList h{};
  REQUIRE(kvStore_History(&h, kv.get(), "a", &wo) == NATS_OK);
  REQUIRE(h.Count == 3);
  CHECK(kvEntry_Operation(h.Entries[2]) == kvOp_Delete);
  kvEntryList_Destroy(&h);

  // Purge drops every revision of the key and leaves one purge marker.
  put(kv.get(), "a", "3");
  REQUIRE(kvStore_Purge(kv.get(), "a", nullptr) == NATS_OK);
  get(kv.get(), "a", NATS_NOT_FOUND);
  REQUIRE(kvStore_History(&h, kv.get(), "a", &wo) == NATS_OK);
  REQUIRE(h.Count == 1);
  CHECK(kvEntry_Operation(h.Entries[0]) == kvOp_Purge);
  kvEntryList_Destroy(&h);
  // Other keys are untouched.
  CHECK(value_of(get(kv.get(), "b").get()) == "x");

  auto sts_si = stream_info(c.js.get(), "KV_DEL");
  CHECK(sts_si->State.Msgs == 2);  // b, and a's purge marker
}

TEST_CASE("jetstream kv: history keeps the configured number of revisions", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto wo = bounded();
  auto kv = create_bucket(c.js.get(), "HIST", 3);
  for (int i = 1; i <= 5; ++i) put(kv.get(), "counter", std::to_string(i));
  put(kv.get(), "other", "o");

  kvEntryList h{};
  REQUIRE(kvStore_History(&h, kv.get(), "counter", &wo) == NATS_OK);
  REQUIRE(h.Count == 3);
  std::vector<std::string> values;
  std::vector<uint64_t> revisions;
  for (int i = 0; i < h.Count; ++i) {
    values.push_back(value_of(h.Entries[i]));
    revisions.push_back(kvEntry_Revision(h.Entries[i]));
    CHECK(kvEntry_Operation(h.Entries[i]) == kvOp_Put);
    CHECK(std::string(kvEntry_Key(h.Entries[i])) == "counter");
  }
  kvEntryList_Destroy(&h);
  CHECK(values == std::vector<std::string>{"3", "4", "5"});
  CHECK(revisions == std::vector<uint64_t>{3, 4, 5});

  CHECK(kvStore_History(&h, kv.get(), "never-set", &wo) == NATS_NOT_FOUND);

  // History of one revision only (the default bucket).
  auto one = create_bucket(c.js.get(), "HIST1");
  put(one.get(), "k", "a");
  put(one.get(), "k", "b");
  REQUIRE(kvStore_History(&h, one.get(), "k", &wo) == NATS_OK);
  REQUIRE(h.Count == 1);
  CHECK(value_of(h.Entries[0]) == "b");
  kvEntryList_Destroy(&h);
}

TEST_CASE("jetstream kv: keys", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto wo = bounded();
  auto kv = create_bucket(c.js.get(), "KEYS", 5);

  kvKeysList keys{};
  auto st = kvStore_Keys(&keys, kv.get(), &wo);
  CHECK((st == NATS_OK || st == NATS_NOT_FOUND));
  CHECK(keys.Count == 0);
  kvKeysList_Destroy(&keys);

  put(kv.get(), "a", "1");
  put(kv.get(), "b", "2");
  put(kv.get(), "c.d", "3");
  put(kv.get(), "a", "4");  // still one key
  REQUIRE(kvStore_Delete(kv.get(), "b") == NATS_OK);
  put(kv.get(), "e", "5");
  REQUIRE(kvStore_Purge(kv.get(), "e", nullptr) == NATS_OK);

  REQUIRE(kvStore_Keys(&keys, kv.get(), &wo) == NATS_OK);
  std::set<std::string> got;
  for (int i = 0; i < keys.Count; ++i) got.insert(keys.Keys[i]);
  kvKeysList_Destroy(&keys);
  CHECK(got == std::set<std::string>{"a", "c.d"});
}

TEST_CASE("jetstream kv: watch delivers current values, then live updates", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "WATCH", 5);
  put(kv.get(), "a", "1");
  put(kv.get(), "b", "2");
  put(kv.get(), "a", "3");  // only the latest value of a is an initial value

  kvWatcher* raw = nullptr;
  REQUIRE(kvStore_WatchAll(&raw, kv.get(), nullptr) == NATS_OK);
  watcher_ptr w(raw);
  bool marker = false;
  std::vector<std::string> initial;
  for (;;) {
    auto e = next_entry(w.get(), marker);
    if (marker) break;
    initial.push_back(std::string(kvEntry_Key(e.get())) + "=" + value_of(e.get()));
  }
  CHECK(initial == std::vector<std::string>{"b=2", "a=3"});  // in stream order

  put(kv.get(), "c", "4");
  auto e = next_entry(w.get(), marker);
  REQUIRE_FALSE(marker);
  CHECK(std::string(kvEntry_Key(e.get())) == "c");
  CHECK(value_of(e.get()) == "4");
  CHECK(kvEntry_Revision(e.get()) == 4);
  CHECK(kvEntry_Operation(e.get()) == kvOp_Put);

  REQUIRE(kvStore_Delete(kv.get(), "a") == NATS_OK);
  e = next_entry(w.get(), marker);
  REQUIRE_FALSE(marker);
  CHECK(std::string(kvEntry_Key(e.get())) == "a");
  CHECK(kvEntry_Operation(e.get()) == kvOp_Delete);

  // Nothing else arrives.
  kvEntry* extra = nullptr;
  CHECK(kvWatcher_Next(&extra, w.get(), 300) == NATS_TIMEOUT);

  // A watcher on a key pattern sees only matching keys; on an empty match the marker
  // comes first.
  kvWatcher* raw2 = nullptr;
  REQUIRE(kvStore_Watch(&raw2, kv.get(), "user.*", nullptr) == NATS_OK);
  watcher_ptr w2(raw2);
  next_entry(w2.get(), marker);
  CHECK(marker);
  put(kv.get(), "other", "x");
  put(kv.get(), "user.joe", "j");
  e = next_entry(w2.get(), marker);
  REQUIRE_FALSE(marker);
  CHECK(std::string(kvEntry_Key(e.get())) == "user.joe");
  CHECK(value_of(e.get()) == "j");
}

TEST_CASE("jetstream kv: status", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "STATUS", 4, int64_t(3600) * 1'000'000'000);
  put(kv.get(), "a", "1");
  put(kv.get(), "b", "2");
  put(kv.get(), "a", "3");
  kvStatus* raw = nullptr;
  REQUIRE(kvStore_Status(&raw, kv.get()) == NATS_OK);
  status_ptr sts(raw);
  CHECK(std::string(kvStatus_Bucket(sts.get())) == "STATUS");
  CHECK(kvStatus_Values(sts.get()) == 3);
  CHECK(kvStatus_History(sts.get()) == 4);
  CHECK(kvStatus_TTL(sts.get()) == int64_t(3600) * 1'000'000'000);
  CHECK(kvStatus_Replicas(sts.get()) == 1);

  // The backing stream as libnats configures it.
  auto si = stream_info(c.js.get(), "KV_STATUS");
  REQUIRE(si->Config);
  REQUIRE(si->Config->SubjectsLen == 1);
  CHECK(std::string(si->Config->Subjects[0]) == "$KV.STATUS.>");
  CHECK(si->Config->MaxMsgsPerSubject == 4);
  CHECK(si->Config->MaxAge == int64_t(3600) * 1'000'000'000);
  CHECK(si->Config->AllowRollup);
  CHECK(si->Config->DenyDelete);
  CHECK(si->Config->AllowDirect);
  CHECK(si->Config->Discard == js_DiscardNew);
  CHECK(si->State.Msgs == 3);
  CHECK(si->State.LastSeq == 3);
}

TEST_CASE("jetstream kv: values expire after the bucket's TTL", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "TTL", 1, 500'000'000);  // 500ms
  put(kv.get(), "short", "lived");
  CHECK(value_of(get(kv.get(), "short").get()) == "lived");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  natsStatus st = NATS_OK;
  while (std::chrono::steady_clock::now() < deadline) {
    kvEntry* e = nullptr;
    st = kvStore_Get(&e, kv.get(), "short");
    kvEntry_Destroy(e);
    if (st == NATS_NOT_FOUND) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(st == NATS_NOT_FOUND);
}

TEST_CASE("jetstream kv: destroy a bucket", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  {
    auto kv = create_bucket(c.js.get(), "GONE");
    put(kv.get(), "k", "v");
  }
  REQUIRE(js_DeleteKeyValue(c.js.get(), "GONE") == NATS_OK);
  kvStore* kv = nullptr;
  CHECK(js_KeyValue(&kv, c.js.get(), "GONE") == NATS_NOT_FOUND);
  CHECK(js_DeleteKeyValue(c.js.get(), "GONE") == NATS_NOT_FOUND);
  jsStreamInfo* si = nullptr;
  CHECK(js_GetStreamInfo(&si, c.js.get(), "KV_GONE", nullptr, nullptr) == NATS_NOT_FOUND);
  // A bucket of the same name can be made again, empty.
  auto fresh = create_bucket(c.js.get(), "GONE");
  get(fresh.get(), "k", NATS_NOT_FOUND);
}

TEST_CASE("jetstream kv: 500 distinct keys", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto kv = create_bucket(c.js.get(), "MANY");
  std::set<std::string> want;
  for (int i = 0; i < 500; ++i) {
    std::string key = "key." + std::to_string(i);
    CHECK(put(kv.get(), key.c_str(), "value-" + std::to_string(i)) == uint64_t(i + 1));
    want.insert(key);
  }
  kvKeysList keys{};
  auto many = bounded(120'000);
  REQUIRE(kvStore_Keys(&keys, kv.get(), &many) == NATS_OK);
  std::set<std::string> got;
  for (int i = 0; i < keys.Count; ++i) got.insert(keys.Keys[i]);
  CHECK(keys.Count == 500);
  kvKeysList_Destroy(&keys);
  CHECK(got == want);
  for (int i : {0, 1, 250, 499}) {
    std::string key = "key." + std::to_string(i);
    CHECK(value_of(get(kv.get(), key.c_str()).get()) == "value-" + std::to_string(i));
  }
  kvStatus* raw = nullptr;
  REQUIRE(kvStore_Status(&raw, kv.get()) == NATS_OK);
  status_ptr sts(raw);
  CHECK(kvStatus_Values(sts.get()) == 500);
}

TEST_CASE("jetstream: add a stream and publish with acks", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  auto si = add_stream(c.js.get(), "ORDERS", {"orders.*", "refunds.>"});
  REQUIRE(si->Config);
  CHECK(std::string(si->Config->Name) == "ORDERS");
  CHECK(si->Config->SubjectsLen == 2);
  CHECK(si->State.Msgs == 0);

  for (uint64_t i = 1; i <= 3; ++i) {
    jsPubAck* raw = nullptr;
    std::string body = "order " + std::to_string(i);
    REQUIRE(js_Publish(&raw, c.js.get(), i == 3 ? "refunds.eu.1" : "orders.new", body.data(),
                       int(body.size()), nullptr, nullptr) == NATS_OK);
    pub_ack_ptr pa(raw);
    CHECK(std::string(pa->Stream) == "ORDERS");
    CHECK(pa->Sequence == i);
    CHECK_FALSE(pa->Duplicate);
  }
  auto info = stream_info(c.js.get(), "ORDERS");
  CHECK(info->State.Msgs == 3);
  CHECK(info->State.FirstSeq == 1);
  CHECK(info->State.LastSeq == 3);
  CHECK(info->State.Bytes > 0);

  // Messages by sequence.
  natsMsg* m = nullptr;
  REQUIRE(js_GetMsg(&m, c.js.get(), "ORDERS", 2, nullptr, nullptr) == NATS_OK);
  CHECK(std::string(natsMsg_GetSubject(m)) == "orders.new");
  CHECK(data_of(m) == "order 2");
  CHECK(natsMsg_GetSequence(m) == 2);
  natsMsg_Destroy(m);
  m = nullptr;
  CHECK(js_GetMsg(&m, c.js.get(), "ORDERS", 99, nullptr, nullptr) == NATS_NOT_FOUND);

  // A plain publish on a stream subject is stored too.
  REQUIRE(natsConnection_PublishString(c.nc.get(), "orders.plain", "core") == NATS_OK);
  REQUIRE(natsConnection_Flush(c.nc.get()) == NATS_OK);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (stream_info(c.js.get(), "ORDERS")->State.Msgs < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(stream_info(c.js.get(), "ORDERS")->State.Msgs == 4);

  // A JetStream publish where no stream listens has no responders.
  jsPubAck* none = nullptr;
  CHECK(js_Publish(&none, c.js.get(), "nowhere", "x", 1, nullptr, nullptr) == NATS_NO_RESPONDERS);

  // Adding the same stream again is fine; a conflicting one is not.
  add_stream(c.js.get(), "ORDERS", {"orders.*", "refunds.>"});
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "ORDERS";
  const char* other[] = {"other"};
  cfg.Subjects = other;
  cfg.SubjectsLen = 1;
  jsStreamInfo* bad = nullptr;
  jsErrCode jerr = jsErrCode(0);
  CHECK(js_AddStream(&bad, c.js.get(), &cfg, nullptr, &jerr) == NATS_ERR);
  CHECK(jerr == JSStreamNameExistErr);
  cfg.Name = "OVERLAP";
  const char* overlap[] = {"orders.new"};
  cfg.Subjects = overlap;
  CHECK(js_AddStream(&bad, c.js.get(), &cfg, nullptr, &jerr) == NATS_ERR);
  CHECK(jerr == JSStreamSubjectOverlapErr);

  // Listing: names and infos.
  jsStreamNamesList* names = nullptr;
  REQUIRE(js_StreamNames(&names, c.js.get(), nullptr, nullptr) == NATS_OK);
  REQUIRE(names->Count == 1);
  CHECK(std::string(names->List[0]) == "ORDERS");
  jsStreamNamesList_Destroy(names);
  jsStreamInfoList* list = nullptr;
  REQUIRE(js_Streams(&list, c.js.get(), nullptr, nullptr) == NATS_OK);
  REQUIRE(list->Count == 1);
  CHECK(list->List[0]->State.Msgs == 4);
  jsStreamInfoList_Destroy(list);

  // Delete.
  REQUIRE(js_DeleteStream(c.js.get(), "ORDERS", nullptr, nullptr) == NATS_OK);
  jsStreamInfo* gone = nullptr;
  jerr = jsErrCode(0);
  CHECK(js_GetStreamInfo(&gone, c.js.get(), "ORDERS", nullptr, &jerr) == NATS_NOT_FOUND);
  CHECK(jerr == JSStreamNotFoundErr);
  CHECK(js_DeleteStream(c.js.get(), "ORDERS", nullptr, nullptr) == NATS_NOT_FOUND);
}

TEST_CASE("jetstream: synchronous publishes beside a flood into another stream are all stored and acked in order",
          "[jetstream]") {
  // A synchronous publish is stored by the I/O loop that read it when the store is
  // free, and by the stream's actor when another stream's large batches hold the store
  // (the loop must not wait): either way every ack comes after its message is stored,
  // with the next sequence.
  js_server srv;
  js_client flood(srv.s), sync(srv.s);
  add_stream(flood.js.get(), "FLOOD", {"flood"});
  add_stream(sync.js.get(), "SYNC", {"sync.*"});
  const int flood_msgs = 20000, sync_msgs = 1000;
  std::atomic<int> flood_errors{0};
  std::thread flooder([&] {
    std::string body(1024, 'f');
    for (int i = 0; i < flood_msgs; ++i)
      if (js_PublishAsync(flood.js.get(), "flood", body.data(), int(body.size()), nullptr) != NATS_OK) ++flood_errors;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    if (js_PublishAsyncComplete(flood.js.get(), &po) != NATS_OK) ++flood_errors;
  });
  int wrong = 0;
  for (int i = 1; i <= sync_msgs; ++i) {
    jsPubAck* raw = nullptr;
    std::string subject = "sync." + std::to_string(i % 7), body = "m" + std::to_string(i);
    auto st = js_Publish(&raw, sync.js.get(), subject.c_str(), body.data(), int(body.size()), nullptr, nullptr);
    pub_ack_ptr pa(raw);
    if (st != NATS_OK || !pa || pa->Sequence != uint64_t(i)) ++wrong;
  }
  flooder.join();
  CHECK(wrong == 0);
  CHECK(flood_errors.load() == 0);
  auto si = stream_info(sync.js.get(), "SYNC");
  CHECK(si->State.Msgs == uint64_t(sync_msgs));
  CHECK(si->State.LastSeq == uint64_t(sync_msgs));
  CHECK(stream_info(flood.js.get(), "FLOOD")->State.Msgs == uint64_t(flood_msgs));
  natsMsg* m = nullptr;
  REQUIRE(js_GetMsg(&m, sync.js.get(), "SYNC", 500, nullptr, nullptr) == NATS_OK);
  CHECK(data_of(m) == "m500");
  natsMsg_Destroy(m);
}

TEST_CASE("jetstream: duplicate message ids are stored once", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  add_stream(c.js.get(), "DEDUP", {"dedup.>"});
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = "msg-1";
  jsPubAck* raw = nullptr;
  REQUIRE(js_Publish(&raw, c.js.get(), "dedup.a", "first", 5, &po, nullptr) == NATS_OK);
  pub_ack_ptr first(raw);
  CHECK(first->Sequence == 1);
  CHECK_FALSE(first->Duplicate);

  REQUIRE(js_Publish(&raw, c.js.get(), "dedup.a", "again", 5, &po, nullptr) == NATS_OK);
  pub_ack_ptr dup(raw);
  CHECK(dup->Sequence == 1);
  CHECK(dup->Duplicate);

  po.MsgId = "msg-2";
  REQUIRE(js_Publish(&raw, c.js.get(), "dedup.a", "second", 6, &po, nullptr) == NATS_OK);
  pub_ack_ptr second(raw);
  CHECK(second->Sequence == 2);
  CHECK_FALSE(second->Duplicate);

  auto info = stream_info(c.js.get(), "DEDUP");
  CHECK(info->State.Msgs == 2);
  natsMsg* m = nullptr;
  REQUIRE(js_GetMsg(&m, c.js.get(), "DEDUP", 1, nullptr, nullptr) == NATS_OK);
  CHECK(data_of(m) == "first");
  natsMsg_Destroy(m);
}

TEST_CASE("jetstream: pull consumer on a work queue: ack, nak and redelivery", "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  add_stream(c.js.get(), "JOBS", {"jobs.>"}, js_WorkQueuePolicy);
  for (int i = 1; i <= 3; ++i) {
    std::string body = "job " + std::to_string(i);
    REQUIRE(js_Publish(nullptr, c.js.get(), "jobs.build", body.data(), int(body.size()), nullptr, nullptr) ==
            NATS_OK);
  }

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckWait = 1'000'000'000;  // 1s, in nanoseconds
  natsSubscription* raw = nullptr;
  jsErrCode jerr = jsErrCode(0);
  auto st = js_PullSubscribe(&raw, c.js.get(), "jobs.>", "workers", nullptr, &so, &jerr);
  INFO("js_PullSubscribe: " << natsStatus_GetText(st) << " jerr=" << int(jerr) << " "
                            << nats_GetLastError(nullptr));
  REQUIRE(st == NATS_OK);
  sub_ptr sub(raw);

  natsMsgList list{};
  REQUIRE(natsSubscription_Fetch(&list, sub.get(), 3, 5000, &jerr) == NATS_OK);
  REQUIRE(list.Count == 3);
  CHECK(data_of(list.Msgs[0]) == "job 1");
  CHECK(data_of(list.Msgs[1]) == "job 2");
  CHECK(data_of(list.Msgs[2]) == "job 3");
  for (int i = 0; i < 3; ++i) CHECK(num_delivered(list.Msgs[i]) == 1);
  CHECK(natsMsg_Ack(list.Msgs[0], nullptr) == NATS_OK);  // done
  CHECK(natsMsg_Nak(list.Msgs[1], nullptr) == NATS_OK);  // give it back now
  // job 3: neither, so it comes back after the ack wait.
  natsMsgList_Destroy(&list);

  // The nak'ed job is redelivered first, then the unacknowledged one after ~1s.
  REQUIRE(natsSubscription_Fetch(&list, sub.get(), 1, 5000, &jerr) == NATS_OK);
  REQUIRE(list.Count == 1);
  CHECK(data_of(list.Msgs[0]) == "job 2");
  CHECK(num_delivered(list.Msgs[0]) == 2);
  REQUIRE(natsMsg_AckSync(list.Msgs[0], nullptr, &jerr) == NATS_OK);
  natsMsgList_Destroy(&list);

  auto before = std::chrono::steady_clock::now();
  REQUIRE(natsSubscription_Fetch(&list, sub.get(), 1, 5000, &jerr) == NATS_OK);
  REQUIRE(list.Count == 1);
  CHECK(data_of(list.Msgs[0]) == "job 3");
  CHECK(num_delivered(list.Msgs[0]) == 2);
  CHECK(std::chrono::steady_clock::now() - before < 4s);
  REQUIRE(natsMsg_AckSync(list.Msgs[0], nullptr, &jerr) == NATS_OK);
  natsMsgList_Destroy(&list);

  // Nothing left: a fetch times out, and the work queue dropped the acknowledged jobs.
  CHECK(natsSubscription_Fetch(&list, sub.get(), 1, 500, &jerr) == NATS_TIMEOUT);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (stream_info(c.js.get(), "JOBS")->State.Msgs != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(stream_info(c.js.get(), "JOBS")->State.Msgs == 0);

  // New work goes to the same durable consumer.
  REQUIRE(js_Publish(nullptr, c.js.get(), "jobs.test", "job 4", 5, nullptr, nullptr) == NATS_OK);
  REQUIRE(natsSubscription_Fetch(&list, sub.get(), 10, 5000, &jerr) == NATS_OK);
  REQUIRE(list.Count == 1);
  CHECK(data_of(list.Msgs[0]) == "job 4");
  CHECK(std::string(natsMsg_GetSubject(list.Msgs[0])) == "jobs.test");
  REQUIRE(natsMsg_AckSync(list.Msgs[0], nullptr, &jerr) == NATS_OK);
  natsMsgList_Destroy(&list);
}

TEST_CASE("jetstream: a push consumer with flow control stops for a client that never answers, resumes when it does",
          "[jetstream]") {
  js_server srv;
  js_client c(srv.s);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = "BIG";
  const char* subjects[] = {"big.>"};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  REQUIRE(js_AddStream(&si, c.js.get(), &sc, nullptr, nullptr) == NATS_OK);
  jsStreamInfo_Destroy(si);
  // 48 MiB in 96 messages of 512 KiB: more than either server sends unconfirmed.
  constexpr int count = 96;
  const std::string payload(512 << 10, 'x');
  for (int i = 0; i < count; ++i)
    REQUIRE(js_Publish(nullptr, c.js.get(), "big.data", payload.data(), int(payload.size()), nullptr, nullptr) ==
            NATS_OK);

  // A plain subscription sees the flow-control requests as messages of their own.
  natsSubscription* raw = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&raw, c.nc.get(), "fc.deliver") == NATS_OK);
  sub_ptr sub(raw);
  REQUIRE(natsConnection_Flush(c.nc.get()) == NATS_OK);
  natsMsg* reply = nullptr;
  const char* create =
      R"({"stream_name":"BIG","config":{"deliver_subject":"fc.deliver","flow_control":true,"idle_heartbeat":500000000,"ack_policy":"none","deliver_policy":"all"}})";
  REQUIRE(natsConnection_RequestString(&reply, c.nc.get(), "$JS.API.CONSUMER.CREATE.BIG", create, 5000) == NATS_OK);
  natsMsg_Destroy(reply);

  int data_msgs = 0;
  std::vector<std::string> fc_requests;
  std::string stalled_on;
  // Reads until no data came for `quiet` (heartbeats keep coming while it waits).
  auto receive_until_quiet = [&](std::chrono::milliseconds quiet) {
    auto last_data = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - last_data < quiet) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub.get(), 200) != NATS_OK) continue;
      msg_ptr hold(m);
      const char* status = nullptr;
      if (natsMsgHeader_Get(m, "Status", &status) == NATS_OK && std::string(status) == "100") {
        const char* desc = nullptr;
        natsMsgHeader_Get(m, "Description", &desc);
        if (desc && std::string(desc) == "FlowControl Request") fc_requests.emplace_back(natsMsg_GetReply(m));
        const char* stalled = nullptr;
        if (natsMsgHeader_Get(m, "Nats-Consumer-Stalled", &stalled) == NATS_OK) stalled_on = stalled;
        continue;
      }
      ++data_msgs;
      last_data = std::chrono::steady_clock::now();
    }
  };
  receive_until_quiet(1500ms);  // past a heartbeat
  INFO("data messages before answering: " << data_msgs);
  CHECK(data_msgs > 0);
  CHECK(data_msgs < count);  // stopped: the client has not confirmed
  REQUIRE_FALSE(fc_requests.empty());
  // The heartbeat names the request the consumer waits on.
  CHECK(stalled_on == fc_requests.back());

  // Answering every request lets the rest through.
  for (int round = 0; round < 50 && data_msgs < count; ++round) {
    std::vector<std::string> pending;
    pending.swap(fc_requests);
    for (auto& r : pending) REQUIRE(natsConnection_PublishString(c.nc.get(), r.c_str(), "") == NATS_OK);
    receive_until_quiet(1000ms);
  }
  CHECK(data_msgs == count);
}
