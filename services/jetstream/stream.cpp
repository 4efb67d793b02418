// A stream: capture, store (group commit), limits, purge, message get/delete, and its
// consumers. Everything here runs on the stream's actor thread (internal.hpp) except
// the constructor, start(), stop(), config_copy() and info_snapshot().
#include <charconv>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/subject.hpp"
#include "services/jetstream/internal.hpp"
#include "services/jetstream/records.hpp"

namespace jetstream {

using actors::inbound_msg;
using actors::internal_client;

namespace {
constexpr size_t max_header_bytes = 64 * 1024;
// A stream's inbox: what one slow drain may hold before publishes are shed (the
// publisher then gets no ack and times out). RocksDB keeps up far beyond this.
constexpr actors::inbox_limits stream_inbox{262144, 256u << 20};
// Publishers pause reading while this much waits in the stream's inbox: paced to the
// store instead of filling the inbox (whose limit then only guards against misuse).
// 1 MiB is two commits' worth (commit_batch_bytes): the store never waits for input.
// With 4096 pipelined 1 KiB publishes in flight, the message copies (the inbox and the
// batch being drained) peaked at 5.9 MiB with 8 MiB here, 4.2 with 2 MiB (heaptrack,
// BENCHMARKS.md run 19); with 1 MiB the server ends those runs 3-4 MiB lower at the
// same rate (interleaved runs, BENCHMARKS.md run 23).
constexpr size_t stream_backpressure = 1u << 20;
constexpr uint64_t commit_batch_bytes = 512u << 10;  // a drain writes at least every 512 KiB
constexpr int64_t default_inactive = 5'000'000'000;  // ephemeral consumers: 5 s

std::string hex16(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

bool filter_matches(std::string_view filter, std::string_view subject) {
  return filter.empty() || filter == ">" || platform::subject::matches(filter, subject);
}
}  // namespace

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string stream_meta_key(const std::string& account, const std::string& name) {
  return "S/" + account + "/" + name;
}
std::string consumer_meta_key(uint64_t stream_id, const std::string& name) { return "C/" + hex16(stream_id) + "/" + name; }
std::string state_meta_key(uint64_t stream_id) { return "T/" + hex16(stream_id); }

bool consumer::matches(std::string_view subject) const {
  if (!cfg.filter_subjects.empty()) {
    for (auto& f : cfg.filter_subjects)
      if (filter_matches(f, subject)) return true;
    return false;
  }
  return filter_matches(cfg.filter_subject, subject);
}

stream::stream(service& svc, std::shared_ptr<js_usage> usage, actors::account_ptr acc, uint64_t id,
               stream_config cfg, int64_t created)
    : svc_(svc),
      usage_(std::move(usage)),
      acc_(std::move(acc)),
      id_(id),
      created_(created),
      store_(&svc.store_for(cfg.storage)),
      cfg_(std::move(cfg)) {
  if (cfg_.first_seq > 1) last_seq_ = cfg_.first_seq - 1;
  indexed_ = wants_index();  // a new stream; restore() reads a stored one's
  detect_object_store();
  refresh_snapshot();
}

void stream::detect_object_store() {
  object_store_ = false;
  if (cfg_.name.rfind("OBJ_", 0) != 0 || cfg_.subjects.size() != 2) return;
  const std::string bucket = cfg_.name.substr(4);
  obj_chunks_prefix_ = "$O." + bucket + ".C.";
  obj_meta_prefix_ = "$O." + bucket + ".M.";
  object_store_ = cfg_.subjects[0] == obj_chunks_prefix_ + ">" && cfg_.subjects[1] == obj_meta_prefix_ + ">";
}

void stream::clean_orphans() {
  // Which object versions the bucket's metas refer to: the last meta of each name,
  // unless it says the object is deleted (a delete whose client vanished before it
  // purged the chunks leaves them behind too).
  std::unordered_set<std::string> live;
  std::vector<std::pair<std::string, uint64_t>> unreferenced;  // chunk subject, its newest seq
  for (auto& [subj, si] : subjects_)
    if (subj.rfind(obj_meta_prefix_, 0) == 0) {
      auto m = load(si.last);
      if (!m) continue;
      auto j = json::parse(m->payload, nullptr, false);
      if (!j.is_object() || j.value("deleted", false)) continue;
      if (auto n = j.find("nuid"); n != j.end() && n->is_string()) live.insert(n->get<std::string>());
    }
  for (auto& [subj, si] : subjects_)
    if (subj.rfind(obj_chunks_prefix_, 0) == 0 && !live.count(subj.substr(obj_chunks_prefix_.size())))
      unreferenced.emplace_back(subj, si.last);
  const int64_t cutoff = now_ns() - svc_.opts().orphan_chunk_age_ns;
  for (auto& [subj, last] : unreferenced) {
    // A put still under way writes a chunk at least every so often: only chunks whose
    // newest is older than the age are orphans.
    if (uncommitted_.count(last)) continue;
    auto h = store_->head(id_, last);
    if (!h || h->time_ns > cutoff) continue;
    bool ok = false;
    uint64_t n = purge(subj, 0, 0, ok);
    if (ok)
      spdlog::info("JetStream: purged {} orphaned chunks of {} in stream {} (account {}): no object refers to them",
                   n, subj, cfg_.name, acc_->name());
  }
}

stream::~stream() = default;

store::write_batch& stream::batch() {
  if (!batch_) batch_ = store_->make_batch();
  return *batch_;
}

void stream::start(actors::control_plane& cp) {
  client_ = std::make_shared<internal_client>(actors::receiver::kind::stream, acc_, "JetStream stream " + cfg_.name,
                                              stream_inbox);
  client_->set_backpressure(stream_backpressure);
  cp.start_internal_client(client_);
  // Push consumers (restored ones, or all of them on a fresh client after an update)
  // watch their deliver subjects through this client. A watch may fire at once and
  // queue a pump on the actor: it touches only consumers this loop is done with, or
  // fields of them that watch_deliver does not write.
  for (auto& [n, c] : consumers_) watch_deliver(*c);
  update_wants_tick();
  std::weak_ptr<stream> weak = weak_from_this();
  client_->set_after_drain([weak] {
    if (auto s = weak.lock()) s->after_drain();
  });
  for (auto& subj : cfg_.subjects)
    client_->subscribe(subj, [weak](internal_client&, const inbound_msg& m) {
      if (auto s = weak.lock()) s->on_publish(m);
    });
  client_->subscribe("$JS.ACK." + cfg_.name + ".>", [weak](internal_client&, const inbound_msg& m) {
    if (auto s = weak.lock()) s->on_ack(m);
  });
  client_->subscribe("$JS.FC." + cfg_.name + ".>", [weak](internal_client&, const inbound_msg& m) {
    if (auto s = weak.lock()) s->on_flow_control(m);
  });
  if (cfg_.allow_direct) {
    auto direct = [weak](internal_client&, const inbound_msg& m) {
      auto s = weak.lock();
      if (!s) return;
      api_request r{m.subject, m.reply, std::string(m.payload()), {}};
      const std::string prefix = "$JS.API.DIRECT.GET." + s->cfg_.name;
      if (m.subject.size() > prefix.size() + 1) {
        if (!m.payload().empty()) {
          // A subject-form direct get takes no body.
          s->client_->publish(m.reply, {}, "NATS/1.0 408 Bad Request\r\n\r\n", {});
          return;
        }
        s->api_direct_get_subject(r, std::string_view(m.subject).substr(prefix.size() + 1));
      } else {
        s->api_msg_get(r, true);
      }
    };
    client_->subscribe("$JS.API.DIRECT.GET." + cfg_.name, direct);
    client_->subscribe("$JS.API.DIRECT.GET." + cfg_.name + ".>", direct);
  }
}

void stream::stop() {
  stopped_ = true;
  if (client_) client_->close();
}

stream_config stream::config_copy() {
  std::lock_guard lock(snapshot_mutex_);
  return cfg_;
}

void stream::update_wants_tick() {
  wants_tick_.store(cfg_.max_age > 0 || !consumers_.empty() || !dedupe_order_.empty() ||
                        (object_store_ && svc_.opts().orphan_chunk_age_ns > 0),
                    std::memory_order_relaxed);
  // A few small publishes may be stored and acked by the I/O loop that read them
  // (internal_client::set_inline_drain): not while consumers could make a drain send
  // megabytes, nor when every batch waits for an fsync.
  if (client_) client_->set_inline_drain(consumers_.empty() && !svc_.opts().sync_always && !commit_deferred_);
}

void stream::refresh_snapshot() {
  fix_first();
  update_wants_tick();
  std::lock_guard lock(snapshot_mutex_);
  snap_.msgs = msgs_;
  snap_.bytes = bytes_;
  snap_.first_seq = reported_first();
  snap_.last_seq = last_seq_;
  snap_.first_ts = msgs_ ? first_ts_ : 0;
  snap_.last_ts = last_ts_;
  snap_.num_subjects = subjects_.size();
  snap_.consumers = consumers_.size();
}

json stream::info_snapshot() {
  std::lock_guard lock(snapshot_mutex_);
  json state = {{"messages", snap_.msgs},
                {"bytes", snap_.bytes},
                {"first_seq", snap_.first_seq},
                {"first_ts", time_text(snap_.first_ts)},
                {"last_seq", snap_.last_seq},
                {"last_ts", time_text(snap_.last_ts)},
                {"num_subjects", snap_.num_subjects},
                {"consumer_count", snap_.consumers}};
  uint64_t span = snap_.msgs ? snap_.last_seq - snap_.first_seq + 1 : 0;
  if (span > snap_.msgs) state["num_deleted"] = span - snap_.msgs;
  return {{"config", to_json(cfg_)}, {"created", time_text(created_)}, {"state", state},
          {"ts", time_text(now_ns())}};
}

json stream::state_json(bool with_subjects, std::string_view filter) {
  fix_first();
  json state = {{"messages", msgs_},
                {"bytes", bytes_},
                {"first_seq", reported_first()},
                {"first_ts", time_text(msgs_ ? first_ts_ : 0)},
                {"last_seq", last_seq_},
                {"last_ts", time_text(last_ts_)},
                {"num_subjects", subjects_.size()},
                {"consumer_count", consumers_.size()}};
  uint64_t span = msgs_ ? last_seq_ - first_seq_ + 1 : 0;
  if (span > msgs_) state["num_deleted"] = span - msgs_;
  if (with_subjects) {
    json subs = json::object();
    for (auto& [s, st] : subjects_)
      if (filter_matches(filter, s)) subs[s] = st.count;
    state["subjects"] = subs;
  }
  return state;
}

void stream::account_bytes(int64_t delta) {
  if (cfg_.storage == storage_type::memory) {
    usage_->memory += delta;
    svc_.memory_used += delta;
  } else {
    usage_->store += delta;
    svc_.store_used += delta;
  }
}

// ---- restore ----

void stream::restore() {
  restore_state();
  if (cfg_.storage == storage_type::file) {
    restore_consumers();
    if (indexed_ != wants_index()) {
      // A store written before streams went without an index, or an update whose
      // conversion did not reach the disk: convert now.
      enforce_subject_limit_all();
      set_indexed(wants_index());
      commit();
    }
  }
  refresh_snapshot();
}

void stream::restore_state() {
  first_stale_ = false;
  auto st = store_->get_meta(state_meta_key(id_));
  stream_state_record rec;
  bool have_record = st && cfg_.storage == storage_type::file && decode(*st, rec) &&
                     (rec.version == 2 || rec.version == 3);
  if (have_record) {
    first_seq_ = rec.first_seq;
    last_seq_ = rec.last_seq;
  }
  // A version 2 record's stream, or one with no record, has a subject index.
  indexed_ = cfg_.storage != storage_type::file || !have_record || rec.version < 3 || rec.indexed;
  reindexed_upto_ = have_record && rec.version >= 3 ? rec.reindexed_upto : 0;
  msgs_ = 0;
  bytes_ = 0;
  subjects_.clear();
  if (cfg_.storage == storage_type::file && !indexed_) {
    // No index: the table from the messages' heads (payloads in the value log are not
    // read), which also gives each subject's first and last sizes.
    store_->for_each_head(id_, [&](const store::message_head& h) {
      const uint64_t size = msg_size_of(h.subject.size(), h.headers_size, h.payload_size);
      auto [it, added] = subjects_.try_emplace(h.subject);
      auto& si = it->second;
      if (added) {
        si.first = h.seq;
        si.first_size = size;
      }
      si.last = h.seq;
      si.last_size = size;
      ++si.count;
      ++msgs_;
      if (h.seq > last_seq_) last_seq_ = h.seq;
    });
  } else if (cfg_.storage == storage_type::file) {
    store_->for_each_subject(id_, [&](std::string_view subj, const store::subject_state& s) {
      subject_info si;
      si.first = s.first;
      si.last = s.last;
      si.count = s.count;
      subjects_.emplace(std::string(subj), si);
      msgs_ += s.count;
      if (s.last > last_seq_) last_seq_ = s.last;
    });
    if (have_record && rec.msgs == msgs_) {
      restore_from_record(rec.bytes);
      return;
    }
    // No usable record (or one that disagrees with the index): bytes and timestamps
    // from the messages themselves, one pass over the stream.
    std::vector<store::stored_message> page;
    uint64_t from = 1;
    bool first = true;
    for (;;) {
      store_->scan(id_, from, 4096, 8u << 20, {}, page);
      if (page.empty()) break;
      for (auto& m : page) {
        if (first) {
          first_seq_ = m.seq;
          first_ts_ = m.time_ns;
          first = false;
        }
        uint64_t size = msg_size(m.subject, m.headers, m.payload);
        bytes_ += size;
        last_ts_ = m.time_ns;
        if (auto it = subjects_.find(m.subject); it != subjects_.end()) {
          if (it->second.first == m.seq) it->second.first_size = size;
          if (it->second.last == m.seq) it->second.last_size = size;
        }
        if (auto id = header_value(m.headers, "Nats-Msg-Id"); id && m.time_ns > now_ns() - cfg_.duplicate_window) {
          dedupe_[std::string(*id)] = {m.seq, m.time_ns};
          dedupe_order_.emplace_back(m.time_ns, std::string(*id));
        }
      }
      from = page.back().seq + 1;
    }
    if (first) first_seq_ = last_seq_ + 1;
    account_bytes(int64_t(bytes_));
  }
}

void stream::restore_from_record(uint64_t bytes) {
  // The counts come from the record and the subject index; the rest is read where it
  // is: the first and last messages for their times, and only the messages inside the
  // de-duplication window (found by bisection: times grow with sequences).
  bytes_ = bytes;
  account_bytes(int64_t(bytes_));
  std::vector<store::stored_message> page;
  store_->scan(id_, 1, 1, 1, {}, page);
  if (page.empty()) {
    first_seq_ = last_seq_ + 1;
    first_ts_ = 0;
    return;
  }
  first_seq_ = page.front().seq;
  first_ts_ = page.front().time_ns;
  uint64_t last = first_seq_;
  for (auto& [s, st] : subjects_) last = std::max(last, st.last);
  if (auto m = store_->get(id_, last)) last_ts_ = m->time_ns;
  if (cfg_.duplicate_window <= 0) return;
  int64_t cutoff = now_ns() - cfg_.duplicate_window;
  uint64_t lo = first_seq_, hi = last + 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    store_->scan(id_, mid, 1, 1, {}, page);
    if (page.empty()) {
      hi = mid;
    } else if (page.front().time_ns <= cutoff) {
      lo = page.front().seq + 1;
    } else {
      hi = mid;
    }
  }
  for (uint64_t from = lo; from <= last;) {
    store_->scan(id_, from, 1024, 8u << 20, {}, page);
    if (page.empty()) break;
    for (auto& m : page)
      if (auto id = header_value(m.headers, "Nats-Msg-Id")) {
        dedupe_[std::string(*id)] = {m.seq, m.time_ns};
        dedupe_order_.emplace_back(m.time_ns, std::string(*id));
      }
    from = page.back().seq + 1;
  }
}

void stream::restore_consumers() {
  for (auto& [key, value] : svc_.meta_store().list_meta("C/" + hex16(id_) + "/")) {
    consumer_record rec;
    if (!decode(value, rec)) continue;
    auto c = std::make_unique<consumer>();
    consumer_config cfg;
    json j = json::parse(rec.config, nullptr, false);
    if (j.is_discarded() || parse_consumer_config(j, cfg)) continue;
    c->cfg = cfg;
    c->name = rec.name;
    c->created = rec.created;
    c->next_sseq = rec.next_sseq;
    c->delivered_cseq = rec.delivered_cseq;
    c->delivered_sseq = rec.delivered_sseq;
    c->ack_floor_cseq = rec.ack_floor_cseq;
    c->ack_floor_sseq = rec.ack_floor_sseq;
    int64_t now = steady_ns();
    for (auto& p : rec.pending) {
      // Unacknowledged before the restart: redeliver them.
      c->pending[p.sseq] = pending_ack{p.cseq, p.deliveries, now, 0};
      c->redeliver.insert(p.sseq);
    }
    c->last_active = now;
    c->num_pending = count_pending(*c);
    usage_->consumers++;
    consumers_[c->name] = std::move(c);
  }
}

// ---- publishing ----

void stream::append_ack(std::string& s, uint64_t seq) const {
  // {"stream":"<name>","seq":N}, built by hand on the hot path; a name with a
  // character JSON must escape goes through the JSON library.
  for (unsigned char ch : cfg_.name)
    if (ch < 0x20 || ch == '"' || ch == '\\') {
      s += json({{"stream", cfg_.name}, {"seq", seq}}).dump();
      return;
    }
  s += "{\"stream\":\"";
  s += cfg_.name;
  s += "\",\"seq\":";
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, seq);
  s.append(digits, r.ptr);
  s += '}';
}

