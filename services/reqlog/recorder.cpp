// The request recorder: the tap on the data path, the recorder's thread, the store and
// the per-account API (reqlog.hpp has the shape).
#include <spdlog/spdlog.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "actors/account.hpp"
#include "actors/client_connection.hpp"
#include "actors/client_info.hpp"
#include "actors/control_plane.hpp"
#include "actors/internal_client.hpp"
#include "actors/request_tap.hpp"
#include "actors/server_core.hpp"
#include "libplatform/config/conf_parser.hpp"
#include "libplatform/subject.hpp"
#include "services/jetstream/api.hpp"
#include "services/reqlog/reqlog.hpp"
#include "services/store/idle_release.hpp"
#include "services/store/stream_store.hpp"

namespace reqlog {

namespace {

using actors::inbound_msg;
using actors::internal_client;
using json = nlohmann::json;
using platform::protocol::message_args;

constexpr uint64_t records_stream = 1;  // the one "stream" of records in the store
constexpr const char* state_key = "reqlog/state";
constexpr const char* rules_key = "reqlog/rules";
constexpr int64_t tick_ns = 50'000'000;  // timeouts, pending records, retention, gap records
constexpr int64_t provisional_after_ns = 50'000'000;  // an unanswered request is written then
constexpr int64_t drain_interval_ns = 2'000'000;      // while busy, the recorder takes the queue this often

// ---- rules ----

// Which subjects each account records: immutable once published; each account points
// at its own patterns in the current snapshot (account::tap_rules, one atomic load per
// request); a change publishes a new snapshot and repoints the accounts.
struct rules_snapshot {
  std::unordered_map<std::string, std::vector<std::string>> by_account;
};

json rules_json(const std::vector<rule>& rs) {
  json a = json::array();
  for (auto& r : rs) a.push_back({{"account", r.account}, {"subjects", r.subjects}});
  return a;
}

// ---- the queue between the I/O threads and the recorder ----

// An event is made on an I/O thread and freed on the recorder's: its texts share one
// allocation (`text`), so each event costs the data path one malloc, not one per field
// (each allocation freed on another thread contends for a malloc arena's lock).
// Movable, not copyable (the views point into `text`).
struct event {
  enum kind_t : uint8_t { request, response, no_responders } kind = request;
  uint64_t id = 0;
  int64_t time_ns = 0;  // wall clock
  std::string_view account, subject, reply;
  std::string_view headers, payload;
  std::shared_ptr<const std::string> who;  // requester or responder (ClientInfo JSON)
  std::string_view who_account;
  std::string_view key;  // request: its entry in the reply table (account, '\0', reply)
  std::unique_ptr<char[]> text;
  size_t bytes() const { return subject.size() + reply.size() + headers.size() + payload.size() + 128; }

  void set_texts(std::string_view acc, std::string_view subj, std::string_view rep, std::string_view hdrs,
                 std::string_view body, std::string_view who_acc = {}) {
    text.reset(new char[acc.size() + 1 + rep.size() + subj.size() + hdrs.size() + body.size() + who_acc.size()]);
    char* p = text.get();
    auto put = [&p](std::string_view v) {
      if (!v.empty()) std::memcpy(p, v.data(), v.size());
      std::string_view out(p, v.size());
      p += v.size();
      return out;
    };
    account = put(acc);
    *p++ = '\0';
    reply = put(rep);
    key = std::string_view(account.data(), acc.size() + 1 + rep.size());
    subject = put(subj);
    headers = put(hdrs);
    payload = put(body);
    who_account = put(who_acc);
  }
};

// The reply table's key for (account, reply subject), built in `buf` when it fits.
std::string_view reply_key(std::string_view account, std::string_view reply, char* buf, size_t cap,
                           std::string& spill) {
  size_t n = account.size() + 1 + reply.size();
  char* p = buf;
  if (n > cap) {
    spill.resize(n);
    p = spill.data();
  }
  std::memcpy(p, account.data(), account.size());
  p[account.size()] = '\0';
  std::memcpy(p + account.size() + 1, reply.data(), reply.size());
  return {p, n};
}

class tap final : public actors::request_tap {
 public:
  tap(const options& o, std::string server_name) : opts_(o), server_name_(std::move(server_name)) {
    retired_.push_back(std::make_unique<rules_snapshot>());
    rules_.store(retired_.back().get());
  }

  void set_rules(const std::vector<rule>& rs) {
    auto snap = std::make_unique<rules_snapshot>();
    for (auto& r : rs) {
      auto& v = snap->by_account[r.account];
      v.insert(v.end(), r.subjects.begin(), r.subjects.end());
    }
    std::lock_guard lock(rules_mutex_);
    rules_.store(snap.get(), std::memory_order_release);
    // The old snapshots stay until the tap goes (a reader may hold one): a few hundred
    // bytes per change of the rules.
    retired_.push_back(std::move(snap));
    for (auto& weak : accounts_)
      if (auto acc = weak.lock()) point(*acc);
  }

  // An account the tap serves: its rules pointer follows every change of the rules.
  void attach(const actors::account_ptr& acc) {
    std::lock_guard lock(rules_mutex_);
    accounts_.erase(std::remove_if(accounts_.begin(), accounts_.end(), [](auto& w) { return w.expired(); }),
                    accounts_.end());
    accounts_.push_back(acc);
    point(*acc);
    acc->tap.store(this, std::memory_order_release);
  }
  void detach(actors::account& acc) {
    acc.tap.store(nullptr, std::memory_order_release);
    acc.tap_rules.store(nullptr, std::memory_order_release);
  }

  void set_waker(std::function<void()> w) { wake_ = std::move(w); }
  // The recorder, before it sleeps for long: the next queued event wakes it. While it
  // is busy it polls, so the data path does not pay a wake-up per request.
  void want_wake() { wants_wake_.store(true, std::memory_order_seq_cst); }
  bool queue_empty() {
    std::lock_guard lock(queue_mutex_);
    return queue_.empty();
  }
  void set_queue_max(size_t records) { queue_max_records_.store(records, std::memory_order_relaxed); }

