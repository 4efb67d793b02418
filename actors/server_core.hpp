#pragma once
// The non-actor core of a running server: options, the account registry, the
// authenticator, I/O loops and the listener. Owned by the server actor, which starts,
// reloads and stops it; read by connections on every loop. Options do not change while
// running; accounts and users change with a configuration reload (reload()).
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <mutex>

#include "actors/account.hpp"
#include "actors/account_registry.hpp"
#include "actors/authenticator.hpp"
#include "actors/io/event_loop.hpp"
#include "actors/io/tls_context.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/server_options.hpp"

namespace actors {

class control_plane;
class client_connection;

struct server_counters {
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> slow_consumers{0};
  std::atomic<int64_t> current_connections{0};
};

class server_core {
 public:
  // Keeps a validated config; the accounts are built by configure().
  server_core(platform::config::server_options opts);
  ~server_core();

  // Must be set before configure() and start().
  void set_control(control_plane* cp) { control_ = cp; }
  // Server actor: builds or moves the accounts, their imports and the user table to a
  // validated config. Clients whose login no longer holds (user removed or changed,
  // account removed) are disconnected with an authorization violation. `on_added`
  // runs for each new account before clients can reach it.
  account_registry::changes configure(const platform::accounts::auth_config& auth,
                                      const std::function<void(const account_ptr&)>& on_added = {});
  // Binds the listener and starts the loops. Returns an error text on failure.
  std::string start();
  // Stops accepting, closes every connection (flushing what it can), joins the loops.
  void stop();

  const platform::config::server_options& opts() const noexcept { return opts_; }
  const std::string& server_id() const noexcept { return server_id_; }
  const std::string& server_name() const noexcept { return server_name_; }
  int port() const noexcept { return bound_port_; }
  account_registry& accounts() noexcept { return accounts_; }
  const account_registry& accounts() const noexcept { return accounts_; }
  account_ptr global_account() const { return accounts_.global(); }
  account_ptr system_account() const { return accounts_.system(); }
  // The current user table (any thread; a reload swaps it).
  std::shared_ptr<const authenticator> auth() const {
    std::lock_guard lock(auth_mutex_);
    return auth_;
  }
  // TLS for new connections (null: plain TCP). Any thread; start() builds it from the
  // options and a configuration reload swaps in a new one (set_tls()).
  std::shared_ptr<const io::tls_context> tls() const {
    std::lock_guard lock(auth_mutex_);
    return tls_;
  }
  void set_tls(std::shared_ptr<const io::tls_context> t) {
    std::lock_guard lock(auth_mutex_);
    tls_ = std::move(t);
  }
  control_plane* control() const noexcept { return control_; }
  server_counters& counters() noexcept { return counters_; }

  // The INFO line for one client.
  // `nonce`: the connection's login nonce, left out when empty.
  std::string info_line(uint64_t client_id, const std::string& client_ip, const std::string& nonce = {}) const;

 private:
  void accept_next();
  // accept() failed for lack of resources (too many open files, ...): wait without
  // blocking loop 0, doubling from 10 ms to 1 s while it keeps failing; log the first
  // failure and then at most one summary line every 10 s.
  void accept_failed(const std::error_code& ec);

  platform::config::server_options opts_;
  control_plane* control_ = nullptr;
  std::string server_id_, server_name_;
  int bound_port_ = 0;
  account_registry accounts_;
  mutable std::mutex auth_mutex_;
  std::shared_ptr<const authenticator> auth_;
  std::shared_ptr<const io::tls_context> tls_;  // under auth_mutex_
  std::vector<std::unique_ptr<io::event_loop>> loops_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::atomic<uint64_t> next_client_id_{0};
  size_t next_loop_ = 0;
  // Accept back-off state, loop 0 only.
  std::unique_ptr<asio::steady_timer> accept_timer_;
  std::chrono::milliseconds accept_delay_{0};
  std::chrono::steady_clock::time_point accept_logged_{};
  uint64_t accept_failures_ = 0;  // since the last log line
  server_counters counters_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;  // the loops' threads run (server actor thread only)
};

}  // namespace actors
