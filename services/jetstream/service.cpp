// The JetStream service: stores, ticker, and each account's API (internal.hpp).
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/memory.hpp"
#include "libplatform/subject.hpp"
#include "services/jetstream/internal.hpp"
#include "services/jetstream/records.hpp"
#include "services/store/idle_release.hpp"

namespace jetstream {

using actors::inbound_msg;
using actors::internal_client;

namespace {
// The API's inbox: requests beyond this wait nowhere (the requester times out).
constexpr actors::inbox_limits api_inbox{16384, 64u << 20};
constexpr auto tick_interval = std::chrono::milliseconds(50);
}  // namespace

// ---- service ----

service::service(options opts, actors::control_plane& cp) : opts_(std::move(opts)), cp_(cp) {}

service::~service() {
  shutdown();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

namespace {
constexpr const char* lock_file_name = "dialtone.lock";
}  // namespace

bool service::open(std::string& error) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(opts_.store_dir) / "jetstream";
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create the JetStream store directory " + dir.string() + ": " + ec.message();
    return false;
  }
  file_dir_ = dir.string();
  // One server per store directory, checked at start even while RocksDB (which locks
  // its own LOCK file) is not open yet. The lock goes with the process, kill -9 too.
  auto lock_path = (dir / lock_file_name).string();
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    error = "cannot create " + lock_path + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK ? "store directory " + dir.string() + " is in use by another server"
                                 : "cannot lock " + lock_path + ": " + std::strerror(errno);
    return false;
  }
  memory_ = store::make_memory_store();
  bool stored = false;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != lock_file_name) stored = true;
  if (ec) {
    error = "cannot read the JetStream store directory " + dir.string() + ": " + ec.message();
    return false;
  }
  if (stored) {
    if (!open_file_store(error)) return false;
    uint64_t max_id = 0;
    for (auto& [k, v] : file_store()->list_meta("S/")) {
      stream_record rec;
      if (decode(v, rec)) max_id = std::max(max_id, rec.id);
    }
    next_id_ = max_id + 1;
  }
  {
    std::lock_guard lock(open_mutex_);
    started_ = true;
  }
  ticker_ = std::thread([this] { ticker(); });
  return true;
}

store::stream_store* service::open_file_store(std::string& error) {
  if (auto* f = file_store()) return f;
  std::lock_guard lock(open_mutex_);
  if (auto* f = file_store()) return f;
  auto st = store::open_rocks_store(file_dir_, error);
  if (!st) {
    if (started_) spdlog::error("JetStream: {}", error);  // at start, the start fails with it
    return nullptr;
  }
  file_owner_ = std::move(st);
  file_.store(file_owner_.get(), std::memory_order_release);
  if (started_) {
    spdlog::info("JetStream: opened the store in {} for the first stream", file_dir_);
    // As after a start with a store (host.cpp): what opening freed goes back now.
    platform::memory::return_free_memory();
  }
  return file_owner_.get();
}

void service::ticker() {
  std::unique_lock lock(tick_mutex_);
  // After store::idle_release_after without a store write, the memory a burst left goes
  // back (release_idle_memory): nats-server drops its message block caches after a few
  // seconds idle too.
  store::idle_watch idle;
  while (!stopping_) {
    tick_cv_.wait_for(lock, tick_interval);
    if (stopping_) break;
    lock.unlock();
    std::vector<std::shared_ptr<stream>> all;
    {
      std::lock_guard al(accounts_mutex_);
      for (auto& [n, a] : accounts_) {
        std::lock_guard sl(a->streams_mutex);
        for (auto& [sn, s] : a->streams) all.push_back(s);
      }
    }
    for (auto& s : all) {
      if (!s->client() || !s->wants_tick()) continue;
      std::weak_ptr<stream> weak = s;
      s->client()->post(nullptr, [weak](internal_client&) {
        if (auto st = weak.lock()) st->tick();
      });
    }
    if (idle.due(writes_.load(std::memory_order_relaxed), std::chrono::steady_clock::now()))
      release_idle_memory(all);
    lock.lock();
  }
}

void service::release_idle_memory(const std::vector<std::shared_ptr<stream>>& streams) {
  size_t slots = 0;
  for (auto& s : streams)
    if (s->client()) slots += s->client()->release_spare();
  // Only a server with streams writes, and the first stream opened the file store.
  auto* file = file_store();
  size_t flushed = file ? store::release_idle(*file, slots) : 0;
  if (flushed + slots > 0)
    spdlog::debug("JetStream idle: released {} KiB of write buffers and {} KiB of spare inbox slots",
                  flushed >> 10, slots >> 10);
}

