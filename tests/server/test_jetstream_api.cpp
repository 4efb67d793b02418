// The JetStream API on the wire ($JS.API.*, publishes with acks, consumer deliveries)
// through plain libnats requests, the responses parsed as JSON. The expectations are
// nats-server 2.9.10's observed behaviour (exact err_code, code and description), or the
// reference (docs nats-wire.md section 4) where 2.9.10 predates it (marked "2.10+").
// Every case starts its own server; run against the reference with
// DIALTONE_TEST_SERVER_BIN=/usr/sbin/nats-server test_server "[jetstream]".
#include <nats/nats.h>
#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nats_handles.hpp"
#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

std::string data_of(natsMsg* m) { return std::string(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))); }

// A header's value, or "<none>" when absent. libnats exposes a status line
// ("NATS/1.0 404 No Messages") as the headers Status and Description.
std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v) return "<none>";
  return v;
}

std::string reply_of(natsMsg* m) {
  auto r = natsMsg_GetReply(m);
  return r ? r : "";
}

std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// RFC 3339 UTC with up to 9 fraction digits ("2026-01-02T03:04:05.123456789Z") → ns.
int64_t rfc3339_ns(const std::string& t) {
  std::tm tm{};
  const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  REQUIRE(rest != nullptr);
  int64_t ns = int64_t(timegm(&tm)) * 1'000'000'000;
  if (*rest == '.') {
    std::string frac;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest) frac += *rest;
    frac.resize(9, '0');
    ns += std::stoll(frac);
  }
  REQUIRE(std::string(rest) == "Z");
  return ns;
}

bool is_rfc3339_utc(const std::string& t) {
  static const std::regex re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$)");
  return std::regex_match(t, re);
}

// Polls until `cond` holds (or the timeout passes); returns the last result.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 3s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// The error object of a response: code, err_code and description must match exactly.
// (CHECK, not REQUIRE: a missing error is reported and the case goes on.)
#define CHECK_API_ERROR(resp, http, errcode, desc)                   \
  do {                                                               \
    const json r_ = (resp);                                          \
    INFO("response: " << r_.dump());                                 \
    CHECK((r_.is_object() && r_.contains("error")));                 \
    if (r_.is_object() && r_.contains("error")) {                    \
      CHECK(r_["error"].value("code", 0) == (http));                 \
      CHECK(r_["error"].value("err_code", 0) == (errcode));          \
      CHECK(r_["error"].value("description", "") == (desc));         \
    }                                                                \
  } while (0)

#define CHECK_NO_ERROR(resp)                 \
  do {                                       \
    const json& r_ = (resp);                 \
    INFO("response: " << r_.dump());         \
    REQUIRE(r_.is_object());                 \
    CHECK_FALSE(r_.contains("error"));       \
  } while (0)

// A plain libnats connection talking to $JS.API.* with requests.
struct api_client {
  conn_ptr nc;

  explicit api_client(const server_process& s, const char* user = nullptr, const char* pass = nullptr) {
    natsOptions* o = nullptr;
    REQUIRE(natsOptions_Create(&o) == NATS_OK);
    natsOptions_SetURL(o, s.url().c_str());
    natsOptions_SetAllowReconnect(o, false);
    if (user) natsOptions_SetUserInfo(o, user, pass);
    natsConnection* c = nullptr;
    auto st = natsConnection_Connect(&c, o);
    natsOptions_Destroy(o);
    REQUIRE(st == NATS_OK);
    nc.reset(c);
  }

  // A request with optional headers; the reply (nullptr on timeout/no responders, with
  // the status in `st`).
  msg_ptr request(const std::string& subject, const std::string& body, const headers& hdrs = {},
                  int64_t timeout_ms = 3000, natsStatus* st_out = nullptr) {
    natsMsg* m = nullptr;
    REQUIRE(natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), int(body.size())) == NATS_OK);
    msg_ptr req(m);
    for (auto& [k, v] : hdrs) REQUIRE(natsMsgHeader_Add(m, k.c_str(), v.c_str()) == NATS_OK);
    natsMsg* reply = nullptr;
    auto st = natsConnection_RequestMsg(&reply, nc.get(), m, timeout_ms);
    if (st_out) *st_out = st;
    if (st != NATS_OK) return nullptr;
    return msg_ptr(reply);
  }

  // A request whose reply must be JSON.
  json req(const std::string& subject, const std::string& body = "", const headers& hdrs = {}) {
    natsStatus st = NATS_OK;
    auto reply = request(subject, body, hdrs, 3000, &st);
    INFO("request on " << subject << " " << body << ": " << natsStatus_GetText(st));
    REQUIRE(reply);
    auto text = data_of(reply.get());
    INFO("reply: " << text);
    auto j = json::parse(text, nullptr, false);
    REQUIRE(!j.is_discarded());
    return j;
  }
  json req(const std::string& subject, const json& body) { return req(subject, body.dump()); }
  json req(const std::string& subject, const char* body) { return req(subject, std::string(body)); }

  // A publish with a reply subject: the pub ack (or error).
  json publish(const std::string& subject, const std::string& body, const headers& hdrs = {}) {
    return req(subject, body, hdrs);
  }

  void publish_no_reply(const std::string& subject, const std::string& body) {
    REQUIRE(natsConnection_Publish(nc.get(), subject.c_str(), body.data(), int(body.size())) == NATS_OK);
    REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
  }

  json create_stream(json cfg) {
    auto r = req("$JS.API.STREAM.CREATE." + cfg["name"].get<std::string>(), cfg);
    INFO("create: " << r.dump());
    REQUIRE(!r.contains("error"));
    return r;
  }

  json info(const std::string& stream, const std::string& body = "") {
    auto r = req("$JS.API.STREAM.INFO." + stream, body);
    INFO("info: " << r.dump());
    REQUIRE(!r.contains("error"));
    return r;
  }
  json state(const std::string& stream) { return info(stream)["state"]; }

  std::vector<std::string> names(const std::string& body = "") {
    auto r = req("$JS.API.STREAM.NAMES", body);
    INFO("names: " << r.dump());
    REQUIRE(!r.contains("error"));
    std::vector<std::string> out;
    if (r["streams"].is_array())
      for (auto& n : r["streams"]) out.push_back(n.get<std::string>());
    return out;
  }

  json create_consumer(const std::string& subject_tail, const json& body) {
    return req("$JS.API.CONSUMER." + subject_tail, body);
  }
  json consumer_info(const std::string& stream, const std::string& consumer) {
    auto r = req("$JS.API.CONSUMER.INFO." + stream + "." + consumer);
    INFO("consumer info: " << r.dump());
    REQUIRE(!r.contains("error"));
    return r;
  }

  sub_ptr subscribe(const std::string& subject) {
    natsSubscription* s = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&s, nc.get(), subject.c_str()) == NATS_OK);
    REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
    return sub_ptr(s);
  }

  // A pull request to `inbox` (subscribed by the caller).
  void pull(const std::string& stream, const std::string& consumer, const json& body, const std::string& inbox) {
    auto text = body.is_null() ? std::string() : body.dump();
    REQUIRE(natsConnection_PublishRequest(nc.get(), ("$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer).c_str(),
                                          inbox.c_str(), text.data(), int(text.size())) == NATS_OK);
    REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
  }

  void ack(natsMsg* m, const std::string& what = "+ACK") {
    auto r = reply_of(m);
    REQUIRE(!r.empty());
    REQUIRE(natsConnection_PublishString(nc.get(), r.c_str(), what.c_str()) == NATS_OK);
    REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
  }
};

msg_ptr next(natsSubscription* s, int64_t timeout_ms = 3000) {
  natsMsg* m = nullptr;
  if (natsSubscription_NextMsg(&m, s, timeout_ms) != NATS_OK) return nullptr;
  return msg_ptr(m);
}

// The nine tokens of a v1 ack reply `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>`.
struct ack_reply {
  std::string stream, consumer;
  uint64_t delivered = 0, stream_seq = 0, consumer_seq = 0, pending = 0;
  int64_t ts = 0;
};
ack_reply parse_ack(natsMsg* m) {
  auto r = reply_of(m);
  INFO("reply subject: " << r);
  auto t = tokens(r);
  REQUIRE(t.size() == 9);
  REQUIRE(t[0] == "$JS");
  REQUIRE(t[1] == "ACK");
  return {t[2], t[3], std::stoull(t[4]), std::stoull(t[5]), std::stoull(t[6]), std::stoull(t[8]), std::stoll(t[7])};
}

int64_t stored_time_ns(api_client& c, const std::string& stream, uint64_t seq) {
  auto r = c.req("$JS.API.STREAM.MSG.GET." + stream, json{{"seq", seq}});
  REQUIRE(r.contains("message"));
  return rfc3339_ns(r["message"]["time"].get<std::string>());
}