  uint64_t request(actors::account& acc, actors::publisher* from, const message_args& m) override {
    auto* patterns = static_cast<const std::vector<std::string>*>(acc.tap_rules.load(std::memory_order_acquire));
    if (!patterns) return 0;
    bool recorded = false;
    for (auto& p : *patterns)
      if (platform::subject::matches(p, m.subject)) {
        recorded = true;
        break;
      }
    if (!recorded) return 0;
    // A full queue costs the data path one atomic add per request: nothing is copied,
    // the drop is counted for the next gap record.
    if (full_.load(std::memory_order_relaxed)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    event e;
    e.kind = event::request;
    e.id = next_id_.fetch_add(1, std::memory_order_relaxed);
    e.time_ns = jetstream::now_ns();
    e.set_texts(acc.name(), m.subject, m.reply, m.headers(), m.payload());
    // The requester in its own account (through a service import that is not `acc`).
    auto* c = from ? from->as_client() : nullptr;
    e.who = actors::client_info_json(c, c ? c->acc() : acc, server_name_);
    char buf[256];
    std::string spill;
    std::string_view key = reply_key(acc.name(), m.reply, buf, sizeof buf, spill);
    uint64_t id = e.id;
    if (!push(std::move(e), true)) return 0;
    // Watched after it is queued and before it is delivered: no answer can come
    // before this (nobody has the request yet), and it is queued after the request.
    // Requests that share a reply subject while open are answered in order: the first
    // answer on it goes to the oldest of them.
    filter_[filter_slot(m.reply)].fetch_add(1, std::memory_order_relaxed);
    auto& sh = shard_for(key);
    {
      std::lock_guard lock(sh.mutex);
      auto it = sh.pending.find(absl::string_view(key.data(), key.size()));
      if (it == sh.pending.end()) it = sh.pending.try_emplace(std::string(key)).first;
      it->second.push_back(id);
    }
    pending_.fetch_add(1, std::memory_order_relaxed);
    return id;
  }

  void delivered(uint64_t token, size_t n) override {
    if (n > 0 || token == 0) return;
    event e;
    e.kind = event::no_responders;
    e.id = token;
    e.time_ns = jetstream::now_ns();
    push(std::move(e), false);
  }

  void maybe_response(actors::account& acc, actors::publisher* from, const message_args& m) override {
    if (pending_.load(std::memory_order_relaxed) <= 0) return;
    // Most messages answer nothing recorded: one counter read rules them out without a
    // lock or an allocation.
    if (filter_[filter_slot(m.subject)].load(std::memory_order_relaxed) == 0) return;
    char buf[256];
    std::string spill;
    std::string_view key = reply_key(acc.name(), m.subject, buf, sizeof buf, spill);
    auto& sh = shard_for(key);
    uint64_t id = 0;
    {
      std::lock_guard lock(sh.mutex);
      auto it = sh.pending.find(absl::string_view(key.data(), key.size()));
      if (it == sh.pending.end()) return;
      id = it->second.front();
      it->second.erase(it->second.begin());
      if (it->second.empty()) sh.pending.erase(it);
    }
    pending_.fetch_sub(1, std::memory_order_relaxed);
    filter_[filter_slot(m.subject)].fetch_sub(1, std::memory_order_relaxed);
    event e;
    e.kind = event::response;
    e.id = id;
    e.time_ns = jetstream::now_ns();
    auto* c = from ? from->as_client() : nullptr;
    e.set_texts({}, {}, {}, m.headers(), m.payload(), c ? std::string_view(c->acc().name()) : std::string_view());
    if (c) e.who = actors::client_info_json(c, c->acc(), server_name_);
    push(std::move(e), false);
  }

  // The recorder: a request it closed (timeout or no responders) stops being watched.
  void unwatch(std::string_view key, uint64_t id) {
    auto& sh = shard_for(key);
    std::lock_guard lock(sh.mutex);
    auto it = sh.pending.find(absl::string_view(key.data(), key.size()));
    if (it == sh.pending.end()) return;
    auto& ids = it->second;
    auto pos = std::find(ids.begin(), ids.end(), id);
    if (pos == ids.end()) return;
    ids.erase(pos);
    if (ids.empty()) sh.pending.erase(it);
    pending_.fetch_sub(1, std::memory_order_relaxed);
    filter_[filter_slot(key.substr(key.find('\0') + 1))].fetch_sub(1, std::memory_order_relaxed);
  }

  // The recorder's thread: takes everything queued, and the drops since the last take.
  // The drops happened while the queue was full: from when it filled up to now.
  void take(std::vector<event>& out, uint64_t& dropped, int64_t& drop_first, int64_t& drop_last) {
    int64_t now = jetstream::now_ns();
    {
      std::lock_guard lock(queue_mutex_);
      out.swap(queue_);
      queue_bytes_ = 0;
      queue_requests_ = 0;
      drop_first = full_since_;
      full_since_ = 0;
      full_.store(false, std::memory_order_relaxed);
    }
    dropped = dropped_.exchange(0, std::memory_order_relaxed);
    drop_last = now;
    if (!drop_first) drop_first = now;
  }


 private:
  struct shard {
    std::mutex mutex;
    // Reply key -> the open requests on it, oldest first (almost always one).
    absl::flat_hash_map<std::string, absl::InlinedVector<uint64_t, 1>> pending;
  };
  shard& shard_for(std::string_view key) { return shards_[std::hash<std::string_view>{}(key) % shards_.size()]; }
  // Counting filter over watched reply subjects (any account): 0 means surely not one.
  static constexpr size_t filter_size = 1 << 16;
  // The last 8 bytes and the length: reply subjects differ at their end (inboxes end in
  // a counter or random token), and this costs no loop over the subject.
  static size_t filter_slot(std::string_view subject) {
    uint64_t v = subject.size();
    if (subject.size() >= 8) {
      uint64_t tail;
      std::memcpy(&tail, subject.data() + subject.size() - 8, 8);
      v ^= tail;
    } else {
      for (char c : subject) v = v * 131 + uint8_t(c);
    }
    return size_t((v * 0x9E3779B97F4A7C15ull) >> 48) % filter_size;
  }

  // Requests are bounded (queue_max_records, queue_max_bytes): beyond, the queue is
  // full until the recorder takes it, and requests are dropped and counted. Answers
  // and no-responder notes always go in: each belongs to a request already taken, so
  // they are bounded by the requests, and dropping one would turn a recorded request
  // into a false timeout.
  bool push(event&& e, bool bounded) {
    bool accepted = false;
    {
      std::lock_guard lock(queue_mutex_);
      size_t b = e.bytes();
      if (bounded && (queue_requests_ >= queue_max_records_.load(std::memory_order_relaxed) ||
                      queue_bytes_ + b > opts_.queue_max_bytes)) {
        if (!full_.load(std::memory_order_relaxed)) {
          full_since_ = jetstream::now_ns();
          full_.store(true, std::memory_order_relaxed);
        }
      } else {
        queue_bytes_ += b;
        if (bounded) ++queue_requests_;
        queue_.push_back(std::move(e));
        accepted = true;
      }
    }
    if (accepted && wants_wake_.load(std::memory_order_relaxed) && wants_wake_.exchange(false) && wake_) wake_();
    if (!accepted) dropped_.fetch_add(1, std::memory_order_relaxed);
    return accepted;
  }

  const options opts_;
  const std::string server_name_;
  std::atomic<const rules_snapshot*> rules_{nullptr};
  std::mutex rules_mutex_;  // what follows
  std::vector<std::unique_ptr<rules_snapshot>> retired_;
  std::vector<std::weak_ptr<actors::account>> accounts_;
  // rules_mutex_ held: points `acc` at its patterns in the current snapshot.
  void point(actors::account& acc) {
    const rules_snapshot* rs = rules_.load(std::memory_order_relaxed);
    auto it = rs->by_account.find(acc.name());
    acc.tap_rules.store(it == rs->by_account.end() ? nullptr : &it->second, std::memory_order_release);
  }
  std::array<shard, 64> shards_;
  std::unique_ptr<std::atomic<uint32_t>[]> filter_{new std::atomic<uint32_t>[filter_size]()};
  std::atomic<int64_t> pending_{0};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> queue_max_records_{opts_.queue_max_records};
  std::function<void()> wake_;

  std::mutex queue_mutex_;
  std::vector<event> queue_;
  size_t queue_bytes_ = 0, queue_requests_ = 0;
  std::atomic<bool> wants_wake_{true};
  std::atomic<bool> full_{false};
  int64_t full_since_ = 0;  // queue_mutex_
  std::atomic<uint64_t> dropped_{0};
};

// ---- records ----

// "NATS/1.0 ...\r\nA: b\r\n..." as {"A":["b"]}, and the status line's code and text.
json headers_json(std::string_view block) {
  json h = json::object();
  size_t pos = block.find("\r\n");
  if (pos == std::string_view::npos) return h;
  pos += 2;
  while (pos < block.size()) {
    size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view k = line.substr(0, colon), v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    h[std::string(k)].push_back(std::string(v));
  }
  return h;
}

void append_json_string(std::string& out, std::string_view v) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += char(c);  // UTF-8 passes through; invalid UTF-8 too (as nats-server's JSON)
        }
    }
  }
  out += '"';
}