void stream::reply_ack(std::string_view reply, std::string_view body) {
  if (reply.empty()) return;
  held_ack h{held_buf_.size(), reply.size(), 0, body.size()};
  held_buf_.append(reply);
  h.body_at = held_buf_.size();
  held_buf_.append(body);
  held_acks_.push_back(h);
}

void stream::reply_ack(std::string_view reply, uint64_t seq) {
  if (reply.empty()) return;
  held_ack h{held_buf_.size(), reply.size(), 0, 0};
  held_buf_.append(reply);
  h.body_at = held_buf_.size();
  append_ack(held_buf_, seq);
  h.body_len = held_buf_.size() - h.body_at;
  held_acks_.push_back(h);
}

void stream::clear_held_acks() {
  held_acks_.clear();
  // A large burst's buffer is not kept for the next small one.
  if (held_buf_.capacity() > (256u << 10)) {
    std::string().swap(held_buf_);
    std::vector<held_ack>().swap(held_acks_);
  } else {
    held_buf_.clear();
  }
}

void stream::on_publish(const inbound_msg& m) {
  if (stopped_) return;
  auto hdrs = m.headers();
  auto payload = m.payload();
  const std::string& reply = cfg_.no_ack ? std::string() : m.reply;
  auto fail = [&](const api_error& e) {
    if (reply.empty()) return;
    json j = {{"error", e.to_json()}, {"stream", cfg_.name}, {"seq", 0}};
    reply_ack(reply, j.dump());
  };
  if (cfg_.sealed) return fail(err::stream_sealed());
  // The subject index separates a subject from its sequence with a NUL byte: a subject
  // holding one (the protocol lets any byte but spaces through) is refused.
  if (m.subject.find('\0') != std::string::npos) return fail(err::bad_request());
  if (hdrs.size() > max_header_bytes) return fail({400, 10097, "header size exceeds maximum allowed of 64k"});
  std::optional<std::string_view> msg_id;
  if (!hdrs.empty()) {
    if (auto es = header_value(hdrs, "Nats-Expected-Stream"); es && *es != cfg_.name)
      return fail(err::expected_stream_mismatch());
    msg_id = header_value(hdrs, "Nats-Msg-Id");
    if (msg_id && !msg_id->empty()) {
      dedupe_expire(now_ns());
      auto it = dedupe_.find(std::string(*msg_id));
      if (it != dedupe_.end()) {
        json j = {{"stream", cfg_.name}, {"seq", it->second.seq}, {"duplicate", true}};
        reply_ack(reply, j.dump());
        return;
      }
    }
    if (auto v = header_value(hdrs, "Nats-Expected-Last-Subject-Sequence")) {
      uint64_t want = std::strtoull(std::string(*v).c_str(), nullptr, 10);
      auto it = subjects_.find(m.subject);
      uint64_t have = it == subjects_.end() ? 0 : it->second.last;
      if (have != want) return fail(err::wrong_last_sequence(have));
    }
    if (auto v = header_value(hdrs, "Nats-Expected-Last-Sequence")) {
      uint64_t want = std::strtoull(std::string(*v).c_str(), nullptr, 10);
      if (last_seq_ != want) return fail(err::wrong_last_sequence(last_seq_));
    }
    if (auto v = header_value(hdrs, "Nats-Expected-Last-Msg-Id")) {
      if (*v != last_msg_id_) return fail(err::wrong_last_msg_id(last_msg_id_));
    }
    if (auto v = header_value(hdrs, "Nats-Rollup")) {
      if (!cfg_.allow_rollup_hdrs || cfg_.deny_purge) return fail(err::rollup_not_permitted());
      if (*v != "sub" && *v != "all") return fail({500, 10111, "rollup value invalid: " + std::string(*v)});
    }
  }
  uint64_t size = hdrs.size() + payload.size();
  if (cfg_.max_msg_size >= 0 && size > uint64_t(cfg_.max_msg_size)) return fail(err::message_size_exceeded());
  if (acc_->limits.max_payload.load() >= 0 && int64_t(size) > acc_->limits.max_payload.load())
    return fail(err::message_size_exceeded());
  uint64_t stored = msg_size(m.subject, hdrs, payload);
  if (cfg_.discard == discard_policy::new_msgs) {
    if (cfg_.max_msgs > 0 && int64_t(msgs_) >= cfg_.max_msgs) return fail(err::store_failed("maximum messages exceeded"));
    if (cfg_.max_bytes > 0 && int64_t(bytes_ + stored) > cfg_.max_bytes)
      return fail(err::store_failed("maximum bytes exceeded"));
    if (cfg_.discard_new_per_subject && cfg_.max_msgs_per_subject > 0) {
      auto it = subjects_.find(m.subject);
      if (it != subjects_.end() && int64_t(it->second.count) >= cfg_.max_msgs_per_subject)
        return fail(err::store_failed("maximum messages per subject exceeded"));
    }
  }
  // Account and server storage limits.
  bool mem = cfg_.storage == storage_type::memory;
  int64_t acc_limit = mem ? usage_->limits.max_memory : usage_->limits.max_store;
  int64_t acc_used = mem ? usage_->memory.load() : usage_->store.load();
  if (acc_limit >= 0 && acc_used + int64_t(stored) > acc_limit) return fail(err::account_resources_exceeded());
  int64_t srv_limit = mem ? svc_.opts().max_memory : svc_.opts().max_file;
  int64_t srv_used = mem ? svc_.memory_used.load() : svc_.store_used.load();
  if (srv_limit >= 0 && srv_used + int64_t(stored) > srv_limit) return fail(err::insufficient_resources());

  // Interest retention with nobody interested: acknowledged, not kept.
  if (cfg_.retention == retention_policy::interest) {
    bool any = false;
    for (auto& [n, c] : consumers_)
      if (c->matches(m.subject)) {
        any = true;
        break;
      }
    if (!any) {
      ++last_seq_;
      last_ts_ = now_ns();
      if (msgs_ == 0) first_seq_ = last_seq_ + 1;
      state_dirty_ = true;
      batch();  // so the ack waits for the state record
      reply_ack(reply, last_seq_);
      return;
    }
  }

  uint64_t seq = 0;
  store_message(m.subject, hdrs, payload, now_ns(), seq);
  if (msg_id && !msg_id->empty()) {
    dedupe_[std::string(*msg_id)] = {seq, last_ts_};
    dedupe_order_.emplace_back(last_ts_, std::string(*msg_id));
    last_msg_id_ = std::string(*msg_id);
  } else {
    last_msg_id_.clear();  // Nats-Expected-Last-Msg-Id refers to the last message
  }
  if (!hdrs.empty()) {
    if (auto v = header_value(hdrs, "Nats-Rollup")) {
      if (*v == "sub") {
        std::vector<uint64_t> old;
        for (auto s : sequences_on(m.subject, 0))
          if (s != seq && !uncommitted_.count(s)) old.push_back(s);
        for (auto& [s, u] : uncommitted_)
          if (s != seq && u.subject == m.subject) old.push_back(s);
        for (auto s : old) remove_message(s, m.subject);
      } else {
        std::vector<uint64_t> old;
        std::vector<store::stored_message> page;
        fix_first();
        uint64_t from = first_seq_;
        while (from < seq) {
          store_->scan(id_, from, 1024, 4u << 20, {}, page);
          if (page.empty()) break;
          for (auto& pm : page)
            if (pm.seq < seq) old.push_back(pm.seq);
          from = page.back().seq + 1;
        }
        for (auto& [s, u] : uncommitted_)
          if (s < seq) old.push_back(s);
        std::sort(old.begin(), old.end());
        old.erase(std::unique(old.begin(), old.end()), old.end());
        for (auto s : old) remove_message(s);
      }
    }
  }
  enforce_limits(m.subject);
  reply_ack(reply, seq);
  // A drain of a backed-up inbox holds a MiB and more (and as much again while the next
  // fills): writing it in 512 KiB batches keeps the batch, RocksDB's copy of it and the
  // memory they leave behind small, and the first acks go out sooner. Still one write
  // per 512 KiB, not per message.
  if (batch_bytes_ >= commit_batch_bytes) commit();
}