store::store_status service::write(store::stream_store& st, store::write_batch& b, bool may_wait) {
  writes_.fetch_add(1, std::memory_order_relaxed);
  auto status = may_wait ? st.write(b, opts_.sync_always) : st.try_write(b);
  if (!status && !status.would_block) {
    auto now = steady_ns();
    auto last = last_error_log_.load();
    if (now - last > 10'000'000'000 && last_error_log_.compare_exchange_strong(last, now))
      spdlog::error("JetStream store write failed ({}): publishes get an error until it recovers",
                    status.error);
  }
  return status;
}

uint64_t service::disk_usage() {
  auto* f = file_store();
  return f ? f->disk_usage() : 0;
}

void service::enable(const actors::account_ptr& acc, const account_limits& limits, bool enabled) {
  std::shared_ptr<js_account> old;
  {
    std::lock_guard lock(accounts_mutex_);
    auto it = accounts_.find(acc->name());
    if (it != accounts_.end()) {
      auto& cur = *it->second;
      const auto& l = cur.usage->limits;
      bool same = cur.acc == acc && cur.enabled == enabled && l.max_memory == limits.max_memory &&
                  l.max_store == limits.max_store && l.max_streams == limits.max_streams &&
                  l.max_consumers == limits.max_consumers;
      if (same) return;
      // A reload changed this account's JetStream (on, off, limits), or the account
      // object itself: its API and streams start again from the store with the new
      // settings (writes in flight finish first; nothing stored is lost).
      old = it->second;
      accounts_.erase(it);
    }
  }
  if (old) old->stop();
  auto ja = std::make_shared<js_account>(*this, acc, limits);
  ja->enabled = enabled;
  {
    std::lock_guard lock(accounts_mutex_);
    accounts_[acc->name()] = ja;
  }
  if (enabled) ja->restore();
  ja->start(cp_);
}

void service::disable(const actors::account_ptr& acc) {
  std::shared_ptr<js_account> ja;
  {
    std::lock_guard lock(accounts_mutex_);
    auto it = accounts_.find(acc->name());
    if (it == accounts_.end()) return;
    ja = it->second;
    accounts_.erase(it);
  }
  ja->stop();
}

void service::shutdown() {
  {
    std::lock_guard lock(tick_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::map<std::string, std::shared_ptr<js_account>> accounts;
  {
    std::lock_guard lock(accounts_mutex_);
    accounts.swap(accounts_);
  }
  for (auto& [n, a] : accounts) a->stop();
}

// ---- js_account ----

js_account::js_account(service& s, actors::account_ptr a, account_limits limits)
    : svc(s), acc(std::move(a)), usage(std::make_shared<js_usage>()) {
  usage->limits = limits;
}

void js_account::restore() {
  auto* file = svc.file_store();
  if (!file) return;  // nothing stored yet
  for (auto& [key, value] : file->list_meta("S/" + acc->name() + "/")) {
    stream_record rec;
    if (!decode(value, rec) || rec.account != acc->name()) continue;
    json j = json::parse(rec.config, nullptr, false);
    stream_config cfg;
    if (j.is_discarded() || parse_stream_config(j, rec.name, cfg)) {
      spdlog::error("JetStream: stream {} of account {} has an unreadable configuration; skipped", rec.name,
                    acc->name());
      continue;
    }
    auto s = std::make_shared<stream>(svc, usage, acc, rec.id, cfg, rec.created);
    s->restore();
    usage->streams++;
    std::lock_guard lock(streams_mutex);
    streams[cfg.name] = s;
  }
  if (!streams.empty()) spdlog::info("JetStream: account {} restored {} stream(s)", acc->name(), streams.size());
}

void js_account::start(actors::control_plane& cp) {
  api = std::make_shared<internal_client>(actors::receiver::kind::service, acc, "JetStream API", api_inbox);
  // Direct gets are the streams' own subscriptions (allow_direct): the API does not
  // queue them. One to a stream without allow_direct is answered by nobody and times
  // out, as with nats-server (whose accounts import $JS.API.> as a service).
  api->set_deliver_filter([](std::string_view subject) { return subject.rfind("$JS.API.DIRECT.GET.", 0) != 0; });
  cp.start_internal_client(api);
  std::weak_ptr<js_account> weak = weak_from_this();
  api->subscribe("$JS.API.>", [weak](internal_client& c, const inbound_msg& m) {
    if (auto a = weak.lock()) a->on_request(c, m);
  });
  std::lock_guard lock(streams_mutex);
  for (auto& [n, s] : streams) s->start(cp);
}

void js_account::stop() {
  if (api) api->close();
  std::map<std::string, std::shared_ptr<stream>> all;
  {
    std::lock_guard lock(streams_mutex);
    all.swap(streams);
  }
  for (auto& [n, s] : all) {
    // Whatever is queued in the stream's batch is written by its last drain; stop
    // makes it take nothing new.
    if (s->client()) {
      auto done = std::make_shared<std::promise<void>>();
      auto fut = done->get_future();
      std::weak_ptr<stream> weak = s;
      bool posted = s->client()->post(nullptr, [weak, done](internal_client&) {
        if (auto st = weak.lock()) st->commit_now();
        done->set_value();
      });
      if (posted) fut.wait_for(std::chrono::seconds(5));
    }
    s->stop();
  }
}

std::shared_ptr<stream> js_account::find(const std::string& name) {
  std::lock_guard lock(streams_mutex);
  auto it = streams.find(name);
  return it == streams.end() ? nullptr : it->second;
}

void js_account::respond(const std::string& reply, const json& j) {
  if (!reply.empty()) api->publish(reply, {}, {}, j.dump());
}

void js_account::respond_error(const std::string& reply, std::string_view type, const api_error& e) {
  api_errors++;
  if (!reply.empty()) api->publish(reply, {}, {}, error_response(type, e));
}

void js_account::on_request(internal_client&, const inbound_msg& m) {
  api_total++;
  auto r = std::make_shared<api_request>();
  r->subject = m.subject;
  r->reply = m.reply;
  r->payload = std::string(m.payload());
  std::vector<std::string_view> toks;
  platform::subject::tokenize(std::string_view(m.subject).substr(8), toks);  // after "$JS.API."
  for (auto t : toks) r->tokens.emplace_back(t);
  auto& t = r->tokens;
  if (m.reply.empty() || t.empty()) return;  // nobody to answer
  if (acc->is_system.load()) return respond_error(m.reply, "error_response", err::not_enabled_for_account());
  if (!enabled) {
    std::string type = t[0] == "INFO" ? "account_info_response" : "error_response";
    return respond_error(m.reply, type, err::not_enabled_for_account());
  }
  if (t.size() == 1 && t[0] == "INFO") return api_info(m.reply);
  if (t[0] == "STREAM" && t.size() >= 2) {
    if (t[1] == "CREATE" && t.size() == 3) return stream_create(*r, false);
    if (t[1] == "UPDATE" && t.size() == 3) return stream_create(*r, true);
    if (t[1] == "DELETE" && t.size() == 3) return stream_delete(r);
    if (t[1] == "NAMES" && t.size() == 2) return stream_list(*r, true);
    if (t[1] == "LIST" && t.size() == 2) return stream_list(*r, false);
    if ((t[1] == "INFO" || t[1] == "PURGE") && t.size() == 3)
      return forward(t[2], r, t[1] == "INFO" ? "stream_info_response" : "stream_purge_response");
    if (t[1] == "MSG" && t.size() == 4 && (t[2] == "GET" || t[2] == "DELETE"))
      return forward(t[3], r, t[2] == "GET" ? "stream_msg_get_response" : "stream_msg_delete_response");
  }
  if (t[0] == "DIRECT" && t.size() >= 3 && t[1] == "GET") {
    // Not delivered here (the deliver filter in start()): the stream's own subscription
    // answers while allow_direct is set; otherwise nobody does (a timeout).
    return;
  }
  if (t[0] == "CONSUMER" && t.size() >= 3) {
    if (t[1] == "CREATE" && t.size() >= 3) return forward(t[2], r, "consumer_create_response");
    if (t[1] == "DURABLE" && t.size() == 5 && t[2] == "CREATE") return forward(t[3], r, "consumer_create_response");
    if ((t[1] == "INFO" || t[1] == "DELETE") && t.size() == 4)
      return forward(t[2], r, t[1] == "INFO" ? "consumer_info_response" : "consumer_delete_response");
    if ((t[1] == "NAMES" || t[1] == "LIST") && t.size() == 3)
      return forward(t[2], r, t[1] == "NAMES" ? "consumer_names_response" : "consumer_list_response");
    if (t[1] == "MSG" && t.size() == 5 && t[2] == "NEXT") return forward(t[3], r, "consumer_getnext_response");
  }
  respond_error(m.reply, "error_response", err::bad_request());
}

void js_account::forward(const std::string& name, const api_request_ptr& r, std::string_view type) {
  auto s = find(name);
  if (!s || !s->client()) {
    if (type == "consumer_getnext_response") {
      api->publish(r->reply, {}, "NATS/1.0 404 No Messages\r\n\r\n", {});
      return;
    }
    return respond_error(r->reply, type, err::stream_not_found());
  }
  std::weak_ptr<stream> weak = s;
  if (!s->client()->post(nullptr, [weak, r](internal_client&) {
        if (auto st = weak.lock()) st->handle(*r);
      }))
    respond_error(r->reply, type, err::insufficient_resources());
}

void js_account::api_info(const std::string& reply) {
  int64_t consumers = usage->consumers.load();
  json j = {{"type", "io.nats.jetstream.api.v1.account_info_response"},
            {"memory", usage->memory.load()},
            {"storage", usage->store.load()},
            {"reserved_memory", 0},
            {"reserved_storage", 0},
            {"streams", usage->streams.load()},
            {"consumers", consumers},
            {"limits",
             {{"max_memory", usage->limits.max_memory},
              {"max_storage", usage->limits.max_store},
              {"max_streams", usage->limits.max_streams},
              {"max_consumers", usage->limits.max_consumers},
              {"max_ack_pending", -1},
              {"memory_max_stream_bytes", -1},
              {"storage_max_stream_bytes", -1},
              {"max_bytes_required", false}}},
            {"api", {{"total", api_total.load()}, {"errors", api_errors.load()}}}};
  respond(reply, j);
}

void js_account::stream_create(const api_request& r, bool update) {
  const char* type = update ? "stream_update_response" : "stream_create_response";
  const std::string& name = r.tokens[2];
  if (auto e = check_stream_name(name)) return respond_error(r.reply, type, *e);
  json body = json::parse(r.payload, nullptr, false);
  if (r.payload.empty() || body.is_discarded())
    return respond_error(r.reply, type,
                         err::invalid_json(r.payload.empty() ? "unexpected end of JSON input" : "invalid character in request"));
  stream_config cfg;
  if (auto e = parse_stream_config(body, name, cfg, update)) return respond_error(r.reply, type, *e);
  auto existing = find(name);
  if (update) {
    if (!existing) return respond_error(r.reply, type, err::stream_not_found());
    auto old = existing->config_copy();
    if (old.storage != cfg.storage) return respond_error(r.reply, type, err::stream_config("stream configuration update can not change storage type"));
    if (old.retention != cfg.retention) return respond_error(r.reply, type, err::stream_config("stream configuration update can not change retention policy"));
    if (old.sealed && !cfg.sealed) return respond_error(r.reply, type, err::stream_config("stream configuration update can not unseal a sealed stream"));
    if (old.deny_delete && !cfg.deny_delete) return respond_error(r.reply, type, err::stream_config("stream configuration update can not cancel deny message deletes"));
    if (old.deny_purge && !cfg.deny_purge) return respond_error(r.reply, type, err::stream_config("stream configuration update can not cancel deny purge"));
  } else if (existing) {
    if (to_json(existing->config_copy()) == to_json(cfg)) {
      // An identical re-create succeeds with the current info.
      std::weak_ptr<stream> weak = existing;
      auto req = std::make_shared<api_request>(r);
      req->tokens = {"STREAM", "INFO", name};
      req->payload.clear();
      existing->client()->post(nullptr, [weak, req](internal_client&) {
        if (auto st = weak.lock()) st->handle(*req);
      });
      return;
    }
    return respond_error(r.reply, type, err::stream_name_in_use());
  }
  // Subjects may not overlap another stream's.
  {
    std::lock_guard lock(streams_mutex);
    for (auto& [n, s] : streams) {
      if (n == name) continue;
      auto oc = s->config_copy();
      for (auto& a : oc.subjects)
        for (auto& b : cfg.subjects)
          if (platform::accounts::detail::subjects_collide(a, b)) return respond_error(r.reply, type, err::subjects_overlap());
    }
  }
  stream_record rec;
  rec.account = acc->name();
  rec.name = name;
  rec.config = to_json(cfg).dump();
  if (update) {
    auto b = svc.meta_store().make_batch();
    auto prev = svc.meta_store().get_meta(stream_meta_key(acc->name(), name));
    stream_record old;
    if (prev && decode(*prev, old)) {
      rec.id = old.id;
      rec.created = old.created;
    }
    b->put_meta(stream_meta_key(acc->name(), name), encode(rec));
    if (auto st = svc.write(svc.meta_store(), *b); !st)
      return respond_error(r.reply, type, err::store_failed(st.error));
    std::weak_ptr<stream> weak = existing;
    auto req = std::make_shared<api_request>(r);
    auto next = std::make_shared<stream_config>(cfg);
    existing->client()->post(nullptr, [weak, req, next](internal_client&) {
      if (auto st = weak.lock()) st->apply_update(*next, *req);
    });
    return;
  }
  if (usage->limits.max_streams >= 0 && usage->streams.load() >= usage->limits.max_streams)
    return respond_error(r.reply, type, err::max_streams());
  if (cfg.max_bytes > 0) {
    int64_t lim = cfg.storage == storage_type::memory ? usage->limits.max_memory : usage->limits.max_store;
    if (lim >= 0 && cfg.max_bytes > lim) return respond_error(r.reply, type, {400, 10122, "stream max bytes exceeds account limit max stream bytes"});
  }
  std::string open_error;
  auto* meta = svc.open_file_store(open_error);  // the first stream opens an empty store
  if (!meta) return respond_error(r.reply, type, err::store_failed(open_error));
  rec.id = svc.next_stream_id();
  rec.created = now_ns();
  auto b = meta->make_batch();
  b->put_meta(stream_meta_key(acc->name(), name), encode(rec));
  if (auto st = svc.write(*meta, *b); !st) return respond_error(r.reply, type, err::store_failed(st.error));
  auto s = std::make_shared<stream>(svc, usage, acc, rec.id, cfg, rec.created);
  s->start(svc.control());
  usage->streams++;
  {
    std::lock_guard lock(streams_mutex);
    streams[name] = s;
  }
  json j = s->info_snapshot();
  j["type"] = std::string("io.nats.jetstream.api.v1.") + type;
  j["did_create"] = true;
  respond(r.reply, j);
}

void js_account::stream_delete(const api_request_ptr& r) {
  const char* type = "stream_delete_response";
  const std::string& name = r->tokens[2];
  std::shared_ptr<stream> s;
  {
    std::lock_guard lock(streams_mutex);
    auto it = streams.find(name);
    if (it != streams.end()) {
      s = it->second;
      streams.erase(it);
    }
  }
  if (!s) return respond_error(r->reply, type, err::stream_not_found());
  // The stream's actor deletes its data and answers; the job holds it until then. Its
  // state belongs to that actor alone: if its inbox is full the stream stays, and the
  // requester is told to try again.
  if (!s->client()->post(nullptr, [s, r](internal_client&) { s->destroy(r.get()); })) {
    {
      std::lock_guard lock(streams_mutex);
      streams[name] = s;
    }
    return respond_error(r->reply, type, err::insufficient_resources());
  }
  usage->streams--;
}

void js_account::stream_list(const api_request& r, bool names_only) {
  const char* type = names_only ? "stream_names_response" : "stream_list_response";
  int64_t offset = 0;
  std::string subject;
  if (!r.payload.empty()) {
    json q = json::parse(r.payload, nullptr, false);
    if (q.is_discarded() || !q.is_object())
      return respond_error(r.reply, type, err::invalid_json("invalid character in request"));
    if (q.contains("offset") && q["offset"].is_number_integer()) offset = q["offset"].get<int64_t>();
    if (q.contains("subject") && q["subject"].is_string()) subject = q["subject"].get<std::string>();
  }
  std::vector<std::shared_ptr<stream>> all;
  {
    std::lock_guard lock(streams_mutex);
    for (auto& [n, s] : streams) all.push_back(s);
  }
  const int64_t limit = names_only ? 1024 : 256;
  json list = json::array();
  int64_t matched = 0;
  for (auto& s : all) {
    if (!subject.empty()) {
      auto cfg = s->config_copy();
      bool hit = false;
      for (auto& x : cfg.subjects)
        if (platform::accounts::detail::subjects_collide(x, subject)) hit = true;
      if (!hit) continue;
    }
    if (matched++ < offset) continue;
    if (int64_t(list.size()) >= limit) continue;
    if (names_only) list.push_back(s->name());
    else list.push_back(s->info_snapshot());
  }
  json j = {{"type", std::string("io.nats.jetstream.api.v1.") + type},
            {"total", matched},
            {"offset", offset},
            {"limit", limit},
            {"streams", names_only && list.empty() ? json(nullptr) : list}};
  if (!names_only) j["missing"] = json::array();
  respond(r.reply, j);
}

// ---- the public face ----

std::shared_ptr<service> start(const options& opts, actors::control_plane& cp, std::string& error) {
  auto s = std::make_shared<service>(opts, cp);
  if (!s->open(error)) return nullptr;
  return s;
}

void enable_account(service& s, const actors::account_ptr& acc, bool enabled, const account_limits& limits) {
  s.enable(acc, limits, enabled);
}

void disable_account(service& s, const actors::account_ptr& acc) { s.disable(acc); }

void stop(service& s) { s.shutdown(); }

}  // namespace jetstream