// {"size":N,"data":"<base64>"} with "headers" ({"Name":["value",...]}) and the status
// line's "status_code" when there are headers.
void append_body(std::string& out, std::string_view headers, std::string_view payload) {
  out += R"({"size":)";
  out += std::to_string(payload.size());
  out += R"(,"data":")";
  out += jetstream::base64(payload);
  out += '"';
  if (!headers.empty()) {
    out += R"(,"headers":)";
    out += headers_json(headers).dump(-1, ' ', false, json::error_handler_t::replace);
    if (int code = jetstream::header_status(headers)) out += R"(,"status_code":)" + std::to_string(code);
  }
  out += '}';
}

// An error answer: a status of 400 or more in the header line (as a server's 503), or
// the micro framework's Nats-Service-Error header.
bool is_error(std::string_view headers) {
  if (headers.empty()) return false;
  if (jetstream::header_status(headers) >= 400) return true;
  return jetstream::header_value(headers, "Nats-Service-Error").has_value();
}

// A subject token for the account (the store's subject filter narrows a query to an
// account; the record's own "account" field is what is checked).
std::string account_token(const std::string& a) {
  std::string t = a;
  for (char& c : t)
    if (c == '.' || c == ' ' || c == '*' || c == '>' || c == '\t') c = '_';
  return t.empty() ? "_" : t;
}

int64_t parse_since(const std::string& s, int64_t now) {
  int64_t t = 0;
  if (jetstream::parse_time(s, t)) return t;
  return now - platform::config::parse_duration(s).count();  // throws std::invalid_argument
}

// ---- the recorder ----

class recorder : public std::enable_shared_from_this<recorder> {
 public:
  recorder(const options& o, std::unique_ptr<store::stream_store> st, std::shared_ptr<tap> t)
      : store_(std::move(st)), tap_(std::move(t)) {
    apply(o);
  }

  // The configuration's part (a reload may change it): rules, auditor, limits.
  void reconfigure(const options& o) {
    apply(o);
    publish_rules();
  }

  void start(actors::control_plane& cp) {
    cp_ = &cp;
    load_state();
    load_rules();
    // The recorder's own thread, at the lowest CPU priority: when the I/O loops need
    // every core it gets almost none, its queue fills, and requests go unrecorded (as
    // gap records) instead of slowing the services. Woken by the tap when the queue
    // gets its first entry, and every tick_ns for timeouts and retention.
    tap_->set_waker([this] {
      {
        std::lock_guard lock(wake_mutex_);
        woken_ = true;
      }
      wake_cv_.notify_one();
    });
    thread_ = std::thread([this] { run(); });
  }

  void add_account(const actors::account_ptr& acc) {
    tap_->attach(acc);
    std::lock_guard lock(api_mutex_);
    auto& slot = api_[acc->name()];
    if (slot.first == acc) return;
    if (slot.second) slot.second->close();
    auto c = std::make_shared<internal_client>(actors::receiver::kind::service, acc, "request log API",
                                               actors::inbox_limits{});
    cp_->start_internal_client(c);
    std::weak_ptr<recorder> weak = weak_from_this();
    c->subscribe("$RLOG.API.>", [weak](internal_client& ic, const inbound_msg& m) {
      if (auto r = weak.lock()) r->on_api(ic, m);
    });
    slot = {acc, c};
  }

  void remove_account(const actors::account_ptr& acc) {
    tap_->detach(*acc);
    std::lock_guard lock(api_mutex_);
    auto it = api_.find(acc->name());
    if (it == api_.end()) return;
    if (it->second.second) it->second.second->close();
    api_.erase(it);
  }

