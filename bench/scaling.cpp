// The scaling scenarios: the server's memory with many idle connections and their
// subscriptions, and the cost of SUB/UNSUB as the number of subjects grows. Both run
// on the calling thread alone; the idle connections share one epoll set and one read
// buffer, so 10,000 of them cost the load generator little.
#include "proc_stats.hpp"
#include "scenarios.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <limits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dialtone::bench {
namespace {

constexpr std::size_t read_buf_size = 64 * 1024;
// Connections between connect() and their second PONG. Keeps the listener's accept
// queue far below somaxconn, so neither server drops SYNs.
constexpr int max_opening = 256;
constexpr int max_events = 512;
constexpr int wait_ms = 50;
// Idle connections that make no progress for this long fail the run.
constexpr auto open_stall_limit = std::chrono::seconds(10);
// Time the connections sit idle before the RSS reading, and the wait after closing
// them before the second reading.
constexpr double settle_s = 1.0;

// Raises the soft fd limit to the hard one; false if that still leaves too few.
bool raise_fd_limit(std::uint64_t need, std::string* error) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
    *error = "fd limit " + std::to_string(lim.rlim_cur) + " is below the " + std::to_string(need) +
             " this scenario needs (ulimit -n)";
    return false;
  }
  return true;
}

// One of many idle connections: a socket, its parser and the few bytes it still
// has to write. The read buffer is the fleet's.
struct idle_conn {
  enum class phase { connecting, handshake, subscribing, idle };

  explicit idle_conn(int f, int i) : fd(f), index(i) {}
  ~idle_conn() {
    if (fd >= 0) ::close(fd);
  }
  idle_conn(const idle_conn&) = delete;
  idle_conn& operator=(const idle_conn&) = delete;

  void on_msg(std::string_view, std::string_view, std::size_t) {}
  void on_ping() { out.append("PONG\r\n"); }

  int fd;
  int index;
  phase state = phase::connecting;
  std::uint32_t interest = 0;  // events registered with epoll
  inbound_parser<idle_conn> parser{*this};
  std::string out;
};

// opt.conns connections, each with opt.subs_per_conn subscriptions `idle.<conn>.<i>`.
// Owner: the calling thread. Opens them with non-blocking connects, at most
// max_opening at a time, and keeps answering server PINGs while they sit idle.
class idle_fleet {
public:
  idle_fleet(const scenario_options& opt, bench_clock::time_point deadline)
      : opt_(opt), deadline_(deadline), connect_(connect_line_for(opt.server)), buf_(new char[read_buf_size]) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.reserve(static_cast<std::size_t>(opt.conns));
  }
  ~idle_fleet() { close_all(); }

  // Until every connection has its subscriptions confirmed; false on any failure.
  bool open_all() {
    if (ep_ < 0) return fail(std::string("epoll_create1: ") + std::strerror(errno));
    auto last_progress = bench_clock::now();
    int last_idle = 0;
    while (idle_ < opt_.conns) {
      auto now = bench_clock::now();
      if (now >= deadline_) return fail("timed out: " + progress());
      if (idle_ != last_idle) {
        last_idle = idle_;
        last_progress = now;
      } else if (now - last_progress > open_stall_limit) {
        return fail("stalled: " + progress());
      }
      while (started_ < opt_.conns && opening_ < max_opening)
        if (!start_one()) return false;
      if (!wait_once()) return false;
    }
    return true;
  }

  // Serves the idle connections (PINGs from the server) for `seconds`.
  bool settle(double seconds) {
    auto until = deadline_after(seconds);
    while (bench_clock::now() < until)
      if (!wait_once()) return false;
    return true;
  }

  void close_all() {
    conns_.clear();
    if (ep_ >= 0) ::close(ep_);
    ep_ = -1;
  }

  int idle() const { return idle_; }
  const std::string& error() const { return error_; }

