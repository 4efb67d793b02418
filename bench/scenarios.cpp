#include "scenarios.hpp"

#include "proc_stats.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dialtone::bench {
namespace {

// Publishers write this much per send(): many frames, one syscall.
constexpr std::size_t batch_bytes = 256 * 1024;
constexpr int poll_ms = 50;
// A reader that sees no progress for this long gives up instead of waiting for
// the whole time budget: a lost message would otherwise stall it until then.
constexpr auto stall_limit = std::chrono::seconds(3);
// index: bursts per phase (the median counts) and the pause after growing the index.
constexpr int index_bursts = 10;
constexpr auto index_settle = std::chrono::milliseconds(500);

using conn_list = std::vector<std::unique_ptr<connection>>;

std::string make_payload(std::size_t size) {
  std::string p(size, 'x');
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

std::string pub_frame(std::string_view subject, std::string_view reply, std::string_view payload) {
  std::string f = "PUB ";
  f.append(subject);
  if (!reply.empty()) f.append(" ").append(reply);
  f.append(" ").append(std::to_string(payload.size())).append("\r\n");
  f.append(payload).append("\r\n");
  return f;
}

std::vector<connection*> raw(const conn_list& conns) {
  std::vector<connection*> out;
  for (auto& c : conns) out.push_back(c.get());
  return out;
}

// Opens `count` connections and sends each `SUB <subject> [queue] <i+1>`,
// confirmed by PING/PONG so the subscription exists before anything is published.
bool open_subscribers(const endpoint& server, int count, std::string_view subject,
                      std::string_view queue, bench_clock::time_point deadline, conn_list& out,
                      std::string* error) {
  for (int i = 0; i < count; ++i) {
    auto conn = connection::open(server, deadline, error);
    if (!conn) return false;
    std::string sub = "SUB " + std::string(subject);
    if (!queue.empty()) sub.append(" ").append(queue);
    sub.append(" ").append(std::to_string(i + 1)).append("\r\n");
    if (!conn->write_all(sub, deadline) || !conn->ping_pong(deadline)) {
      *error = "subscribe: " + conn->error();
      return false;
    }
    out.push_back(std::move(conn));
  }
  return true;
}

// Writes `count` copies of `frame` in batches of about batch_bytes.
// Returns how many were written before an error or the deadline.
std::uint64_t blast(connection& pub, const std::string& frame, std::uint64_t count,
                    bench_clock::time_point deadline, std::string* error) {
  std::size_t per_batch = std::max<std::size_t>(1, batch_bytes / frame.size());
  std::string batch;
  batch.reserve(per_batch * frame.size());
  for (std::size_t i = 0; i < per_batch; ++i) batch.append(frame);

  std::uint64_t sent = 0;
  while (sent < count) {
    if (bench_clock::now() >= deadline) {
      *error = "publisher timed out";
      break;
    }
    std::uint64_t k = std::min<std::uint64_t>(per_batch, count - sent);
    if (!pub.write_all(std::string_view(batch.data(), k * frame.size()), deadline)) {
      *error = "publisher: " + pub.error();
      break;
    }
    sent += k;
  }
  return sent;
}

// Responders answer every request on their own sockets, all from one thread.
// The same thread also reads the latency-report subscriber, if there is one.
class responder_pool {
public:
  // `reports`, if not null, is not a responder: it only counts what arrives.
  responder_pool(conn_list conns, std::unique_ptr<connection> reports, bench_clock::time_point deadline)
      : conns_(std::move(conns)), reports_(std::move(reports)), deadline_(deadline) {
    thread_ = std::thread([this] { run(); });
  }
  // Stops the thread; returns the first responder error, if any.
  std::string stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      thread_.join();
    }
    return error_;
  }
  // While the thread runs: the reports counted so far, and whether it gave up.
  std::uint64_t reports_seen() const { return reports_seen_.load(std::memory_order_relaxed); }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  // After stop(): the report subscriber (null if none).
  const connection* reports() const { return reports_.get(); }

private:
  void run() {
    auto list = raw(conns_);
    if (reports_) list.push_back(reports_.get());
    connection* failed = nullptr;
    while (!stop_.load(std::memory_order_relaxed) && bench_clock::now() < deadline_) {
      if (!pump(list, poll_ms, &failed)) {
        error_ = (failed == reports_.get() ? "latency report subscriber: " : "responder: ") + failed->error();
        failed_.store(true);
        return;
      }
      if (reports_) reports_seen_.store(reports_->msgs(), std::memory_order_relaxed);
    }
  }

