// Consumers of a stream: creation, push and pull delivery, acks, redelivery, flow
// control, heartbeats. Runs on the stream's actor thread (internal.hpp).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/subject.hpp"
#include "services/jetstream/internal.hpp"
#include "services/jetstream/records.hpp"

namespace jetstream {

using actors::inbound_msg;

namespace {
constexpr size_t pump_max_msgs = 1024;
constexpr int64_t pump_max_bytes = 4 << 20;
constexpr int flush_shift = 20;  // flush what a pump sent every 1 MiB
// Flow control: with this much delivered and not yet confirmed, the consumer asks the
// client (a "100 FlowControl Request" in the stream of messages) and goes on; it stops
// only with fc_max unconfirmed. Stop-and-wait at 2 MiB left the client idle while its
// answer travelled back and the next data came (a 1 GiB object get through libnats:
// 660 -> 930 MB/s; 16 MiB -> 24 MiB: 930 -> 1250 MB/s). What one slow reader can make
// the server hold stays under fc_max (a 1 GiB @nats-io/obj get: +40 MiB RSS at 24 MiB,
// +56 MiB at 32 MiB, so not more).
constexpr int64_t fc_request_at = 2 << 20;
constexpr int64_t fc_max = 24 << 20;

std::string join_tokens(const std::vector<std::string>& t, size_t from) {
  std::string s;
  for (size_t i = from; i < t.size(); ++i) {
    if (i > from) s += '.';
    s += t[i];
  }
  return s;
}
}  // namespace

std::string stream::ack_reply(consumer& c, uint64_t dc, uint64_t sseq, uint64_t cseq, int64_t ts, int64_t pending) {
  std::string r = "$JS.ACK.";
  r += cfg_.name;
  r += '.';
  r += c.name;
  r += '.';
  r += std::to_string(dc);
  r += '.';
  r += std::to_string(sseq);
  r += '.';
  r += std::to_string(cseq);
  r += '.';
  r += std::to_string(ts);
  r += '.';
  r += std::to_string(pending < 0 ? 0 : pending);
  return r;
}

int64_t stream::count_pending(consumer& c) {
  fix_first();
  int64_t n = int64_t(c.lps.size());
  uint64_t from = std::max(c.next_sseq, msgs_ ? first_seq_ : last_seq_ + 1);
  if (from > last_seq_) return n;
  if (!c.filtered() && from <= first_seq_) return n + int64_t(msgs_);
  for (auto& [s, st] : subjects_) {
    if (!c.matches(s)) continue;
    if (st.first >= from) n += int64_t(st.count);
    else if (st.last < from) continue;
    else n += int64_t(sequences_on(s, from).size());
  }
  return n;
}

void stream::new_message_for_consumers(uint64_t seq, std::string_view subject) {
  for (auto& [n, c] : consumers_)
    if (seq >= c->next_sseq && c->matches(subject)) ++c->num_pending;
}

namespace {
// Messages pending an ack that were delivered more than once (nats-server's
// num_redelivered: a current count, not a running total).
uint64_t redelivered_count(const consumer& c) {
  uint64_t n = 0;
  for (auto& [s, p] : c.pending)
    if (p.deliveries > 1) ++n;
  return n;
}
}  // namespace

json stream::consumer_info(consumer& c) {
  json j = {{"stream_name", cfg_.name},
            {"name", c.name},
            {"created", time_text(c.created)},
            {"config", to_json(c.cfg)},
            {"delivered", {{"consumer_seq", c.delivered_cseq}, {"stream_seq", c.delivered_sseq}}},
            {"ack_floor", {{"consumer_seq", c.ack_floor_cseq}, {"stream_seq", c.ack_floor_sseq}}},
            {"num_ack_pending", c.pending.size()},
            {"num_redelivered", redelivered_count(c)},
            {"num_waiting", c.waiting.size()},
            {"num_pending", c.num_pending < 0 ? 0 : c.num_pending},
            {"ts", time_text(now_ns())}};
  if (!c.cfg.deliver_subject.empty() && client_->has_interest(c.cfg.deliver_subject)) j["push_bound"] = true;
  return j;
}

void stream::api_consumer_create(const api_request& r) {
  const char* type = "consumer_create_response";
  auto fail = [&](const api_error& e) { respond_error(r.reply, type, e); };
  const auto& t = r.tokens;
  json q = json::parse(r.payload, nullptr, false);
  if (q.is_discarded() || !q.is_object()) return fail(err::invalid_json("unexpected end of JSON input"));
  if (q.contains("stream_name") && q["stream_name"].is_string() && q["stream_name"].get<std::string>() != cfg_.name)
    return fail(err::stream_name_mismatch());
  if (!q.contains("config") || !q["config"].is_object()) return fail({400, 10078, "consumer config required"});
  consumer_config cc;
  if (auto e = parse_consumer_config(q["config"], cc)) return fail(*e);
  std::string action = q.contains("action") && q["action"].is_string() ? q["action"].get<std::string>() : "";

  std::string name;
  if (t[1] == "DURABLE") {
    // CONSUMER.DURABLE.CREATE.<s>.<d>
    if (t.size() != 5) return fail(err::bad_request());
    name = t[4];
    if (cc.durable_name.empty())
      return fail({400, 10018, "consumer expected to be durable but a durable name was not set"});
    if (cc.durable_name != name)
      return fail({400, 10017, "consumer name in subject does not match durable name in request"});
  } else if (t.size() == 3) {
    // Legacy CONSUMER.CREATE.<s>: ephemeral, named by config.name or by the server.
    if (!cc.durable_name.empty()) return fail(err::durable_name_forbidden());
    name = !cc.name.empty() ? cc.name : platform::random_token(8);
  } else {
    // CONSUMER.CREATE.<s>.<name>[.<filter>]
    name = t[3];
    if (!cc.name.empty() && cc.name != name)
      return fail({400, 10017, "consumer name in subject does not match durable name in request"});
    if (!cc.durable_name.empty() && cc.durable_name != name)
      return fail({400, 10017, "consumer name in subject does not match durable name in request"});
    if (t.size() > 4) {
      std::string filter = join_tokens(t, 4);
      if (cc.filter_subjects.size() > 1) return fail({400, 10137, "consumer with multiple subject filters cannot use subject based API"});
      if (filter != cc.filter_subject) return fail(err::consumer_create_filter_mismatch());
    }
  }
  if (name.find_first_of("/\\") != std::string::npos)
    return fail({400, 10127, "Consumer name can not contain path separators"});
  if (!valid_name(name)) return fail({400, 10103, "durable name can not contain '.', '*', '>'"});
  // Delivering into the stream's own subjects would store every delivery again.
  if (!cc.deliver_subject.empty())
    for (auto& s : cfg_.subjects)
      if (platform::subject::matches(s, cc.deliver_subject))
        return fail({400, 10081, "consumer deliver subject forms a cycle"});
  cc.name = name;
  // Filters must lie within the stream's subjects.
  std::vector<std::string> filters = cc.filter_subjects;
  if (!cc.filter_subject.empty()) filters.push_back(cc.filter_subject);
  for (auto& f : filters) {
    bool ok = false;
    for (auto& s : cfg_.subjects)
      if (platform::accounts::detail::is_subset(f, s) || platform::accounts::detail::subjects_collide(f, s)) ok = true;
    if (!ok) return fail(err::consumer_filter_not_subset());
  }
  if (cfg_.retention == retention_policy::workqueue) {
    if (cc.ack != ack_policy::explicit_ack) return fail({400, 10098, "workqueue stream requires explicit ack"});
    if (cc.deliver != deliver_policy::all) return fail({400, 10101, "consumer must be deliver all on workqueue stream"});
    for (auto& [n, other] : consumers_) {
      if (n == name) continue;
      if (filters.empty())
        return fail({400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"});
      if (!other->filtered()) return fail(err::workqueue_not_unique());
      std::vector<std::string> of = other->cfg.filter_subjects;
      if (!other->cfg.filter_subject.empty()) of.push_back(other->cfg.filter_subject);
      for (auto& a : filters)
        for (auto& b : of)
          if (platform::accounts::detail::subjects_collide(a, b)) return fail(err::workqueue_not_unique());
    }
  }
  bool ephemeral = cc.durable_name.empty();
  // Ephemeral consumers go after 5 s without interest unless they say otherwise, and
  // the config says so (as nats-server echoes it).
  if (ephemeral && cc.inactive_threshold == 0) cc.inactive_threshold = 5'000'000'000;
  int64_t now = steady_ns();

  if (auto it = consumers_.find(name); it != consumers_.end()) {
    auto& c = *it->second;
    if (to_json(c.cfg) == to_json(cc)) {
      c.last_active = now;
      json j = consumer_info(c);
      j["type"] = std::string("io.nats.jetstream.api.v1.") + type;
      return respond(r.reply, j);
    }
    if (action == "create") return fail(err::consumer_exists());
    // An update: the delivery state stays, the settings change.
    c.cfg = cc;
    c.dirty = true;
    c.last_active = now;
    watch_deliver(c);
    commit();
    json j = consumer_info(c);
    j["type"] = std::string("io.nats.jetstream.api.v1.") + type;
    return respond(r.reply, j);
  }
  if (action == "update") return fail(err::consumer_does_not_exist());
  if (cfg_.max_consumers > 0 && int64_t(consumers_.size()) >= cfg_.max_consumers) return fail(err::max_consumers());
  if (usage_->limits.max_consumers >= 0 && usage_->consumers.load() >= usage_->limits.max_consumers)
    return fail(err::max_consumers());

  auto c = std::make_unique<consumer>();
  c->name = name;
  c->cfg = cc;
  c->created = now_ns();
  c->ephemeral = ephemeral;
  c->last_active = now;
  c->last_sent = now;  // the first heartbeat comes after idle_heartbeat of silence
  fix_first();
  uint64_t start = msgs_ ? first_seq_ : last_seq_ + 1;
  switch (cc.deliver) {
    case deliver_policy::all:
      break;
    case deliver_policy::last: {
      uint64_t best = 0;
      for (auto& [s, st] : subjects_)
        if (c->matches(s) && st.last > best) best = st.last;
      start = best ? best : last_seq_ + 1;
      break;
    }
    case deliver_policy::new_msgs:
      start = last_seq_ + 1;
      break;
    case deliver_policy::by_start_sequence:
      start = std::max<uint64_t>(cc.opt_start_seq, start);
      if (cc.opt_start_seq > last_seq_) start = cc.opt_start_seq;
      break;
    case deliver_policy::by_start_time: {
      start = last_seq_ + 1;
      std::vector<store::stored_message> page;
      fix_first();
      uint64_t from = first_seq_;
      bool found = false;
      while (!found) {
        store_->scan(id_, from, 256, 1 << 20, {}, page);
        if (page.empty()) break;
        for (auto& m : page)
          if (m.time_ns >= cc.opt_start_time_ns) {
            start = m.seq;
            found = true;
            break;
          }
        from = page.back().seq + 1;
      }
      break;
    }
    case deliver_policy::last_per_subject: {
      std::vector<uint64_t> lasts;
      for (auto& [s, st] : subjects_)
        if (c->matches(s)) lasts.push_back(st.last);
      std::sort(lasts.begin(), lasts.end());
      c->lps.assign(lasts.begin(), lasts.end());
      start = last_seq_ + 1;
      break;
    }
  }
  c->next_sseq = start;
  uint64_t first_delivery = c->lps.empty() ? start : c->lps.front();
  c->delivered_sseq = first_delivery ? first_delivery - 1 : 0;
  c->ack_floor_sseq = c->delivered_sseq;
  c->num_pending = count_pending(*c);
  c->dirty = true;
  auto& ref = *c;
  watch_deliver(ref);
  consumers_[name] = std::move(c);
  usage_->consumers++;
  commit();
  json j = consumer_info(ref);
  j["type"] = std::string("io.nats.jetstream.api.v1.") + type;
  respond(r.reply, j);
  // N3 creates the consumer before it subscribes: deliveries start when interest shows
  // (the deliver watch), or now if it is already there.
  pump(ref, now);
}

void stream::watch_deliver(consumer& c) {
  c.deliver_watch.reset();
  if (c.cfg.deliver_subject.empty()) return;
  std::weak_ptr<stream> weak = weak_from_this();
  std::weak_ptr<actors::internal_client> weak_client = client_;
  std::string name = c.name;
  // Runs on the thread that subscribed: only a job is queued; the stream pumps on its own.
  auto id = acc_->subjects().watch_interest(c.cfg.deliver_subject, [weak, weak_client, name] {
    auto client = weak_client.lock();
    if (!client) return;
    client->post(nullptr, [weak, name](actors::internal_client&) {
      auto s = weak.lock();
      if (!s || s->stopped_) return;
      auto it = s->consumers_.find(name);
      if (it != s->consumers_.end()) s->pump(*it->second, steady_ns());
    });
  });
  c.deliver_watch = std::make_unique<interest_watch_token>(
      std::shared_ptr<platform::sublist>(acc_, &acc_->subjects()), id);
}

void stream::api_consumer_info(const api_request& r, const std::string& name) {
  auto it = consumers_.find(name);
  if (it == consumers_.end()) return respond_error(r.reply, "consumer_info_response", err::consumer_not_found());
  json j = consumer_info(*it->second);
  j["type"] = "io.nats.jetstream.api.v1.consumer_info_response";
  respond(r.reply, j);
}

void stream::delete_consumer(const std::string& name) {
  auto it = consumers_.find(name);
  if (it == consumers_.end()) return;
  auto& c = *it->second;
  for (auto& w : c.waiting) client_->publish(w.reply, {}, "NATS/1.0 409 Consumer Deleted\r\n\r\n", {});
  if (!c.ephemeral) batch().delete_meta(consumer_meta_key(id_, name));
  consumers_.erase(it);
  usage_->consumers--;
  state_dirty_ = true;
  commit();
  // Interest retention: messages only this consumer still held may go now.
  if (cfg_.retention == retention_policy::interest) {
    std::vector<store::stored_message> page;
    fix_first();
    uint64_t from = first_seq_;
    std::vector<std::pair<uint64_t, std::string>> check;
    while (from <= last_seq_ && check.size() < 100000) {
      store_->scan(id_, from, 1024, 4u << 20, {}, page);
      if (page.empty()) break;
      for (auto& m : page) check.emplace_back(m.seq, m.subject);
      from = page.back().seq + 1;
    }
    for (auto& [s, subj] : check) retention_check(s, subj);
    commit();
  }
}

void stream::api_consumer_delete(const api_request& r, const std::string& name) {
  if (!consumers_.count(name)) return respond_error(r.reply, "consumer_delete_response", err::consumer_not_found());
  delete_consumer(name);
  respond(r.reply, {{"type", "io.nats.jetstream.api.v1.consumer_delete_response"}, {"success", true}});
}

void stream::api_consumer_list(const api_request& r, bool names_only) {
  int64_t offset = 0;
  if (!r.payload.empty()) {
    json q = json::parse(r.payload, nullptr, false);
    if (q.is_object() && q.contains("offset") && q["offset"].is_number_integer()) offset = q["offset"].get<int64_t>();
  }
  const int64_t limit = names_only ? 1024 : 256;
  json list = json::array();
  int64_t i = 0;
  for (auto& [n, c] : consumers_) {
    if (i++ < offset) continue;
    if (int64_t(list.size()) >= limit) break;
    if (names_only) list.push_back(n);
    else list.push_back(consumer_info(*c));
  }
  json j = {{"type", names_only ? "io.nats.jetstream.api.v1.consumer_names_response"
                                : "io.nats.jetstream.api.v1.consumer_list_response"},
            {"total", consumers_.size()},
            {"offset", offset},
            {"limit", limit}};
  j["consumers"] = list;
  respond(r.reply, j);
}

void stream::api_msg_next(const api_request& r, const std::string& name) {
  if (r.reply.empty()) return;
  auto it = consumers_.find(name);
  if (it == consumers_.end()) {
    client_->publish(r.reply, {}, "NATS/1.0 404 No Messages\r\n\r\n", {});
    return;
  }
  auto& c = *it->second;
  if (!c.cfg.is_pull()) {
    client_->publish(r.reply, {}, "NATS/1.0 409 Consumer is push based\r\n\r\n", {});
    return;
  }
  pull_request pr;
  pr.reply = r.reply;
  int64_t now = steady_ns();
  std::string_view body(r.payload);
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
  if (!body.empty() && body.front() == '{') {
    json q = json::parse(body, nullptr, false);
    if (q.is_discarded() || !q.is_object()) {
      client_->publish(r.reply, {}, "NATS/1.0 400 Bad Request\r\n\r\n", {});
      return;
    }
    if (q.contains("batch") && q["batch"].is_number_integer()) pr.batch = q["batch"].get<int64_t>();
    if (q.contains("max_bytes") && q["max_bytes"].is_number_integer()) pr.max_bytes = q["max_bytes"].get<int64_t>();
    if (q.contains("no_wait") && q["no_wait"].is_boolean()) pr.no_wait = q["no_wait"].get<bool>();
    if (q.contains("expires") && q["expires"].is_number_integer()) {
      int64_t e = q["expires"].get<int64_t>();
      if (e > 0) pr.expires_at = now + e;
    }
    if (q.contains("idle_heartbeat") && q["idle_heartbeat"].is_number_integer()) {
      pr.heartbeat = q["idle_heartbeat"].get<int64_t>();
      pr.last_hb = now;
    }
  } else if (!body.empty()) {
    pr.batch = std::strtoll(std::string(body).c_str(), nullptr, 10);
  }
  if (pr.batch <= 0) pr.batch = 1;
  if (c.cfg.max_batch > 0 && pr.batch > c.cfg.max_batch) {
    client_->publish(r.reply, {},
                     "NATS/1.0 409 Exceeded MaxRequestBatch of " + std::to_string(c.cfg.max_batch) + "\r\n\r\n", {});
    return;
  }
  if (c.cfg.max_waiting > 0 && int64_t(c.waiting.size()) >= c.cfg.max_waiting) {
    client_->publish(r.reply, {}, "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n", {});
    return;
  }
  c.last_active = now;
  c.waiting.push_back(std::move(pr));
  pump(c, now);
  // A no-wait request that could not be filled ends now.
  for (auto w = c.waiting.begin(); w != c.waiting.end();) {
    if (w->no_wait) {
      if (w->delivered == 0 || !w->expires_at)
        client_->publish(w->reply, {}, "NATS/1.0 404 No Messages\r\n\r\n", {});
      else
        end_request_timeout(*w);
      w = c.waiting.erase(w);
    } else {
      ++w;
    }
  }
}

void stream::end_request_timeout(const pull_request& w) {
  client_->publish(w.reply, {},
                   "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: " + std::to_string(w.batch) +
                       "\r\nNats-Pending-Bytes: " + std::to_string(w.max_bytes) + "\r\n\r\n",
                   {});
}

void stream::send_heartbeat(consumer& c, const std::string& to) {
  std::string h = "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: " + std::to_string(c.delivered_cseq) +
                  "\r\nNats-Last-Stream: " + std::to_string(c.delivered_sseq) + "\r\n";
  if (!c.fc_reply.empty()) h += "Nats-Consumer-Stalled: " + c.fc_reply + "\r\n";
  h += "\r\n";
  client_->publish(to, {}, h, {});
  c.last_sent = steady_ns();
}

bool stream::deliver(consumer& c, const store::stored_message& m, bool redelivery, const std::string& to,
                     int64_t now) {
  uint64_t cseq = ++c.delivered_cseq;
  uint64_t dc = 1;
  if (!redelivery) {
    c.delivered_sseq = std::max(c.delivered_sseq, m.seq);
    if (c.num_pending > 0) --c.num_pending;
  } else {
    ++c.num_redelivered;
  }
  if (c.acks()) {
    auto& p = c.pending[m.seq];
    if (p.deliveries == 0) p.cseq = cseq;
    p.deliveries++;
    dc = p.deliveries;
    int64_t wait = c.cfg.ack_wait;
    if (!c.cfg.backoff.empty())
      wait = c.cfg.backoff[std::min<size_t>(size_t(p.deliveries - 1), c.cfg.backoff.size() - 1)];
    p.deadline = now + wait;
    p.delivered_at = now;
  }
  std::string reply = ack_reply(c, dc, m.seq, cseq, m.time_ns, c.num_pending);
  size_t bytes = m.subject.size() + m.headers.size() + m.payload.size();
  if (c.cfg.headers_only) {
    std::string h = m.headers.size() >= 12 ? m.headers.substr(0, m.headers.size() - 2) : std::string("NATS/1.0\r\n");
    h += "Nats-Msg-Size: " + std::to_string(m.payload.size()) + "\r\n\r\n";
    client_->publish_to(to, m.subject, reply, h, {});
  } else {
    client_->publish_to(to, m.subject, reply, m.headers, m.payload);
  }
  c.last_sent = now;
  c.fc_bytes += int64_t(bytes);
  c.dirty = true;
  if (!c.acks()) {
    c.ack_floor_cseq = c.delivered_cseq;
    c.ack_floor_sseq = c.delivered_sseq;
    if (cfg_.retention != retention_policy::limits) retention_check(m.seq, m.subject);
  }
  return true;
}

void stream::pump_all() {
  if (consumers_.empty()) return;
  int64_t now = steady_ns();
  for (auto& [n, c] : consumers_) pump(*c, now);
}

// How many messages a pump reads from the store at once: what the consumer can take in
// this pump (its pull requests' batch, its ack-pending room), at most 256 and 1 MiB
// (always at least one message, whatever its size).
constexpr size_t read_ahead_msgs = 256;
constexpr size_t read_ahead_bytes = 1 << 20;

size_t stream::read_ahead(const consumer& c, size_t sent) const {
  size_t n = std::min(read_ahead_msgs, pump_max_msgs - sent);
  if (c.cfg.deliver_subject.empty() && !c.waiting.empty()) {
    int64_t want = 0;
    for (auto& w : c.waiting) {
      want += std::max<int64_t>(w.batch, 1);
      if (want >= int64_t(n)) break;
    }
    n = std::min<size_t>(n, size_t(want));
  }
  if (c.acks() && c.cfg.max_ack_pending > 0) {
    int64_t room = c.cfg.max_ack_pending - int64_t(c.pending.size());
    n = std::min<size_t>(n, size_t(std::max<int64_t>(room, 1)));
  }
  return std::max<size_t>(n, 1);
}

void stream::pump(consumer& c, int64_t now) {
  const bool push = !c.cfg.deliver_subject.empty();
  if (push) {
    if (!client_->has_interest(c.cfg.deliver_subject)) return;
    c.last_active = now;
    if (c.cfg.flow_control && c.fc_bytes >= fc_max) return;  // waiting for the client's answer
  } else if (c.waiting.empty()) {
    return;
  }
  size_t sent = 0;
  int64_t bytes = 0;
  std::vector<store::stored_message> page;
  size_t page_pos = 0;
  while (sent < pump_max_msgs && bytes < pump_max_bytes) {
    if (!push) {
      while (!c.waiting.empty() && c.waiting.front().expires_at && c.waiting.front().expires_at <= now) {
        end_request_timeout(c.waiting.front());
        c.waiting.pop_front();
      }
      if (c.waiting.empty()) break;
    }
    if (c.acks() && c.cfg.max_ack_pending > 0 && int64_t(c.pending.size()) >= c.cfg.max_ack_pending &&
        c.redeliver.empty())
      break;
    const std::string& to = push ? c.cfg.deliver_subject : c.waiting.front().reply;
    std::optional<store::stored_message> m;
    bool redelivery = false;
    if (!c.redeliver.empty()) {
      uint64_t s = c.redeliver.pop();
      auto p = c.pending.find(s);
      if (p == c.pending.end()) continue;
      if (c.cfg.max_deliver > 0 && int64_t(p->second.deliveries) >= c.cfg.max_deliver) {
        c.pending.erase(p);
        update_ack_floor(c);
        continue;
      }
      m = load(s);
      if (!m) {
        c.pending.erase(p);
        update_ack_floor(c);
        continue;
      }
      redelivery = true;
    } else if (!c.lps.empty()) {
      uint64_t s = c.lps.front();
      c.lps.pop_front();
      m = load(s);
      if (!m) {
        if (c.num_pending > 0) --c.num_pending;
        continue;
      }
    } else {
      fix_first();
      if (c.next_sseq < first_seq_) c.next_sseq = first_seq_;
      if (c.next_sseq > last_seq_) break;
      if (uncommitted_.count(c.next_sseq) || !uncommitted_.empty()) commit();
      // The messages come from `page`, read ahead in one store scan (one iterator and
      // one seek; a literal filter walks that subject's index) instead of one store
      // read per message. It lives only for this call, on the stream's thread, so
      // nothing else changes the stream under it; entries the consumer has moved past
      // (fix_first) are skipped.
      while (page_pos < page.size() && page[page_pos].seq < c.next_sseq) ++page_pos;
      if (page_pos == page.size()) {
        std::string_view filter = c.cfg.filter_subjects.empty() ? std::string_view(c.cfg.filter_subject) : "";
        if (!indexed_ && !filter.empty() && platform::subject::is_literal(filter)) {
          // No subject index: the subject's one or two messages, from subjects_.
          page.clear();
          for (auto q : sequences_on(filter, c.next_sseq))
            if (auto sm = store_->get(id_, q)) page.push_back(std::move(*sm));
        } else {
          store_->scan(id_, c.next_sseq, read_ahead(c, sent), read_ahead_bytes, filter, page);
        }
        page_pos = 0;
        if (page.empty()) {
          c.next_sseq = last_seq_ + 1;
          break;
        }
      }
      auto& next = page[page_pos++];
      c.next_sseq = next.seq + 1;
      if (!c.matches(next.subject)) continue;
      m = std::move(next);
    }
    deliver(c, *m, redelivery, to, now);
    ++sent;
    const int64_t before = bytes;
    bytes += int64_t(m->subject.size() + m->headers.size() + m->payload.size());
    // Large messages: let the receiver's socket take each MiB while the next is read,
    // instead of the whole pump's worth at the drain's end (a 64 MiB object get spent
    // its first 4 MiB waiting for the first byte to leave).
    if ((before >> flush_shift) != (bytes >> flush_shift)) client_->flush_early();
    if (!push) {
      auto& w = c.waiting.front();
      w.delivered++;
      --w.batch;
      if (w.max_bytes > 0) w.max_bytes -= int64_t(m->payload.size() + m->headers.size());
      if (w.batch <= 0 || (w.max_bytes < 0)) c.waiting.pop_front();
    } else if (c.cfg.flow_control) {
      if (c.fc_reply.empty() && c.fc_bytes >= fc_request_at) {
        c.fc_reply = "$JS.FC." + cfg_.name + "." + c.name + "." + platform::random_token(4);
        client_->publish_to(c.cfg.deliver_subject, c.cfg.deliver_subject, c.fc_reply,
                            "NATS/1.0 100 FlowControl Request\r\n\r\n", {});
        c.fc_mark = c.fc_bytes;  // what the answer will confirm
      }
      if (c.fc_bytes >= fc_max) break;
    }
  }
  if (sent >= pump_max_msgs || bytes >= pump_max_bytes) {
    // More to send: yield to other work on this actor and continue in a fresh drain.
    std::weak_ptr<stream> weak = weak_from_this();
    std::string name = c.name;
    client_->post(nullptr, [weak, name](actors::internal_client&) {
      if (auto s = weak.lock()) {
        auto it = s->consumers_.find(name);
        if (it != s->consumers_.end()) s->pump(*it->second, steady_ns());
      }
    });
  }
}

void stream::update_ack_floor(consumer& c) {
  if (c.pending.empty()) {
    c.ack_floor_sseq = c.delivered_sseq;
    c.ack_floor_cseq = c.delivered_cseq;
  } else {
    auto& [sseq, p] = *c.pending.begin();
    c.ack_floor_sseq = sseq - 1;
    c.ack_floor_cseq = p.cseq ? p.cseq - 1 : 0;
  }
}

void stream::acked(consumer& c, uint64_t sseq) {
  std::vector<uint64_t> done;
  if (c.cfg.ack == ack_policy::all) {
    for (auto it = c.pending.begin(); it != c.pending.end() && it->first <= sseq;) {
      done.push_back(it->first);
      c.redeliver.erase(it->first);
      it = c.pending.erase(it);
    }
  } else if (c.pending.erase(sseq)) {
    c.redeliver.erase(sseq);
    done.push_back(sseq);
  }
  if (done.empty()) return;
  update_ack_floor(c);
  c.dirty = true;
  if (cfg_.retention != retention_policy::limits)
    for (auto s : done) {
      if (cfg_.retention == retention_policy::workqueue) {
        remove_message(s);
      } else if (auto m = load(s)) {
        retention_check(s, m->subject);
      }
    }
}

void stream::retention_check(uint64_t sseq, std::string_view subject) {
  if (cfg_.retention == retention_policy::limits) return;
  if (cfg_.retention == retention_policy::workqueue) {
    remove_message(sseq);
    return;
  }
  for (auto& [n, c] : consumers_) {
    if (!c->matches(subject)) continue;
    if (sseq >= c->next_sseq || c->pending.count(sseq)) return;
    if (std::find(c->lps.begin(), c->lps.end(), sseq) != c->lps.end()) return;
  }
  remove_message(sseq);
}

void stream::on_ack(const inbound_msg& m) {
  // $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>
  std::vector<std::string_view> t;
  platform::subject::tokenize(m.subject, t);
  if (t.size() != 9 && t.size() != 12) return;
  size_t base = t.size() == 12 ? 4 : 3;
  auto it = consumers_.find(std::string(t[base]));
  if (it == consumers_.end()) return;
  auto& c = *it->second;
  uint64_t sseq = std::strtoull(std::string(t[base + 2]).c_str(), nullptr, 10);
  auto body = m.payload();
  int64_t now = steady_ns();
  c.last_active = now;
  auto starts = [&](std::string_view p) { return body.substr(0, p.size()) == p; };
  if (body.empty() || starts("+ACK")) {
    acked(c, sseq);
  } else if (starts("-NAK")) {
    auto p = c.pending.find(sseq);
    if (p != c.pending.end()) {
      int64_t delay = 0;
      auto rest = body.substr(4);
      auto brace = rest.find('{');
      if (brace != std::string_view::npos) {
        json q = json::parse(rest.substr(brace), nullptr, false);
        if (q.is_object() && q.contains("delay") && q["delay"].is_number_integer()) delay = q["delay"].get<int64_t>();
      }
      if (c.cfg.max_deliver > 0 && int64_t(p->second.deliveries) >= c.cfg.max_deliver) {
        // Delivered max_deliver times: not again, and no longer awaiting an ack.
        c.pending.erase(p);
        c.redeliver.erase(sseq);
        update_ack_floor(c);
        c.dirty = true;
      } else if (delay > 0) {
        p->second.deadline = now + delay;
      } else {
        c.redeliver.insert(sseq);
      }
    }
  } else if (starts("+WPI")) {
    auto p = c.pending.find(sseq);
    if (p != c.pending.end()) p->second.deadline = now + c.cfg.ack_wait;
  } else if (starts("+TERM")) {
    // Terminated: never redelivered, and gone from a work queue like an ack.
    acked(c, sseq);
  } else if (starts("+NXT")) {
    acked(c, sseq);
    if (!m.reply.empty()) {
      api_request r;
      r.reply = m.reply;
      auto rest = body.substr(4);
      r.payload = std::string(rest);
      api_msg_next(r, c.name);
    }
    return;
  }
  // A double ack's confirmation, sent once the ack state is written (after_drain).
  if (!m.reply.empty()) reply_ack(m.reply, std::string_view{});
}

void stream::on_flow_control(const inbound_msg& m) {
  // $JS.FC.<stream>.<consumer>.<rand>
  std::vector<std::string_view> t;
  platform::subject::tokenize(m.subject, t);
  if (t.size() < 5) return;
  auto it = consumers_.find(std::string(t[3]));
  if (it == consumers_.end()) return;
  auto& c = *it->second;
  if (c.fc_reply == m.subject) {
    // The client has taken everything sent before the request.
    c.fc_bytes = std::max<int64_t>(0, c.fc_bytes - c.fc_mark);
    c.fc_mark = 0;
    c.fc_reply.clear();
    pump(c, steady_ns());
  }
}

void stream::save_consumer(consumer& c, store::write_batch& b) {
  consumer_record rec;
  rec.name = c.name;
  rec.config = to_json(c.cfg).dump();
  rec.created = c.created;
  rec.next_sseq = c.next_sseq;
  rec.delivered_cseq = c.delivered_cseq;
  rec.delivered_sseq = c.delivered_sseq;
  rec.ack_floor_cseq = c.ack_floor_cseq;
  rec.ack_floor_sseq = c.ack_floor_sseq;
  // A last_per_subject consumer that has not sent its first pass resumes from there.
  if (!c.lps.empty()) rec.next_sseq = c.lps.front();
  for (auto& [s, p] : c.pending) rec.pending.push_back({s, p.cseq, p.deliveries});
  b.put_meta(consumer_meta_key(id_, c.name), encode(rec));
}

}  // namespace jetstream