void stream::store_message(std::string_view subject, std::string_view hdrs, std::string_view payload, int64_t ts,
                           uint64_t& seq_out) {
  uint64_t seq = ++last_seq_;
  if (ts <= last_ts_) ts = last_ts_ + 1;  // strictly increasing times keep by_start_time exact
  batch().put_message(id_, store::message_view{seq, ts, subject, hdrs, payload},
                      indexed_ ? store::subject_index::keep : store::subject_index::skip);
  uint64_t size = msg_size(subject, hdrs, payload);
  batch_bytes_ += size;
  auto& u = uncommitted_[seq];
  u.subject.assign(subject);
  u.size = size;
  if (msgs_ == 0) {
    first_seq_ = seq;
    first_ts_ = ts;
    first_stale_ = false;
  }
  ++msgs_;
  bytes_ += size;
  account_bytes(int64_t(size));
  last_ts_ = ts;
  auto& ss = subjects_[u.subject];
  if (ss.count == 0) {
    ss.first = seq;
    ss.first_size = size;
  }
  ss.last = seq;
  ss.last_size = size;
  ++ss.count;
  state_dirty_ = true;
  seq_out = seq;
  new_message_for_consumers(seq, subject);
}

void stream::dedupe_expire(int64_t now) {
  while (!dedupe_order_.empty() && dedupe_order_.front().first < now - cfg_.duplicate_window) {
    auto it = dedupe_.find(dedupe_order_.front().second);
    if (it != dedupe_.end() && it->second.ts == dedupe_order_.front().first) dedupe_.erase(it);
    dedupe_order_.pop_front();
  }
}

