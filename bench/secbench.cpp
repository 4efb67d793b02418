// dialtone-secbench: what security costs, through the official NATS C client libnats
// (what users run): pub/sub and request/reply over TLS, and logins per second with
// nkeys, JWTs (creds) and TLS. One scenario against one server per invocation; the
// result is one JSON line on stdout in the shape dialtone-loadgen and dialtone-jsbench
// print, so bench/run.py reads all three alike.
//
// Every wait is bounded by --timeout, and a watchdog ends the process (after printing
// a failed JSON line) if anything still hangs past it.
#include "json_escape.hpp"
#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"

#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using bench_clock = std::chrono::steady_clock;

constexpr const char* usage_text = R"(usage: dialtone-secbench SCENARIO [options]

Scenarios (libnats clients):
  tlspubsub  one publisher and one subscriber connection; --msgs messages of
             --size bytes; msgs/s from the first publish to the last delivery
  tlsreq     a responder connection and a requester connection keeping
             --window requests in flight; --msgs requests; req/s
  login      --threads threads each connecting and closing in a loop (INFO,
             CONNECT with the credentials below, PING/PONG), --msgs logins in
             all; logins/s
  rawlogin   the same without libnats, so the client is not what limits it:
             plain sockets, the nonce signed by libplatform/crypto (libsodium;
             libnats signs with its own slower ed25519); --nkey-seed or
             --creds; logins/s

Options:
  --host H, --port P    server (127.0.0.1:4222)
  --tls-ca FILE         use TLS, trusting this CA (the scenarios are named for it,
                        but run without TLS when this is not given)
  --creds FILE          log in with a .creds file (JWT)
  --nkey-seed FILE      log in with an nkey: the seed file ...
  --nkey-pub KEY        ... and its public key
  --msgs N, --size N, --window N, --threads N, --timeout SECONDS

Prints one JSON line. Exit status: 0 complete, 1 incomplete or failed, 2 usage.
)";

struct options {
  std::string host = "127.0.0.1";
  unsigned port = 4222;
  std::string tls_ca, creds, nkey_seed, nkey_pub;
  std::uint64_t msgs = 100'000;
  std::size_t size = 16;
  int window = 256;
  int threads = 4;
  double timeout_s = 60.0;
};

struct result {
  std::uint64_t target = 0, done = 0;
  double seconds = 0, rate = 0;
  bool complete = false;
  std::string error;
  std::uint64_t retries = 0;  // login: refused logins tried again (see run_login)
};

std::atomic<bool> g_printed{false};
std::atomic<std::uint64_t> g_done{0};

void print_result(std::string_view scenario, const options& opt, const result& r) {
  if (g_printed.exchange(true)) return;
  std::printf(
      "{\"scenario\":\"%.*s\",\"port\":%u,\"msgs\":%llu,\"size\":%zu,\"window\":%d,\"threads\":%d,"
      "\"tls\":%s,\"target\":%llu,\"done\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"retries\":%llu,"
      "\"complete\":%s,\"error\":\"%s\"}\n",
      static_cast<int>(scenario.size()), scenario.data(), opt.port, static_cast<unsigned long long>(opt.msgs),
      opt.size, opt.window, opt.threads, opt.tls_ca.empty() ? "false" : "true",
      static_cast<unsigned long long>(r.target), static_cast<unsigned long long>(r.done), r.seconds, r.rate,
      static_cast<unsigned long long>(r.retries), r.complete ? "true" : "false", bench::json_escape(r.error).c_str());
  std::fflush(stdout);
}

void start_watchdog(std::string scenario, options opt) {
  auto limit = std::chrono::duration<double>(opt.timeout_s + 5);
  std::thread([scenario, opt, limit] {
    std::this_thread::sleep_for(limit);
    result r;
    r.target = opt.msgs;
    r.done = g_done.load();
    r.error = "watchdog: still running after " + std::to_string(limit.count()) + " s";
    print_result(scenario, opt, r);
    std::_Exit(1);
  }).detach();
}

std::string describe(natsStatus s) {
  std::string out = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last && *last && out != last) out.append(" (").append(last).append(")");
  return out;
}