// The file store's accounting of one message (nats-server filestore.go fileStoreMsgSize).
uint64_t file_msg_size(const std::string& subject, size_t hdr, size_t data) {
  return 22 + subject.size() + hdr + data + 8;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// JetStream off, per account
// ---------------------------------------------------------------------------------------

TEST_CASE("jetstream api: without -js the API has no responders", "[jetstream]") {
  server_process s;
  api_client c(s);
  natsStatus st = NATS_OK;
  auto reply = c.request("$JS.API.INFO", "", {}, 2000, &st);
  CHECK_FALSE(reply);
  CHECK(st == NATS_NO_RESPONDERS);
}

namespace {
std::string accounts_config(const std::string& store) {
  return "jetstream { store_dir: \"" + store +
         "\" }\n"
         "accounts {\n"
         "  A: { jetstream: enabled, users: [{user: a, password: a}], exports: [{service: \"$JS.API.>\"}] }\n"
         "  A2: { jetstream: enabled, users: [{user: a2, password: a2}] }\n"
         "  B: { users: [{user: b, password: b}] }\n"
         "  C: { users: [{user: c, password: c}],\n"
         "       imports: [{service: {account: A, subject: \"$JS.API.>\"}, to: \"JSA.API.>\"}] }\n"
         "}\n";
}
}  // namespace

TEST_CASE("jetstream api: an account without JetStream gets 10039, one with it works", "[jetstream]") {
  temp_dir store;
  server_process s({}, accounts_config(store.path));
  api_client b(s, "b", "b");
  CHECK_API_ERROR(b.req("$JS.API.INFO"), 503, 10039, "JetStream not enabled for account");
  CHECK_API_ERROR(b.req("$JS.API.STREAM.CREATE.X", json{{"name", "X"}}), 503, 10039,
                  "JetStream not enabled for account");
  CHECK_API_ERROR(b.req("$JS.API.STREAM.NAMES"), 503, 10039, "JetStream not enabled for account");

  api_client a(s, "a", "a");
  auto info = a.req("$JS.API.INFO");
  CHECK_NO_ERROR(info);
  CHECK(info["type"] == "io.nats.jetstream.api.v1.account_info_response");
  CHECK(info["streams"] == 0);
  CHECK(info["limits"]["max_streams"] == -1);
  a.create_stream({{"name", "SA"}, {"subjects", {"x.>"}}});
  CHECK(a.req("$JS.API.INFO")["streams"] == 1);
}

TEST_CASE("jetstream api: two JetStream accounts do not see each other's streams", "[jetstream]") {
  temp_dir store;
  server_process s({}, accounts_config(store.path));
  api_client a(s, "a", "a");
  api_client a2(s, "a2", "a2");
  a.create_stream({{"name", "SA"}, {"subjects", {"x.>"}}});
  // The same subjects in another account do not overlap.
  a2.create_stream({{"name", "SA2"}, {"subjects", {"x.>"}}});
  CHECK(a.names() == std::vector<std::string>{"SA"});
  CHECK(a2.names() == std::vector<std::string>{"SA2"});
  CHECK_API_ERROR(a2.req("$JS.API.STREAM.INFO.SA"), 404, 10059, "stream not found");
  CHECK_API_ERROR(a2.req("$JS.API.STREAM.DELETE.SA"), 404, 10059, "stream not found");
  auto ack = a.publish("x.1", "hi");
  CHECK(ack == json({{"stream", "SA"}, {"seq", 1}}));
  ack = a2.publish("x.1", "hi");
  CHECK(ack == json({{"stream", "SA2"}, {"seq", 1}}));
  CHECK(a.state("SA")["messages"] == 1);
  CHECK(a2.state("SA2")["messages"] == 1);
}

TEST_CASE("jetstream api: an imported $JS.API service lets another account manage the streams", "[jetstream]") {
  temp_dir store;
  server_process s({}, accounts_config(store.path));
  api_client a(s, "a", "a");
  api_client c(s, "c", "c");
  a.create_stream({{"name", "SA"}, {"subjects", {"x.>"}}});
  // C has no JetStream of its own.
  CHECK_API_ERROR(c.req("$JS.API.INFO"), 503, 10039, "JetStream not enabled for account");
  // Through the import (prefix JSA.API), C works on A's streams.
  auto info = c.req("JSA.API.INFO");
  CHECK_NO_ERROR(info);
  CHECK(info["streams"] == 1);
  auto names = c.req("JSA.API.STREAM.NAMES");
  CHECK(names["streams"] == json({"SA"}));
  auto created = c.req("JSA.API.STREAM.CREATE.SC", json{{"name", "SC"}, {"subjects", {"c.>"}}});
  CHECK_NO_ERROR(created);
  CHECK(a.names() == std::vector<std::string>{"SA", "SC"});
  CHECK(c.req("JSA.API.STREAM.INFO.SA")["config"]["name"] == "SA");
  CHECK(c.req("JSA.API.STREAM.DELETE.SC") == json({{"type", "io.nats.jetstream.api.v1.stream_delete_response"},
                                                      {"success", true}}));
  CHECK(a.names() == std::vector<std::string>{"SA"});
}

// ---------------------------------------------------------------------------------------
// Bad input: the error, and nothing changed
// ---------------------------------------------------------------------------------------

TEST_CASE("jetstream api: STREAM.CREATE with an empty body or invalid JSON", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  // 10025's description is exactly "invalid JSON" in 2.9 and 2.10 (and the reference);
  // 2.11 appends the parser's error ("invalid JSON: ...").
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", ""), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", "{nope"), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", "[1,2]"), 400, 10025, "invalid JSON");
  CHECK(c.names().empty());
  CHECK_API_ERROR(c.req("$JS.API.STREAM.INFO.S"), 404, 10059, "stream not found");
}

TEST_CASE("jetstream api: STREAM.CREATE with wrongly typed fields, and unknown fields", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", R"({"name":"S","max_msgs":"ten"})"), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", R"({"name":"S","subjects":"s.a"})"), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", R"({"name":"S","retention":"bogus"})"), 400, 10025,
                  "invalid JSON");
  CHECK(c.names().empty());
  // Unknown fields are ignored (and not echoed).
  auto r = c.req("$JS.API.STREAM.CREATE.U", R"({"name":"U","bogus_field":1})");
  CHECK_NO_ERROR(r);
  CHECK_FALSE(r["config"].contains("bogus_field"));
  CHECK(c.names() == std::vector<std::string>{"U"});
}

TEST_CASE("jetstream api: invalid stream names", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  for (std::string name : {"a*", "a>"}) {
    INFO("name " << name);
    CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE." + name, json{{"name", name}}), 500, 10052,
                    "stream name is required and can not contain '.', '*', '>'");
  }
  for (std::string name : {"a/b", "a\\b"}) {
    INFO("name " << name);
    CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE." + name, json{{"name", name}}), 400, 10128,
                    "Stream name can not contain path separators");
  }
  std::string long_name(300, 'x');
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE." + long_name, json{{"name", long_name}}), 500, 10052,
                  "stream name is too long, maximum allowed is 255");
  // A name with a space cannot be a subject token: the subject's name never matches it.
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.a", json{{"name", "a b"}}), 400, 10056,
                  "stream name in subject does not match request");
  // "a.b" makes the subject one token longer: nats-server 2.9 does not answer at all
  // (dialtone answers 10003 "bad request"); either way nothing is created.
  c.request("$JS.API.STREAM.CREATE.a.b", json{{"name", "a.b"}}.dump(), {}, 500);
  CHECK(c.names().empty());
}

TEST_CASE("jetstream api: the name in the body must match the subject", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", json{{"name", "T"}}), 400, 10056,
                  "stream name in subject does not match request");
  CHECK(c.names().empty());
  c.create_stream({{"name", "S"}});
  CHECK_API_ERROR(c.req("$JS.API.STREAM.UPDATE.S", json{{"name", "T"}}), 400, 10056,
                  "stream name in subject does not match request");
}

TEST_CASE("jetstream api: subjects overlapping another stream", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.T", json{{"name", "T"}, {"subjects", {"s.a"}}}), 400, 10065,
                  "subjects overlap with an existing stream");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.T", json{{"name", "T"}, {"subjects", {"*.b"}}}), 400, 10065,
                  "subjects overlap with an existing stream");
  CHECK(c.names() == std::vector<std::string>{"S"});
  c.create_stream({{"name", "T"}, {"subjects", {"t"}}});
  CHECK_API_ERROR(c.req("$JS.API.STREAM.UPDATE.T", json{{"name", "T"}, {"subjects", {"s.a"}}}), 400, 10065,
                  "subjects overlap with an existing stream");
  CHECK(c.info("T")["config"]["subjects"] == json({"t"}));
}

TEST_CASE("jetstream api: re-creating a stream", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  json cfg = {{"name", "S"}, {"subjects", {"s.>"}}};
  auto first = c.create_stream(cfg);
  CHECK(first["did_create"] == true);
  c.publish("s.a", "x");
  // Identical: succeeds and returns the existing stream.
  auto again = c.req("$JS.API.STREAM.CREATE.S", cfg);
  CHECK_NO_ERROR(again);
  CHECK(again["created"] == first["created"]);
  CHECK(again["state"]["messages"] == 1);
  // Different: 10058, the stream unchanged.
  CHECK_API_ERROR(c.req("$JS.API.STREAM.CREATE.S", json{{"name", "S"}, {"subjects", {"s.>"}}, {"max_msgs", 5}}), 400,
                  10058, "stream name already in use with a different configuration");
  auto info = c.info("S");
  CHECK(info["config"]["max_msgs"] == -1);
  CHECK(info["state"]["messages"] == 1);
}

TEST_CASE("jetstream api: invalid stream configurations", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  auto create = [&](json cfg) { return c.req("$JS.API.STREAM.CREATE." + cfg["name"].get<std::string>(), cfg); };
  CHECK_API_ERROR(create({{"name", "R"}, {"num_replicas", 3}}), 500, 10074,
                  "replicas > 1 not supported in non-clustered mode");
  CHECK_API_ERROR(create({{"name", "D"}, {"max_age", 1'000'000'000}, {"duplicate_window", 2'000'000'000}}), 500,
                  10052, "duplicates window can not be larger then max age");
  CHECK_API_ERROR(create({{"name", "M"}, {"max_age", 50'000'000}}), 500, 10052, "max age needs to be >= 100ms");
  // 2.9 text; 2.10+ says "subjects that overlap with jetstream api require no-ack to be true".
  CHECK_API_ERROR(create({{"name", "J"}, {"subjects", {"$JS.API.>"}}}), 500, 10052,
                  "subjects overlap with jetstream api");
  CHECK_API_ERROR(create({{"name", "J"}, {"subjects", {"$JS.API.STREAM.NAMES"}}}), 500, 10052,
                  "subjects overlap with jetstream api");
  CHECK_API_ERROR(create({{"name", "X1"}, {"subjects", {"x", "x"}}}), 500, 10052, "duplicate subjects detected");
  CHECK_API_ERROR(create({{"name", "X2"}, {"subjects", {"x..y"}}}), 500, 10052, "invalid subject");
  CHECK_API_ERROR(create({{"name", "X3"}, {"sealed", true}}), 500, 10052,
                  "stream configuration for create can not be sealed");
  CHECK_API_ERROR(create({{"name", "X4"}, {"discard_new_per_subject", true}, {"max_msgs_per_subject", 1}}), 500, 10052,
                  "discard new per subject requires discard new policy to be set");
  CHECK_API_ERROR(create({{"name", "X5"}, {"discard_new_per_subject", true}, {"discard", "new"}}), 500, 10052,
                  "discard new per subject requires max msgs per subject > 0");
  CHECK_API_ERROR(create({{"name", "X6"}, {"allow_rollup_hdrs", true}, {"deny_purge", true}}), 500, 10052,
                  "roll-ups require the purge permission");
  CHECK(c.names().empty());
  CHECK(c.req("$JS.API.INFO")["streams"] == 0);
  // An update cannot change the storage type.
  c.create_stream({{"name", "MEM"}, {"storage", "memory"}});
  CHECK_API_ERROR(c.req("$JS.API.STREAM.UPDATE.MEM", json{{"name", "MEM"}, {"storage", "file"}}), 500, 10052,
                  "stream configuration update can not change storage type");
  CHECK(c.info("MEM")["config"]["storage"] == "memory");
}

TEST_CASE("jetstream api: the created stream echoes its config with defaults", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  auto r = c.create_stream({{"name", "D"}});
  CHECK(r["type"] == "io.nats.jetstream.api.v1.stream_create_response");
  auto& cfg = r["config"];
  CHECK(cfg["subjects"] == json({"D"}));
  CHECK(cfg["retention"] == "limits");
  CHECK(cfg["max_consumers"] == -1);
  CHECK(cfg["max_msgs"] == -1);
  CHECK(cfg["max_bytes"] == -1);
  CHECK(cfg["max_age"] == 0);
  CHECK(cfg["max_msgs_per_subject"] == -1);
  CHECK(cfg["max_msg_size"] == -1);
  CHECK(cfg["discard"] == "old");
  CHECK(cfg["storage"] == "file");
  CHECK(cfg["num_replicas"] == 1);
  CHECK(cfg["duplicate_window"] == 120'000'000'000LL);
  CHECK(cfg["allow_direct"] == false);
  CHECK(cfg["sealed"] == false);
  CHECK(cfg["deny_delete"] == false);
  CHECK(cfg["deny_purge"] == false);
  CHECK(cfg["allow_rollup_hdrs"] == false);
  CHECK(is_rfc3339_utc(r["created"].get<std::string>()));
  auto& st = r["state"];
  CHECK(st["messages"] == 0);
  CHECK(st["bytes"] == 0);
  CHECK(st["first_seq"] == 0);
  CHECK(st["last_seq"] == 0);
  CHECK(st["first_ts"] == "0001-01-01T00:00:00Z");
  CHECK(st["last_ts"] == "0001-01-01T00:00:00Z");
  CHECK(st["consumer_count"] == 0);
  // duplicate_window follows a shorter max_age.
  auto short_age = c.create_stream({{"name", "A"}, {"max_age", 1'000'000'000}});
  CHECK(short_age["config"]["duplicate_window"] == 1'000'000'000);
}

TEST_CASE("jetstream api: stream and consumer not found", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  CHECK_API_ERROR(c.req("$JS.API.STREAM.INFO.X"), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.DELETE.X"), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.X"), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.UPDATE.X", json{{"name", "X"}}), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.X", json{{"seq", 1}}), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.DELETE.X", json{{"seq", 1}}), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.INFO.X.c"), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.NAMES.X"), 404, 10059, "stream not found");
  CHECK_API_ERROR(c.create_consumer("CREATE.X.c", json{{"stream_name", "X"}, {"config", json::object()}}), 404,
                  10059, "stream not found");
  c.create_stream({{"name", "S"}});
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.INFO.S.nope"), 404, 10014, "consumer not found");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.DELETE.S.nope"), 404, 10014, "consumer not found");
}

TEST_CASE("jetstream api: MSG.GET bad requests and missing messages", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  c.publish("s.a", "one");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", "{}"), 400, 10003, "bad request");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", ""), 400, 10003, "bad request");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", json{{"seq", 1}, {"last_by_subj", "s.a"}}), 400, 10003,
                  "bad request");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", json{{"seq", 5}}), 404, 10037, "no message found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", json{{"last_by_subj", "q.>"}}), 404, 10037, "no message found");
  CHECK(c.state("S")["messages"] == 1);
}