private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  std::string progress() const {
    return std::to_string(idle_) + " of " + std::to_string(opt_.conns) + " connections ready, " +
           std::to_string(opening_) + " still opening";
  }

  bool start_one() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket #" + std::to_string(started_) + ": " + std::strerror(errno));
    conns_.push_back(std::make_unique<idle_conn>(fd, started_));
    idle_conn& c = *conns_.back();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(opt_.server.port);
    if (::inet_pton(AF_INET, opt_.server.host.c_str(), &addr.sin_addr) != 1)
      return fail("bad IPv4 address: " + opt_.server.host);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
      return fail("connect #" + std::to_string(started_) + ": " + std::strerror(errno));
    if (!set_interest(c, EPOLLIN | EPOLLOUT)) return false;
    ++started_;
    ++opening_;
    return true;
  }

  bool set_interest(idle_conn& c, std::uint32_t events) {
    if (c.interest == events) return true;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    if (::epoll_ctl(ep_, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev) != 0)
      return fail(std::string("epoll_ctl: ") + std::strerror(errno));
    c.interest = events;
    return true;
  }

  bool wait_once() {
    epoll_event events[max_events];
    int n = ::epoll_wait(ep_, events, max_events, wait_ms);
    if (n < 0 && errno != EINTR) return fail(std::string("epoll_wait: ") + std::strerror(errno));
    for (int i = 0; i < n; ++i)
      if (!on_event(*static_cast<idle_conn*>(events[i].data.ptr), events[i].events)) return false;
    return true;
  }

  bool on_event(idle_conn& c, std::uint32_t ev) {
    std::string who = "connection #" + std::to_string(c.index);
    if (c.state == idle_conn::phase::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail("connect " + who + ": " + std::strerror(err));
      if (!(ev & EPOLLOUT)) return true;
      int one = 1;
      ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      c.state = idle_conn::phase::handshake;
      c.out.append(connect_);
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      for (;;) {
        ssize_t n = ::recv(c.fd, buf_.get(), read_buf_size, 0);
        if (n > 0) {
          if (!c.parser.feed(buf_.get(), static_cast<std::size_t>(n)))
            return fail(who + ": " + c.parser.error());
          continue;
        }
        if (n == 0) return fail(who + " closed by the server");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return fail(who + ": recv: " + std::strerror(errno));
      }
      if (c.state == idle_conn::phase::handshake && c.parser.pongs() >= 1) {
        for (int i = 0; i < opt_.subs_per_conn; ++i) {
          c.out.append("SUB idle.").append(std::to_string(c.index)).append(".").append(std::to_string(i));
          c.out.append(" ").append(std::to_string(i + 1)).append("\r\n");
        }
        c.out.append("PING\r\n");
        c.state = idle_conn::phase::subscribing;
      } else if (c.state == idle_conn::phase::subscribing && c.parser.pongs() >= 2) {
        c.state = idle_conn::phase::idle;
        --opening_;
        ++idle_;
      }
    }
    return write_out(c, who);
  }

  bool write_out(idle_conn& c, const std::string& who) {
    std::size_t pos = 0;
    while (pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + pos, c.out.size() - pos, MSG_NOSIGNAL);
      if (n > 0) {
        pos += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail(who + ": send: " + std::strerror(errno));
    }
    c.out.erase(0, pos);
    return set_interest(c, c.out.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT);
  }

  const scenario_options& opt_;
  bench_clock::time_point deadline_;
  std::string connect_;  // CONNECT + PING, the same for every connection
  std::unique_ptr<char[]> buf_;
  int ep_ = -1;
  std::vector<std::unique_ptr<idle_conn>> conns_;
  int started_ = 0;
  int opening_ = 0;
  int idle_ = 0;
  std::string error_;
};

// A fresh connection that subscribes, publishes to itself and gets the message
// back: the server still works.
bool health_check(const scenario_options& opt, bench_clock::time_point deadline, std::string* error) {
  auto c = connection::open(opt.server, deadline, error);
  if (!c) return false;
  if (!c->write_all("SUB health.check 1\r\nPUB health.check 2\r\nok\r\n", deadline) ||
      !c->ping_pong(deadline)) {
    *error = c->error();
    return false;
  }
  if (c->msgs() != 1) {
    *error = "own message not delivered";
    return false;
  }
  return true;
}

