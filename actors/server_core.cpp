#include "actors/server_core.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/client_connection.hpp"
#include "actors/control_plane.hpp"
#include "actors/io/tcp_transport.hpp"
#include "actors/io/tls_transport.hpp"
#include "libplatform/random_token.hpp"

namespace actors {

namespace {

// nats-server identifies itself with a server NKey ("N..."); clients only need a
// unique, stable-for-the-process string of the same shape.
std::string random_server_id() { return "N" + platform::random_token(55, platform::base32_alphabet); }

// The NATS server version we are protocol-compatible with; clients gate features on it.
constexpr const char* compatible_nats_version = "2.10.0";

}  // namespace

server_core::server_core(platform::config::server_options opts)
    : opts_(std::move(opts)), server_id_(random_server_id()) {
  server_name_ = opts_.server_name.empty() ? server_id_ : opts_.server_name;
  // The loops exist from here (internal clients may be given to them while the
  // accounts are configured); start() runs their threads.
  unsigned n = std::thread::hardware_concurrency();
  n = std::clamp(n, 1u, unsigned(io::event_loop::max_loops));
  for (unsigned i = 0; i < n; ++i) loops_.push_back(std::make_unique<io::event_loop>(int(i), opts_.busy_poll));
}

server_core::~server_core() {
  stop();
  // Imports hold subscriptions across accounts: release them explicitly.
  accounts_.clear();
}

account_registry::changes server_core::configure(const platform::accounts::auth_config& cfg,
                                                 const std::function<void(const account_ptr&)>& on_added) {
  // Latency reporters: one per loop, driven by it (internal_client::drive_from).
  loop_owners owners{loops_.size(), [this](const internal_client_ptr& c, size_t i) { c->drive_from(*loops_[i]); }};
  auto changes = accounts_.apply(cfg, server_name_, owners, on_added);
  auto table = std::make_shared<const authenticator>(cfg, accounts_);
  {
    std::lock_guard lock(auth_mutex_);
    auth_ = table;
  }
  // Logins that no longer hold: closed on their own loops. A connection that is still
  // in CONNECT (or a password check) meets the new table when it gets there.
  for (auto& l : loops_) {
    if (!started_) break;  // no connections yet
    l->post([&l = *l, table] {
      for (auto& c : l.connections()) {
        if (!c->logged_in() || table->still_valid(c->user().get(), c->acc())) continue;
        c->revoke();
      }
    });
  }
  return changes;
}

std::string server_core::start() {
  for (auto& l : loops_) {
    l->set_housekeeping(std::chrono::milliseconds(250), [](client_connection& c) {
      c.housekeeping(client_connection::clock::now());
    });
  }
  if (opts_.tls.enabled && !tls()) {
    try {
      set_tls(std::make_shared<const io::tls_context>(opts_.tls));
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  try {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(opts_.host), uint16_t(opts_.port < 0 ? 0 : opts_.port));
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(loops_[0]->context());
    acceptor_->open(ep.protocol());
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    bound_port_ = acceptor_->local_endpoint().port();
  } catch (const std::exception& e) {
    acceptor_.reset();
    return "cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) + ": " + e.what();
  }
  for (auto& l : loops_) l->start();
  started_ = true;
  asio::post(loops_[0]->context(), [this] { accept_next(); });
  return {};
}

void server_core::accept_next() {
  auto& target = *loops_[next_loop_];
  next_loop_ = (next_loop_ + 1) % loops_.size();
  acceptor_->async_accept(target.context(), [this, &target](const std::error_code& ec, asio::ip::tcp::socket s) {
    if (stopping_) return;
    if (!ec) {
      accept_delay_ = std::chrono::milliseconds(0);
      counters_.total_connections++;
      counters_.current_connections++;
      uint64_t id = ++next_client_id_;
      std::unique_ptr<io::transport> t;
      if (auto ctx = tls()) t = std::make_unique<io::tls_transport>(std::move(s), std::move(ctx));
      else t = std::make_unique<io::tcp_transport>(std::move(s));
      auto conn = std::make_shared<client_connection>(*this, target, std::move(t), id);
      target.post([conn] { conn->start(); });
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      accept_failed(ec);
      return;
    }
    accept_next();
  });
}

void server_core::accept_failed(const std::error_code& ec) {
  using namespace std::chrono;
  auto now = steady_clock::now();
  ++accept_failures_;
  if (accept_logged_ == steady_clock::time_point{} || now - accept_logged_ >= seconds(10)) {
    spdlog::error("accept error: {} ({} failure{} since the last report; retrying with back-off)", ec.message(),
                  accept_failures_, accept_failures_ == 1 ? "" : "s");
    accept_logged_ = now;
    accept_failures_ = 0;
  }
  accept_delay_ = std::clamp(accept_delay_ * 2, milliseconds(10), milliseconds(1000));
  if (!accept_timer_) accept_timer_ = std::make_unique<asio::steady_timer>(loops_[0]->context());
  accept_timer_->expires_after(accept_delay_);
  accept_timer_->async_wait([this](const std::error_code& e) {
    if (!e && !stopping_) accept_next();
  });
}

void server_core::stop() {
  if (stopping_.exchange(true) || !started_) return;
  // Stop accepting on the acceptor's own thread.
  std::promise<void> closed;
  asio::post(loops_[0]->context(), [this, &closed] {
    std::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (accept_timer_) accept_timer_->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // Close every connection on its own loop, flushing what it can.
  for (auto& l : loops_) {
    std::promise<void> done;
    l->post([&l, &done] {
      for (auto& c : l->connections()) c->close(close_reason::server_shutdown);
      done.set_value();
    });
    done.get_future().wait();
  }
  for (auto& l : loops_) l->stop();
  for (auto& l : loops_) l->join();
  accept_timer_.reset();
  acceptor_.reset();
}

std::string server_core::info_line(uint64_t client_id, const std::string& client_ip, const std::string& nonce) const {
  nlohmann::json j;
  j["server_id"] = server_id_;
  j["server_name"] = server_name_;
  j["version"] = compatible_nats_version;
  j["proto"] = 1;
  j["go"] = std::string("dialtone ") + DIALTONE_VERSION;
  j["host"] = opts_.host;
  j["port"] = bound_port_;
  j["headers"] = opts_.header_support;
  j["max_payload"] = opts_.max_payload;
  if (opts_.jetstream) j["jetstream"] = true;
  if (auth()->advertise_auth_required()) j["auth_required"] = true;
  if (auto t = tls()) {
    j["tls_required"] = true;
    if (t->options().verify) j["tls_verify"] = true;
  }
  j["client_id"] = client_id;
  j["client_ip"] = client_ip;
  if (!nonce.empty()) j["nonce"] = nonce;
  return "INFO " + j.dump() + "\r\n";
}

}  // namespace actors