TEST_CASE("jetstream api: purge with both seq and keep is refused", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 0; i < 3; ++i) c.publish("s.a", "x");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.S", json{{"seq", 2}, {"keep", 1}}), 400, 10003, "bad request");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.S", "{x"), 400, 10025, "invalid JSON");
  auto st = c.state("S");
  CHECK(st["messages"] == 3);
  CHECK(st["first_seq"] == 1);
}

// ---------------------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------------------

TEST_CASE("jetstream api: publish acks", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  CHECK(c.publish("p.a", "one") == json({{"stream", "P"}, {"seq", 1}}));
  CHECK(c.publish("p.b", "two") == json({{"stream", "P"}, {"seq", 2}}));
  // Without a reply subject the message is stored all the same.
  c.publish_no_reply("p.c", "three");
  CHECK(eventually([&] { return c.state("P")["messages"] == 3; }));
  CHECK(c.publish("p.a", "four") == json({{"stream", "P"}, {"seq", 4}}));
  auto st = c.state("P");
  CHECK(st["first_seq"] == 1);
  CHECK(st["last_seq"] == 4);
  CHECK(st["num_subjects"] == 3);
  CHECK(is_rfc3339_utc(st["first_ts"].get<std::string>()));
  CHECK(is_rfc3339_utc(st["last_ts"].get<std::string>()));
  // Bytes as the file store counts them (storage "file", the default).
  CHECK(st["bytes"] == file_msg_size("p.a", 0, 3) + file_msg_size("p.b", 0, 3) + file_msg_size("p.c", 0, 5) +
                           file_msg_size("p.a", 0, 4));
  // A subject no stream captures: no responders.
  natsStatus status = NATS_OK;
  CHECK_FALSE(c.request("q.a", "x", {}, 2000, &status));
  CHECK(status == NATS_NO_RESPONDERS);
}

TEST_CASE("jetstream api: a publisher that never waits is paced to the store and loses nothing", "[jetstream]") {
  // A million publishes without reply subjects, written as fast as the socket takes
  // them: a server that read them faster than the stream stores them would fill the
  // stream's inbox (262144 messages) and shed some (it does, with pacing turned off:
  // the count below falls short). nats-server stores in the goroutine that reads;
  // dialtone pauses reading the connection while 1 MiB waits for the stream
  // (kv/README.md), and the kernel's socket buffers then hold the rest.
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "F"}, {"subjects", {"f.>"}}});
  raw_client pub(srv.s.port());
  pub.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  constexpr int total = 1000000;
  std::string chunk;
  for (int i = 0; i < total; ++i) {
    chunk += "PUB f.x 16\r\n0123456789abcdef\r\n";
    if (chunk.size() >= (1u << 20)) {
      pub.send(chunk);
      chunk.clear();
    }
  }
  pub.send(chunk + "PING\r\n");
  // The PONG comes after the server has read every publish.
  REQUIRE(pub.read_until("PONG", 120s).find("PONG") != std::string::npos);
  // Stored now or soon: the stream may still be working through its last MiB (a
  // request waits behind them, for seconds under the sanitizers).
  json st;
  CHECK(eventually(
      [&] {
        natsStatus status = NATS_OK;
        auto r = c.request("$JS.API.STREAM.INFO.F", "", {}, 10000, &status);
        if (!r) return false;
        auto j = json::parse(data_of(r.get()), nullptr, false);
        if (!j.is_object() || !j.contains("state")) return false;
        st = j["state"];
        return st["messages"] == total;
      },
      60s));
  CHECK(st["first_seq"] == 1);
  CHECK(st["last_seq"] == total);
  // The connection is still served.
  pub.send("PING\r\n");
  CHECK(pub.read_until("PONG").find("PONG") != std::string::npos);
}

TEST_CASE("jetstream api: duplicate Nats-Msg-Id within the window", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  c.publish("p.a", "one");
  CHECK(c.publish("p.a", "two", {{"Nats-Msg-Id", "id1"}}) == json({{"stream", "P"}, {"seq", 2}}));
  CHECK(c.publish("p.a", "again", {{"Nats-Msg-Id", "id1"}}) ==
        json({{"stream", "P"}, {"seq", 2}, {"duplicate", true}}));
  // The id is per stream, whatever the subject.
  CHECK(c.publish("p.b", "other", {{"Nats-Msg-Id", "id1"}}) ==
        json({{"stream", "P"}, {"seq", 2}, {"duplicate", true}}));
  // The duplicate check comes before the expected-last-sequence check.
  CHECK(c.publish("p.a", "x", {{"Nats-Msg-Id", "id1"}, {"Nats-Expected-Last-Sequence", "1"}}) ==
        json({{"stream", "P"}, {"seq", 2}, {"duplicate", true}}));
  auto st = c.state("P");
  CHECK(st["messages"] == 2);
  CHECK(st["last_seq"] == 2);
  auto m = c.req("$JS.API.STREAM.MSG.GET.P", json{{"seq", 2}});
  CHECK(m["message"]["data"] == "dHdv");  // "two"
}

TEST_CASE("jetstream api: a Nats-Msg-Id is forgotten after the duplicate window", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "W"}, {"duplicate_window", 300'000'000}});
  CHECK(c.publish("W", "x", {{"Nats-Msg-Id", "a"}}) == json({{"stream", "W"}, {"seq", 1}}));
  CHECK(c.publish("W", "x", {{"Nats-Msg-Id", "a"}}) == json({{"stream", "W"}, {"seq", 1}, {"duplicate", true}}));
  std::this_thread::sleep_for(1s);
  CHECK(c.publish("W", "x", {{"Nats-Msg-Id", "a"}}) == json({{"stream", "W"}, {"seq", 2}}));
}

TEST_CASE("jetstream api: Nats-Expected-Stream", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  auto r = c.publish("p.a", "x", {{"Nats-Expected-Stream", "Q"}});
  CHECK_API_ERROR(r, 400, 10060, "expected stream does not match");
  CHECK(r["stream"] == "P");
  CHECK(r["seq"] == 0);
  // Checked before de-duplication.
  CHECK_API_ERROR(c.publish("p.a", "x", {{"Nats-Expected-Stream", "Q"}, {"Nats-Msg-Id", "m"}}), 400, 10060,
                  "expected stream does not match");
  CHECK(c.state("P")["messages"] == 0);
  CHECK(c.publish("p.a", "x", {{"Nats-Expected-Stream", "P"}}) == json({{"stream", "P"}, {"seq", 1}}));
}

TEST_CASE("jetstream api: Nats-Expected-Last-Sequence", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  for (int i = 0; i < 3; ++i) c.publish("p.a", "x");
  auto r = c.publish("p.a", "x", {{"Nats-Expected-Last-Sequence", "1"}});
  CHECK_API_ERROR(r, 400, 10071, "wrong last sequence: 3");
  CHECK(r["seq"] == 0);
  CHECK(c.state("P")["messages"] == 3);
  CHECK(c.publish("p.a", "x", {{"Nats-Expected-Last-Sequence", "3"}}) == json({{"stream", "P"}, {"seq", 4}}));
}

TEST_CASE("jetstream api: Nats-Expected-Last-Subject-Sequence", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  c.publish("p.a", "x");
  c.publish("p.a", "x");
  // 0: no message on this subject yet.
  CHECK(c.publish("p.b", "x", {{"Nats-Expected-Last-Subject-Sequence", "0"}}) == json({{"stream", "P"}, {"seq", 3}}));
  CHECK_API_ERROR(c.publish("p.b", "x", {{"Nats-Expected-Last-Subject-Sequence", "0"}}), 400, 10071,
                  "wrong last sequence: 3");
  // The subject's last sequence, not the stream's.
  c.publish("p.a", "x");
  CHECK_API_ERROR(c.publish("p.b", "x", {{"Nats-Expected-Last-Subject-Sequence", "4"}}), 400, 10071,
                  "wrong last sequence: 3");
  CHECK(c.publish("p.b", "x", {{"Nats-Expected-Last-Subject-Sequence", "3"}}) == json({{"stream", "P"}, {"seq", 5}}));
  // Purge-aware: after purging the subject, 0 holds again.
  CHECK(c.req("$JS.API.STREAM.PURGE.P", json{{"filter", "p.b"}})["purged"] == 2);
  CHECK(c.publish("p.b", "x", {{"Nats-Expected-Last-Subject-Sequence", "0"}}) == json({{"stream", "P"}, {"seq", 6}}));
}

TEST_CASE("jetstream api: Nats-Expected-Last-Msg-Id", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  c.publish("p.a", "x", {{"Nats-Msg-Id", "id1"}});
  CHECK(c.publish("p.a", "x", {{"Nats-Expected-Last-Msg-Id", "id1"}, {"Nats-Msg-Id", "id2"}}) ==
        json({{"stream", "P"}, {"seq", 2}}));
  CHECK_API_ERROR(c.publish("p.a", "x", {{"Nats-Expected-Last-Msg-Id", "nope"}}), 400, 10070,
                  "wrong last msg ID: id2");
  // The last message's id: a message without one resets it.
  c.publish("p.a", "no id");
  CHECK_API_ERROR(c.publish("p.a", "x", {{"Nats-Expected-Last-Msg-Id", "id2"}}), 400, 10070, "wrong last msg ID: ");
  CHECK(c.state("P")["messages"] == 3);
}

TEST_CASE("jetstream api: max_msg_size", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}, {"max_msg_size", 10}});
  auto r = c.publish("p.a", "01234567890");
  CHECK_API_ERROR(r, 400, 10054, "message size exceeds maximum allowed");
  CHECK(r["seq"] == 0);
  CHECK(c.publish("p.a", "0123456789") == json({{"stream", "P"}, {"seq", 1}}));
  // Headers count towards the size.
  CHECK_API_ERROR(c.publish("p.a", "0123", {{"X", "y"}}), 400, 10054, "message size exceeds maximum allowed");
  CHECK(c.state("P")["messages"] == 1);
}

