// dialtone: a command-line client for NATS-compatible servers, modeled on the `nats`
// CLI, entirely on libnats (the official C client): pub, sub, req and reply here; kv
// and stream (JetStream key-value buckets and streams) in kv_commands.cpp; obj (object
// stores, on dialtone_objclient) in obj_commands.cpp; reqlog in reqlog_commands.cpp;
// nkey, jwt and creds (keys and credentials, offline) in auth_commands.cpp. Every
// command that connects logs in the same way (--creds, --nkey, --tls-*, --user, ...).
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

#include <nats/nats.h>

#include <thread>

#include "auth_commands.hpp"
#include "cli_util.hpp"
#include "kv_commands.hpp"
#include "obj_commands.hpp"
#include "reqlog_commands.hpp"
#include "libplatform/subject.hpp"

#ifndef DIALTONE_VERSION
#define DIALTONE_VERSION "0.0.0"
#endif

namespace {

using std::chrono::milliseconds;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) { interrupted = 1; }

using dialtone_cli::die;

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

// -H Key:Value flags, checked; added to `m` (when given).
std::vector<std::pair<std::string, std::string>> parse_header_flags(const std::vector<std::string>& flags) {
  std::vector<std::pair<std::string, std::string>> h;
  for (const auto& f : flags) {
    size_t colon = f.find(':');
    if (colon == 0 || colon == std::string::npos) die("invalid header \"" + f + "\", want Key:Value");
    std::string value = f.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    h.emplace_back(f.substr(0, colon), value);
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

natsMsg* make_message(const std::string& subject, const std::string& reply, const std::string& payload,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  natsMsg* m = nullptr;
  if (natsMsg_Create(&m, subject.c_str(), reply.empty() ? nullptr : reply.c_str(), payload.data(),
                     static_cast<int>(payload.size())) != NATS_OK)
    die("cannot build a message for \"" + subject + "\"");
  for (auto& [k, v] : headers) natsMsgHeader_Add(m, k.c_str(), v.c_str());
  return m;
}

// One owned libnats connection; closed cleanly (flushing) when it goes.
struct connection {
  natsConnection* nc = nullptr;
  explicit connection(const std::string& server, const std::string& command) {
    dialtone_cli::connect_or_die(&nc, server, command);
  }
  ~connection() {
    if (nc) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
};

void print_message(uint64_t n, natsMsg* m, bool raw) {
  std::string out;
  if (!raw) {
    out = "[#" + std::to_string(n) + "] Received on \"" + natsMsg_GetSubject(m) + "\"";
    if (const char* r = natsMsg_GetReply(m); r && *r) out += std::string(" with reply \"") + r + "\"";
    out += '\n';
    const char** keys = nullptr;
    int count = 0;
    bool any = false;
    if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
      // libnats keeps a status line ("NATS/1.0 503 No Responders") as these two keys.
      const char* status = nullptr;
      if (natsMsgHeader_Get(m, "Status", &status) == NATS_OK && status) {
        out += std::string("Status: ") + status;
        const char* description = nullptr;
        if (natsMsgHeader_Get(m, "Description", &description) == NATS_OK && description && *description)
          out += std::string(" ") + description;
        out += '\n';
        any = true;
      }
      for (int i = 0; i < count; ++i) {
        std::string k = keys[i];
        if (k == "Status" || k == "Description") continue;
        const char** values = nullptr;
        int nv = 0;
        if (natsMsgHeader_Values(m, keys[i], &values, &nv) == NATS_OK) {
          for (int j = 0; j < nv; ++j) out += k + ": " + values[j] + '\n';
          free(static_cast<void*>(values));
        }
        any = true;
      }
      free(static_cast<void*>(keys));
    }
    if (any) out += '\n';
  }
  out.append(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  out += raw ? "\n" : "\n\n";
  std::cout << out << std::flush;
}

int run_pub(const std::string& server, const std::string& subject, const std::string& body, uint64_t count,
            const std::vector<std::string>& header_flags) {
  check_subject(subject);
  auto headers = parse_header_flags(header_flags);
  connection c(server, "pub");
  for (uint64_t i = 1; i <= count && !interrupted; ++i) {
    natsMsg* m = make_message(subject, "", expand_body(body, i), headers);
    natsStatus s = natsConnection_PublishMsg(c.nc, m);
    natsMsg_Destroy(m);
    if (s != NATS_OK) die("cannot publish to \"" + subject + "\": " + dialtone_cli::last_error_text(s));
  }
  if (natsStatus s = natsConnection_FlushTimeout(c.nc, 10'000); s != NATS_OK)
    die("publish not confirmed: " + dialtone_cli::last_error_text(s));
  if (dialtone_cli::check_server_error(c.nc)) return 1;
  if (count == 1) {
    size_t n = expand_body(body, 1).size();
    std::cerr << "Published " << n << (n == 1 ? " byte" : " bytes") << " to \"" << subject << "\"\n";
  } else {
    std::cerr << "Published " << count << " messages to \"" << subject << "\"\n";
  }
  return 0;
}

// Shared by sub and reply: subscribe, stop after `count` messages (0 = until Ctrl-C),
// confirm the subscription, say so, and wait. `on_message` runs on libnats' thread.
struct listener {
  std::function<void(natsConnection*, uint64_t, natsMsg*)> on_message;
  uint64_t count = 0;
  std::atomic<uint64_t> received{0};
  std::atomic<bool> done{false};
};

extern "C" void on_listen_message(natsConnection* nc, natsSubscription*, natsMsg* m, void* closure) {
  auto* l = static_cast<listener*>(closure);
  uint64_t n = ++l->received;
  if (l->count == 0 || n <= l->count) l->on_message(nc, n, m);
  if (l->count != 0 && n >= l->count) l->done = true;
  natsMsg_Destroy(m);
}

int listen(const std::string& server, const std::string& subject, const std::string& queue, uint64_t count,
           const char* command, const char* listening,
           const std::function<void(natsConnection*, uint64_t, natsMsg*)>& on_message) {
  check_subject(subject);
  check_queue(queue);
  connection c(server, command);
  listener l;
  l.on_message = on_message;
  l.count = count;
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty() ? natsConnection_Subscribe(&sub, c.nc, subject.c_str(), on_listen_message, &l)
                               : natsConnection_QueueSubscribe(&sub, c.nc, subject.c_str(), queue.c_str(),
                                                               on_listen_message, &l);
  if (s != NATS_OK) die("cannot subscribe to \"" + subject + "\": " + dialtone_cli::last_error_text(s));
  // Every message is printed: no pending limit drops any (the default would at 64k).
  natsSubscription_SetPendingLimits(sub, -1, -1);
  if (count != 0) natsSubscription_AutoUnsubscribe(sub, static_cast<int>(count));
  if ((s = natsConnection_FlushTimeout(c.nc, 5000)) != NATS_OK)
    die("subscription not confirmed: " + dialtone_cli::last_error_text(s));
  if (dialtone_cli::check_server_error(c.nc)) {  // e.g. a permissions violation
    natsSubscription_Destroy(sub);
    return 1;
  }
  dialtone_cli::print_async_errors = true;
  std::cerr << listening << " \"" << subject << "\"";
  if (!queue.empty()) std::cerr << " in queue group \"" << queue << "\"";
  std::cerr << '\n';
  while (!l.done && !interrupted && !dialtone_cli::connection_closed)
    std::this_thread::sleep_for(milliseconds(20));
  if (dialtone_cli::connection_closed && !l.done && !interrupted) {
    std::string why = dialtone_cli::connection_error(c.nc);
    die("connection lost while listening on \"" + subject + "\"" + (why.empty() ? "" : ": " + why));
  }
  natsSubscription_Unsubscribe(sub);
  natsConnection_FlushTimeout(c.nc, 2000);  // deliver the last replies
  natsSubscription_Destroy(sub);
  return dialtone_cli::server_error_seen ? 1 : 0;
}

int run_sub(const std::string& server, const std::string& subject, const std::string& queue, uint64_t count,
            bool raw) {
  return listen(server, subject, queue, count, "sub", "Listening on",
                [raw](natsConnection*, uint64_t n, natsMsg* m) { print_message(n, m, raw); });
}

int run_req(const std::string& server, const std::string& subject, const std::string& body,
            const std::string& timeout_text, const std::vector<std::string>& header_flags) {
  check_subject(subject);
  auto timeout = parse_duration(timeout_text);
  if (!timeout) die("invalid timeout \"" + timeout_text + "\", want e.g. 2s or 500ms");
  auto headers = parse_header_flags(header_flags);
  connection c(server, "req");
  natsMsg* m = make_message(subject, "", body, headers);
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, c.nc, m, timeout->count());
  natsMsg_Destroy(m);
  if (s == NATS_NO_RESPONDERS) die("no responders for \"" + subject + "\"");
  if (s == NATS_TIMEOUT) die("request timed out after " + timeout_text);
  if (s != NATS_OK) die("request to \"" + subject + "\" failed: " + dialtone_cli::last_error_text(s));
  std::cout << std::string(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply))) << '\n'
            << std::flush;
  natsMsg_Destroy(reply);
  return 0;
}

int run_reply(const std::string& server, const std::string& subject, const std::string& body,
              const std::string& queue, uint64_t count) {
  return listen(server, subject, queue, count, "reply", "Listening for requests on",
                [&body](natsConnection* nc, uint64_t n, natsMsg* m) {
                  print_message(n, m, false);
                  const char* reply = natsMsg_GetReply(m);
                  if (!reply || !*reply) {
                    std::cerr << "dialtone: message #" << n << " has no reply subject, not answered\n";
                    return;
                  }
                  std::string answer = expand_body(body, n);
                  if (natsStatus s = natsConnection_Publish(nc, reply, answer.data(), static_cast<int>(answer.size()));
                      s != NATS_OK)
                    std::cerr << "dialtone: cannot reply: " << dialtone_cli::last_error_text(s) << '\n';
                });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dialtone: publish, subscribe, make requests, use JetStream key-value buckets,\n"
               "streams and object stores on a NATS or Dialtone server, read a Dialtone request log,\n"
               "and make the keys and JWTs of operator mode",
               "dialtone"};
  app.set_version_flag("--version", "dialtone " DIALTONE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // -s may also follow the subcommand

  std::string server = "nats://127.0.0.1:4222";
  app.add_option("-s,--server", server,
                 "Server URL: nats://[user:pass@|token@]host[:port], host:port or host")
      ->envname("NATS_URL")
      ->capture_default_str();
  // How to log in: the same flags for every command that connects (as the nats CLI).
  auto& login = dialtone_cli::login();
  app.add_option("--creds", login.creds, "User credentials file (JWT and seed)")->envname("NATS_CREDS");
  app.add_option("--nkey", login.nkey, "User nkey seed file")->envname("NATS_NKEY");
  app.add_flag("--tls", login.tls, "Use TLS (implied by the other --tls-* flags and a tls:// URL)");
  app.add_option("--tls-cert", login.tls_cert, "Client certificate file");
  app.add_option("--tls-key", login.tls_key, "Client private key file");
  app.add_option("--tls-ca", login.tls_ca, "CA certificates that sign the server's certificate");
  app.add_option("--user", login.user, "User name")->envname("NATS_USER");
  app.add_option("--password", login.password, "Password")->envname("NATS_PASSWORD");
  app.add_option("--token", login.token, "Authentication token")->envname("NATS_TOKEN");

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
  dialtone_cli::auth_commands auth(app, server);

  // CLI11 would call an unknown command "extra arguments"; name it instead.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-s" || a == "--server" || a == "--creds" || a == "--nkey" || a == "--tls-cert" || a == "--tls-key" ||
        a == "--tls-ca" || a == "--user" || a == "--password" || a == "--token") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    bool object_command = dialtone_cli::object_commands::is_command(a);
    bool reqlog_command = dialtone_cli::reqlog_commands::is_command(a);
    bool auth_command = dialtone_cli::auth_commands::is_command(a);
    bool jetstream_command =
        dialtone_cli::jetstream_commands::is_command(a) || object_command || reqlog_command || auth_command;
    if (a != "pub" && a != "sub" && a != "req" && a != "reply" && !jetstream_command) {
      std::cerr << "dialtone: unknown command \"" << a
                << "\" (want pub, sub, req, reply, kv, stream, obj, reqlog, nkey, jwt or creds)\n";
      return 2;
    }
    if (jetstream_command && i + 1 < argc && argv[i + 1][0] != '-') {
      std::string error = object_command ? dialtone_cli::object_commands::check_subcommand(a, argv[i + 1])
                          : reqlog_command ? dialtone_cli::reqlog_commands::check_subcommand(a, argv[i + 1])
                          : auth_command   ? dialtone_cli::auth_commands::check_subcommand(a, argv[i + 1])
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

  int rc = 2;
  if (pub->parsed()) rc = run_pub(server, subject, body, count == 0 ? 1 : count, header_flags);
  else if (sub->parsed()) rc = run_sub(server, subject, queue, count, raw);
  else if (req->parsed()) rc = run_req(server, subject, body, timeout_text, header_flags);
  else if (rep->parsed()) rc = run_reply(server, subject, body, queue, count);
  else if (auto r = jetstream.run()) rc = *r;
  else if (auto r = objects.run()) rc = *r;
  else if (auto r = reqlog.run()) rc = *r;
  else if (auto r = auth.run()) rc = *r;
  // libnats' threads use OpenSSL: they must be gone before exit runs OpenSSL's cleanup.
  nats_CloseAndWait(2000);
  return rc;
}