std::optional<store::stored_message> stream::load(uint64_t seq) {
  // Messages in the pending batch are not readable from the store yet: write it first.
  if (uncommitted_.count(seq)) commit();
  return store_->get(id_, seq);
}

bool stream::remove_message(uint64_t seq, std::string_view subject_hint) {
  std::string subject;
  uint64_t size = 0;
  auto it = subjects_.end();
  if (auto u = uncommitted_.find(seq); u != uncommitted_.end()) {
    subject = u->second.subject;
    size = u->second.size;
    uncommitted_.erase(u);
    it = subjects_.find(subject);
  } else {
    if (deleted_.count(seq)) return false;
    // The size of a subject's first or last message is kept in memory: deleting it
    // (per-subject limits: every overwrite of a key) reads nothing from the store.
    bool known = false;
    if (!subject_hint.empty()) {
      it = subjects_.find(subject_hint);
      if (it != subjects_.end()) {
        auto& ss = it->second;
        if (seq == ss.first && ss.first_size != unknown_size) {
          size = ss.first_size;
          known = true;
        } else if (seq == ss.last && ss.last_size != unknown_size) {
          size = ss.last_size;
          known = true;
        }
        if (known) subject.assign(subject_hint);
      }
    }
    if (!known) {
      // Sizes only: a large payload is not read (the store's value log).
      auto h = store_->head(id_, seq);
      if (!h) return false;
      subject = std::move(h->subject);
      size = msg_size_of(subject.size(), h->headers_size, h->payload_size);
      it = subjects_.find(subject);
    }
    if (it == subjects_.end()) return false;
    deleted_.insert(seq);
  }
  if (it == subjects_.end()) return false;
  batch().delete_message(id_, seq, subject, size, index_mode(seq));  // the accounted size bounds the payload
  --msgs_;
  bytes_ -= size;
  account_bytes(-int64_t(size));
  auto& ss = it->second;
  if (--ss.count == 0) {
    subjects_.erase(it);
  } else if (ss.count == 1) {
    // One left: it is both first and last.
    if (seq == ss.first) {
      ss.first = ss.last;
      ss.first_size = ss.last_size;
    } else if (seq == ss.last) {
      ss.last = ss.first;
      ss.last_size = ss.first_size;
    }
  } else if (seq == ss.first) {
    // Next on this subject: committed ones come before any uncommitted (sequences grow).
    auto next = store_->first_on_subject(id_, subject, seq + 1);
    while (next && deleted_.count(*next)) next = store_->first_on_subject(id_, subject, *next + 1);
    if (!next) {
      for (auto& [s2, u] : uncommitted_)
        if (s2 > seq && u.subject == subject) {
          next = s2;
          break;
        }
    }
    ss.first = next ? *next : ss.last;
    ss.first_size = ss.first == ss.last ? ss.last_size : unknown_size;
  } else if (seq == ss.last) {
    // The newest remaining one: an uncommitted one if any, else from the store.
    std::optional<uint64_t> prev;
    for (auto it2 = uncommitted_.rbegin(); it2 != uncommitted_.rend(); ++it2)
      if (it2->first < seq && it2->second.subject == subject) {
        prev = it2->first;
        break;
      }
    if (!prev) {
      prev = store_->last_on_subject(id_, subject, seq - 1);
      while (prev && deleted_.count(*prev) && *prev > 0) prev = store_->last_on_subject(id_, subject, *prev - 1);
    }
    ss.last = prev ? *prev : ss.first;
    ss.last_size = ss.first == ss.last ? ss.first_size : unknown_size;
  }
  // The stream's first message is found again only when someone needs it (fix_first):
  // a batch of overwrites costs no store reads for it.
  if (seq == first_seq_) first_stale_ = true;
  state_dirty_ = true;
  // Consumers: drop it from pending and redelivery.
  for (auto& [n, c] : consumers_) {
    if (c->pending.erase(seq)) {
      c->redeliver.erase(seq);
      update_ack_floor(*c);
      c->dirty = true;
    } else if (seq >= c->next_sseq && c->matches(subject) && c->num_pending > 0) {
      --c->num_pending;
    }
  }
  return true;
}