TEST_CASE("jetstream api: discard new refuses at max_msgs and max_bytes", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "N"}, {"subjects", {"n.>"}}, {"max_msgs", 2}, {"discard", "new"}});
  CHECK(c.publish("n.a", "x")["seq"] == 1);
  CHECK(c.publish("n.a", "x")["seq"] == 2);
  auto r = c.publish("n.a", "x");
  CHECK_API_ERROR(r, 503, 10077, "maximum messages exceeded");
  CHECK(r["seq"] == 0);
  auto st = c.state("N");
  CHECK(st["messages"] == 2);
  CHECK(st["first_seq"] == 1);
  CHECK(st["last_seq"] == 2);

  // One 100-byte message fits in 200 bytes, a second does not (whichever per-message
  // overhead is counted).
  c.create_stream({{"name", "NB"}, {"subjects", {"nb"}}, {"max_bytes", 200}, {"discard", "new"}});
  std::string payload(100, 'x');
  CHECK(c.publish("nb", payload)["seq"] == 1);
  CHECK_API_ERROR(c.publish("nb", payload), 503, 10077, "maximum bytes exceeded");
  st = c.state("NB");
  CHECK(st["messages"] == 1);
  CHECK(st["first_seq"] == 1);
}

TEST_CASE("jetstream api: discard_new_per_subject", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "D"},
                   {"subjects", {"d.>"}},
                   {"max_msgs_per_subject", 1},
                   {"discard", "new"},
                   {"discard_new_per_subject", true}});
  CHECK(c.publish("d.a", "x")["seq"] == 1);
  CHECK_API_ERROR(c.publish("d.a", "y"), 503, 10077, "maximum messages per subject exceeded");
  CHECK(c.publish("d.b", "x")["seq"] == 2);
  auto st = c.state("D");
  CHECK(st["messages"] == 2);
  CHECK(c.req("$JS.API.STREAM.MSG.GET.D", json{{"seq", 1}})["message"]["data"] == "eA==");  // "x"

  // Without discard_new_per_subject, discard new still replaces on the per-subject limit.
  c.create_stream({{"name", "E"}, {"subjects", {"e.>"}}, {"max_msgs_per_subject", 1}, {"discard", "new"}});
  CHECK(c.publish("e.a", "x")["seq"] == 1);
  CHECK(c.publish("e.a", "y")["seq"] == 2);
  st = c.state("E");
  CHECK(st["messages"] == 1);
  CHECK(st["first_seq"] == 2);
}

TEST_CASE("jetstream api: Nats-Rollup", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
  c.publish("p.a", "x");
  CHECK_API_ERROR(c.publish("p.a", "y", {{"Nats-Rollup", "sub"}}), 500, 10111, "rollup not permitted");
  CHECK_API_ERROR(c.publish("p.a", "y", {{"Nats-Rollup", "all"}}), 500, 10111, "rollup not permitted");
  CHECK(c.state("P")["messages"] == 1);

  c.create_stream({{"name", "R"}, {"subjects", {"r.>"}}, {"allow_rollup_hdrs", true}});
  for (auto s : {"r.a", "r.a", "r.b", "r.b"}) c.publish(s, "x");
  CHECK(c.publish("r.a", "y", {{"Nats-Rollup", "sub"}}) == json({{"stream", "R"}, {"seq", 5}}));
  auto st = c.info("R", R"({"subjects_filter":">"})")["state"];
  CHECK(st["messages"] == 3);
  CHECK(st["first_seq"] == 3);
  CHECK(st["subjects"] == json({{"r.a", 1}, {"r.b", 2}}));
  CHECK(c.publish("r.b", "z", {{"Nats-Rollup", "all"}}) == json({{"stream", "R"}, {"seq", 6}}));
  st = c.state("R");
  CHECK(st["messages"] == 1);
  CHECK(st["first_seq"] == 6);
  CHECK(st["last_seq"] == 6);
}

TEST_CASE("jetstream api: a sealed stream refuses publishes, deletes and purges", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "SE"}, {"subjects", {"se.>"}}});
  c.publish("se.a", "x");
  c.publish("se.a", "y");
  auto sealed = c.req("$JS.API.STREAM.UPDATE.SE", json{{"name", "SE"}, {"subjects", {"se.>"}}, {"sealed", true}});
  CHECK_NO_ERROR(sealed);
  CHECK(sealed["config"]["sealed"] == true);
  auto r = c.publish("se.a", "z");
  CHECK_API_ERROR(r, 400, 10109, "invalid operation on sealed stream");
  CHECK(r["seq"] == 0);
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.DELETE.SE", json{{"seq", 1}}), 400, 10109,
                  "invalid operation on sealed stream");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.SE"), 400, 10109, "invalid operation on sealed stream");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.UPDATE.SE", json{{"name", "SE"}, {"subjects", {"se.>"}}, {"sealed", false}}),
                  500, 10052, "stream configuration update can not unseal a sealed stream");
  auto info = c.info("SE");
  CHECK(info["config"]["sealed"] == true);
  CHECK(info["state"]["messages"] == 2);
  CHECK(info["state"]["first_seq"] == 1);
  // The stream itself can still be deleted.
  CHECK(c.req("$JS.API.STREAM.DELETE.SE")["success"] == true);
  CHECK(c.names().empty());
}

TEST_CASE("jetstream api: deny_delete and deny_purge", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "DD"}, {"subjects", {"dd.>"}}, {"deny_delete", true}, {"deny_purge", true}});
  c.publish("dd.a", "x");
  c.publish("dd.a", "y");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.DELETE.DD", json{{"seq", 1}}), 500, 10057, "message delete not permitted");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.DD"), 500, 10110, "stream purge not permitted");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.PURGE.DD", json{{"filter", "dd.a"}}), 500, 10110,
                  "stream purge not permitted");
  auto st = c.state("DD");
  CHECK(st["messages"] == 2);
  CHECK(st["first_seq"] == 1);
  CHECK(c.req("$JS.API.STREAM.DELETE.DD")["success"] == true);
}

TEST_CASE("jetstream api: limits with discard old remove the oldest", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "L"}, {"subjects", {"l.>"}}, {"max_msgs", 3}});
  for (int i = 0; i < 5; ++i) CHECK(c.publish("l.a", std::to_string(i))["seq"] == i + 1);
  auto st = c.state("L");
  CHECK(st["messages"] == 3);
  CHECK(st["first_seq"] == 3);
  CHECK(st["last_seq"] == 5);
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.L", json{{"seq", 2}}), 404, 10037, "no message found");

  // Two 100-byte messages fit in 300 bytes, three do not.
  c.create_stream({{"name", "LB"}, {"subjects", {"lb"}}, {"max_bytes", 300}});
  for (int i = 0; i < 5; ++i) c.publish("lb", std::string(100, 'x'));
  st = c.state("LB");
  CHECK(st["messages"] == 2);
  CHECK(st["first_seq"] == 4);
  CHECK(st["last_seq"] == 5);

  c.create_stream({{"name", "LP"}, {"subjects", {"lp.>"}}, {"max_msgs_per_subject", 2}});
  for (auto s : {"lp.a", "lp.a", "lp.b", "lp.a", "lp.b", "lp.b"}) c.publish(s, "x");
  st = c.info("LP", R"({"subjects_filter":">"})")["state"];
  CHECK(st["messages"] == 4);
  CHECK(st["first_seq"] == 2);
  CHECK(st["last_seq"] == 6);
  CHECK(st["subjects"] == json({{"lp.a", 2}, {"lp.b", 2}}));
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.LP", json{{"seq", 3}}), 404, 10037, "no message found");
}

TEST_CASE("jetstream api: max_age expires messages", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "A"}, {"subjects", {"age"}}, {"max_age", 500'000'000}});
  for (int i = 0; i < 3; ++i) c.publish("age", "x");
  CHECK(c.state("A")["messages"] == 3);
  std::this_thread::sleep_for(1500ms);
  auto st = c.state("A");
  CHECK(st["messages"] == 0);
  CHECK(st["first_seq"] == 4);
  CHECK(st["last_seq"] == 3);
  CHECK(c.publish("age", "y")["seq"] == 4);
}

TEST_CASE("jetstream api: purge variants", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  // Six messages alternating p.a (odd sequences) and p.b (even).
  auto fill = [&] {
    c.req("$JS.API.STREAM.DELETE.P");
    c.create_stream({{"name", "P"}, {"subjects", {"p.>"}}});
    for (int i = 0; i < 6; ++i) c.publish(i % 2 == 0 ? "p.a" : "p.b", std::to_string(i));
  };
  auto purge = [&](const std::string& body) {
    auto r = c.req("$JS.API.STREAM.PURGE.P", body);
    INFO("purge " << body << ": " << r.dump());
    CHECK(r["type"] == "io.nats.jetstream.api.v1.stream_purge_response");
    CHECK(r["success"] == true);
    return r["purged"].get<int>();
  };
  SECTION("all") {
    fill();
    CHECK(purge("") == 6);
    auto st = c.state("P");
    CHECK(st["messages"] == 0);
    CHECK(st["first_seq"] == 7);
    CHECK(st["last_seq"] == 6);
    CHECK(c.publish("p.a", "x")["seq"] == 7);
  }
  SECTION("filter") {
    fill();
    CHECK(purge(R"({"filter":"p.a"})") == 3);
    auto st = c.state("P");
    CHECK(st["messages"] == 3);
    CHECK(st["first_seq"] == 2);
    CHECK(st["num_subjects"] == 1);
  }
  SECTION("filter with a wildcard") {
    fill();
    CHECK(purge(R"({"filter":"p.*"})") == 6);
    CHECK(c.state("P")["messages"] == 0);
  }
  SECTION("filter matching nothing") {
    fill();
    CHECK(purge(R"({"filter":"q"})") == 0);
    CHECK(c.state("P")["messages"] == 6);
  }
  SECTION("keep") {
    fill();
    CHECK(purge(R"({"keep":2})") == 4);
    auto st = c.state("P");
    CHECK(st["messages"] == 2);
    CHECK(st["first_seq"] == 5);
    CHECK(st["last_seq"] == 6);
  }
  SECTION("keep more than there are") {
    fill();
    CHECK(purge(R"({"keep":10})") == 0);
    CHECK(c.state("P")["messages"] == 6);
  }
  SECTION("filter and keep") {
    fill();
    CHECK(purge(R"({"filter":"p.a","keep":1})") == 2);
    auto st = c.info("P", R"({"subjects_filter":">"})")["state"];
    CHECK(st["messages"] == 4);
    CHECK(st["first_seq"] == 2);
    CHECK(st["subjects"] == json({{"p.a", 1}, {"p.b", 3}}));
  }
  SECTION("seq") {
    fill();
    CHECK(purge(R"({"seq":4})") == 3);
    auto st = c.state("P");
    CHECK(st["messages"] == 3);
    CHECK(st["first_seq"] == 4);
  }
  SECTION("filter and seq") {
    fill();
    CHECK(purge(R"({"filter":"p.a","seq":4})") == 2);
    auto st = c.state("P");
    CHECK(st["messages"] == 4);
    CHECK(st["first_seq"] == 2);
  }
}