// libnats options for the server: TLS trusting --tls-ca, and the credentials. Built
// once and reused (building them loads the CA certificates, ~20 ms: a client that
// connects again keeps its options, and so does this benchmark).
natsOptions* make_options(const options& o) {
  natsOptions* no = nullptr;
  if (natsOptions_Create(&no) != NATS_OK) return nullptr;
  std::string url = "nats://" + o.host + ":" + std::to_string(o.port);
  natsOptions_SetURL(no, url.c_str());
  natsOptions_SetAllowReconnect(no, false);
  natsOptions_SetTimeout(no, 5000);
  if (!o.tls_ca.empty()) {
    natsOptions_SetSecure(no, true);
    natsOptions_LoadCATrustedCertificates(no, o.tls_ca.c_str());
    natsOptions_SkipServerVerification(no, false);
  }
  if (!o.creds.empty()) natsOptions_SetUserCredentialsFromFiles(no, o.creds.c_str(), nullptr);
  if (!o.nkey_seed.empty()) natsOptions_SetNKeyFromSeed(no, o.nkey_pub.c_str(), o.nkey_seed.c_str());
  return no;
}

natsStatus connect(natsConnection** nc, const options& o) {
  natsOptions* no = make_options(o);
  if (!no) return NATS_NO_MEMORY;
  natsStatus s = natsConnection_Connect(nc, no);
  natsOptions_Destroy(no);
  return s;
}

struct counter {
  std::atomic<std::uint64_t> n{0};
  std::uint64_t target = 0;
  std::mutex mu;
  std::condition_variable cv;
  bench_clock::time_point last;
  void hit() {
    std::uint64_t v = ++n;
    g_done = v;
    if (v == target) {
      std::lock_guard lock(mu);
      last = bench_clock::now();
      cv.notify_all();
    }
  }
  bool wait(bench_clock::time_point deadline) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, deadline, [&] { return n.load() >= target; });
  }
};

extern "C" void count_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  natsMsg_Destroy(m);
  static_cast<counter*>(closure)->hit();
}

result run_pubsub(const options& o, bench_clock::time_point deadline) {
  result r;
  r.target = o.msgs;
  natsConnection *pub = nullptr, *sub = nullptr;
  if (natsStatus s = connect(&sub, o); s != NATS_OK) return r.error = "subscriber connect: " + describe(s), r;
  if (natsStatus s = connect(&pub, o); s != NATS_OK) return r.error = "publisher connect: " + describe(s), r;
  counter c;
  c.target = o.msgs;
  natsSubscription* s = nullptr;
  natsConnection_Subscribe(&s, sub, "bench.tls", count_message, &c);
  natsSubscription_SetPendingLimits(s, -1, -1);
  natsConnection_Flush(sub);
  std::string payload(o.size, 'x');
  auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < o.msgs; ++i) {
    natsStatus ps = natsConnection_Publish(pub, "bench.tls", payload.data(), static_cast<int>(payload.size()));
    if (ps != NATS_OK) return r.error = "publish: " + describe(ps), r;
  }
  natsConnection_Flush(pub);
  bool all = c.wait(deadline);
  r.done = c.n.load();
  r.seconds = std::chrono::duration<double>((all ? c.last : bench_clock::now()) - t0).count();
  r.rate = r.done / r.seconds;
  r.complete = all;
  if (!all) r.error = "timed out";
  natsSubscription_Destroy(s);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub);
  return r;
}