  void stop() {
    // No new events first, then the thread writes what is queued and ends, then the
    // API goes.
    std::map<std::string, std::pair<actors::account_ptr, std::shared_ptr<internal_client>>> api;
    {
      std::lock_guard lock(api_mutex_);
      api.swap(api_);
    }
    for (auto& [n, p] : api) tap_->detach(*p.first);
    {
      std::lock_guard lock(wake_mutex_);
      stopping_ = true;
    }
    wake_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    for (auto& [n, p] : api)
      if (p.second) p.second->close();
  }

 private:
  struct open_record {
    event req;
    int64_t deadline_ns = 0;  // wall clock
    // Written already as "pending" (the request outlived its drain): where, so the
    // final record replaces it.
    uint64_t seq = 0;
    std::string stored_subject;
    uint64_t stored_bytes = 0;
    bool provisional_queued = false;
  };

  // ---- state ----

  void load_state() {
    if (auto s = store_->get_meta(state_key)) {
      json j = json::parse(*s, nullptr, false);
      if (j.is_object()) {
        first_ = j.value("first", uint64_t(0));
        last_ = j.value("last", uint64_t(0));
        bytes_ = j.value("bytes", uint64_t(0));
      }
    }
    if (first_ == 0) first_ = last_ + 1;
    close_interrupted();
    if (last_ > 0)
      spdlog::info("Request log: {} record(s) in store ({} bytes)", last_ >= first_ ? last_ - first_ + 1 : 0,
                   bytes_);
  }