void stream::fix_first() {
  if (!first_stale_) return;
  first_stale_ = false;
  if (msgs_ == 0) {
    first_seq_ = last_seq_ + 1;
    first_ts_ = 0;
    return;
  }
  // The first stored message at or after the old first that is not deleted in the
  // pending batch (those are still in the store); else the oldest uncommitted one.
  std::vector<store::stored_message> page;
  uint64_t from = first_seq_;
  // After a commit nothing is deleted in a pending batch, and the first stored message
  // is the answer (a KV overwrite moves the first on every put: read one, not 16).
  const size_t step = deleted_.empty() ? 1 : 16;
  if (deleted_.empty()) {
    // The next few sequences by point reads first: a removed first is most often
    // followed by a stored message (keys overwritten in turn, a stream trimmed at its
    // limit), and a point read costs a fraction of a store iterator. Each one missing is
    // not stored, so the first found is the first stored.
    for (uint64_t end = std::min(last_seq_, first_seq_ + 3); from <= end; ++from) {
      if (auto h = store_->head(id_, from)) {
        first_seq_ = from;
        first_ts_ = h->time_ns;
        return;
      }
    }
  }
  // Every subject's first sequence is in memory, and the smallest is the stream's
  // first. Looking there beats a store scan, which steps over every deleted message
  // before the first, when deleted messages are many against the subjects (a batch of
  // KV overwrites moves the first by a whole batch: 2.7-3.5% of the server's CPU went to
  // such scans, BENCHMARKS.md run 26). A hash map step costs a fraction of an
  // iterator's step over a deletion, hence the factor.
  const uint64_t span = last_seq_ >= first_seq_ ? last_seq_ - first_seq_ + 1 : 0;
  if (span >= msgs_ && subjects_.size() <= 4 * (span - msgs_)) {
    uint64_t best = UINT64_MAX;
    for (auto& [subject, si] : subjects_) best = std::min(best, si.first);
    if (uncommitted_.count(best)) {
      first_seq_ = best;
      first_ts_ = last_ts_;
      return;
    }
    if (auto h = store_->head(id_, best)) {
      first_seq_ = best;
      first_ts_ = h->time_ns;
      return;
    }
  }
  for (;;) {
    store_->scan(id_, from, step, 1 << 20, {}, page);
    for (auto& m : page) {
      if (deleted_.count(m.seq)) continue;
      first_seq_ = m.seq;
      first_ts_ = m.time_ns;
      return;
    }
    if (page.empty()) break;
    from = page.back().seq + 1;
  }
  auto it = uncommitted_.lower_bound(first_seq_);
  if (it != uncommitted_.end()) {
    first_seq_ = it->first;
    first_ts_ = last_ts_;
    return;
  }
  first_seq_ = last_seq_ + 1;
}

void stream::trim_subject(std::string_view subject) {
  for (auto ss = subjects_.find(subject);
       ss != subjects_.end() && int64_t(ss->second.count) > cfg_.max_msgs_per_subject; ss = subjects_.find(subject))
    if (!remove_message(ss->second.first, subject)) break;
}

void stream::enforce_subject_limit_all() {
  if (cfg_.max_msgs_per_subject <= 0) return;
  std::vector<std::string> over;
  for (auto& [subj, si] : subjects_)
    if (int64_t(si.count) > cfg_.max_msgs_per_subject) over.push_back(subj);
  for (auto& subj : over) {
    trim_subject(subj);
    if (batch_pending() && batch_->size() > 10000) commit();
  }
}

void stream::set_indexed(bool on) {
  if (on == indexed_ || cfg_.storage != storage_type::file) return;
  // Whatever index the stream has goes; a new one gets an entry per message, which
  // without an index is each subject's first and last in subjects_.
  auto& b = batch();
  b.drop_subject_index(id_);
  if (on) {
    for (auto& [subj, si] : subjects_) {
      b.put_index(id_, subj, si.first);
      if (si.last != si.first) b.put_index(id_, subj, si.last);
    }
    reindexed_upto_ = last_seq_;
  }
  indexed_ = on;
  state_dirty_ = true;
}

std::vector<uint64_t> stream::sequences_on(std::string_view subject, uint64_t from) {
  if (indexed_) return store_->sequences_on_subject(id_, subject, from);
  std::vector<uint64_t> out;
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return out;
  if (it->second.first >= from) out.push_back(it->second.first);
  if (it->second.last != it->second.first && it->second.last >= from) out.push_back(it->second.last);
  return out;
}

std::optional<uint64_t> stream::first_on(std::string_view subject, uint64_t from) {
  if (indexed_) return store_->first_on_subject(id_, subject, from);
  auto seqs = sequences_on(subject, from);
  if (seqs.empty()) return std::nullopt;
  return seqs.front();
}

void stream::enforce_limits(std::string_view subject) {
  if (cfg_.max_msgs_per_subject > 0 && !cfg_.discard_new_per_subject && !subject.empty())
    trim_subject(subject);  // only the subject just written can be over (one message stored)
  if (cfg_.discard == discard_policy::old_msgs) {
    while (cfg_.max_msgs > 0 && int64_t(msgs_) > cfg_.max_msgs) {
      fix_first();
      if (!remove_message(first_seq_)) break;
    }
    while (cfg_.max_bytes > 0 && int64_t(bytes_) > cfg_.max_bytes && msgs_ > 0) {
      fix_first();
      if (!remove_message(first_seq_)) break;
    }
  }
}