extern "C" void answer(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  if (const char* reply = natsMsg_GetReply(m)) natsConnection_Publish(nc, reply, natsMsg_GetData(m), natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

struct window_state {
  counter c;
  std::atomic<int> in_flight{0};
  std::mutex mu;
  std::condition_variable cv;
};

extern "C" void reply_arrived(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  natsMsg_Destroy(m);
  auto* w = static_cast<window_state*>(closure);
  w->in_flight--;
  {
    std::lock_guard lock(w->mu);
  }
  w->cv.notify_one();
  w->c.hit();
}

result run_req(const options& o, bench_clock::time_point deadline) {
  result r;
  r.target = o.msgs;
  natsConnection *rsp = nullptr, *req = nullptr;
  if (natsStatus s = connect(&rsp, o); s != NATS_OK) return r.error = "responder connect: " + describe(s), r;
  if (natsStatus s = connect(&req, o); s != NATS_OK) return r.error = "requester connect: " + describe(s), r;
  natsSubscription *rs = nullptr, *is = nullptr;
  natsConnection_Subscribe(&rs, rsp, "bench.req", answer, nullptr);
  natsSubscription_SetPendingLimits(rs, -1, -1);
  natsConnection_Flush(rsp);
  window_state w;
  w.c.target = o.msgs;
  natsConnection_Subscribe(&is, req, "_INBOX.bench.*", reply_arrived, &w);
  natsSubscription_SetPendingLimits(is, -1, -1);
  natsConnection_Flush(req);
  std::string payload(o.size, 'x');
  auto t0 = bench_clock::now();
  std::string reply;
  for (std::uint64_t i = 0; i < o.msgs; ++i) {
    {
      std::unique_lock lock(w.mu);
      if (!w.cv.wait_until(lock, deadline, [&] { return w.in_flight.load() < o.window; })) break;
    }
    w.in_flight++;
    reply = "_INBOX.bench." + std::to_string(i);
    natsConnection_PublishRequest(req, "bench.req", reply.c_str(), payload.data(), static_cast<int>(payload.size()));
    if (w.in_flight.load() >= o.window) natsConnection_Flush(req);  // nothing more to batch: send now
  }
  natsConnection_Flush(req);
  bool all = w.c.wait(deadline);
  r.done = w.c.n.load();
  r.seconds = std::chrono::duration<double>((all ? w.c.last : bench_clock::now()) - t0).count();
  r.rate = r.done / r.seconds;
  r.complete = all;
  if (!all) r.error = "timed out";
  natsSubscription_Destroy(is);
  natsSubscription_Destroy(rs);
  natsConnection_Destroy(req);
  natsConnection_Destroy(rsp);
  return r;
}

// --threads threads logging in until --msgs logins are done. `login` is called on a
// thread with that thread's state (from `setup`) and returns "" on success, "retry"
// for a refusal worth another try (counted; at most 5 % of the logins), else the error.
template <class State, class Setup, class Login>
result run_logins(const options& o, bench_clock::time_point deadline, Setup setup, Login login) {
  result r;
  r.target = o.msgs;
  std::atomic<std::uint64_t> next{0}, ok{0}, retried{0};
  std::mutex err_mu;
  std::string first_error;
  auto t0 = bench_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&] {
      State state = setup();
      while (next++ < o.msgs && bench_clock::now() < deadline) {
        std::string e = login(state);
        if (e == "retry" && ++retried <= o.msgs / 20 + 1) {
          --next;
          continue;
        }
        if (!e.empty()) {
          std::lock_guard lock(err_mu);
          if (first_error.empty()) first_error = e;
          break;
        }
        g_done = ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  r.done = ok.load();
  r.seconds = std::chrono::duration<double>(bench_clock::now() - t0).count();
  r.rate = r.done / r.seconds;
  r.complete = r.done == o.msgs;
  r.error = first_error.empty() ? (r.complete ? "" : "timed out") : first_error;
  r.retries = retried.load();
  return r;
}

// libnats' options, owned per thread.
struct options_holder {
  natsOptions* o = nullptr;
  explicit options_holder(natsOptions* opts) : o(opts) {}
  options_holder(options_holder&& other) noexcept : o(std::exchange(other.o, nullptr)) {}
  ~options_holder() {
    if (o) natsOptions_Destroy(o);
  }
};

result run_login(const options& o, bench_clock::time_point deadline) {
  // libnats 3.4 drops the nonce's signature from CONNECT when its first byte is 0 (one
  // login in 256, against nats-server and dialtone alike; the server refuses it): such
  // a login is tried again and counted.
  return run_logins<options_holder>(
      o, deadline, [&] { return options_holder(make_options(o)); },
      [](options_holder& h) -> std::string {
        natsConnection* nc = nullptr;
        natsStatus s = natsConnection_Connect(&nc, h.o);
        if (s == NATS_CONNECTION_AUTH_FAILED) return "retry";
        if (s != NATS_OK) return describe(s);
        natsConnection_Destroy(nc);
        return "";
      });
}

// One login on a plain socket: INFO, CONNECT with nkey (or jwt) and the nonce's
// signature, PING, and the PONG that proves the server accepted it.
struct raw_identity {
  std::optional<platform::crypto::keypair> key;
  std::string jwt;  // empty: an nkey login
};

bool read_line(int fd, std::string& buf, std::string& line) {
  for (;;) {
    auto eol = buf.find("\r\n");
    if (eol != std::string::npos) {
      line = buf.substr(0, eol);
      buf.erase(0, eol + 2);
      return true;
    }
    char tmp[4096];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

std::string raw_login(const options& o, const raw_identity& id) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string err;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    err = std::string("connect: ") + std::strerror(errno);
  } else {
    std::string buf, line;
    if (!read_line(fd, buf, line) || line.rfind("INFO ", 0) != 0) {
      err = "no INFO";
    } else {
      auto at = line.find("\"nonce\":\"");
      std::string nonce = at == std::string::npos ? "" : line.substr(at + 9, line.find('"', at + 9) - at - 9);
      std::string sig = platform::crypto::base64url_encode(id.key->sign(nonce));
      std::string connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,";
      connect += id.jwt.empty() ? "\"nkey\":\"" + id.key->public_key() + "\"" : "\"jwt\":\"" + id.jwt + "\"";
      connect += ",\"sig\":\"" + sig + "\"}\r\nPING\r\n";
      if (::write(fd, connect.data(), connect.size()) != static_cast<ssize_t>(connect.size())) err = "write failed";
      else if (!read_line(fd, buf, line)) err = "closed before PONG";
      else if (line != "PONG") err = line;
    }
  }
  ::close(fd);
  return err;
}

result run_raw_login(const options& o, bench_clock::time_point deadline) {
  result r;
  r.target = o.msgs;
  raw_identity id;
  if (!o.creds.empty()) {
    std::ifstream in(o.creds);
    std::stringstream ss;
    ss << in.rdbuf();
    auto c = platform::crypto::parse_creds(ss.str());
    if (!c) return r.error = "cannot read " + o.creds, r;
    id.jwt = c->jwt;
    id.key = platform::crypto::keypair::from_seed(c->seed);
  } else {
    std::ifstream in(o.nkey_seed);
    std::string seed;
    std::getline(in, seed);
    id.key = platform::crypto::keypair::from_seed(seed);
  }
  if (!id.key) return r.error = "no usable seed (--creds or --nkey-seed)", r;
  return run_logins<int>(
      o, deadline, [] { return 0; }, [&](int&) { return raw_login(o, id); });
}

std::uint64_t number(const char* flag, const char* v, std::uint64_t lo, std::uint64_t hi) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (!end || *end || n < lo || n > hi) {
    std::fprintf(stderr, "dialtone-secbench: %s must be a number in [%llu, %llu]\n", flag,
                 static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
    std::exit(2);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view scenario = argv[1];
  if (scenario == "--version") {
    std::printf("dialtone-secbench (libnats %s)\n", nats_GetVersion());
    return 0;
  }
  if (scenario != "tlspubsub" && scenario != "tlsreq" && scenario != "login" && scenario != "rawlogin") {
    std::fprintf(stderr, "dialtone-secbench: unknown scenario \"%s\"\n%s", argv[1], usage_text);
    return 2;
  }
  options o;
  for (int i = 2; i < argc; ++i) {
    std::string_view f = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "dialtone-secbench: %s needs a value\n", argv[i]);
      return 2;
    }
    const char* v = argv[++i];
    if (f == "--host") o.host = v;
    else if (f == "--port") o.port = static_cast<unsigned>(number(argv[i - 1], v, 1, 65535));
    else if (f == "--tls-ca") o.tls_ca = v;
    else if (f == "--creds") o.creds = v;
    else if (f == "--nkey-seed") o.nkey_seed = v;
    else if (f == "--nkey-pub") o.nkey_pub = v;
    else if (f == "--msgs") o.msgs = number(argv[i - 1], v, 1, 1'000'000'000);
    else if (f == "--size") o.size = number(argv[i - 1], v, 0, 1 << 20);
    else if (f == "--window") o.window = static_cast<int>(number(argv[i - 1], v, 1, 1'000'000));
    else if (f == "--threads") o.threads = static_cast<int>(number(argv[i - 1], v, 1, 256));
    else if (f == "--timeout") {
      o.timeout_s = std::strtod(v, nullptr);
      if (!(o.timeout_s > 0 && o.timeout_s <= 3600)) {
        std::fprintf(stderr, "dialtone-secbench: --timeout must be seconds in (0, 3600]\n");
        return 2;
      }
    }
    else if (f == "--server-pid") continue;
    else {
      std::fprintf(stderr, "dialtone-secbench: unknown option %s\n", argv[i - 1]);
      return 2;
    }
  }
  start_watchdog(std::string(scenario), o);
  auto deadline = bench_clock::now() + std::chrono::duration_cast<bench_clock::duration>(
                                           std::chrono::duration<double>(o.timeout_s));
  result r = scenario == "tlspubsub" ? run_pubsub(o, deadline)
             : scenario == "tlsreq"  ? run_req(o, deadline)
             : scenario == "login"   ? run_login(o, deadline)
                                     : run_raw_login(o, deadline);
  print_result(scenario, o, r);
  std::_Exit(r.complete ? 0 : 1);  // libnats threads may still be winding down
}