TEST_CASE("jetstream api: MSG.DELETE", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 0; i < 4; ++i) c.publish("s.a", "x");
  auto r = c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", 2}});
  CHECK(r == json({{"type", "io.nats.jetstream.api.v1.stream_msg_delete_response"}, {"success", true}}));
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.GET.S", json{{"seq", 2}}), 404, 10037, "no message found");
  CHECK_API_ERROR(c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", 2}}), 400, 10043, "sequence 2 not found");
  CHECK(c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", 3}, {"no_erase", true}})["success"] == true);
  auto st = c.info("S", R"({"deleted_details":true})")["state"];
  CHECK(st["messages"] == 2);
  CHECK(st["first_seq"] == 1);
  CHECK(st["last_seq"] == 4);
  CHECK(st["num_deleted"] == 2);
  CHECK(st["deleted"] == json({2, 3}));
  // Deleting the first message moves first_seq.
  CHECK(c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", 1}})["success"] == true);
  CHECK(c.state("S")["first_seq"] == 4);
  // Past a longer run of deleted messages too (beyond the next few sequences the
  // stream tries one by one), and the stream listing agrees.
  for (int i = 0; i < 8; ++i) c.publish("s.a", "y");  // 5 to 12
  for (int seq = 5; seq <= 10; ++seq) CHECK(c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", seq}})["success"] == true);
  CHECK(c.state("S")["first_seq"] == 4);
  CHECK(c.req("$JS.API.STREAM.MSG.DELETE.S", json{{"seq", 4}})["success"] == true);
  CHECK(c.state("S")["first_seq"] == 11);
  auto list = c.req("$JS.API.STREAM.LIST");
  REQUIRE(list["streams"].size() == 1);
  CHECK(list["streams"][0]["state"]["first_seq"] == 11);
  CHECK(list["streams"][0]["state"]["messages"] == 2);
}

TEST_CASE("jetstream api: STREAM.INFO with subjects_filter", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (auto s : {"s.a", "s.b", "s.a", "s.c.x", "s.a"}) c.publish(s, "x");
  auto plain = c.state("S");
  CHECK_FALSE(plain.contains("subjects"));
  CHECK(plain["num_subjects"] == 3);
  CHECK(c.info("S", R"({"subjects_filter":">"})")["state"]["subjects"] ==
        json({{"s.a", 3}, {"s.b", 1}, {"s.c.x", 1}}));
  CHECK(c.info("S", R"({"subjects_filter":"s.*"})")["state"]["subjects"] == json({{"s.a", 3}, {"s.b", 1}}));
  CHECK(c.info("S", R"({"subjects_filter":"s.a"})")["state"]["subjects"] == json({{"s.a", 3}}));
  CHECK(c.info("S", R"({"subjects_filter":"s.c.>"})")["state"]["subjects"] == json({{"s.c.x", 1}}));
}

TEST_CASE("jetstream api: STREAM.NAMES and STREAM.LIST with a subject filter", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  c.create_stream({{"name", "T"}, {"subjects", {"t.a", "t.b"}}});
  c.create_stream({{"name", "U"}, {"subjects", {"u.*.c"}}});
  auto all = c.req("$JS.API.STREAM.NAMES");
  CHECK(all["type"] == "io.nats.jetstream.api.v1.stream_names_response");
  CHECK(all["total"] == 3);
  CHECK(all["offset"] == 0);
  CHECK(all["limit"] == 1024);
  CHECK(all["streams"] == json({"S", "T", "U"}));
  CHECK(c.names(R"({"subject":"s.*"})") == std::vector<std::string>{"S"});
  CHECK(c.names(R"({"subject":"t.b"})") == std::vector<std::string>{"T"});
  CHECK(c.names(R"({"subject":">"})") == std::vector<std::string>{"S", "T", "U"});
  // Intersecting, not only contained: *.c.* meets s.> and u.*.c.
  CHECK(c.names(R"({"subject":"*.c.*"})") == std::vector<std::string>{"S", "U"});
  auto none = c.req("$JS.API.STREAM.NAMES", R"({"subject":"q"})");
  CHECK(none["total"] == 0);
  CHECK((none["streams"].is_null() || none["streams"] == json::array()));
  CHECK_API_ERROR(c.req("$JS.API.STREAM.NAMES", "{x"), 400, 10025, "invalid JSON");

  auto list = c.req("$JS.API.STREAM.LIST");
  CHECK(list["type"] == "io.nats.jetstream.api.v1.stream_list_response");
  CHECK(list["total"] == 3);
  CHECK(list["limit"] == 256);
  REQUIRE(list["streams"].size() == 3);
  CHECK(list["streams"][0]["config"]["name"] == "S");
  CHECK(list["streams"][0].contains("state"));
  auto filtered = c.req("$JS.API.STREAM.LIST", R"({"subject":"t.b"})");
  CHECK(filtered["total"] == 1);
  REQUIRE(filtered["streams"].size() == 1);
  CHECK(filtered["streams"][0]["config"]["name"] == "T");
  auto empty = c.req("$JS.API.STREAM.LIST", R"({"subject":"q"})");
  CHECK(empty["total"] == 0);
  CHECK(empty["streams"] == json::array());
}

TEST_CASE("jetstream api: DIRECT.GET", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"allow_direct", true}});
  c.publish("s.a", "a1", {{"X-H", "v"}});
  c.publish("s.b", "b1");
  c.publish("s.a", "a2");
  c.publish("s.c.x", "c1");
  auto check_found = [&](msg_ptr m, const std::string& subject, uint64_t seq, const std::string& data) {
    REQUIRE(m);
    CHECK(data_of(m.get()) == data);
    CHECK(header(m.get(), "Status") == "<none>");
    CHECK(header(m.get(), "Nats-Stream") == "S");
    CHECK(header(m.get(), "Nats-Subject") == subject);
    CHECK(header(m.get(), "Nats-Sequence") == std::to_string(seq));
    auto ts = header(m.get(), "Nats-Time-Stamp");
    CHECK(is_rfc3339_utc(ts));
    CHECK(rfc3339_ns(ts) == stored_time_ns(c, "S", seq));
    return m;
  };
  auto by_seq = check_found(c.request("$JS.API.DIRECT.GET.S", R"({"seq":1})"), "s.a", 1, "a1");
  CHECK(header(by_seq.get(), "X-H") == "v");  // the stored headers come first
  check_found(c.request("$JS.API.DIRECT.GET.S", R"({"last_by_subj":"s.a"})"), "s.a", 3, "a2");
  check_found(c.request("$JS.API.DIRECT.GET.S", R"({"seq":2,"next_by_subj":"s.a"})"), "s.a", 3, "a2");
  check_found(c.request("$JS.API.DIRECT.GET.S", R"({"last_by_subj":"s.*"})"), "s.a", 3, "a2");
  // The subject form: everything after the stream token, empty payload.
  check_found(c.request("$JS.API.DIRECT.GET.S.s.a", ""), "s.a", 3, "a2");
  check_found(c.request("$JS.API.DIRECT.GET.S.s.c.x", ""), "s.c.x", 4, "c1");

  auto status = [&](const std::string& subject, const std::string& body) {
    auto m = c.request(subject, body);
    REQUIRE(m);
    CHECK(data_of(m.get()).empty());
    return header(m.get(), "Status") + " " + header(m.get(), "Description");
  };
  CHECK(status("$JS.API.DIRECT.GET.S", R"({"seq":99})") == "404 Message Not Found");
  CHECK(status("$JS.API.DIRECT.GET.S", R"({"last_by_subj":"s.zz"})") == "404 Message Not Found");
  CHECK(status("$JS.API.DIRECT.GET.S.s.zz", "") == "404 Message Not Found");
  CHECK(status("$JS.API.DIRECT.GET.S.s.a", R"({"seq":1})") == "408 Bad Request");
  CHECK(status("$JS.API.DIRECT.GET.S", "") == "408 Empty Request");
  CHECK(status("$JS.API.DIRECT.GET.S", "{}") == "408 Empty Request");
  CHECK(status("$JS.API.DIRECT.GET.S", "{x") == "408 Malformed Request");

  // A stream without allow_direct: nobody answers a direct get, neither the stream nor
  // the account's API; the requester times out, as with nats-server.
  c.create_stream({{"name", "ND"}, {"subjects", {"nd.>"}}});
  c.publish("nd.a", "x");
  for (auto [subject, body] : {std::pair<std::string, std::string>{"$JS.API.DIRECT.GET.ND", R"({"seq":1})"},
                                {"$JS.API.DIRECT.GET.ND.nd.a", ""}}) {
    natsStatus st = NATS_OK;
    CHECK_FALSE(c.request(subject, body, {}, 300, &st));
    INFO(subject << ": " << natsStatus_GetText(st));
    CHECK(st == NATS_TIMEOUT);
  }
}

TEST_CASE("jetstream api: MSG.GET last_by_subj with a wildcard", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  c.publish("s.a", "a1", {{"X-H", "v"}});
  c.publish("s.b", "b1");
  c.publish("s.a", "a2");
  c.publish("s.c.x", "c1");
  auto r = c.req("$JS.API.STREAM.MSG.GET.S", json{{"last_by_subj", "s.*"}});
  CHECK(r["type"] == "io.nats.jetstream.api.v1.stream_msg_get_response");
  CHECK(r["message"]["subject"] == "s.a");
  CHECK(r["message"]["seq"] == 3);
  CHECK(r["message"]["data"] == "YTI=");
  r = c.req("$JS.API.STREAM.MSG.GET.S", json{{"last_by_subj", "s.>"}});
  CHECK(r["message"]["subject"] == "s.c.x");
  CHECK(r["message"]["seq"] == 4);
  r = c.req("$JS.API.STREAM.MSG.GET.S", json{{"seq", 1}});
  CHECK(r["message"]["hdrs"] == "TkFUUy8xLjANClgtSDogdg0KDQo=");  // "NATS/1.0\r\nX-H: v\r\n\r\n"
  CHECK(r["message"]["data"] == "YTE=");
  CHECK(is_rfc3339_utc(r["message"]["time"].get<std::string>()));
  r = c.req("$JS.API.STREAM.MSG.GET.S", json{{"seq", 2}, {"next_by_subj", "s.a"}});
  CHECK(r["message"]["seq"] == 3);
}

// ---------------------------------------------------------------------------------------
// Consumers
// ---------------------------------------------------------------------------------------

namespace {
// A stream S on s.> with three messages: s.a "m1" (header X-Test: 1), s.b "m2", s.a "m3".
void three_messages(api_client& c, json extra = json::object()) {
  json cfg = {{"name", "S"}, {"subjects", {"s.>"}}};
  cfg.update(extra);
  c.create_stream(cfg);
  c.publish("s.a", "m1", {{"X-Test", "1"}});
  c.publish("s.b", "m2");
  c.publish("s.a", "m3");
}
json explicit_ack(json extra = json::object()) {
  json cfg = {{"ack_policy", "explicit"}};
  cfg.update(extra);
  return cfg;
}
}  // namespace