  // Requests that were waiting for their answer when the server stopped (or was
  // killed) are closed as timeouts: their answers can no longer come. They are among
  // the newest records (within a response threshold of the last one).
  void close_interrupted() {
    if (last_ < first_) return;
    auto newest = store_->head(records_stream, last_);
    uint64_t from = newest ? seek_time(newest->time_ns - threshold_ns_ - 10'000'000'000) : first_.load();
    auto b = store_->make_batch();
    size_t n = 0;
    std::vector<store::stored_message> page;
    const uint64_t end = last_;  // not the records this writes
    for (uint64_t next = from; next <= end;) {
      store_->scan(records_stream, next, 256, 4u << 20, "*.pending.>", page);
      if (page.empty()) break;
      for (auto& m : page) {
        next = m.seq + 1;
        if (m.seq > end) break;
        json rec = json::parse(m.payload, nullptr, false);
        if (rec.is_discarded()) continue;
        rec["status"] = "timeout";
        rec["note"] = "the server stopped before an answer came";
        std::string subj = m.subject;
        subj.replace(subj.find(".pending"), 8, ".timeout");
        b->delete_message(records_stream, m.seq, m.subject, m.payload.size());
        rec["id"] = std::to_string(++last_);
        std::string body = rec.dump(-1, ' ', false, json::error_handler_t::replace);
        store::message_view mv{last_.load(), m.time_ns, subj, {}, body};
        b->put_message(records_stream, mv);
        bytes_ = bytes_ + subj.size() + body.size() - std::min<uint64_t>(bytes_, m.subject.size() + m.payload.size());
        ++n;
      }
    }
    if (!n) return;
    put_state(*b);
    if (auto st = store_->write(*b, false); !st)
      spdlog::error("Request log: cannot close interrupted requests: {}", st.error);
    else
      spdlog::info("Request log: {} request(s) interrupted by the last stop recorded as timeouts", n);
  }

  void put_state(store::write_batch& b) {
    b.put_meta(state_key, json{{"first", first_.load()}, {"last", last_.load()}, {"bytes", bytes_.load()}}.dump());
  }

  // The rules: those of the configuration, plus those added at run time, minus those
  // removed at run time (both persisted, so they survive a restart).
  void load_rules() {
    if (auto s = store_->get_meta(rules_key)) {
      json j = json::parse(*s, nullptr, false);
      if (j.is_object()) {
        for (auto& r : j.value("added", json::array())) added_.push_back(parse_rule(r));
        for (auto& r : j.value("removed", json::array())) removed_.push_back(parse_rule(r));
      }
    }
    publish_rules();
  }

  static rule parse_rule(const json& j) {
    rule r;
    if (j.is_object()) {
      r.account = j.value("account", std::string());
      if (j.contains("subjects") && j["subjects"].is_array())
        for (auto& s : j["subjects"])
          if (s.is_string()) r.subjects.push_back(s.get<std::string>());
    }
    return r;
  }

  // (account, subject) pairs in effect. rules_mutex_ held.
  std::vector<rule> effective_rules() {
    if (!enabled_) return {};  // the configuration has no request_log block (any more)
    std::map<std::string, std::vector<std::string>> m;
    auto add = [&](const rule& r) {
      auto& v = m[r.account];
      for (auto& s : r.subjects)
        if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
    };
    for (auto& r : config_rules_) add(r);
    for (auto& r : added_) add(r);
    for (auto& r : removed_) {
      auto it = m.find(r.account);
      if (it == m.end()) continue;
      for (auto& s : r.subjects) it->second.erase(std::remove(it->second.begin(), it->second.end(), s), it->second.end());
      if (it->second.empty()) m.erase(it);
    }
    std::vector<rule> out;
    for (auto& [a, s] : m) out.push_back({a, s});
    return out;
  }

  void publish_rules() {
    std::lock_guard lock(rules_mutex_);
    publish_rules_locked();
  }
  void publish_rules_locked() { tap_->set_rules(effective_rules()); }

  // ---- the recorder's thread ----

  void run() {
    pthread_setname_np(pthread_self(), "dialtone-rlog");
    // Linux: a thread's nice value is its own (setpriority on its thread id).
    if (::setpriority(PRIO_PROCESS, pid_t(::syscall(SYS_gettid)), 19) != 0)
      spdlog::debug("Request log: cannot lower the recorder's priority: {}", std::strerror(errno));
    int64_t next_tick = jetstream::now_ns() + tick_ns;
    bool busy = false;
    int64_t rest_until = 0;  // the CPU budget: no work before this (wall clock)
    for (;;) {
      bool stop = false;
      {
        std::unique_lock lock(wake_mutex_);
        // Busy: poll again in drain_interval. Idle: sleep until the tap queues something
        // (it wakes the recorder then) or the next tick. Over budget: rest first, wakes
        // or not (the queue fills meanwhile and the data path drops, cheaply).
        int64_t now = jetstream::now_ns();
        int64_t until = busy ? std::min(next_tick, now + drain_interval_ns) : next_tick;
        if (rest_until > now) {
          until = std::max(until, rest_until);
          wake_cv_.wait_for(lock, std::chrono::nanoseconds(until - now), [this] { return stopping_; });
        } else {
          if (!busy) {
            tap_->want_wake();
            if (!tap_->queue_empty()) until = 0;  // queued just before the flag was up
          }
          wake_cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(0, until - now)),
                            [this] { return woken_ || stopping_; });
        }
        woken_ = false;
        stop = stopping_;
      }
      int64_t cpu0 = thread_cpu_ns();
      busy = drain() > 0;
      if (stop) break;
      if (jetstream::now_ns() >= next_tick) {
        tick();
        next_tick = jetstream::now_ns() + tick_ns;
      }
      // Work that took c ns of CPU is followed by c * (1 - budget) / budget of rest:
      // over time the recorder uses at most `budget` of one core, however much comes.
      double budget = max_cpu_.load(std::memory_order_relaxed);
      int64_t used = thread_cpu_ns() - cpu0;
      if (budget > 0 && budget < 1 && used > 0) rest_until = jetstream::now_ns() + int64_t(double(used) * (1 - budget) / budget);
    }
  }

  static int64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  // Returns how many events it took.
  size_t drain() {
    std::vector<event> evs;
    uint64_t dropped = 0;
    int64_t drop_first = 0, drop_last = 0;
    tap_->take(evs, dropped, drop_first, drop_last);
    if (dropped) note_drops(dropped, drop_first, drop_last);
    for (auto& e : evs) {
      switch (e.kind) {
        case event::request: {
          int64_t deadline = e.time_ns + threshold_ns_.load(std::memory_order_relaxed);
          uint64_t id = e.id;
          open_record o;
          o.req = std::move(e);
          o.deadline_ns = deadline;
          open_.emplace(id, std::move(o));
          break;
        }
        case event::response: {
          auto it = open_.find(e.id);
          if (it == open_.end()) break;  // closed already (timed out)
          // Judged by when the answer came, not by when the recorder got to it: an
          // answer after the threshold makes a timeout (with the late answer kept).
          const char* status = e.time_ns > it->second.deadline_ns ? "timeout"
                               : is_error(e.headers)               ? "error"
                                                                   : "ok";
          complete(it->second, &e, status);
          open_.erase(it);
          break;
        }
        case event::no_responders: {
          auto it = open_.find(e.id);
          if (it == open_.end()) break;
          tap_->unwatch(it->second.req.key, it->second.req.id);
          complete(it->second, nullptr, "no_responders");
          open_.erase(it);
          break;
        }
      }
    }
    write_pending();
    return evs.size() + size_t(dropped > 0);
  }

  void provisional(open_record& o) {
    auto& q = o.req;
    std::string rec = request_part(q);
    rec += R"(,"status":"pending")";
    pending_writes_.push_back(
        make_write(std::string(q.account), "pending", std::string(q.subject), q.time_ns, std::move(rec)));
    pending_writes_.back().provisional_for = &o;
  }

  // A record is built as text (no JSON tree): the members after "id", which is known
  // only when it is written. The client descriptions are spliced in as they are.
  static std::string request_part(const event& q) {
    std::string r;
    r.reserve(256 + q.payload.size() * 4 / 3 + q.headers.size() * 2);
    r += R"("account":)";
    append_json_string(r, q.account);
    r += R"(,"subject":)";
    append_json_string(r, q.subject);
    r += R"(,"reply":)";
    append_json_string(r, q.reply);
    r += R"(,"requester":)";
    r += q.who ? *q.who : std::string("{}");
    r += R"(,"request":)";
    append_body(r, q.headers, q.payload);
    r += R"(,"received":")";
    r += jetstream::time_text(q.time_ns);
    r += '"';
    return r;
  }

  void tick() {
    // An answer queued before `now` but not taken yet must still count: take everything
    // first, then close as timeouts only what was overdue at `now` (a starved recorder
    // once recorded answered requests as timeouts).
    int64_t now = jetstream::now_ns();
    drain();
    // Requests are queued in the order they were made and share one threshold, so the
    // overdue ones are at the front.
    while (!open_.empty() && open_.begin()->second.deadline_ns <= now) {
      auto it = open_.begin();
      tap_->unwatch(it->second.req.key, it->second.req.id);
      complete(it->second, nullptr, "timeout");
      open_.erase(it);
    }
    // (After the timeouts: a record queued here must still be open when it is written.)
    // Requests still waiting for their answer after a tick are written as "pending"
    // and replaced when they complete: a kill -9 loses no request older than
    // provisional_after + tick_ns (a restart closes them as timeouts). Most answers come
    // sooner, and their request is written once, with the answer.
    for (auto& [id, o] : open_) {
      if (o.req.time_ns > now - provisional_after_ns) break;  // in order of arrival
      if (!o.seq && !o.provisional_queued) {
        o.provisional_queued = true;
        provisional(o);
      }
    }
    if (gap_count_ && now - gap_logged_ns_ >= 10'000'000'000) {
      spdlog::warn("Request log: the recorder fell behind and dropped {} record(s) in the last {} s (gap records "
                   "written)",
                   gap_count_, gap_logged_ns_ ? (now - gap_logged_ns_) / 1'000'000'000 : 10);
      gap_count_ = 0;
      gap_logged_ns_ = now;
    }
    write_pending();
    enforce_limits(now);
    release_when_idle();
  }

  void note_drops(uint64_t n, int64_t first, int64_t last) {
    gap_count_ += n;
    std::string rec = R"("status":"gap","dropped":)" + std::to_string(n) + R"(,"from":")" +
                      jetstream::time_text(first) + R"(","until":")" + jetstream::time_text(last) +
                      R"(","received":")" + jetstream::time_text(first) + '"';
    pending_writes_.push_back(make_write("", "gap", "", first, std::move(rec)));
  }

  void complete(open_record& o, const event* resp, const char* status) {
    auto& q = o.req;
    std::string rec = request_part(q);
    rec += R"(,"status":")";
    rec += status;
    rec += '"';
    if (resp) {
      rec += R"(,"responder":)";
      if (resp->who) rec += *resp->who;
      else if (!resp->who_account.empty()) rec += R"({"acc":)" + json(resp->who_account).dump() + "}";
      else rec += "{}";
      rec += R"(,"response":)";
      append_body(rec, resp->headers, resp->payload);
      rec += R"(,"responded":")" + jetstream::time_text(resp->time_ns) + R"(","latency_ns":)" +
             std::to_string(std::max<int64_t>(0, resp->time_ns - q.time_ns));
    }
    to_write w = make_write(std::string(q.account), status, std::string(q.subject), q.time_ns, std::move(rec));
    w.replaces = o.seq;
    w.replaces_subject = o.stored_subject;
    w.replaces_bytes = o.stored_bytes;
    pending_writes_.push_back(std::move(w));
  }

  struct to_write {
    std::string account, status, subject;
    int64_t time_ns = 0;
    std::string members;                     // the record's JSON members but "id"
    open_record* provisional_for = nullptr;  // a "pending" record: remember where it went
    uint64_t replaces = 0;                   // the final record of a "pending" one
    std::string replaces_subject;
    uint64_t replaces_bytes = 0;
  };
  static to_write make_write(std::string account, std::string status, std::string subject, int64_t time_ns,
                             std::string members) {
    to_write w;
    w.account = std::move(account);
    w.status = std::move(status);
    w.subject = std::move(subject);
    w.time_ns = time_ns;
    w.members = std::move(members);
    return w;
  }

  void write_pending() {
    if (pending_writes_.empty()) return;
    auto b = store_->make_batch();
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> feed;  // account: (subject, record)
    for (auto& w : pending_writes_) {
      if (w.replaces) {
        // The "pending" record goes and the final one comes under a new id (a store
        // batch applies its deletions last, so the same sequence cannot be reused).
        b->delete_message(records_stream, w.replaces, w.replaces_subject, w.replaces_bytes);
        bytes_ = bytes_ > w.replaces_bytes ? bytes_ - w.replaces_bytes : 0;
      }
      uint64_t seq = ++last_;
      std::string body = R"({"id":")" + std::to_string(seq) + "\",";
      body += w.members;
      body += '}';
      // Stored under <account>.<status>.<subject>: a query's subject filter narrows
      // the scan to one account, one status and its subjects.
      std::string subj = account_token(w.account.empty() ? "$SYS" : w.account) + "." + w.status;
      subj += "." + (w.subject.empty() ? std::string("_") : w.subject);
      store::message_view mv;
      mv.seq = seq;
      mv.time_ns = w.time_ns ? w.time_ns : jetstream::now_ns();
      mv.subject = subj;
      mv.payload = body;
      b->put_message(records_stream, mv);
      bytes_ += subj.size() + body.size();
      if (w.provisional_for) {
        w.provisional_for->seq = seq;
        w.provisional_for->stored_subject = subj;
        w.provisional_for->stored_bytes = body.size() + subj.size();
      } else if (!w.account.empty()) {
        feed[w.account].emplace_back("$RLOG.EVENTS." + w.subject, std::move(body));
      }
    }
    pending_writes_.clear();
    put_state(*b);
    auto st = store_->write(*b, false);
    if (!st) {
      if (!write_failed_) spdlog::error("Request log: cannot write records: {}", st.error);
      write_failed_ = true;
      return;
    }
    if (write_failed_) spdlog::info("Request log: writing records again");
    write_failed_ = false;
    ++writes_done_;
    for (auto& [acc, records] : feed) publish_events(acc, std::move(records));
  }

  // The live feed: $RLOG.EVENTS.<subject> in the recorded account, published by that
  // account's API client on its own actor, one job per written batch.
  void publish_events(const std::string& account, std::vector<std::pair<std::string, std::string>> records) {
    std::shared_ptr<internal_client> c;
    {
      std::lock_guard lock(api_mutex_);
      auto it = api_.find(account);
      if (it != api_.end()) c = it->second.second;
    }
    if (!c) return;
    c->post(nullptr, [records = std::move(records)](internal_client& ic) {
      for (auto& [subject, body] : records) ic.publish(subject, {}, {}, body);
    });
  }

  void enforce_limits(int64_t now) {
    const int64_t max_age = max_age_ns_, max_bytes = max_bytes_;
    if (max_age <= 0 && max_bytes < 0) return;
    auto b = store_->make_batch();
    size_t removed = 0;
    while (first_ <= last_ && removed < 10000) {
      auto h = store_->head(records_stream, first_);
      if (!h) {
        ++first_;
        continue;
      }
      bool old = max_age > 0 && h->time_ns < now - max_age;
      bool big = max_bytes >= 0 && bytes_ > uint64_t(max_bytes);
      if (!old && !big) break;
      b->delete_message(records_stream, first_, h->subject, h->payload_size);
      uint64_t sz = h->subject.size() + h->payload_size;
      bytes_ = bytes_ > sz ? bytes_ - sz : 0;
      ++first_;
      ++removed;
    }
    if (!removed) return;
    put_state(*b);
    if (auto st = store_->write(*b, false); !st) spdlog::error("Request log: cannot remove old records: {}", st.error);
    ++writes_done_;
  }

  // Two seconds without a record written: the store's memtables go to disk and the
  // memory back to the system, as JetStream does (services/jetstream/service.cpp).
  void release_when_idle() {
    if (!idle_.due(writes_done_, std::chrono::steady_clock::now())) return;
    if (size_t n = store::release_idle(*store_); n > 0)
      spdlog::debug("Request log idle: released {} KiB of write buffers", n >> 10);
  }

  // ---- the API ----

  bool privileged(const actors::account& acc) const {
    if (acc.is_system.load()) return true;
    std::lock_guard lock(rules_mutex_);
    return !auditor_.empty() && acc.name() == auditor_;
  }

  void reply(internal_client& c, const inbound_msg& m, const json& j) {
    if (!m.reply.empty()) c.publish(m.reply, {}, {}, j.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  static json error(int code, std::string text) { return {{"error", {{"code", code}, {"description", text}}}}; }

  void on_api(internal_client& c, const inbound_msg& m) {
    std::string_view subj = m.subject;
    actors::account& acc = c.acc();
    json req = json::object();
    if (!m.payload().empty()) {
      req = json::parse(m.payload(), nullptr, false);
      if (req.is_discarded() || !req.is_object()) return reply(c, m, error(400, "bad request: the body is not a JSON object"));
    }
    if (subj == "$RLOG.API.QUERY") return reply(c, m, query(acc, req));
    if (subj.rfind("$RLOG.API.GET.", 0) == 0) return reply(c, m, get(acc, subj.substr(14)));
    if (subj == "$RLOG.API.RULES") return reply(c, m, rules(acc, req));
    reply(c, m, error(404, "unknown request log API " + std::string(subj)));
  }

  // Can `acc` see this record?
  bool visible(const actors::account& acc, const json& rec) const {
    if (privileged(acc)) return true;
    return rec.value("account", std::string()) == acc.name();
  }

  json get(const actors::account& acc, std::string_view id_text) {
    uint64_t id = 0;
    for (char ch : id_text) {
      if (ch < '0' || ch > '9' || id > UINT64_MAX / 10) return error(400, "bad request: invalid record id");
      id = id * 10 + uint64_t(ch - '0');
    }
    if (id_text.empty()) return error(400, "bad request: invalid record id");
    auto msg = store_->get(records_stream, id);
    if (!msg) return error(404, "record not found");
    json rec = json::parse(msg->payload, nullptr, false);
    if (rec.is_discarded() || !visible(acc, rec)) return error(404, "record not found");
    return rec;
  }

  json query(const actors::account& acc, const json& req) {
    std::string subject = ">", status = "*", account = acc.name();
    int64_t now = jetstream::now_ns(), since = 0, until = INT64_MAX;
    size_t limit = 100;
    uint64_t from = 0;
    try {
      if (req.contains("subject")) subject = req.at("subject").get<std::string>();
      if (req.contains("status")) status = req.at("status").get<std::string>();
      if (req.contains("since")) since = parse_since(req.at("since").get<std::string>(), now);
      if (req.contains("until")) until = parse_since(req.at("until").get<std::string>(), now);
      if (req.contains("limit")) limit = req.at("limit").get<size_t>();
      if (req.contains("cursor")) from = std::stoull(req.at("cursor").get<std::string>());
      if (req.contains("account")) {
        account = req.at("account").get<std::string>();
        if (account != acc.name() && !privileged(acc))
          return error(403, "account " + acc.name() + " may not query the records of account " + account);
      }
    } catch (const std::exception& e) {
      return error(400, std::string("bad request: ") + e.what());
    }
    if (!platform::subject::valid_subscription(subject)) return error(400, "bad request: invalid subject filter");
    static const char* statuses[] = {"ok", "error", "timeout", "no_responders", "pending", "gap", "*"};
    if (std::find_if(std::begin(statuses), std::end(statuses), [&](const char* s) { return status == s; }) ==
        std::end(statuses))
      return error(400, "bad request: status must be ok, error, timeout, no_responders, pending or gap");
    limit = std::clamp<size_t>(limit, 1, 1000);
    bool all_accounts = privileged(acc) && !req.contains("account");
    std::string filter = (all_accounts ? std::string("*") : account_token(account)) + "." + status + "." + subject;
    if (from < first_) from = first_;
    // Records are stored about in time order (a timeout is written its threshold after
    // the request): start at the first one that can be as new as `since`.
    if (since > 0) from = std::max(from, seek_time(since - threshold_ns_ - 1'000'000'000));
    json out = {{"records", json::array()}};
    std::vector<store::stored_message> page;
    size_t scanned = 0;
    uint64_t next = from;
    const uint64_t end = last_;  // records written meanwhile are for the next page
    while (next <= end && out["records"].size() < limit && scanned < 100000) {
      store_->scan(records_stream, next, 256, 4u << 20, filter, page);
      if (page.empty()) {
        next = end + 1;
        break;
      }
      for (auto& msg : page) {
        if (msg.seq > end) {
          next = end + 1;
          break;
        }
        next = msg.seq + 1;
        ++scanned;
        json rec = json::parse(msg.payload, nullptr, false);
        if (rec.is_discarded()) continue;
        if (!all_accounts && rec.value("account", std::string()) != account) continue;
        // A request still waiting for its answer shows only when asked for: its final
        // record replaces it (under a new id) once it completes.
        if (status == "*" && rec.value("status", std::string()) == "pending") continue;
        int64_t t = 0;
        jetstream::parse_time(rec.value("received", std::string()), t);
        if (t < since || t > until) continue;
        out["records"].push_back(std::move(rec));
        if (out["records"].size() >= limit) break;
      }
    }
    if (next <= end) out["cursor"] = std::to_string(next);
    return out;
  }

  // The first sequence whose record time is at least `t` (binary search on time).
  uint64_t seek_time(int64_t t) {
    // Replaced "pending" records leave holes: a probe that hits one uses the next
    // record that is there.
    uint64_t lo = first_, hi = last_ + 1;
    std::vector<store::stored_message> page;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      store_->scan(records_stream, mid, 1, 0, {}, page);
      if (page.empty() || page.front().seq >= hi) {
        hi = mid;
      } else if (page.front().time_ns < t) {
        lo = page.front().seq + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  json rules(const actors::account& acc, const json& req) {
    std::string op = req.value("op", std::string("list"));
    if (op != "list" && !privileged(acc))
      return error(403, "only the system account" + (auditor().empty() ? std::string() : " and " + auditor()) +
                            " may change the request log rules");
    if (op == "add" || op == "remove") {
      rule r = parse_rule(req);
      if (r.account.empty()) return error(400, "bad request: account is required");
      if (r.subjects.empty()) return error(400, "bad request: subjects must be a non-empty array of subjects");
      for (auto& s : r.subjects)
        if (!platform::subject::valid_subscription(s)) return error(400, "bad request: invalid subject " + s);
      std::lock_guard lock(rules_mutex_);
      auto drop_from = [&](std::vector<rule>& list) {
        for (auto& x : list)
          if (x.account == r.account)
            for (auto& s : r.subjects) x.subjects.erase(std::remove(x.subjects.begin(), x.subjects.end(), s), x.subjects.end());
        list.erase(std::remove_if(list.begin(), list.end(), [](const rule& x) { return x.subjects.empty(); }), list.end());
      };
      auto added = added_, removed = removed_;
      if (op == "add") {
        drop_from(removed);
        added.push_back(r);
      } else {
        drop_from(added);
        removed.push_back(r);
      }
      // Stored (and synced) before they apply: a rule in effect survives a restart.
      auto b = store_->make_batch();
      b->put_meta(rules_key, json{{"added", rules_json(added)}, {"removed", rules_json(removed)}}.dump());
      if (auto st = store_->write(*b, true); !st) return error(500, "cannot store the rules: " + st.error);
      added_ = std::move(added);
      removed_ = std::move(removed);
      publish_rules_locked();
      spdlog::info("Request log: account {} {} recording of {}", acc.name(), op == "add" ? "started" : "stopped",
                   json(r.subjects).dump());
    } else if (op != "list") {
      return error(400, "bad request: op must be add, remove or list");
    }
    std::vector<rule> eff;
    {
      std::lock_guard lock(rules_mutex_);
      eff = effective_rules();
    }
    if (!privileged(acc))
      eff.erase(std::remove_if(eff.begin(), eff.end(), [&](const rule& x) { return x.account != acc.name(); }), eff.end());
    return {{"rules", rules_json(eff)}};
  }

  void apply(const options& o) {
    {
      std::lock_guard lock(rules_mutex_);
      config_rules_ = o.record;
      auditor_ = o.auditor;
      enabled_ = o.enabled;
    }
    threshold_ns_ = o.response_threshold_ns;
    max_cpu_ = o.max_cpu;
    max_age_ns_ = o.max_age_ns;
    max_bytes_ = o.max_bytes;
    tap_->set_queue_max(o.queue_max_records);
  }
  std::string auditor() {
    std::lock_guard lock(rules_mutex_);
    return auditor_;
  }

  std::unique_ptr<store::stream_store> store_;
  std::shared_ptr<tap> tap_;
  std::atomic<int64_t> threshold_ns_{0}, max_age_ns_{0}, max_bytes_{-1};
  std::atomic<double> max_cpu_{0.1};
  actors::control_plane* cp_ = nullptr;
  // The recorder's thread only.
  std::map<uint64_t, open_record> open_;
  std::vector<to_write> pending_writes_;
  uint64_t gap_count_ = 0;
  int64_t gap_logged_ns_ = 0;
  // release_when_idle (recorder thread): store writes made, watched for a quiet spell.
  uint64_t writes_done_ = 0;
  store::idle_watch idle_;
  bool write_failed_ = false;
  // Written by the recorder's thread, read by the API clients' actors (a query may miss
  // the newest records of a write in progress).
  std::atomic<uint64_t> first_{1}, last_{0}, bytes_{0};

  mutable std::mutex rules_mutex_;  // what follows (the API clients' actors, a reload)
  std::vector<rule> config_rules_, added_, removed_;
  std::string auditor_;
  bool enabled_ = true;

  std::mutex api_mutex_;
  std::map<std::string, std::pair<actors::account_ptr, std::shared_ptr<internal_client>>> api_;

  std::thread thread_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false, stopping_ = false;
};

// ---- the service host ----

class host final : public actors::service_host {
 public:
  host(const platform::config::server_options& o, std::shared_ptr<actors::service_host> inner)
      : enabled_(o.request_log), opts_(options_from(o, o.store_dir)), inner_(std::move(inner)) {}

  std::string start(actors::server_core& core, actors::control_plane& cp,
                    const platform::accounts::auth_config& auth) override {
    if (inner_) {
      if (auto err = inner_->start(core, cp, auth); !err.empty()) return err;
    }
    core_ = &core;
    cp_ = &cp;
    auth_ = auth;
    return enabled_ ? start_recorder() : std::string();
  }

  void accounts_changed(const actors::account_registry::changes& ch,
                        const platform::accounts::auth_config& auth) override {
    if (inner_) inner_->accounts_changed(ch, auth);
    auth_ = auth;
    if (!rec_) return;
    for (auto& acc : ch.removed) rec_->remove_account(acc);
    for (auto& acc : core_->accounts().all()) rec_->add_account(acc);
  }

  void options_changed(const platform::config::server_options& o) override {
    if (inner_) inner_->options_changed(o);
    opts_ = options_from(o, opts_.store_dir);  // the store stays where it is
    if (rec_) {
      rec_->reconfigure(opts_);
      spdlog::info("Request log: reloaded, {} rule(s) from the configuration", opts_.record.size());
    } else if (o.request_log) {
      if (auto err = start_recorder(); !err.empty()) spdlog::error("Request log: {}", err);
    }
  }

  void stop() override {
    if (rec_) rec_->stop();
    if (inner_) inner_->stop();
  }

 private:
  std::string start_recorder() {
    std::string error;
    auto st = store::open_rocks_store(opts_.store_dir + "/reqlog", error);
    if (!st) return "request log: " + error;
    for (auto& r : opts_.record)
      if (!auth_.accounts.empty() && !auth_.find_account(r.account) && r.account != "$G")
        spdlog::warn("Request log: account {} in request_log is not configured", r.account);
    // The tap lives as long as the process: I/O threads may be inside it until they stop.
    static std::vector<std::shared_ptr<tap>> taps;
    auto t = std::make_shared<tap>(opts_, core_->server_name());
    taps.push_back(t);
    auto rec = std::make_shared<recorder>(opts_, std::move(st), t);
    rec->start(*cp_);
    rec_ = rec;
    for (auto& acc : core_->accounts().all()) rec_->add_account(acc);
    spdlog::info("Request log: recording to {}/reqlog, responses awaited {} ms", opts_.store_dir,
                 opts_.response_threshold_ns / 1'000'000);
    return {};
  }

  bool enabled_;
  options opts_;
  std::shared_ptr<actors::service_host> inner_;
  std::shared_ptr<recorder> rec_;
  actors::server_core* core_ = nullptr;
  actors::control_plane* cp_ = nullptr;
  platform::accounts::auth_config auth_;
};

}  // namespace

options options_from(const platform::config::server_options& o, const std::string& store_dir) {
  options r;
  r.enabled = o.request_log;
  r.store_dir = store_dir;
  for (auto& x : o.rlog_record) r.record.push_back({x.account, x.subjects});
  r.max_age_ns = o.rlog_max_age.count();
  r.max_bytes = o.rlog_max_bytes;
  r.auditor = o.rlog_auditor;
  r.response_threshold_ns = o.rlog_response_threshold.count();
  r.queue_max_records = size_t(o.rlog_max_queue);
  r.max_cpu = o.rlog_max_cpu;
  return r;
}

std::shared_ptr<actors::service_host> make_host(const platform::config::server_options& opts,
                                                std::shared_ptr<actors::service_host> inner) {
  return std::make_shared<host>(opts, std::move(inner));
}

}  // namespace reqlog
