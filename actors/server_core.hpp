#pragma once
// The non-actor core of a running server: options, accounts, I/O loops and the
// listener. Owned by the server actor, which starts and stops it; read by connections
// on every loop (options and accounts do not change while running).
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/account.hpp"
#include "actors/io/event_loop.hpp"
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
  server_core(platform::config::server_options opts, control_plane* cp, account_ptr global);
  ~server_core();

  // Binds the listener and starts the loops. Returns an error text on failure.
  std::string start();
  // Stops accepting, closes every connection (flushing what it can), joins the loops.
  void stop();

  const platform::config::server_options& opts() const noexcept { return opts_; }
  const std::string& server_id() const noexcept { return server_id_; }
  const std::string& server_name() const noexcept { return server_name_; }
  int port() const noexcept { return bound_port_; }
  account_ptr global_account() const { return global_; }
  control_plane* control() const noexcept { return control_; }
  server_counters& counters() noexcept { return counters_; }
  size_t loop_count() const noexcept { return loops_.size(); }
  io::event_loop& loop(size_t i) { return *loops_[i]; }

  // The INFO line for one client.
  std::string info_line(uint64_t client_id, const std::string& client_ip) const;

 private:
  void accept_next();

  platform::config::server_options opts_;
  control_plane* control_;
  std::string server_id_, server_name_;
  int bound_port_ = 0;
  account_ptr global_;
  std::vector<std::unique_ptr<io::event_loop>> loops_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::atomic<uint64_t> next_client_id_{0};
  size_t next_loop_ = 0;
  server_counters counters_;
  std::atomic<bool> stopping_{false};
};

}  // namespace actors
