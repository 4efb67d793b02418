// dialtone-server: command-line flags (nats-server's), config file, logging, the CAF
// actor system, and the signal wait. Everything else lives in actors/.
#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "actors/atoms.hpp"
#include "actors/server_actor.hpp"
#include "services/jetstream/jetstream.hpp"
#include "services/reqlog/reqlog.hpp"
#include "libplatform/memory.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/load_options.hpp"
#include "logging.hpp"

namespace {

struct flags {
  std::string host, name, config, logfile, store_dir;
  int port = 0;
  bool debug = false, trace = false, version = false, jetstream = false;
  bool tls = false, tlsverify = false;
  std::string tlscert, tlskey, tlscacert;
};

}  // namespace

int main(int argc, char** argv) {
  platform::memory::keep_freed_memory();  // before any other thread starts
  CLI::App app{"dialtone-server: a NATS-compatible message server", "dialtone-server"};
  app.get_formatter()->column_width(34);
  flags f;
  auto* o_host = app.add_option("-a,--addr,--net", f.host, "Bind to host address (default: 0.0.0.0)");
  auto* o_port = app.add_option("-p,--port", f.port, "Use port for clients (default: 4222, -1 for random)");
  app.add_option("-c,--config", f.config, "Configuration file");
  auto* o_name = app.add_option("-n,--name,--server_name", f.name, "Server name (default: the server id)");
  auto* o_debug = app.add_flag("-D,--debug", f.debug, "Enable debugging output");
  auto* o_trace = app.add_flag("-V,--trace", f.trace, "Trace the raw protocol");
  auto* o_log = app.add_option("-l,--log,--log_file", f.logfile, "File to redirect log output");
  auto* o_store = app.add_option("--store_dir,--sd", f.store_dir, "Directory for persistent data (default: ./data)");
  auto* o_js = app.add_flag("--jetstream,--js", f.jetstream, "Enable JetStream (streams, key-value)");
  auto* o_tls = app.add_flag("--tls", f.tls, "Enable TLS, do not verify clients (default: false)");
  auto* o_tlscert = app.add_option("--tlscert", f.tlscert, "Server certificate file");
  auto* o_tlskey = app.add_option("--tlskey", f.tlskey, "Private key for server certificate");
  auto* o_tlsverify = app.add_flag("--tlsverify", f.tlsverify, "Enable TLS, verify client certificates");
  auto* o_tlsca = app.add_option("--tlscacert", f.tlscacert, "Client certificate CA for verification");
  app.add_flag("-v,--version", f.version, "Show version");
  try {
    // nats-server's two-letter single-dash flags, which CLI11 reads as short-flag groups.
    std::vector<std::string> args;
    for (int i = argc - 1; i > 0; --i) {
      std::string a = argv[i];
      if (a == "-js") a = "--jetstream";
      else if (a == "-sd") a = "--store_dir";
      args.push_back(std::move(a));
    }
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "dialtone-server: " << e.what() << "\n\n" << app.help();
    return 2;
  }
  if (f.version) {
    std::cout << "dialtone-server: v" << DIALTONE_VERSION << "\n";
    return 0;
  }

  platform::config::server_options opts;
  platform::accounts::auth_config auth;
  if (!f.config.empty()) {
    try {
      auto root = platform::config::parse_file(f.config);
      platform::config::load_options(root, opts);
      opts.config_file = f.config;
      // Accounts, users and imports are checked whole before anything starts: the
      // server never runs with a half-applied configuration.
      auth = platform::accounts::load_auth_config(root);
      opts.warnings.insert(opts.warnings.end(), auth.warnings.begin(), auth.warnings.end());
    } catch (const std::exception& e) {
      std::cerr << "dialtone-server: configuration error: " << e.what() << "\n";
      return 1;
    }
  }
  // Flags win over the config file.
  if (o_host->count()) opts.host = f.host;
  if (o_port->count()) opts.port = f.port;
  if (o_name->count()) opts.server_name = f.name;
  if (o_debug->count()) opts.debug = true;
  if (o_trace->count()) opts.trace = true;
  if (o_log->count()) opts.logfile = f.logfile;
  if (o_store->count()) opts.store_dir = f.store_dir;
  if (o_js->count()) opts.jetstream = true;
  if (o_tls->count() || o_tlscert->count() || o_tlskey->count() || o_tlsverify->count() || o_tlsca->count()) {
    // As nats-server: the flags replace the config file's tls block.
    auto& t = opts.tls;
    t.enabled = t.from_flags = true;
    if (o_tlscert->count()) t.cert_file = f.tlscert;
    if (o_tlskey->count()) t.key_file = f.tlskey;
    if (o_tlsca->count()) t.ca_file = f.tlscacert;
    if (o_tlsverify->count()) t.verify = true;
    if (t.cert_file.empty() || t.key_file.empty()) {
      std::cerr << "dialtone-server: TLS needs --tlscert and --tlskey\n";
      return 1;
    }
  }

  if (auto err = server_app::setup_logging(opts.debug, opts.trace, opts.logfile); !err.empty()) {
    std::cerr << "dialtone-server: " << err << "\n";
    return 1;
  }
  spdlog::info("Starting dialtone-server");
  spdlog::info("  Version:  {}", DIALTONE_VERSION);
  if (!opts.config_file.empty()) spdlog::info("  Using configuration file: {}", opts.config_file);
  for (auto& w : opts.warnings) spdlog::warn("{}", w);

  // Every client is a file descriptor: use the hard limit, as Go (and so nats-server) does.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // Signals are taken synchronously by this thread; block them before any thread starts
  // so every thread inherits the mask. Writes to closed sockets must return EPIPE.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);  // reload the configuration's accounts and users
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int rc = 0;
  {
    caf::actor_system_config cfg;
    // The actors carry control-plane work only; the I/O loops have the cores.
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("scheduler.max-throughput", size_t{300});
    // Work sharing sleeps on a condition variable when idle; the default work stealing
    // spins after every burst of actor work, taking CPU (and latency) from the I/O loops.
    cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{cfg};
    std::shared_ptr<actors::service_host> services;
    if (opts.jetstream) {
      jetstream::options js;
      js.store_dir = opts.store_dir;
      js.max_memory = opts.js_max_memory;
      js.max_file = opts.js_max_file;
      js.sync_always = opts.js_sync_always;
      js.orphan_chunk_age_ns = opts.js_orphan_chunk_age.count();
      services = jetstream::make_host(js);
    }
    // Request logging is always installed, so a reload can turn it on (it records
    // nothing without a request_log block).
    services = reqlog::make_host(opts, std::move(services));
    auto server = actors::spawn_server_actor(sys, opts, auth, services);
    caf::scoped_actor self{sys};
    std::string start_error;
    self->request(server, caf::infinite, actors::start_atom::value)
        .receive([&](const std::string& err) { start_error = err; },
                 [&](const caf::error& e) { start_error = sys.render(e); });
    if (!start_error.empty()) {
      spdlog::critical("{}", start_error);
      rc = 1;
      self->send_exit(server, caf::exit_reason::user_shutdown);
    } else {
      int sig = 0;
      for (;;) {
        sigwait(&sigs, &sig);
        if (sig != SIGHUP) break;
        spdlog::info("Reloading the configuration (SIGHUP)");
        self->request(server, std::chrono::seconds(30), actors::reload_atom::value)
            .receive([](const std::string&) {}, [&](const caf::error& e) { spdlog::error("reload: {}", sys.render(e)); });
      }
      spdlog::info("Server is shutting down ({})", sig == SIGINT ? "interrupt" : "terminated");
      self->request(server, std::chrono::seconds(30), actors::stop_atom::value)
          .receive([](bool) {}, [&](const caf::error& e) { spdlog::error("shutdown: {}", sys.render(e)); });
      spdlog::info("Server Exiting..");
    }
  }
  return rc;
}