  conn_list conns_;
  std::unique_ptr<connection> reports_;
  bench_clock::time_point deadline_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> reports_seen_{0};
  std::string error_;
  std::thread thread_;
};

bool start_responders(const scenario_options& opt, bench_clock::time_point deadline,
                      std::unique_ptr<responder_pool>& pool, std::string* error) {
  endpoint as_responder = opt.server;
  as_responder.user = opt.responder_user;
  as_responder.pass = opt.responder_pass;
  conn_list conns;
  if (!open_subscribers(as_responder, opt.responders, opt.subject, "q", deadline, conns, error)) return false;
  std::string reply = make_payload(opt.size);
  for (auto& c : conns) c->become_responder(reply);
  conn_list reports;
  if (!opt.latency_subject.empty() &&
      !open_subscribers(as_responder, 1, opt.latency_subject, "", deadline, reports, error)) {
    *error = "latency report " + *error;
    return false;
  }
  pool = std::make_unique<responder_pool>(std::move(conns), reports.empty() ? nullptr : std::move(reports[0]),
                                          deadline);
  return true;
}

// After the last reply: waits (up to the deadline, or stall_limit without a new
// report) until `requests` latency reports have arrived, then stops the pool.
// Records the count and the wait; any failure or a count other than `requests`
// becomes r.error unless an earlier error is already there.
void finish_responders(responder_pool& pool, const scenario_options& opt, std::uint64_t requests,
                       bench_clock::time_point deadline, scenario_result& r) {
  double lag = 0;
  if (!opt.latency_subject.empty() && r.error.empty()) {
    auto t0 = bench_clock::now();
    auto last_progress = t0;
    std::uint64_t seen = pool.reports_seen();
    while (seen < requests && !pool.failed()) {
      auto now = bench_clock::now();
      if (now >= deadline || now - last_progress > stall_limit) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::uint64_t n = pool.reports_seen();
      if (n != seen) {
        seen = n;
        last_progress = bench_clock::now();
      }
    }
    lag = seconds_between(t0, last_progress);
  }
  std::string pool_error = pool.stop();
  if (r.error.empty()) r.error = pool_error;
  if (const connection* reports = pool.reports(); reports && opt.feed) {
    // A feed (the request log's records): how many came, and when the last one did.
    r.figures.emplace_back("requests", static_cast<double>(requests));
    r.figures.emplace_back("feed_msgs", static_cast<double>(reports->msgs()));
    r.figures.emplace_back("feed_lag_seconds", lag);
  } else if (reports) {
    std::uint64_t got = reports->msgs();
    r.figures.emplace_back("requests", static_cast<double>(requests));
    r.figures.emplace_back("latency_reports", static_cast<double>(got));
    r.figures.emplace_back("reports_lag_seconds", lag);
    if (r.error.empty() && reports->header_msgs() > 0)
      r.error = std::to_string(reports->header_msgs()) + " latency reports carried headers (a status?)";
    if (r.error.empty() && got != requests)
      r.error = std::to_string(got) + " latency reports for " + std::to_string(requests) + " requests on " +
                opt.latency_subject;
  }
}

std::string inbox_prefix() { return "_INBOX.lg" + std::to_string(::getpid()) + "."; }