TEST_CASE("jetstream api: CONSUMER.CREATE subject forms", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto body = [](json cfg) { return json{{"stream_name", "S"}, {"config", cfg}}; };

  // Legacy ephemeral: the server names it; inactive_threshold defaults to 5 s.
  auto eph = c.create_consumer("CREATE.S", body(explicit_ack()));
  CHECK_NO_ERROR(eph);
  CHECK(eph["type"] == "io.nats.jetstream.api.v1.consumer_create_response");
  CHECK(eph["stream_name"] == "S");
  CHECK_FALSE(eph["name"].get<std::string>().empty());
  CHECK_FALSE(eph["config"].contains("durable_name"));
  CHECK(eph["config"]["inactive_threshold"] == 5'000'000'000LL);
  CHECK(eph["num_pending"] == 3);
  CHECK(eph["delivered"] == json({{"consumer_seq", 0}, {"stream_seq", 0}}));
  // config.name is allowed there; durable_name is not.
  CHECK(c.create_consumer("CREATE.S", body(explicit_ack({{"name", "nm"}})))["name"] == "nm");
  CHECK_API_ERROR(c.create_consumer("CREATE.S", body(explicit_ack({{"durable_name", "d"}}))), 400, 10020,
                  "consumer expected to be ephemeral but a durable name was set in request");

  // CREATE.<s>.<name>: the subject names it.
  auto named = c.create_consumer("CREATE.S.c1", body(explicit_ack()));
  CHECK_NO_ERROR(named);
  CHECK(named["name"] == "c1");
  CHECK(named["config"]["name"] == "c1");
  CHECK_API_ERROR(c.create_consumer("CREATE.S.c2", body(explicit_ack({{"durable_name", "other"}}))), 400, 10017,
                  "consumer name in subject does not match durable name in request");

  // CREATE.<s>.<name>.<filter>: the tail must equal filter_subject.
  auto filtered = c.create_consumer("CREATE.S.c3.s.a", body(explicit_ack({{"filter_subject", "s.a"}})));
  CHECK_NO_ERROR(filtered);
  CHECK(filtered["name"] == "c3");
  CHECK(filtered["config"]["filter_subject"] == "s.a");
  CHECK(filtered["num_pending"] == 2);
  auto wild = c.create_consumer("CREATE.S.c4.s.*", body(explicit_ack({{"filter_subject", "s.*"}})));
  CHECK_NO_ERROR(wild);
  CHECK(wild["num_pending"] == 3);
  CHECK_API_ERROR(c.create_consumer("CREATE.S.c5.s.a", body(explicit_ack({{"filter_subject", "s.b"}}))), 400, 10131,
                  "Consumer create request did not match filtered subject from create subject");
  CHECK_API_ERROR(c.create_consumer("CREATE.S.c5.s.a", body(explicit_ack())), 400, 10131,
                  "Consumer create request did not match filtered subject from create subject");

  // DURABLE.CREATE.<s>.<d>: durable_name required and equal.
  auto durable = c.create_consumer("DURABLE.CREATE.S.d1", body(explicit_ack({{"durable_name", "d1"}})));
  CHECK_NO_ERROR(durable);
  CHECK(durable["name"] == "d1");
  CHECK(durable["config"]["durable_name"] == "d1");
  CHECK_FALSE(durable["config"].contains("inactive_threshold"));
  CHECK_API_ERROR(c.create_consumer("DURABLE.CREATE.S.d2", body(explicit_ack())), 400, 10018,
                  "consumer expected to be durable but a durable name was not set");
  CHECK_API_ERROR(c.create_consumer("DURABLE.CREATE.S.d3", body(explicit_ack({{"durable_name", "zz"}}))), 400, 10017,
                  "consumer name in subject does not match durable name in request");

  auto names = c.req("$JS.API.CONSUMER.NAMES.S");
  CHECK(names["total"] == 6);
  CHECK(c.state("S")["consumer_count"] == 6);
}

TEST_CASE("jetstream api: invalid consumer requests change nothing", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto create = [&](const std::string& tail, json cfg, const std::string& stream = "S") {
    return c.create_consumer(tail, json{{"stream_name", stream}, {"config", cfg}});
  };
  CHECK_API_ERROR(create("CREATE.S.c1", explicit_ack({{"filter_subject", "t.a"}})), 400, 10093,
                  "consumer filter subject is not a valid subset of the interest subjects");
  CHECK_API_ERROR(create("CREATE.S.c1", explicit_ack(), "T"), 400, 10056,
                  "stream name in subject does not match request");
  CHECK_API_ERROR(create("CREATE.S.c1", explicit_ack({{"num_replicas", 3}})), 500, 10074,
                  "replicas > 1 not supported in non-clustered mode");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.CREATE.S.c1", ""), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.CREATE.S.c1", "{x"), 400, 10025, "invalid JSON");
  CHECK_API_ERROR(create("CREATE.S.c*", json::object()), 400, 10103, "durable name can not contain '.', '*', '>'");
  CHECK_API_ERROR(create("CREATE.S.c1", explicit_ack({{"deliver_policy", "by_start_sequence"}})), 400, 10094,
                  "consumer delivery policy is deliver by start sequence, but optional start sequence is not set");
  CHECK_API_ERROR(create("CREATE.S.c1", explicit_ack({{"deliver_policy", "last"}, {"opt_start_seq", 2}})), 400, 10094,
                  "consumer delivery policy is deliver last, but optional start sequence is also set");
  CHECK_API_ERROR(create("CREATE.S.c1", {{"deliver_subject", "dlv"}, {"max_waiting", 5}}), 400, 10080,
                  "consumer in push mode can not set max waiting");
  auto names = c.req("$JS.API.CONSUMER.NAMES.S");
  CHECK(names["total"] == 0);
  CHECK(c.state("S")["consumer_count"] == 0);
}