void stream::expire_old() {
  if (cfg_.max_age <= 0 || msgs_ == 0) return;
  int64_t cutoff = now_ns() - cfg_.max_age;
  int removed = 0;
  fix_first();
  while (msgs_ > 0 && first_ts_ && first_ts_ < cutoff && removed < 10000) {
    if (!remove_message(first_seq_)) break;
    fix_first();
    ++removed;
  }
  if (removed) commit();
}

void stream::save_state(store::write_batch& b) {
  stream_state_record rec;
  rec.first_seq = first_seq_;
  rec.last_seq = last_seq_;
  rec.msgs = msgs_;
  rec.bytes = bytes_;
  rec.indexed = indexed_;
  rec.reindexed_upto = reindexed_upto_;
  b.put_meta(state_meta_key(id_), encode(rec));
}

void stream::commit() {
  bool consumers_dirty = false;
  for (auto& [n, c] : consumers_)
    if (c->dirty && !c->ephemeral) consumers_dirty = true;
  if (!batch_pending() && !state_dirty_ && !consumers_dirty) {
    if (held_acks_.empty()) return;
  } else {
    if (state_dirty_ && cfg_.storage == storage_type::file) save_state(batch());
    for (auto& [n, c] : consumers_)
      if (c->dirty && !c->ephemeral) {
        save_consumer(*c, batch());
        c->dirty = false;
      }
    // Drained inline by an I/O loop (internal_client::set_inline_drain): write only if
    // that needs no waiting, so the loop's other connections are never held up by the
    // store; otherwise the actor writes it, with this drain's acks, in its next drain.
    const bool inline_drain = client_ && client_->draining_inline();
    auto status = batch_pending() ? svc_.write(*store_, *batch_, !inline_drain) : store::store_status{};
    if (status.would_block) {
      if (!commit_deferred_) {
        commit_deferred_ = true;
        client_->set_inline_drain(false);
        std::weak_ptr<stream> weak = weak_from_this();
        client_->post(nullptr, [weak](internal_client&) {
          if (auto s = weak.lock()) s->commit();
        });
      }
      return;
    }
    commit_deferred_ = false;
    batch_.reset();
    batch_bytes_ = 0;
    state_dirty_ = false;
    if (!status) {
      // Nothing of this batch is stored: undo what it did in memory and fail its acks.
      // Simplest exact way: reload the stream's state from the store. Its sequences are
      // not given out again: the store deletes a small message with a SingleDelete,
      // which cancels one put, so a sequence is put once (and a failed write may still
      // reach the disk, from the WAL after a crash).
      const uint64_t reached = last_seq_;
      uncommitted_.clear();
      int64_t before = int64_t(bytes_);
      account_bytes(-before);
      dedupe_.clear();
      dedupe_order_.clear();
      deleted_.clear();
      restore_state();
      if (reached > last_seq_) {
        last_seq_ = reached;
        if (msgs_ == 0) first_seq_ = last_seq_ + 1;
        state_dirty_ = true;  // written with the next batch
      }
      for (auto& [n, c] : consumers_) c->num_pending = count_pending(*c);
      auto e = err::store_failed(status.no_space ? "insufficient storage resources available" : status.error);
      if (status.no_space) e = {500, 10047, "insufficient storage resources available"};
      for (auto& h : held_acks_) {
        json j = json::parse(held_body(h), nullptr, false);
        if (!j.is_discarded() && j.contains("error")) {
          client_->publish(held_reply(h), {}, {}, held_body(h));
          continue;
        }
        json f = {{"error", e.to_json()}, {"stream", cfg_.name}, {"seq", 0}};
        client_->publish(held_reply(h), {}, {}, f.dump());
      }
      clear_held_acks();
      refresh_snapshot();
      return;
    }
    uncommitted_.clear();
    deleted_.clear();
  }
  for (auto& h : held_acks_) client_->publish(held_reply(h), {}, {}, held_body(h));
  clear_held_acks();
  refresh_snapshot();
}

void stream::after_drain() {
  if (stopped_) return;
  commit();
  pump_all();
  commit();  // consumer state changed by deliveries (durables)
  update_wants_tick();
}

// ---- purge and delete ----

uint64_t stream::purge(std::string_view filter, uint64_t upto, int64_t keep, bool& ok) {
  commit();
  fix_first();
  ok = true;
  uint64_t purged = 0;
  bool all = (filter.empty() || filter == ">") && upto == 0 && keep <= 0;
  if (all) {
    purged = msgs_;
    auto st = store_->drop_stream(id_);
    if (!st) {
      ok = false;
      return 0;
    }
    account_bytes(-int64_t(bytes_));
    msgs_ = 0;
    bytes_ = 0;
    subjects_.clear();
    first_seq_ = last_seq_ + 1;
    first_ts_ = 0;
    state_dirty_ = true;
    for (auto& [n, c] : consumers_) {
      c->pending.clear();
      c->redeliver.clear();
      c->lps.clear();
      if (c->next_sseq < first_seq_) c->next_sseq = first_seq_;
      c->num_pending = 0;
      update_ack_floor(*c);
      c->dirty = true;
    }
    commit();
    return purged;
  }
  std::vector<std::string> subjects;
  for (auto& [s, st] : subjects_)
    if (filter_matches(filter, s)) subjects.push_back(s);
  if (keep > 0) {
    // Keep the newest `keep` messages among those matching (all of them together,
    // not per subject), purge the older ones.
    std::vector<uint64_t> seqs;
    if (filter.empty() || filter == ">") {
      uint64_t n = msgs_ > uint64_t(keep) ? msgs_ - uint64_t(keep) : 0;
      std::vector<store::stored_message> page;
      uint64_t from = first_seq_;
      while (seqs.size() < n) {
        store_->scan(id_, from, std::min<size_t>(1024, n - seqs.size()), 1 << 20, {}, page);
        if (page.empty()) break;
        for (auto& m : page)
          if (seqs.size() < n) seqs.push_back(m.seq);
        from = page.back().seq + 1;
      }
    } else {
      for (auto& s : subjects) {
        auto more = sequences_on(s, 0);
        seqs.insert(seqs.end(), more.begin(), more.end());
      }
      std::sort(seqs.begin(), seqs.end());
      seqs.resize(seqs.size() > size_t(keep) ? seqs.size() - size_t(keep) : 0);
    }
    for (auto q : seqs) {
      if (remove_message(q)) ++purged;
      if (batch_pending() && batch_->size() > 10000) commit();
    }
  } else {
    for (auto& s : subjects) {
      auto seqs = sequences_on(s, 0);
      for (auto q : seqs) {
        if (upto && q >= upto) break;
        if (remove_message(q)) ++purged;
      }
      if (batch_pending() && batch_->size() > 10000) commit();
    }
  }
  commit();
  for (auto& [n, c] : consumers_) c->num_pending = count_pending(*c);
  return purged;
}

void stream::destroy(const api_request* r) {
  commit();
  stopped_ = true;
  usage_->consumers -= int64_t(consumers_.size());
  auto b = svc_.meta_store().make_batch();
  for (auto& [n, c] : consumers_) b->delete_meta(consumer_meta_key(id_, n));
  consumers_.clear();
  b->delete_meta(state_meta_key(id_));
  b->delete_meta(stream_meta_key(acc_->name(), cfg_.name));
  svc_.write(svc_.meta_store(), *b);
  store_->drop_stream(id_);
  account_bytes(-int64_t(bytes_));
  bytes_ = msgs_ = 0;
  subjects_.clear();
  if (r && !r->reply.empty())
    client_->publish(r->reply, {}, {}, json({{"type", "io.nats.jetstream.api.v1.stream_delete_response"}, {"success", true}}).dump());
  client_->close();
}