void finish(scenario_result& r, bench_clock::time_point t0, bench_clock::time_point t1) {
  r.seconds = seconds_between(t0, t1);
  r.rate = r.seconds > 0 ? static_cast<double>(r.done) / r.seconds : 0;
  r.complete = r.error.empty() && r.done == r.target;
}

// Publishes `count` copies of `frame` on `pub` while one thread reads every
// subscriber; counts only deliveries made during this call, so it can run
// several times over the same connections.
scenario_result measure_pubsub(connection& pub, const conn_list& subs, const std::string& frame,
                               std::uint64_t count, bench_clock::time_point deadline) {
  scenario_result r;
  r.target = count * subs.size();
  std::uint64_t before = 0;
  for (auto& c : subs) before += c->msgs();
  // The subscriber thread reads continuously so the server never sees a slow consumer.
  std::atomic<bool> stop{false};
  std::atomic<bool> publisher_done{false};
  bench_clock::time_point last_delivery = bench_clock::now();
  std::uint64_t delivered = 0;  // during this call
  std::string sub_error;
  std::thread reader([&] {
    auto list = raw(subs);
    connection* failed = nullptr;
    while (!stop.load(std::memory_order_relaxed)) {
      if (!pump(list, poll_ms, &failed)) {
        sub_error = "subscriber: " + failed->error();
        break;
      }
      std::uint64_t total = 0;
      for (auto* c : list) total += c->msgs();
      total -= before;
      if (total != delivered) {
        delivered = total;
        last_delivery = bench_clock::now();
      }
      if (delivered >= r.target) break;
      auto now = bench_clock::now();
      if (now >= deadline) {
        sub_error = "subscriber timed out";
        break;
      }
      if (publisher_done.load(std::memory_order_relaxed) && now - last_delivery > stall_limit) {
        sub_error = "subscribers stalled: " + std::to_string(r.target - delivered) + " messages never delivered";
        break;
      }
    }
  });

  auto t0 = bench_clock::now();
  std::string pub_error;
  std::uint64_t sent = blast(pub, frame, count, deadline, &pub_error);
  if (pub_error.empty() && !pub.ping_pong(deadline)) pub_error = "publisher: " + pub.error();
  auto t_pub = bench_clock::now();
  publisher_done.store(true);
  if (!pub_error.empty()) stop.store(true);
  reader.join();

  r.error = !pub_error.empty() ? pub_error : sub_error;
  r.done = delivered;
  r.publish_rate = static_cast<double>(sent) / seconds_between(t0, t_pub);
  finish(r, t0, delivered > 0 ? last_delivery : t_pub);
  if (delivered == 0) r.rate = 0;
  return r;
}

// Subscribes `noise.<i / 1000>.<i % 1000>` (sid i + 1) for i in [from, to) on
// `conn`, pipelined in large writes, then waits for the PONG that confirms them.
bool add_noise_subs(connection& conn, std::uint64_t from, std::uint64_t to,
                    bench_clock::time_point deadline, std::string* error) {
  std::string batch;
  batch.reserve(batch_bytes + 64);
  for (std::uint64_t i = from; i < to; ++i) {
    batch.append("SUB noise.").append(std::to_string(i / 1000)).append(".");
    batch.append(std::to_string(i % 1000)).append(" ").append(std::to_string(i + 1)).append("\r\n");
    if (batch.size() >= batch_bytes || i + 1 == to) {
      if (!conn.write_all(batch, deadline)) {
        *error = "subscribing other subjects: " + conn.error();
        return false;
      }
      batch.clear();
    }
  }
  if (!conn.ping_pong(deadline)) {
    *error = "subscribing other subjects: " + conn.error();
    return false;
  }
  return true;
}

} // namespace

