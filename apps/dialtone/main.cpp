// dialtone: a command-line client for NATS-compatible servers, modeled on the `nats`
// CLI: pub, sub, req and reply, built on platform::client::connection; kv and stream
// (JetStream key-value buckets and streams), built on libnats (kv_commands.cpp); obj
// (object stores), built on dialtone_objclient (obj_commands.cpp).
// Data (payloads, received messages) goes to stdout; progress notes and errors go to
// stderr. Every error is one line, "dialtone: ...", with a non-zero exit.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kv_commands.hpp"
#include "obj_commands.hpp"
#include "reqlog_commands.hpp"
#include "libplatform/client/connection.hpp"
#include "libplatform/client/server_url.hpp"
#include "libplatform/subject.hpp"

#ifndef DIALTONE_VERSION
#define DIALTONE_VERSION "0.0.0"
#endif

namespace {

using namespace platform::client;
using std::chrono::milliseconds;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) { interrupted = 1; }

[[noreturn]] void die(const std::string& line) {
  std::cout.flush();
  std::cerr << "dialtone: " << line << '\n' << std::flush;
  std::_Exit(1);  // skip static destructors: a reader thread may still be running
}

// "2s", "500ms", "1.5s", "1m", "1h"; a bare number means seconds.
std::optional<milliseconds> parse_duration(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  double scale;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return std::nullopt;
  if (!(value > 0) || value * scale > 1e12) return std::nullopt;
  return milliseconds(static_cast<int64_t>(value * scale + 0.5));
}

void check_subject(const std::string& subject) {
  if (!platform::subject::valid_subscription(subject))
    die("invalid subject \"" + subject + "\"");
}

void check_queue(const std::string& queue) {
  if (!queue.empty() && !platform::subject::valid_queue(queue))
    die("invalid queue group \"" + queue + "\"");
}

headers parse_header_flags(const std::vector<std::string>& flags) {
  headers h;
  for (const auto& f : flags) {
    size_t colon = f.find(':');
    if (colon == 0 || colon == std::string::npos) die("invalid header \"" + f + "\", want Key:Value");
    std::string value = f.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    h.add(f.substr(0, colon), value);
  }
  return h;
}

// "{{.Count}}" in a body becomes the message number, as in `nats pub`.
std::string expand_body(const std::string& body, uint64_t n) {
  static const std::string tag = "{{.Count}}";
  std::string out = body;
  for (size_t at = out.find(tag); at != std::string::npos; at = out.find(tag, at)) {
    std::string num = std::to_string(n);
    out.replace(at, tag.size(), num);
    at += num.size();
  }
  return out;
}

// Wakes the main thread when a subscription is done or the connection is lost.
struct waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool lost = false;
  std::string lost_reason;
  std::atomic<bool> server_error{false};

  void finish() {
    std::lock_guard lk(mu);
    done = true;
    cv.notify_all();
  }
  // Returns when finished, interrupted (Ctrl-C) or disconnected.
  void wait() {
    std::unique_lock lk(mu);
    while (!done && !lost && !interrupted) cv.wait_for(lk, milliseconds(100));
  }
};

void connect_or_die(connection& nc, const std::string& server, const std::string& name,
                    waiter& w) {
  connect_options o;
  o.name = "dialtone " + name;
  o.on_error = [&w](const status& s) {
    w.server_error = true;
    std::cerr << "dialtone: server error: " << s.message() << '\n';
  };
  o.on_closed = [&w](const status& s) {
    std::lock_guard lk(w.mu);
    if (w.done) return;  // our own close()
    w.lost = true;
    w.lost_reason = s.message();
    w.cv.notify_all();
  };
  status s = nc.connect(server, o);
  if (s.ok()) return;
  if (s.code() == errc::invalid_url) die(s.message());
  die("cannot connect to " + redact_url(server) + ": " + s.message());
}

void print_message(uint64_t n, const message& m, bool raw) {
  std::string out;
  if (!raw) {
    out = "[#" + std::to_string(n) + "] Received on \"" + m.subject + "\"";
    if (!m.reply.empty()) out += " with reply \"" + m.reply + "\"";
    out += '\n';
    if (m.header.status_code != 0) {
      out += "Status: " + std::to_string(m.header.status_code);
      if (!m.header.description.empty()) out += " " + m.header.description;
      out += '\n';
    }
    for (const auto& [k, v] : m.header.fields) out += k + ": " + v + '\n';
    if (!m.header.empty()) out += '\n';
  }
  out += m.payload;
  out += raw ? "\n" : "\n\n";
  std::cout << out << std::flush;
}