// `SUB su.<round>.<i> <first_sid + i>` for every i below count, or the UNSUBs.
std::string sub_batch(std::uint64_t round, std::uint64_t first_sid, std::uint64_t count) {
  std::string b;
  b.reserve(count * 32);
  std::string prefix = "SUB su." + std::to_string(round) + ".";
  for (std::uint64_t i = 0; i < count; ++i)
    b.append(prefix).append(std::to_string(i)).append(" ").append(std::to_string(first_sid + i)).append("\r\n");
  return b;
}

std::string unsub_batch(std::uint64_t first_sid, std::uint64_t count) {
  std::string b;
  b.reserve(count * 16);
  for (std::uint64_t i = 0; i < count; ++i) b.append("UNSUB ").append(std::to_string(first_sid + i)).append("\r\n");
  return b;
}

// Writes `batch` and waits for the PONG after it; the elapsed seconds, or -1.
double timed_batch(connection& c, const std::string& batch, bench_clock::time_point deadline) {
  auto t0 = bench_clock::now();
  if (!c.write_all(batch, deadline) || !c.ping_pong(deadline)) return -1;
  return seconds_between(t0, bench_clock::now());
}

// Publishes one empty message to `subject`; true if exactly `expect` deliveries follow.
bool probe(connection& c, const std::string& subject, std::uint64_t expect,
           bench_clock::time_point deadline) {
  std::uint64_t before = c.msgs();
  if (!c.write_all("PUB " + subject + " 0\r\n\r\n", deadline) || !c.ping_pong(deadline)) return false;
  return c.msgs() - before == expect;
}

} // namespace

scenario_result run_idle(const scenario_options& opt) {
  scenario_result r;
  r.target = static_cast<std::uint64_t>(opt.conns);
  auto deadline = deadline_after(opt.timeout_s);
  if (!raise_fd_limit(static_cast<std::uint64_t>(opt.conns) + 64, &r.error)) return r;

  auto t0 = bench_clock::now();
  double rss = -1;
  {
    idle_fleet fleet(opt, deadline);
    bool ok = fleet.open_all();
    auto t1 = bench_clock::now();
    r.done = static_cast<std::uint64_t>(fleet.idle());
    r.seconds = seconds_between(t0, t1);
    r.rate = r.seconds > 0 ? static_cast<double>(r.done) / r.seconds : 0;
    if (ok) ok = fleet.settle(settle_s);
    if (!ok) {
      r.error = fleet.error();
      return r;
    }
    rss = read_rss_kib(opt.server_pid);
  }  // every connection closes here

  auto t_closed = bench_clock::now();
  if (!health_check(opt, deadline, &r.error)) {
    r.error = "after closing " + std::to_string(opt.conns) + " connections: " + r.error;
    return r;
  }
  double health_s = seconds_between(t_closed, bench_clock::now());
  std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
  r.figures.emplace_back("total_subs", static_cast<double>(opt.conns) * opt.subs_per_conn);
  r.figures.emplace_back("rss_kib", rss);
  r.figures.emplace_back("rss_after_close_kib", read_rss_kib(opt.server_pid));
  r.figures.emplace_back("setup_seconds", r.seconds);
  r.figures.emplace_back("health_seconds", health_s);
  r.complete = r.done == r.target && (opt.server_pid <= 0 || rss > 0);
  if (!r.complete && r.error.empty()) r.error = "could not read VmRSS of pid " + std::to_string(opt.server_pid);
  return r;
}