TEST_CASE("jetstream api: consumer config defaults", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto pull = c.create_consumer(
      "DURABLE.CREATE.S.d",
      json{{"stream_name", "S"}, {"config", {{"durable_name", "d"}, {"ack_policy", "explicit"}}}});
  CHECK_NO_ERROR(pull);
  auto& cfg = pull["config"];
  CHECK(cfg["deliver_policy"] == "all");
  CHECK(cfg["ack_policy"] == "explicit");
  CHECK(cfg["ack_wait"] == 30'000'000'000LL);
  CHECK(cfg["max_deliver"] == -1);
  CHECK(cfg["replay_policy"] == "instant");
  CHECK(cfg["max_ack_pending"] == 1000);
  CHECK(cfg["max_waiting"] == 512);
  CHECK(is_rfc3339_utc(pull["created"].get<std::string>()));
  CHECK(pull["num_ack_pending"] == 0);
  CHECK(pull["num_redelivered"] == 0);
  CHECK(pull["num_waiting"] == 0);
  CHECK(pull["num_pending"] == 3);
  auto none = c.create_consumer("CREATE.S.n", json{{"stream_name", "S"}, {"config", {{"deliver_subject", "dlv.n"}}}});
  CHECK_NO_ERROR(none);
  CHECK(none["config"]["ack_policy"] == "none");
  CHECK_FALSE(none["config"].contains("max_ack_pending"));
  CHECK_FALSE(none["config"].contains("max_waiting"));
  CHECK(none["config"]["deliver_subject"] == "dlv.n");
}

TEST_CASE("jetstream api: CONSUMER.INFO, NAMES, LIST and DELETE", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  for (auto n : {"c2", "c1", "c3"})
    CHECK_NO_ERROR(c.create_consumer(std::string("CREATE.S.") + n,
                                     json{{"stream_name", "S"}, {"config", explicit_ack()}}));
  auto names = c.req("$JS.API.CONSUMER.NAMES.S");
  CHECK(names["type"] == "io.nats.jetstream.api.v1.consumer_names_response");
  CHECK(names["total"] == 3);
  CHECK(names["consumers"] == json({"c1", "c2", "c3"}));
  auto list = c.req("$JS.API.CONSUMER.LIST.S");
  CHECK(list["type"] == "io.nats.jetstream.api.v1.consumer_list_response");
  CHECK(list["total"] == 3);
  REQUIRE(list["consumers"].size() == 3);
  CHECK(list["consumers"][0]["name"] == "c1");
  CHECK(list["consumers"][0]["stream_name"] == "S");
  auto info = c.consumer_info("S", "c2");
  CHECK(info["type"] == "io.nats.jetstream.api.v1.consumer_info_response");
  CHECK(info["name"] == "c2");
  CHECK(info["num_pending"] == 3);
  auto del = c.req("$JS.API.CONSUMER.DELETE.S.c2");
  CHECK(del == json({{"type", "io.nats.jetstream.api.v1.consumer_delete_response"}, {"success", true}}));
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.DELETE.S.c2"), 404, 10014, "consumer not found");
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.INFO.S.c2"), 404, 10014, "consumer not found");
  CHECK(c.req("$JS.API.CONSUMER.NAMES.S")["consumers"] == json({"c1", "c3"}));
  CHECK(c.state("S")["consumer_count"] == 2);
  // Deleting the stream deletes its consumers.
  CHECK(c.req("$JS.API.STREAM.DELETE.S")["success"] == true);
  CHECK_API_ERROR(c.req("$JS.API.CONSUMER.INFO.S.c1"), 404, 10059, "stream not found");
}

TEST_CASE("jetstream api: a push consumer delivers once subscribed, with the ack reply", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto r = c.create_consumer("CREATE.S.p1",
                             json{{"stream_name", "S"}, {"config", explicit_ack({{"deliver_subject", "dlv.p1"}})}});
  CHECK_NO_ERROR(r);
  // No subscriber on the deliver subject: nothing is delivered.
  std::this_thread::sleep_for(300ms);
  auto idle = c.consumer_info("S", "p1");
  CHECK(idle["delivered"]["consumer_seq"] == 0);
  CHECK(idle["num_pending"] == 3);
  CHECK(idle.value("push_bound", false) == false);

  api_client listener(srv.s);
  auto sub = listener.subscribe("dlv.p1");
  const char* subjects[] = {"s.a", "s.b", "s.a"};
  const char* payloads[] = {"m1", "m2", "m3"};
  for (uint64_t i = 0; i < 3; ++i) {
    auto m = next(sub.get());
    REQUIRE(m);
    // The subject is the stream message's; the payload and stored headers are as stored.
    CHECK(std::string(natsMsg_GetSubject(m.get())) == subjects[i]);
    CHECK(data_of(m.get()) == payloads[i]);
    CHECK(header(m.get(), "X-Test") == (i == 0 ? "1" : "<none>"));
    auto a = parse_ack(m.get());
    CHECK(a.stream == "S");
    CHECK(a.consumer == "p1");
    CHECK(a.delivered == 1);
    CHECK(a.stream_seq == i + 1);
    CHECK(a.consumer_seq == i + 1);
    CHECK(a.pending == 2 - i);
    CHECK(a.ts == stored_time_ns(c, "S", i + 1));
  }
  CHECK_FALSE(next(sub.get(), 300));
  auto info = c.consumer_info("S", "p1");
  CHECK(info["delivered"]["consumer_seq"] == 3);
  CHECK(info["delivered"]["stream_seq"] == 3);
  CHECK(info["num_ack_pending"] == 3);
  CHECK(info["num_pending"] == 0);
  CHECK(info["push_bound"] == true);
  // A new message goes out at once, pending 0.
  c.publish("s.b", "m4");
  auto m = next(sub.get());
  REQUIRE(m);
  auto a = parse_ack(m.get());
  CHECK(a.stream_seq == 4);
  CHECK(a.consumer_seq == 4);
  CHECK(a.pending == 0);
}

TEST_CASE("jetstream api: headers_only delivers Nats-Msg-Size and no payload", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto sub = c.subscribe("dlv.h");
  CHECK_NO_ERROR(c.create_consumer(
      "CREATE.S.h", json{{"stream_name", "S"}, {"config", {{"deliver_subject", "dlv.h"}, {"headers_only", true}}}}));
  auto m = next(sub.get());
  REQUIRE(m);
  CHECK(std::string(natsMsg_GetSubject(m.get())) == "s.a");
  CHECK(data_of(m.get()).empty());
  CHECK(header(m.get(), "Nats-Msg-Size") == "2");
  CHECK(header(m.get(), "X-Test") == "1");
  CHECK(parse_ack(m.get()).pending == 2);
  m = next(sub.get());
  REQUIRE(m);
  CHECK(data_of(m.get()).empty());
  CHECK(header(m.get(), "Nats-Msg-Size") == "2");
  CHECK(header(m.get(), "X-Test") == "<none>");
}

TEST_CASE("jetstream api: idle heartbeats", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  auto sub = c.subscribe("dlv.hb");
  CHECK_NO_ERROR(c.create_consumer(
      "CREATE.S.hb",
      json{{"stream_name", "S"},
           {"config",
            {{"deliver_subject", "dlv.hb"}, {"idle_heartbeat", 200'000'000}, {"deliver_policy", "last"}}}}));
  auto m = next(sub.get());
  REQUIRE(m);
  CHECK(data_of(m.get()) == "m3");
  auto a = parse_ack(m.get());
  CHECK(a.stream_seq == 3);
  CHECK(a.consumer_seq == 1);
  CHECK(a.pending == 0);
  for (int i = 0; i < 2; ++i) {
    auto hb = next(sub.get(), 2000);
    REQUIRE(hb);
    CHECK(std::string(natsMsg_GetSubject(hb.get())) == "dlv.hb");
    CHECK(reply_of(hb.get()).empty());
    CHECK(data_of(hb.get()).empty());
    CHECK(header(hb.get(), "Status") == "100");
    CHECK(header(hb.get(), "Description") == "Idle Heartbeat");
    CHECK(header(hb.get(), "Nats-Last-Consumer") == "1");
    CHECK(header(hb.get(), "Nats-Last-Stream") == "3");
  }
}

TEST_CASE("jetstream api: last_per_subject and by_start_sequence delivery", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  c.publish("s.c", "m4");
  c.publish("s.c", "m5");
  // Last of each subject in stream order: s.b (2), s.a (3), s.c (5). A filter is needed in
  // 2.9; 2.10+ also takes last_per_subject without one.
  auto lsub = c.subscribe("dlv.l");
  auto l = c.create_consumer("CREATE.S.l", json{{"stream_name", "S"},
                                                {"config",
                                                 {{"deliver_subject", "dlv.l"},
                                                  {"deliver_policy", "last_per_subject"},
                                                  {"filter_subject", "s.>"}}}});
  CHECK_NO_ERROR(l);
  CHECK(l["num_pending"] == 3);
  uint64_t expect_seq[] = {2, 3, 5};
  for (uint64_t i = 0; i < 3; ++i) {
    auto m = next(lsub.get());
    REQUIRE(m);
    auto a = parse_ack(m.get());
    CHECK(a.stream_seq == expect_seq[i]);
    CHECK(a.consumer_seq == i + 1);
    CHECK(a.pending == 2 - i);
  }
  CHECK_FALSE(next(lsub.get(), 300));
  c.publish("s.a", "m6");
  auto live = next(lsub.get());
  REQUIRE(live);
  CHECK(parse_ack(live.get()).stream_seq == 6);

  auto bsub = c.subscribe("dlv.b");
  auto b = c.create_consumer("CREATE.S.b", json{{"stream_name", "S"},
                                                {"config",
                                                 {{"deliver_subject", "dlv.b"},
                                                  {"deliver_policy", "by_start_sequence"},
                                                  {"opt_start_seq", 4}}}});
  CHECK_NO_ERROR(b);
  CHECK(b["num_pending"] == 3);
  CHECK(b["delivered"]["stream_seq"] == 3);
  for (uint64_t i = 0; i < 3; ++i) {
    auto m = next(bsub.get());
    REQUIRE(m);
    auto a = parse_ack(m.get());
    CHECK(a.stream_seq == 4 + i);
    CHECK(a.consumer_seq == i + 1);
    CHECK(a.pending == 2 - i);
  }
}

TEST_CASE("jetstream api: pull MSG.NEXT with batch, no_wait and expires", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  CHECK_NO_ERROR(c.create_consumer("DURABLE.CREATE.S.d",
                                   json{{"stream_name", "S"}, {"config", explicit_ack({{"durable_name", "d"}})}}));
  auto inbox = c.subscribe("pull.in");
  c.pull("S", "d", {{"batch", 2}}, "pull.in");
  for (uint64_t i = 0; i < 2; ++i) {
    auto m = next(inbox.get());
    REQUIRE(m);
    auto a = parse_ack(m.get());
    CHECK(a.stream_seq == i + 1);
    CHECK(a.pending == 2 - i);
  }
  // no_wait with one left of a batch of five: the message, then the end of the request
  // (2.9 ends it with 408 Request Timeout, 2.10+ with 404 No Messages).
  c.pull("S", "d", {{"batch", 5}, {"no_wait", true}}, "pull.in");
  auto m = next(inbox.get());
  REQUIRE(m);
  CHECK(data_of(m.get()) == "m3");
  auto end = next(inbox.get());
  REQUIRE(end);
  auto end_status = header(end.get(), "Status");
  CHECK((end_status == "408" || end_status == "404"));
  // no_wait with nothing left: 404 No Messages.
  c.pull("S", "d", {{"batch", 1}, {"no_wait", true}}, "pull.in");
  auto none = next(inbox.get());
  REQUIRE(none);
  CHECK(header(none.get(), "Status") == "404");
  CHECK(header(none.get(), "Description") == "No Messages");
  CHECK(data_of(none.get()).empty());
  // expires: 408 Request Timeout once it passes.
  auto start = std::chrono::steady_clock::now();
  c.pull("S", "d", {{"batch", 1}, {"expires", 300'000'000}}, "pull.in");
  auto expired = next(inbox.get());
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(expired);
  CHECK(header(expired.get(), "Status") == "408");
  CHECK(header(expired.get(), "Description") == "Request Timeout");
  CHECK(took >= 250ms);
  CHECK(took < 2s);
  // A waiting pull is served by a new message.
  c.pull("S", "d", {{"batch", 1}, {"expires", 2'000'000'000}}, "pull.in");
  std::this_thread::sleep_for(100ms);
  CHECK(c.consumer_info("S", "d")["num_waiting"] == 1);
  c.publish("s.a", "m4");
  auto fresh = next(inbox.get());
  REQUIRE(fresh);
  CHECK(data_of(fresh.get()) == "m4");

  // A pull from a push consumer.
  CHECK_NO_ERROR(
      c.create_consumer("CREATE.S.push", json{{"stream_name", "S"}, {"config", {{"deliver_subject", "dd"}}}}));
  c.pull("S", "push", {{"batch", 1}}, "pull.in");
  auto push = next(inbox.get());
  REQUIRE(push);
  CHECK(header(push.get(), "Status") == "409");
  CHECK(header(push.get(), "Description") == "Consumer is push based");
}

// Consumers read the stream from the store a page at a time (up to 256 messages or
// 1 MiB): what a page holds beyond what the consumer may take now must come again, in
// order, once it may.
TEST_CASE("jetstream api: consumers reading the store in pages deliver every message once and in order",
          "[jetstream]") {
  const std::string storage = GENERATE(as<std::string>{}, "file", "memory");
  INFO("storage: " << storage);
  js_server srv;
  api_client c(srv.s);
  c.create_stream(json{{"name", "S"}, {"subjects", {"s.>"}}, {"storage", storage}});
  // 600 messages, a third on s.b; every tenth is 20 KiB (in a file stream, held in the
  // value log), so a page of them passes 1 MiB.
  constexpr int total = 600;
  auto subject = [](int i) { return std::string(i % 3 == 0 ? "s.b" : "s.a"); };
  auto payload = [](int i) { return "m" + std::to_string(i) + (i % 10 == 0 ? std::string(20 << 10, 'x') : ""); };
  for (int i = 1; i <= total; ++i) CHECK_NO_ERROR(c.publish(subject(i), payload(i)));

  SECTION("a filtered push consumer held by max_ack_pending") {
    CHECK_NO_ERROR(c.create_consumer(
        "CREATE.S.pa", json{{"stream_name", "S"},
                            {"config", explicit_ack({{"deliver_subject", "dlv.pa"}, {"filter_subject", "s.a"},
                                                     {"max_ack_pending", 7}})}}));
    api_client listener(srv.s);
    auto sub = listener.subscribe("dlv.pa");
    std::vector<msg_ptr> held;
    for (int i = 0; i < 7; ++i) {
      held.push_back(next(sub.get()));
      REQUIRE(held.back());
    }
    // Seven unacknowledged: nothing more comes.
    CHECK_FALSE(next(sub.get(), 300));
    // Each delivery must be the next s.a message: 400 of them, the last one 599.
    int expect = 0, got = 0;
    auto check = [&](natsMsg* m) {
      do ++expect;
      while (subject(expect) != "s.a");
      auto a = parse_ack(m);
      CHECK(a.stream_seq == uint64_t(expect));
      CHECK(std::string(natsMsg_GetSubject(m)) == "s.a");
      CHECK(data_of(m) == payload(expect));
      ++got;
    };
    for (auto& m : held) {
      check(m.get());
      listener.ack(m.get());
    }
    while (got < 400) {
      auto m = next(sub.get());
      REQUIRE(m);
      check(m.get());
      listener.ack(m.get());
    }
    CHECK(expect == 599);
    CHECK_FALSE(next(sub.get(), 300));
  }

  SECTION("a pull consumer fetching batches of 1, 7 and 50") {
    CHECK_NO_ERROR(c.create_consumer("DURABLE.CREATE.S.pl",
                                     json{{"stream_name", "S"}, {"config", explicit_ack({{"durable_name", "pl"}})}}));
    auto inbox = c.subscribe("pull.in");
    const int batches[] = {1, 7, 50};
    int expect = 1;
    for (int round = 0; expect <= total; ++round) {
      int batch = std::min(batches[round % 3], total - expect + 1);
      c.pull("S", "pl", {{"batch", batch}, {"expires", 2'000'000'000}}, "pull.in");
      for (int k = 0; k < batch; ++k, ++expect) {
        auto m = next(inbox.get());
        REQUIRE(m);
        auto a = parse_ack(m.get());
        CHECK(a.stream_seq == uint64_t(expect));
        CHECK(a.pending == uint64_t(total - expect));
        CHECK(data_of(m.get()) == payload(expect));
        c.ack(m.get());
      }
    }
    CHECK(expect == total + 1);
    auto info = c.consumer_info("S", "pl");
    CHECK(info["delivered"]["stream_seq"] == total);
    CHECK(info["num_pending"] == 0);
    CHECK(eventually([&] { return c.consumer_info("S", "pl")["num_ack_pending"] == 0; }));
  }
}

TEST_CASE("jetstream api: ack, nak, term and ack_wait redelivery", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  three_messages(c);
  CHECK_NO_ERROR(c.create_consumer(
      "DURABLE.CREATE.S.d",
      json{{"stream_name", "S"}, {"config", explicit_ack({{"durable_name", "d"}, {"ack_wait", 1'000'000'000}})}}));
  auto inbox = c.subscribe("pull.in");
  c.pull("S", "d", {{"batch", 3}, {"expires", 2'000'000'000}}, "pull.in");
  std::vector<msg_ptr> got;
  for (int i = 0; i < 3; ++i) {
    got.push_back(next(inbox.get()));
    REQUIRE(got.back());
  }
  auto info = c.consumer_info("S", "d");
  CHECK(info["num_ack_pending"] == 3);
  CHECK(info["num_redelivered"] == 0);
  CHECK(info["delivered"]["consumer_seq"] == 3);
  c.ack(got[0].get(), "+ACK");
  c.ack(got[1].get(), "-NAK");
  c.ack(got[2].get(), "+TERM");
  CHECK(eventually([&] { return c.consumer_info("S", "d")["num_ack_pending"] == 1; }));
  info = c.consumer_info("S", "d");
  CHECK(info["ack_floor"]["stream_seq"] == 1);
  CHECK(info["ack_floor"]["consumer_seq"] == 1);
  // The nak'd message comes again at once, delivered count 2.
  c.pull("S", "d", {{"batch", 1}, {"expires", 2'000'000'000}}, "pull.in");
  auto again = next(inbox.get());
  REQUIRE(again);
  auto a = parse_ack(again.get());
  CHECK(a.stream_seq == 2);
  CHECK(a.delivered == 2);
  CHECK(a.consumer_seq == 4);
  // Not acked within ack_wait: once more, delivered count 3.
  c.pull("S", "d", {{"batch", 1}, {"expires", 3'000'000'000}}, "pull.in");
  auto third = next(inbox.get(), 4000);
  REQUIRE(third);
  a = parse_ack(third.get());
  CHECK(a.stream_seq == 2);
  CHECK(a.delivered == 3);
  CHECK(a.consumer_seq == 5);
  info = c.consumer_info("S", "d");
  CHECK(info["num_ack_pending"] == 1);
  // num_redelivered counts the pending messages delivered more than once.
  CHECK(info["num_redelivered"] == 1);
  c.ack(third.get());
  CHECK(eventually([&] { return c.consumer_info("S", "d")["num_ack_pending"] == 0; }));
  info = c.consumer_info("S", "d");
  CHECK(info["num_redelivered"] == 0);
  CHECK(info["ack_floor"]["stream_seq"] == 3);
  CHECK(info["ack_floor"]["consumer_seq"] == 5);
  CHECK(info["num_pending"] == 0);
}

TEST_CASE("jetstream api: interest retention removes a message once every consumer acked", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  c.create_stream({{"name", "I"}, {"subjects", {"i.>"}}, {"retention", "interest"}});
  // No consumers: nothing is kept.
  CHECK(c.publish("i.a", "x") == json({{"stream", "I"}, {"seq", 1}}));
  auto st = c.state("I");
  CHECK(st["messages"] == 0);
  CHECK(st["first_seq"] == 2);
  for (auto n : {"c1", "c2"})
    CHECK_NO_ERROR(c.create_consumer(std::string("DURABLE.CREATE.I.") + n,
                                     json{{"stream_name", "I"}, {"config", explicit_ack({{"durable_name", n}})}}));
  c.publish("i.a", "y");
  CHECK(c.state("I")["messages"] == 1);
  auto inbox = c.subscribe("pull.in");
  c.pull("I", "c1", {{"batch", 1}, {"expires", 2'000'000'000}}, "pull.in");
  auto m1 = next(inbox.get());
  REQUIRE(m1);
  c.ack(m1.get());
  CHECK(eventually([&] { return c.consumer_info("I", "c1")["num_ack_pending"] == 0; }));
  CHECK(c.state("I")["messages"] == 1);
  c.pull("I", "c2", {{"batch", 1}, {"expires", 2'000'000'000}}, "pull.in");
  auto m2 = next(inbox.get());
  REQUIRE(m2);
  c.ack(m2.get());
  CHECK(eventually([&] { return c.state("I")["messages"] == 0; }));
  st = c.state("I");
  CHECK(st["first_seq"] == 3);
  CHECK(st["last_seq"] == 2);
}

TEST_CASE("jetstream api: workqueue retention", "[jetstream]") {
  js_server srv;
  api_client c(srv.s);
  auto create = [&](const std::string& stream, const std::string& name, json extra) {
    json cfg = explicit_ack({{"durable_name", name}});
    cfg.update(extra);
    return c.create_consumer("DURABLE.CREATE." + stream + "." + name, json{{"stream_name", stream}, {"config", cfg}});
  };
  c.create_stream({{"name", "W"}, {"subjects", {"w.>"}}, {"retention", "workqueue"}});
  CHECK_NO_ERROR(create("W", "c1", json::object()));
  CHECK_API_ERROR(create("W", "c2", json::object()), 400, 10099,
                  "multiple non-filtered consumers not allowed on workqueue stream");
  CHECK_API_ERROR(create("W", "c2", {{"filter_subject", "w.a"}}), 400, 10100,
                  "filtered consumer not unique on workqueue stream");

  c.create_stream({{"name", "W2"}, {"subjects", {"w2.>"}}, {"retention", "workqueue"}});
  CHECK_NO_ERROR(create("W2", "c1", {{"filter_subject", "w2.a"}}));
  CHECK_NO_ERROR(create("W2", "c2", {{"filter_subject", "w2.b"}}));
  CHECK_API_ERROR(create("W2", "c3", {{"filter_subject", "w2.*"}}), 400, 10100,
                  "filtered consumer not unique on workqueue stream");
  CHECK_API_ERROR(create("W2", "c4", json::object()), 400, 10099,
                  "multiple non-filtered consumers not allowed on workqueue stream");
  CHECK_API_ERROR(create("W2", "c5", {{"filter_subject", "w2.d"}, {"deliver_policy", "last"}}), 400, 10101,
                  "consumer must be deliver all on workqueue stream");
  CHECK(c.req("$JS.API.CONSUMER.NAMES.W2")["total"] == 2);

  // An acked message leaves the stream.
  c.publish("w.a", "1");
  c.publish("w.b", "2");
  CHECK(c.state("W")["messages"] == 2);
  auto inbox = c.subscribe("pull.in");
  c.pull("W", "c1", {{"batch", 2}, {"expires", 2'000'000'000}}, "pull.in");
  auto m1 = next(inbox.get());
  auto m2 = next(inbox.get());
  REQUIRE(m1);
  REQUIRE(m2);
  c.ack(m1.get());
  CHECK(eventually([&] { return c.state("W")["messages"] == 1; }));
  CHECK(c.state("W")["first_seq"] == 2);
  c.ack(m2.get());
  CHECK(eventually([&] { return c.state("W")["messages"] == 0; }));
  // With the consumer gone, another unfiltered one may take its place.
  CHECK(c.req("$JS.API.CONSUMER.DELETE.W.c1")["success"] == true);
  CHECK_NO_ERROR(create("W", "c2", json::object()));
}

TEST_CASE("jetstream api: a stream with one message per subject across restarts and history updates",
          "[jetstream]") {
  // With max_msgs_per_subject 1 the store keeps no subject index (kv/README.md): the
  // stream answers from its table, rebuilds it from the messages at start-up, and puts
  // an index back when an update allows more messages per subject.
  temp_dir store;
  const std::vector<std::string> args{"-js", "-sd", store.path};
  json cfg = {{"name", "H"},          {"subjects", {"h.>"}},         {"max_msgs_per_subject", 1},
              {"allow_direct", true}, {"allow_rollup_hdrs", true}};
  constexpr int keys = 300;
  // The model: per subject, the values it should hold, oldest first.
  std::map<std::string, std::vector<std::string>> values;
  size_t limit = 1;
  auto trim = [&] {
    for (auto& [subject, vs] : values)
      if (vs.size() > limit) vs.erase(vs.begin(), vs.end() - long(limit));
  };
  uint64_t seq = 0;
  auto publish_round = [&](api_client& c, const std::string& tag, int every = 1) {
    for (int k = 0; k < keys; k += every) {
      std::string subject = (k % 2 ? "h.b." : "h.a.") + std::to_string(k);
      std::string value = tag + "/" + subject;
      auto ack = c.publish(subject, value);
      INFO(ack.dump());
      REQUIRE(ack.value("seq", uint64_t(0)) == ++seq);
      values[subject].push_back(value);
    }
    trim();
  };
  // What a filtered pull consumer reads from the start, in order.
  int consumers = 0;
  auto read_subject = [&](api_client& c, const std::string& subject, uint64_t& pending) {
    std::string name = "r" + std::to_string(++consumers);
    auto r = c.create_consumer("DURABLE.CREATE.H." + name,
                               json{{"stream_name", "H"},
                                    {"config", {{"durable_name", name}, {"filter_subject", subject},
                                                {"ack_policy", "none"}, {"deliver_policy", "all"}}}});
    INFO(r.dump());
    REQUIRE_FALSE(r.contains("error"));
    pending = c.consumer_info("H", name)["num_pending"].get<uint64_t>();
    auto inbox = c.subscribe("read." + name);
    c.pull("H", name, {{"batch", 10}, {"no_wait", true}}, "read." + name);
    std::vector<std::string> got;
    for (;;) {
      auto m = next(inbox.get());
      REQUIRE(m);
      if (header(m.get(), "Status") != "<none>") break;
      got.push_back(data_of(m.get()));
    }
    return got;
  };
  // Every subject holds what the model says, readable every way.
  auto check = [&](api_client& c) {
    size_t total = 0;
    for (auto& [subject, vs] : values) total += vs.size();
    auto st = c.info("H", R"({"subjects_filter":">"})")["state"];
    CHECK(st["messages"] == total);
    CHECK(st["last_seq"] == seq);
    CHECK(st["num_subjects"] == values.size());
    size_t wrong_counts = 0, wrong_last = 0, wrong_next = 0;
    for (auto& [subject, vs] : values) {
      if (st["subjects"].value(subject, uint64_t(0)) != vs.size()) ++wrong_counts;
      auto last = c.request("$JS.API.DIRECT.GET.H", json{{"last_by_subj", subject}}.dump());
      if (!last || data_of(last.get()) != vs.back()) ++wrong_last;
      auto first = c.request("$JS.API.DIRECT.GET.H", json{{"seq", 1}, {"next_by_subj", subject}}.dump());
      if (!first || data_of(first.get()) != vs.front()) ++wrong_next;
    }
    CHECK(wrong_counts == 0);
    CHECK(wrong_last == 0);
    CHECK(wrong_next == 0);
    for (auto subject : {"h.a.0", "h.b.7", "h.a.298"}) {
      auto& want = values[subject];
      uint64_t pending = 0;
      auto got = read_subject(c, subject, pending);
      CHECK(got == want);
      CHECK(pending == want.size());
    }
  };

  {
    server_process s(args);
    api_client c(s);
    c.create_stream(cfg);
    for (auto tag : {"one", "two", "three"}) publish_round(c, tag);
    check(c);
    // A rollup of one subject, and a purge by a wildcard, on the table.
    CHECK(c.publish("h.a.4", "rolled", {{"Nats-Rollup", "sub"}}).value("seq", uint64_t(0)) == ++seq);
    values["h.a.4"] = {"rolled"};
    auto p = c.req("$JS.API.STREAM.PURGE.H", json{{"filter", "h.b.*"}});
    CHECK(p["purged"] == keys / 2);
    for (auto it = values.begin(); it != values.end();)
      it = it->first.rfind("h.b.", 0) == 0 ? values.erase(it) : std::next(it);
    publish_round(c, "four", 7);
    check(c);
  }
  {
    server_process s(args);  // a clean restart: the table from the messages
    api_client c(s);
    check(c);
    publish_round(c, "five", 3);
    check(c);
    s.kill9();
  }
  {
    server_process s(args);
    api_client c(s);
    check(c);
    // More per subject: an index again, for the messages there and the ones to come.
    cfg["max_msgs_per_subject"] = 3;
    limit = 3;
    CHECK_NO_ERROR(c.req("$JS.API.STREAM.UPDATE.H", cfg));
    for (auto tag : {"six", "seven", "eight"}) publish_round(c, tag, 2);
    check(c);
  }
  {
    server_process s(args);
    api_client c(s);
    check(c);
    publish_round(c, "nine", 2);  // the oldest of three goes: found through the index
    check(c);
    // Back to one: every subject trimmed to its newest at once, as nats-server does.
    cfg["max_msgs_per_subject"] = 1;
    limit = 1;
    trim();
    CHECK_NO_ERROR(c.req("$JS.API.STREAM.UPDATE.H", cfg));
    check(c);
    publish_round(c, "ten", 5);
    check(c);
  }
  server_process s(args);
  api_client c(s);
  check(c);
}