// Ends a sub/reply session: reports a lost connection, else closes cleanly.
int finish_session(connection& nc, waiter& w, const std::string& subject) {
  {
    std::lock_guard lk(w.mu);
    if (w.lost) die("connection lost while listening on \"" + subject + "\": " + w.lost_reason);
    w.done = true;  // from here on a close is our own
  }
  (void)nc.flush(milliseconds(2000));  // deliver the last replies
  nc.close();
  return w.server_error ? 1 : 0;
}

int run_pub(const std::string& server, const std::string& subject, const std::string& body,
            uint64_t count, const std::vector<std::string>& header_flags) {
  check_subject(subject);
  headers h = parse_header_flags(header_flags);
  connection nc;
  waiter w;
  connect_or_die(nc, server, "pub", w);
  for (uint64_t i = 1; i <= count && !interrupted; ++i) {
    std::string payload = expand_body(body, i);
    if (status s = nc.publish(subject, payload, {}, h); !s)
      die("cannot publish to \"" + subject + "\": " + s.message());
  }
  if (status s = nc.flush(milliseconds(10'000)); !s) die("publish not confirmed: " + s.message());
  nc.close();
  if (w.server_error) return 1;
  if (count == 1) {
    size_t n = expand_body(body, 1).size();
    std::cerr << "Published " << n << (n == 1 ? " byte" : " bytes") << " to \"" << subject << "\"\n";
  } else {
    std::cerr << "Published " << count << " messages to \"" << subject << "\"\n";
  }
  return 0;
}

// Shared by sub and reply: subscribe, stop after `count` messages (0 = until Ctrl-C),
// confirm the subscription, say so, and wait. `on_message` gets the message and its
// number.
int listen(const std::string& server, const std::string& subject, const std::string& queue, uint64_t count,
           const char* command, const char* listening,
           const std::function<void(connection&, uint64_t, const message&)>& on_message) {
  check_subject(subject);
  check_queue(queue);
  connection nc;
  waiter w;
  connect_or_die(nc, server, command, w);
  std::atomic<uint64_t> received{0};
  auto sid = nc.subscribe(subject, queue, [&](const message& m) {
    uint64_t n = ++received;
    if (count != 0 && n > count) return;
    on_message(nc, n, m);
    if (count != 0 && n == count) w.finish();
  });
  if (!sid) die("cannot subscribe to \"" + subject + "\": " + sid.error().message());
  if (count != 0) (void)nc.unsubscribe(*sid, count);
  if (status s = nc.flush(); !s) die("subscription not confirmed: " + s.message());
  if (w.server_error) return 1;  // e.g. a permissions violation, already printed
  std::cerr << listening << " \"" << subject << "\"";
  if (!queue.empty()) std::cerr << " in queue group \"" << queue << "\"";
  std::cerr << '\n';
  w.wait();
  return finish_session(nc, w, subject);
}

int run_sub(const std::string& server, const std::string& subject, const std::string& queue,
            uint64_t count, bool raw) {
  return listen(server, subject, queue, count, "sub", "Listening on",
                [&](connection&, uint64_t n, const message& m) { print_message(n, m, raw); });
}

int run_req(const std::string& server, const std::string& subject, const std::string& body,
            const std::string& timeout_text, const std::vector<std::string>& header_flags) {
  check_subject(subject);
  auto timeout = parse_duration(timeout_text);
  if (!timeout) die("invalid timeout \"" + timeout_text + "\", want e.g. 2s or 500ms");
  headers h = parse_header_flags(header_flags);
  connection nc;
  waiter w;
  connect_or_die(nc, server, "req", w);
  auto reply = nc.request(subject, body, *timeout, h);
  if (!reply) {
    switch (reply.code()) {
      case errc::no_responders: die("no responders for \"" + subject + "\"");
      case errc::timeout: die("request timed out after " + timeout_text);
      default: die("request to \"" + subject + "\" failed: " + reply.error().message());
    }
  }
  std::cout << reply->payload << '\n' << std::flush;
  nc.close();
  return 0;
}

int run_reply(const std::string& server, const std::string& subject, const std::string& body,
              const std::string& queue, uint64_t count) {
  return listen(server, subject, queue, count, "reply", "Listening for requests on",
                [&](connection& nc, uint64_t n, const message& m) {
                  print_message(n, m, false);
                  if (m.reply.empty()) {
                    std::cerr << "dialtone: message #" << n << " has no reply subject, not answered\n";
                  } else if (status s = nc.publish(m.reply, expand_body(body, n)); !s) {
                    std::cerr << "dialtone: cannot reply: " << s.message() << '\n';
                  }
                });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dialtone: publish, subscribe, make requests, use JetStream key-value buckets,\n"
               "streams and object stores on a NATS or Dialtone server, and read a Dialtone request log",
               "dialtone"};
  app.set_version_flag("--version", "dialtone " DIALTONE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // -s may also follow the subcommand

  std::string server = "nats://127.0.0.1:4222";
  app.add_option("-s,--server", server,
                 "Server URL: nats://[user:pass@|token@]host[:port], host:port or host")
      ->envname("NATS_URL")
      ->capture_default_str();

  std::string subject, body, queue, timeout_text = "2s";
  uint64_t count = 0;
  bool raw = false;
  std::vector<std::string> header_flags;

  auto* pub = app.add_subcommand("pub", "Publish a message");
  pub->add_option("subject", subject, "Subject to publish to")->required();
  pub->add_option("body", body, "Message body; {{.Count}} becomes the message number");
  pub->add_option("--count", count, "Publish this many messages (default 1)");
  pub->add_option("-H,--header", header_flags, "Header Key:Value (repeatable)");

  auto* sub = app.add_subcommand("sub", "Subscribe and print messages until Ctrl-C");
  sub->add_option("subject", subject, "Subject, may hold * and > wildcards")->required();
  sub->add_option("--queue", queue, "Join this queue group");
  sub->add_option("--count", count, "Exit after this many messages");
  sub->add_flag("--raw", raw, "Print only the payloads, one per line");

  auto* req = app.add_subcommand("req", "Send a request and print the reply");
  req->add_option("subject", subject, "Subject to send the request to")->required();
  req->add_option("body", body, "Request body");
  req->add_option("--timeout", timeout_text, "How long to wait for a reply, e.g. 2s, 500ms")
      ->capture_default_str();
  req->add_option("-H,--header", header_flags, "Header Key:Value (repeatable)");

  auto* rep = app.add_subcommand("reply", "Answer every request on a subject with a fixed body");
  rep->add_option("subject", subject, "Subject to listen on")->required();
  rep->add_option("body", body, "Reply body; {{.Count}} becomes the request number");
  rep->add_option("--queue", queue, "Join this queue group");
  rep->add_option("--count", count, "Exit after answering this many requests");

  dialtone_cli::jetstream_commands jetstream(app, server);
  dialtone_cli::object_commands objects(app, server);
  dialtone_cli::reqlog_commands reqlog(app, server);

  // CLI11 would call an unknown command "extra arguments"; name it instead.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-s" || a == "--server") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    bool object_command = dialtone_cli::object_commands::is_command(a);
    bool reqlog_command = dialtone_cli::reqlog_commands::is_command(a);
    bool jetstream_command = dialtone_cli::jetstream_commands::is_command(a) || object_command || reqlog_command;
    if (a != "pub" && a != "sub" && a != "req" && a != "reply" && !jetstream_command) {
      std::cerr << "dialtone: unknown command \"" << a << "\" (want pub, sub, req, reply, kv, stream, obj or reqlog)\n";
      return 2;
    }
    if (jetstream_command && i + 1 < argc && argv[i + 1][0] != '-') {
      std::string error = object_command ? dialtone_cli::object_commands::check_subcommand(a, argv[i + 1])
                          : reqlog_command ? dialtone_cli::reqlog_commands::check_subcommand(a, argv[i + 1])
                                           : dialtone_cli::jetstream_commands::check_subcommand(a, argv[i + 1]);
      if (!error.empty()) {
        std::cerr << "dialtone: " << error << '\n';
        return 2;
      }
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "dialtone: " << e.what() << " (see dialtone --help)\n";
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  if (pub->parsed()) return run_pub(server, subject, body, count == 0 ? 1 : count, header_flags);
  if (sub->parsed()) return run_sub(server, subject, queue, count, raw);
  if (req->parsed()) return run_req(server, subject, body, timeout_text, header_flags);
  if (rep->parsed()) return run_reply(server, subject, body, queue, count);
  if (auto rc = jetstream.run()) return *rc;
  if (auto rc = objects.run()) return *rc;
  if (auto rc = reqlog.run()) return *rc;
  return 2;
}