namespace {

// One timed SUB pass and UNSUB pass of `n` distinct subjects on a fresh connection, under
// the subject prefix su.<round>: an empty per-connection sid table and a new trie branch.
bool timed_pass(const scenario_options& opt, std::uint64_t round, std::uint64_t n,
                bench_clock::time_point deadline, double& sub_s, double& unsub_s, std::string& error) {
  std::string subs = sub_batch(round, 1, n);
  std::string unsubs = unsub_batch(1, n);
  std::string last = "su." + std::to_string(round) + "." + std::to_string(n - 1);
  auto conn = connection::open(opt.server, deadline, &error);
  if (!conn) return false;
  // Times one batch, then checks that a message to the last subject is delivered
  // `expect` times (1 after the SUBs, 0 after the UNSUBs).
  auto step = [&](const std::string& batch, std::uint64_t expect, const char* op, const char* wrong,
                  double& seconds) {
    seconds = timed_batch(*conn, batch, deadline);
    if (seconds < 0) {
      error = std::string(op) + ": " + conn->error();
      return false;
    }
    if (!probe(*conn, last, expect, deadline)) {
      error = conn->error().empty() ? wrong : conn->error();
      return false;
    }
    return true;
  };
  return step(subs, 1, "SUB", "the last SUB gets no message", sub_s) &&
         step(unsubs, 0, "UNSUB", "a message arrives after UNSUB", unsub_s);
}

}  // namespace

// Is SUB/UNSUB time linear in the subject count? Each repetition does the same number of
// operations twice: once as ops/ops_small separate passes of ops_small subjects, once as
// one pass of ops subjects (every pass on a fresh connection, see timed_pass). The two
// halves take about as long, so both see the same kind of machine noise; the order of
// the halves swaps every repetition, and the fastest repetition of each counts. With time
// linear in the count both halves take the same time, and growth =
// time(ops) / time(ops_small) = (ops/ops_small) × one pass / the sum of the small passes.
scenario_result run_subunsub(const scenario_options& opt) {
  scenario_result r;
  const std::uint64_t small = opt.ops_small, large = opt.ops;
  const std::uint64_t parts = std::max<std::uint64_t>(1, large / small);
  auto deadline = deadline_after(opt.timeout_s);
  auto budget_end = deadline_after(opt.timeout_s / 2);  // no further repetitions after this

  constexpr double none = std::numeric_limits<double>::infinity();
  double best_sub[2] = {none, none}, best_unsub[2] = {none, none};  // [0]: sum of the small passes
  std::uint64_t round = 0;
  auto t0 = bench_clock::now();
  for (int rep = 0; rep < std::max(1, opt.reps); ++rep) {
    if (rep > 0 && bench_clock::now() >= budget_end) break;
    for (int j = 0; j < 2; ++j) {
      int k = (rep % 2 == 0) ? j : 1 - j;
      std::uint64_t n = k == 0 ? small : large;
      std::uint64_t passes = k == 0 ? parts : 1;
      double sub_total = 0, unsub_total = 0;
      for (std::uint64_t i = 0; i < passes; ++i, ++round) {
        double s = 0, u = 0;
        std::string error;
        if (!timed_pass(opt, round, n, deadline, s, u, error)) {
          r.error = std::to_string(n) + " subjects, repetition " + std::to_string(rep + 1) + ": " + error;
          return r;
        }
        sub_total += s;
        unsub_total += u;
        r.done += 2 * n;
      }
      best_sub[k] = std::min(best_sub[k], sub_total);
      best_unsub[k] = std::min(best_unsub[k], unsub_total);
    }
  }
  r.seconds = seconds_between(t0, bench_clock::now());
  r.target = r.done;  // the repetitions actually run (at least one per size)
  const double small_ops = static_cast<double>(small * parts), large_ops = static_cast<double>(large);
  r.rate = large_ops / best_sub[1];
  r.figures.emplace_back("ops_small", static_cast<double>(small));
  r.figures.emplace_back("ops_large", large_ops);
  r.figures.emplace_back("sub_us_small", best_sub[0] * 1e6 / small_ops);
  r.figures.emplace_back("sub_us_large", best_sub[1] * 1e6 / large_ops);
  r.figures.emplace_back("unsub_us_small", best_unsub[0] * 1e6 / small_ops);
  r.figures.emplace_back("unsub_us_large", best_unsub[1] * 1e6 / large_ops);
  // time(large) / time(small), where time(small) is the mean of the small passes.
  r.figures.emplace_back("sub_growth", best_sub[1] / (best_sub[0] / static_cast<double>(parts)));
  r.figures.emplace_back("unsub_growth", best_unsub[1] / (best_unsub[0] / static_cast<double>(parts)));
  r.complete = true;
  return r;
}

} // namespace dialtone::bench