scenario_result run_pub(const scenario_options& opt) {
  scenario_result r;
  r.target = opt.msgs;
  auto deadline = deadline_after(opt.timeout_s);
  auto pub = connection::open(opt.server, deadline, &r.error);
  if (!pub) return r;
  std::string frame = pub_frame("bench.pub", "", make_payload(opt.size));

  auto t0 = bench_clock::now();
  r.done = blast(*pub, frame, opt.msgs, deadline, &r.error);
  // The PONG comes after the server has processed every PUB before the PING.
  if (r.error.empty() && !pub->ping_pong(deadline)) r.error = "publisher: " + pub->error();
  finish(r, t0, bench_clock::now());
  r.publish_rate = r.rate;
  return r;
}

scenario_result run_pubsub(const scenario_options& opt) {
  scenario_result r;
  r.target = opt.msgs * static_cast<std::uint64_t>(opt.subs);
  auto deadline = deadline_after(opt.timeout_s);
  conn_list subs;
  if (!open_subscribers(opt.server, opt.subs, "bench.ps", "", deadline, subs, &r.error)) return r;
  auto pub = connection::open(opt.server, deadline, &r.error);
  if (!pub) return r;
  return measure_pubsub(*pub, subs, pub_frame("bench.ps", "", make_payload(opt.size)), opt.msgs, deadline);
}

scenario_result run_index(const scenario_options& opt) {
  scenario_result r;
  const std::uint64_t per_burst = std::max<std::uint64_t>(1, opt.msgs / index_bursts);
  r.target = 2 * index_bursts * per_burst;
  auto deadline = deadline_after(opt.timeout_s);
  conn_list subs;
  if (!open_subscribers(opt.server, 1, "bench.idx", "", deadline, subs, &r.error)) return r;
  auto pub = connection::open(opt.server, deadline, &r.error);
  if (!pub) return r;
  auto noise = connection::open(opt.server, deadline, &r.error);
  if (!noise) return r;
  std::string frame = pub_frame("bench.idx", "", make_payload(opt.size));

  // Small index: settle, warm up, measure; grow the index: the same again. The same
  // connections throughout, so only the index size differs between the two phases.
  // Each phase is index_bursts bursts and takes the median, so one scheduling
  // hiccup on a shared machine does not decide the ratio. With --server-pid, the
  // server's CPU time per message is measured too: it depends much less on how
  // the threads happen to be scheduled than msgs/s does.
  double rates[2] = {0, 0};
  double cpu_ns[2] = {0, 0};  // server CPU per delivered message, with --server-pid
  const std::uint64_t sizes[2] = {opt.noise_small, std::max(opt.noise_small, opt.noise)};
  std::uint64_t have = 0;
  auto t0 = bench_clock::now();
  for (int phase = 0; phase < 2; ++phase) {
    auto t_sub = bench_clock::now();
    if (!add_noise_subs(*noise, have, sizes[phase], deadline, &r.error)) return r;
    if (phase == 1) {
      double s = seconds_between(t_sub, bench_clock::now());
      r.figures.emplace_back("noise_sub_seconds", s);
      r.figures.emplace_back("noise_subs_per_s", s > 0 ? static_cast<double>(sizes[1] - sizes[0]) / s : 0);
    }
    have = sizes[phase];
    std::string where = "with " + std::to_string(have) + " other subs: ";
    // Lets the server finish any background work the SUBs caused (a GC, say).
    std::this_thread::sleep_for(index_settle);
    scenario_result w = measure_pubsub(*pub, subs, frame, per_burst, deadline);
    if (!w.complete) {
      r.error = where + "warm-up: " + w.error;
      return r;
    }
    std::vector<double> burst_rates, burst_cpu_ns;
    for (int b = 0; b < index_bursts; ++b) {
      double cpu0 = read_cpu_seconds(opt.server_pid);
      scenario_result m = measure_pubsub(*pub, subs, frame, per_burst, deadline);
      double cpu1 = read_cpu_seconds(opt.server_pid);
      if (!m.complete) {
        r.error = where + m.error;
        return r;
      }
      burst_rates.push_back(m.rate);
      if (cpu0 >= 0 && cpu1 >= 0) burst_cpu_ns.push_back((cpu1 - cpu0) * 1e9 / static_cast<double>(m.done));
      r.done += m.done;
      r.publish_rate = m.publish_rate;
    }
    std::sort(burst_rates.begin(), burst_rates.end());
    rates[phase] = burst_rates[burst_rates.size() / 2];
    const char* tag = phase == 0 ? "_small" : "_large";
    r.figures.emplace_back(std::string("spread") + tag, (burst_rates.back() - burst_rates.front()) / rates[phase]);
    if (burst_cpu_ns.size() == burst_rates.size()) {
      std::sort(burst_cpu_ns.begin(), burst_cpu_ns.end());
      cpu_ns[phase] = burst_cpu_ns[burst_cpu_ns.size() / 2];
      r.figures.emplace_back(std::string("server_cpu_ns") + tag, cpu_ns[phase]);
    }
  }
  r.seconds = seconds_between(t0, bench_clock::now());
  r.rate = rates[1];
  r.complete = r.done == r.target;
  r.figures.emplace_back("noise_small", static_cast<double>(sizes[0]));
  r.figures.emplace_back("noise_large", static_cast<double>(sizes[1]));
  r.figures.emplace_back("rate_small", rates[0]);
  r.figures.emplace_back("rate_large", rates[1]);
  r.figures.emplace_back("kept", rates[0] > 0 ? rates[1] / rates[0] : 0);
  if (cpu_ns[0] > 0 && cpu_ns[1] > 0) r.figures.emplace_back("cpu_kept", cpu_ns[0] / cpu_ns[1]);
  return r;
}