void stream::apply_update(const stream_config& c, const api_request& r) {
  commit();
  bool subjects_changed = c.subjects != cfg_.subjects;
  bool direct_changed = c.allow_direct != cfg_.allow_direct;
  const int64_t old_per_subject = cfg_.max_msgs_per_subject;
  {
    std::lock_guard lock(snapshot_mutex_);
    cfg_ = c;
  }
  detect_object_store();
  if (subjects_changed || direct_changed) {
    // Re-subscribe: the simplest exact way is a fresh set of subscriptions.
    auto old = client_;
    client_.reset();
    start(svc_.control());
    // The old client's inbox may still hold publishes: they are dropped with it, like
    // a subscription removed mid-flight.
    old->close();
  }
  if (cfg_.max_msgs_per_subject > 0 && (old_per_subject <= 0 || cfg_.max_msgs_per_subject < old_per_subject))
    enforce_subject_limit_all();  // as nats-server: a lower limit applies to what is stored
  set_indexed(wants_index());
  enforce_limits();
  expire_old();
  commit();
  json j = info_snapshot();
  j["type"] = "io.nats.jetstream.api.v1.stream_update_response";
  respond(r.reply, j);
}

void stream::tick() {
  if (stopped_) return;
  expire_old();
  dedupe_expire(now_ns());
  int64_t now = steady_ns();
  if (object_store_ && svc_.opts().orphan_chunk_age_ns > 0 && now >= next_orphan_check_ && !cfg_.sealed &&
      !cfg_.deny_purge) {
    // At the first tick (so right after a restart), then every half age, 1 s to 1 min.
    next_orphan_check_ = now + std::clamp<int64_t>(svc_.opts().orphan_chunk_age_ns / 2, 1'000'000'000, 60'000'000'000);
    clean_orphans();
  }
  std::vector<std::string> gone;
  for (auto& [name, c] : consumers_) {
    // Redeliveries due.
    std::vector<std::pair<int64_t, uint64_t>> due;  // (deadline, sseq)
    if (c->acks())
      for (auto it = c->pending.begin(); it != c->pending.end();) {
        auto& [sseq, p] = *it;
        if (p.deadline && p.deadline <= now && !c->redeliver.count(sseq)) {
          if (c->cfg.max_deliver > 0 && int64_t(p.deliveries) >= c->cfg.max_deliver) {
            // Delivered max_deliver times: not again, and no longer awaiting an ack.
            it = c->pending.erase(it);
            update_ack_floor(*c);
            c->dirty = true;
            continue;
          }
          due.emplace_back(p.deadline, sseq);
        }
        ++it;
      }
    std::sort(due.begin(), due.end());
    for (auto& [d, sseq] : due) c->redeliver.insert(sseq);
    // Pull requests that expired.
    for (auto it = c->waiting.begin(); it != c->waiting.end();) {
      if (it->expires_at && it->expires_at <= now) {
        end_request_timeout(*it);
        it = c->waiting.erase(it);
        continue;
      }
      if (it->heartbeat && now - it->last_hb >= it->heartbeat) {
        client_->publish(it->reply, {}, "NATS/1.0 100 Idle Heartbeat\r\n\r\n", {});
        it->last_hb = now;
      }
      ++it;
    }
    if (!c->cfg.deliver_subject.empty()) {
      bool interest = client_->has_interest(c->cfg.deliver_subject);
      if (interest) c->last_active = now;
      if (interest && c->cfg.idle_heartbeat > 0 && now - c->last_sent >= c->cfg.idle_heartbeat)
        send_heartbeat(*c, c->cfg.deliver_subject);
    } else if (!c->waiting.empty()) {
      c->last_active = now;
    }
    int64_t inactive = c->cfg.inactive_threshold;
    if (inactive == 0 && c->ephemeral) inactive = default_inactive;
    if (inactive > 0 && now - c->last_active > inactive) gone.push_back(name);
  }
  for (auto& n : gone) delete_consumer(n);
  pump_all();
  commit();
}

// ---- API ----

void stream::respond(const std::string& reply, const json& j) {
  if (reply.empty()) return;
  client_->publish(reply, {}, {}, j.dump());
}

void stream::respond_error(const std::string& reply, std::string_view type, const api_error& e) {
  if (reply.empty()) return;
  client_->publish(reply, {}, {}, error_response(type, e));
}

void stream::handle(const api_request& r) {
  if (stopped_) return;
  commit();  // earlier publishes are visible to this request
  const auto& t = r.tokens;
  // t[0..]: e.g. STREAM INFO <s>, CONSUMER CREATE <s> ...
  if (t[0] == "STREAM") {
    if (t[1] == "INFO") return api_info(r);
    if (t[1] == "PURGE") return api_purge(r);
    if (t[1] == "MSG" && t.size() > 2 && t[2] == "GET") return api_msg_get(r, false);
    if (t[1] == "MSG" && t.size() > 2 && t[2] == "DELETE") return api_msg_delete(r);
  } else if (t[0] == "CONSUMER") {
    if (t[1] == "CREATE" || t[1] == "DURABLE") return api_consumer_create(r);
    if (t[1] == "INFO") return api_consumer_info(r, t[3]);
    if (t[1] == "DELETE") return api_consumer_delete(r, t[3]);
    if (t[1] == "NAMES") return api_consumer_list(r, true);
    if (t[1] == "LIST") return api_consumer_list(r, false);
    if (t[1] == "MSG" && t.size() > 4 && t[2] == "NEXT") return api_msg_next(r, t[4]);
  }
  respond_error(r.reply, "error_response", err::bad_request());
}

void stream::api_info(const api_request& r) {
  bool subjects = false, deleted_details = false;
  std::string filter;
  if (!r.payload.empty()) {
    json q = json::parse(r.payload, nullptr, false);
    if (q.is_discarded() || !q.is_object())
      return respond_error(r.reply, "stream_info_response", err::invalid_json("invalid character in request"));
    if (q.contains("subjects_filter") && q["subjects_filter"].is_string()) {
      filter = q["subjects_filter"].get<std::string>();
      subjects = !filter.empty();
    }
    if (q.contains("deleted_details") && q["deleted_details"].is_boolean())
      deleted_details = q["deleted_details"].get<bool>();
  }
  json j = {{"type", "io.nats.jetstream.api.v1.stream_info_response"},
            {"config", to_json(cfg_)},
            {"created", time_text(created_)},
            {"state", state_json(subjects, filter)},
            {"ts", time_text(now_ns())}};
  if (deleted_details && msgs_ > 0 && last_seq_ - first_seq_ + 1 > msgs_) {
    // The sequences between first and last that are gone (interior deletes), found
    // with one pass over the stream's keys.
    json gone = json::array();
    std::vector<store::stored_message> page;
    uint64_t expect = first_seq_;
    while (expect <= last_seq_) {
      store_->scan(id_, expect, 1024, 1 << 20, {}, page);
      if (page.empty()) break;
      for (auto& m : page) {
        for (; expect < m.seq; ++expect) gone.push_back(expect);
        expect = m.seq + 1;
      }
    }
    for (; expect <= last_seq_; ++expect) gone.push_back(expect);
    j["state"]["deleted"] = gone;
  }
  if (subjects) {
    j["total"] = j["state"]["subjects"].size();
    j["offset"] = 0;
    j["limit"] = 100000;
  }
  respond(r.reply, j);
}