scenario_result run_request(const scenario_options& opt) {
  scenario_result r;
  r.target = opt.msgs;
  auto deadline = deadline_after(opt.timeout_s);
  std::unique_ptr<responder_pool> pool;
  if (!start_responders(opt, deadline, pool, &r.error)) return r;
  conn_list requesters;
  std::string inbox = inbox_prefix();
  if (!open_subscribers(opt.server, 1, inbox + "*", "", deadline, requesters, &r.error)) {
    pool->stop();
    return r;
  }
  connection& req = *requesters[0];

  // A ring of `window` request frames with fixed-width reply tokens, so any
  // run of k consecutive requests is one contiguous slice (one copy, one write).
  std::size_t window = static_cast<std::size_t>(std::max(1, opt.window));
  std::string payload = make_payload(opt.size);
  std::string ring;
  std::size_t frame_size = 0;
  for (std::size_t k = 0; k < window; ++k) {
    char token[16];
    std::snprintf(token, sizeof token, "%06zu", k % 1000000);
    std::string f = pub_frame(opt.subject, inbox + token, payload);
    frame_size = f.size();
    ring.append(f);
  }
  std::size_t ring_pos = 0;
  auto send = [&](std::uint64_t k) {
    while (k > 0) {
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(k, window - ring_pos));
      req.queue(std::string_view(ring.data() + ring_pos * frame_size, take * frame_size));
      ring_pos = (ring_pos + take) % window;
      k -= take;
    }
  };

  connection* const list[] = {&req};
  auto t0 = bench_clock::now();
  auto last_progress = t0;
  std::uint64_t sent = std::min<std::uint64_t>(window, opt.msgs);
  send(sent);
  if (!req.flush()) r.error = "requester: " + req.error();
  while (r.error.empty() && r.done < opt.msgs) {
    auto now = bench_clock::now();
    if (now >= deadline) {
      r.error = "requester timed out";
      break;
    }
    if (now - last_progress > stall_limit) {
      r.error = "requester stalled: " + std::to_string(sent - r.done) + " replies never arrived";
      break;
    }
    if (!pump(list, poll_ms, nullptr)) {
      r.error = "requester: " + req.error();
      break;
    }
    if (req.msgs() != r.done) last_progress = bench_clock::now();
    r.done = req.msgs();
    std::uint64_t room = r.done + window - sent;
    std::uint64_t more = std::min<std::uint64_t>(room, opt.msgs - sent);
    if (more > 0) {
      send(more);
      sent += more;
      if (!req.flush()) r.error = "requester: " + req.error();
    }
  }
  auto t1 = bench_clock::now();
  if (r.error.empty() && req.header_msgs() > 0)
    r.error = std::to_string(req.header_msgs()) + " status replies (no responders?)";
  finish_responders(*pool, opt, sent, deadline, r);
  finish(r, t0, t1);
  if (opt.feed) {
    // The feed's own rate: what arrived from the first request to the last feed message.
    double msgs = 0, lag = 0;
    for (auto& [k, v] : r.figures) {
      if (k == "feed_msgs") msgs = v;
      if (k == "feed_lag_seconds") lag = v;
    }
    if (r.seconds + lag > 0) r.figures.emplace_back("feed_per_second", msgs / (r.seconds + lag));
  }
  return r;
}

scenario_result run_latency(const scenario_options& opt) {
  scenario_result r;
  r.target = opt.msgs;
  auto deadline = deadline_after(opt.timeout_s);
  std::unique_ptr<responder_pool> pool;
  if (!start_responders(opt, deadline, pool, &r.error)) return r;
  conn_list requesters;
  std::string inbox = inbox_prefix();
  if (!open_subscribers(opt.server, 1, inbox + "*", "", deadline, requesters, &r.error)) {
    pool->stop();
    return r;
  }
  connection& req = *requesters[0];
  std::string frame = pub_frame(opt.subject, inbox + "1", make_payload(opt.size));
  connection* const list[] = {&req};

  std::vector<std::int64_t> rtt_ns;
  rtt_ns.reserve(opt.msgs);
  std::uint64_t total = opt.warmup + opt.msgs;
  bench_clock::time_point t0{};
  for (std::uint64_t i = 0; i < total && r.error.empty(); ++i) {
    auto start = bench_clock::now();
    if (i == opt.warmup) t0 = start;
    std::uint64_t want = req.msgs() + 1;
    if (!req.write_all(frame, deadline)) {
      r.error = "requester: " + req.error();
      break;
    }
    while (req.msgs() < want) {
      if (!pump(list, poll_ms, nullptr)) {
        r.error = "requester: " + req.error();
        break;
      }
      auto now = bench_clock::now();
      if (req.msgs() < want && now >= deadline) {
        r.error = "requester timed out";
        break;
      }
      if (req.msgs() < want && now - start > stall_limit) {
        r.error = "requester stalled: reply " + std::to_string(i + 1) + " never arrived";
        break;
      }
    }
    if (!r.error.empty()) break;
    if (i >= opt.warmup) rtt_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(bench_clock::now() - start).count());
  }
  auto t1 = bench_clock::now();
  if (r.error.empty() && req.header_msgs() > 0)
    r.error = std::to_string(req.header_msgs()) + " status replies (no responders?)";
  finish_responders(*pool, opt, req.msgs(), deadline, r);
  r.done = rtt_ns.size();
  finish(r, t0 == bench_clock::time_point{} ? t1 : t0, t1);

  if (!rtt_ns.empty()) {
    std::sort(rtt_ns.begin(), rtt_ns.end());
    auto pct = [&](double q) {
      std::size_t idx = static_cast<std::size_t>(q * static_cast<double>(rtt_ns.size() - 1) + 0.5);
      return static_cast<double>(rtt_ns[idx]) / 1000.0;
    };
    double sum = 0;
    for (auto v : rtt_ns) sum += static_cast<double>(v);
    r.p50_us = pct(0.50);
    r.p90_us = pct(0.90);
    r.p99_us = pct(0.99);
    r.p999_us = pct(0.999);
    r.max_us = static_cast<double>(rtt_ns.back()) / 1000.0;
    r.mean_us = sum / static_cast<double>(rtt_ns.size()) / 1000.0;
  }
  return r;
}

} // namespace dialtone::bench