void stream::api_purge(const api_request& r) {
  const char* type = "stream_purge_response";
  if (cfg_.sealed) return respond_error(r.reply, type, err::stream_sealed());
  if (cfg_.deny_purge) return respond_error(r.reply, type, err::deny_purge());
  std::string filter;
  uint64_t seq = 0;
  int64_t keep = 0;
  if (!r.payload.empty()) {
    json q = json::parse(r.payload, nullptr, false);
    if (q.is_discarded() || !q.is_object())
      return respond_error(r.reply, type, err::invalid_json("invalid character in request"));
    if (q.contains("filter")) {
      if (!q["filter"].is_string())
        return respond_error(r.reply, type,
                             err::invalid_json("json: cannot unmarshal number into Go struct field JSApiStreamPurgeRequest.filter of type string"));
      filter = q["filter"].get<std::string>();
    }
    if (q.contains("seq") && q["seq"].is_number_unsigned()) seq = q["seq"].get<uint64_t>();
    if (q.contains("keep") && q["keep"].is_number_integer()) keep = q["keep"].get<int64_t>();
    if (seq && keep) return respond_error(r.reply, type, err::bad_request());
    if (!filter.empty() && !platform::subject::valid_subscription(filter))
      return respond_error(r.reply, type, err::bad_request());
  }
  bool ok = true;
  uint64_t n = purge(filter, seq, keep, ok);
  if (!ok) return respond_error(r.reply, type, {500, 10110, "purge failed"});
  respond(r.reply, {{"type", std::string("io.nats.jetstream.api.v1.") + type}, {"success", true}, {"purged", n}});
}

namespace {
void direct_headers(std::string& h, const std::string& stream, const store::stored_message& m) {
  if (m.headers.size() >= 12) {
    h.assign(m.headers, 0, m.headers.size() - 2);  // drop the final blank line
  } else {
    h = "NATS/1.0\r\n";
  }
  h += "Nats-Stream: " + stream + "\r\nNats-Subject: " + m.subject + "\r\nNats-Sequence: " + std::to_string(m.seq) +
       "\r\nNats-Time-Stamp: " + time_text(m.time_ns) + "\r\n\r\n";
}
}  // namespace

void stream::api_direct_get_subject(const api_request& r, std::string_view subject) {
  std::optional<store::stored_message> m;
  auto it = subjects_.find(subject);
  if (it != subjects_.end()) m = load(it->second.last);
  if (!m) {
    client_->publish(r.reply, {}, "NATS/1.0 404 Message Not Found\r\n\r\n", {});
    return;
  }
  std::string h;
  direct_headers(h, cfg_.name, *m);
  client_->publish(r.reply, {}, h, m->payload);
}

void stream::api_msg_get(const api_request& r, bool direct) {
  const char* type = "stream_msg_get_response";
  auto fail = [&](const api_error& e) {
    if (direct) {
      if (e.err_code == 10037) client_->publish(r.reply, {}, "NATS/1.0 404 Message Not Found\r\n\r\n", {});
      else client_->publish(r.reply, {}, "NATS/1.0 408 Bad Request\r\n\r\n", {});
      return;
    }
    respond_error(r.reply, type, e);
  };
  if (r.payload.empty()) {
    if (direct) return (void)client_->publish(r.reply, {}, "NATS/1.0 408 Empty Request\r\n\r\n", {});
    return fail(err::bad_request());
  }
  json q = json::parse(r.payload, nullptr, false);
  if (q.is_discarded() || !q.is_object()) {
    if (direct) return (void)client_->publish(r.reply, {}, "NATS/1.0 408 Malformed Request\r\n\r\n", {});
    return fail(err::invalid_json("malformed request"));
  }
  if (direct && q.empty()) return (void)client_->publish(r.reply, {}, "NATS/1.0 408 Empty Request\r\n\r\n", {});
  uint64_t seq = 0;
  std::string last_by, next_by;
  if (q.contains("seq")) {
    if (!q["seq"].is_number_unsigned()) return fail(err::bad_request());
    seq = q["seq"].get<uint64_t>();
  }
  if (q.contains("last_by_subj") && q["last_by_subj"].is_string()) last_by = q["last_by_subj"];
  if (q.contains("next_by_subj") && q["next_by_subj"].is_string()) next_by = q["next_by_subj"];
  if (!seq && last_by.empty() && next_by.empty()) return fail(err::bad_request());
  if (!last_by.empty() && (seq || !next_by.empty())) return fail(err::bad_request());
  std::optional<store::stored_message> m;
  if (!last_by.empty()) {
    uint64_t best = 0;
    if (platform::subject::is_literal(last_by)) {
      if (auto it = subjects_.find(last_by); it != subjects_.end()) best = it->second.last;
    } else {
      for (auto& [s, st] : subjects_)
        if (platform::subject::matches(last_by, s) && st.last > best) best = st.last;
    }
    if (best) m = load(best);
  } else if (!next_by.empty()) {
    std::vector<store::stored_message> page;
    uint64_t from = std::max<uint64_t>(seq, 1);
    if (platform::subject::is_literal(next_by)) {
      if (auto s = first_on(next_by, from)) m = load(*s);
    } else {
      store_->scan(id_, from, 1, 64u << 20, next_by, page);
      if (!page.empty()) m = std::move(page.front());
    }
  } else {
    m = load(seq);
  }
  if (!m) return fail(err::no_message_found());
  if (direct) {
    std::string h;
    direct_headers(h, cfg_.name, *m);
    client_->publish(r.reply, {}, h, m->payload);
    return;
  }
  json msg = {{"subject", m->subject}, {"seq", m->seq}, {"time", time_text(m->time_ns)}};
  if (!m->headers.empty()) msg["hdrs"] = base64(m->headers);
  if (!m->payload.empty()) msg["data"] = base64(m->payload);
  respond(r.reply, {{"type", std::string("io.nats.jetstream.api.v1.") + type}, {"message", msg}});
}

void stream::api_msg_delete(const api_request& r) {
  const char* type = "stream_msg_delete_response";
  if (cfg_.sealed) return respond_error(r.reply, type, err::stream_sealed());
  if (cfg_.deny_delete) return respond_error(r.reply, type, err::deny_delete());
  json q = json::parse(r.payload, nullptr, false);
  if (q.is_discarded() || !q.is_object() || !q.contains("seq") || !q["seq"].is_number_unsigned())
    return respond_error(r.reply, type, err::invalid_json("unexpected end of JSON input"));
  uint64_t seq = q["seq"].get<uint64_t>();
  fix_first();
  if (seq == 0 || !remove_message(seq)) {
    fix_first();
    // As nats-server: inside the stream's range a missing sequence is 10043.
    if (seq >= first_seq_ && seq <= last_seq_ && msgs_ > 0)
      return respond_error(r.reply, type, {400, 10043, "sequence " + std::to_string(seq) + " not found"});
    return respond_error(r.reply, type, {500, 10057, "no message found"});
  }
  commit();
  respond(r.reply, {{"type", std::string("io.nats.jetstream.api.v1.") + type}, {"success", true}});
}

}  // namespace jetstream
