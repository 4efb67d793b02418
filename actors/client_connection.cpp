#include "actors/client_connection.hpp"

#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/authenticator.hpp"
#include "actors/control_plane.hpp"
#include "actors/io/event_loop.hpp"
#include "actors/permissions.hpp"
#include "actors/router.hpp"
#include "actors/server_core.hpp"
#include "libplatform/absl_key.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "libplatform/protocol/writer.hpp"
#include "libplatform/subject.hpp"

namespace actors {

using platform::protocol::err;
namespace proto = platform::protocol;

namespace {

// Reply subjects the server mints for its own routing; clients may not forge them.
bool reserved_reply(std::string_view reply) {
  return reply.rfind("_R_.", 0) == 0 || reply.rfind("$JS.ACK.", 0) == 0 || reply.rfind("$GNR.", 0) == 0;
}

const std::string no_user;


}  // namespace

client_connection::client_connection(server_core& server, io::event_loop& loop,
                                     std::unique_ptr<io::transport> transport, uint64_t id)
    : receiver(kind::client),
      server_(server),
      loop_(loop),
      transport_(std::move(transport)),
      id_(id),
      remote_(transport_->remote()),
      // Without auth every client is in the global account from the first byte; with
      // auth, nothing but CONNECT is accepted until the account is known.
      account_(server.auth()->required() ? nullptr : server.accounts().global()) {
  auto& o = server_.opts();
  parser_.set_limits(o.max_control_line, o.max_payload);
  trace_ = o.trace;
  started_ = last_read_ = clock::now();
  started_wall_ = std::chrono::system_clock::now();
  next_ping_ = started_ + o.ping_interval;
  if (transport_->secure()) {
    if (auto tls = server.tls()) {
      tls_timeout_ = tls->options().timeout;
      map_certificate_ = tls->options().verify_and_map;
    }
  }
}

client_connection::~client_connection() = default;

const std::string& client_connection::user_name() const noexcept { return user_ ? user_->name : no_user; }

platform::match_cache& client_connection::cache_for(const account& a) {
  return caches_.for_account(a, account_.get());
}

void client_connection::start() {
  loop_.attach(shared_from_this());
  if (server_.auth()->wants_nonce()) nonce_ = platform::crypto::make_nonce();
  enqueue(server_.info_line(id_, remote_ip(), nonce_));
  if (server_.counters().current_connections.load() > server_.opts().max_connections) {
    send_error(err::maximum_connections_exceeded);
    close(close_reason::max_connections);
    return;
  }
  flush();
  spdlog::debug("{} - cid:{} - Client connection created", remote_, id_);
  if (transport_->secure()) {
    // INFO went out in plain text; the TLS handshake comes next, then the protocol.
    tls_pending_ = true;
    transport_->handshake([self = shared_from_this()](const std::string& error) { self->handshake_done(error); });
    return;
  }
  arm_read();
}

void client_connection::handshake_done(const std::string& error) {
  if (is_closed()) return;
  tls_pending_ = false;
  if (!error.empty()) {
    spdlog::error("{} - cid:{} - TLS handshake error: {}", remote_, id_, error);
    close(close_reason::tls_handshake_error);
    return;
  }
  spdlog::debug("{} - cid:{} - TLS handshake complete", remote_, id_);
  arm_read();
}

// ---- reading ------------------------------------------------------------------------

void client_connection::arm_read() {
  if (is_closed() || auth_pending_) return;
  transport_->wait_readable(shared_from_this());
}

void client_connection::on_readable(const std::error_code& ec) {
  if (is_closed()) return;
  if (ec) {
    close(close_reason::read_error);
    return;
  }
  read_some();
}

bool client_connection::process_input(const char* data, size_t len) {
  auto st = parser_.parse(data, len, *this);
  if (st == proto::parse_status::error) {
    if (parser_.has_peer_error()) {
      // The client sent -ERR: nats-server logs it and closes, sending nothing back.
      spdlog::error("{} - cid:{} - Client Error {}", remote_, id_, parser_.peer_error());
      close(close_reason::protocol_violation);
      return false;
    }
    auto e = parser_.error();
    spdlog::debug("{} - cid:{} - protocol error: {}", remote_, id_, proto::text(e));
    send_error(e);
    close(e == err::maximum_payload_violation        ? close_reason::max_payload
          : e == err::maximum_control_line_exceeded ? close_reason::max_control_line
                                                    : close_reason::protocol_violation);
    return false;
  }
  if (st == proto::parse_status::stopped) {
    // A CONNECT waiting for a password check: keep what came behind it for later.
    if (auth_pending_ && !is_closed()) deferred_input_.assign(data + parser_.consumed(), len - parser_.consumed());
    return false;
  }
  return !is_closed();
}

bool client_connection::feed(const char* data, size_t len) {
  bool go_on = process_input(data, len);
  end_batch(nullptr);
  return go_on;
}

void client_connection::read_some() {
  char* buf = loop_.read_buffer();
  // Bounded work per wake-up so one busy client cannot starve the others on this loop.
  for (int round = 0; round < 16; ++round) {
    ssize_t n = transport_->read(buf, io::event_loop::read_buffer_size);
    if (n == 0) {
      close(close_reason::client_closed);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close(close_reason::read_error);
      return;
    }
    last_read_ = clock::now();
    bool go_on = process_input(buf, size_t(n));
    bool backed_up = end_batch(&waiting_on_);
    if (!go_on) return;
    if (backed_up) {
      stall_then_read();
      return;
    }
    stall_rounds_ = 0;
    if (size_t(n) < io::event_loop::read_buffer_size) break;
  }
  parser_.shrink();
  arm_read();
}

bool client_connection::end_batch(std::vector<receiver_ptr>* backed) {
  // Every receiver this batch fed, once: client sockets are written, internal clients'
  // owners are woken to drain their inboxes (latency reports among them).
  return loop_.flush_pending(this, backed);
}

void client_connection::stall_then_read() {
  // Pause reading this producer until the receivers it fed are no longer backed up:
  // the producer is paced to its slowest reader, however slow, as long as that reader
  // keeps reading. A reader that moves no bytes for stall_patience stops counting as
  // backed up (backed_up()), so a stalled reader holds its producers for at most that
  // long; then it reaches max_pending or the write deadline and is cut off. Checked
  // every 250 us at first, backing off to every 4 ms.
  if (!stall_timer_) stall_timer_ = std::make_unique<asio::steady_timer>(loop_.context());
  int shift = std::min(stall_rounds_++, 4);
  stall_timer_->expires_after(std::chrono::microseconds(250 << shift));
  stall_timer_->async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (ec || self->is_closed()) return;
    auto& waiting = self->waiting_on_;
    std::erase_if(waiting, [](const receiver_ptr& r) { return !r->backed_up(); });
    if (!waiting.empty()) {
      self->stall_then_read();
      return;
    }
    self->read_some();
  });
}

// ---- delivering and writing -----------------------------------------------------------

size_t client_connection::deliver(router::context& ctx, const platform::subscription_ptr& sp,
                                  const proto::message_args& m) {
  if (ctx.from == static_cast<publisher*>(this) && !opts_.echo.load(std::memory_order_relaxed)) return 0;
  // Delivery-time checks some users need (a sub deny list, allow_responses). Set by
  // CONNECT before this client had any subscription, so every delivery sees it.
  if (delivery_filter_ && !accepts_delivery(m.subject, m.reply)) return 0;
  // Publishers on several loops may deliver to one subscription at once: enqueue_msg
  // counts the delivery against the auto-unsubscribe limit under the outbound lock, so
  // exactly max_msgs messages get through and exactly one delivery is the last.
  bool last = false;
  size_t pending;
  if (m.header_len >= 0 && opts_.headers.load(std::memory_order_relaxed)) {
    pending = enqueue_msg(m.subject, *sp, m.reply, m.header_len, m.data, last);
  } else {
    // A receiver that did not ask for headers gets the payload alone.
    pending = enqueue_msg(m.subject, *sp, m.reply, -1, m.payload(), last);
  }
  if (last) remove_subscription(sp);
  if (pending == 0) return 0;
  router::schedule_flush(ctx, *this, sp->owner);
  return 1;
}

size_t client_connection::enqueue(std::string_view a, std::string_view b, std::string_view c) {
  std::lock_guard lock(out_mutex_);
  if (closing_) return 0;
  out_.append3(a, b, c);
  return appended_locked(b.size(), !c.empty());
}

size_t client_connection::enqueue_msg(std::string_view subject, platform::subscription& sub, std::string_view reply,
                                      int64_t header_len, std::string_view body, bool& last) {
  std::string_view sid = sub.sid();
  size_t line = proto::msg_line_length(subject, sid, reply, header_len, body.size());
  std::lock_guard lock(out_mutex_);
  if (closing_) return 0;
  // The count and the limit are only written under this lock (here and in on_unsub):
  // exact however many loops deliver to this subscription, without an atomic add.
  uint64_t n = sub.delivered.load(std::memory_order_relaxed) + 1;
  sub.delivered.store(n, std::memory_order_relaxed);
  if (uint64_t max = sub.max_msgs.load(std::memory_order_relaxed)) {
    if (n > max) return 0;
    last = n == max;
  }
  // A writer may be in writev on the blocks before the tail: appending only writes
  // past what it took (outbound_buffer keeps block memory in place).
  char* start = out_.reserve(line + body.size() + 2);
  char* p = proto::write_msg_line(start, subject, sid, reply, header_len, body.size());
  std::memcpy(p, body.data(), body.size());
  p += body.size();
  *p++ = '\r';
  *p++ = '\n';
  out_.commit(size_t(p - start));
  return appended_locked(body.size(), true);
}

void client_connection::discard_output_locked() {
  closing_ = true;
  discard_ = true;
  if (!flushing_) out_.clear();
}

size_t client_connection::appended_locked(size_t payload_bytes, bool is_message) {
  size_t n = out_.size();
  if (is_message) {  // not a protocol line
    msgs_out.store(msgs_out.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    bytes_out.store(bytes_out.load(std::memory_order_relaxed) + payload_bytes, std::memory_order_relaxed);
  }
  if (int64_t(n) > server_.opts().max_pending) {
    // Slow consumer: drop what is queued and cut the connection off.
    discard_output_locked();
    server_.counters().slow_consumers++;
    spdlog::info("{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded", remote_, id_,
                 server_.opts().max_pending);
    close_async(close_reason::slow_consumer_pending);
    return 0;
  }
  return n;
}

size_t client_connection::pending_bytes() {
  std::lock_guard lock(out_mutex_);
  return out_.size();
}

bool client_connection::backed_up() {
  auto limit = std::min<int64_t>(server_.opts().max_pending / 2, 4 << 20);
  if (int64_t(pending_bytes()) <= limit) return false;
  // A reader that has not taken a byte for stall_patience is stalled rather than slow:
  // its producers stop waiting for it (see stall_then_read()). Progress is noticed
  // here, by whoever checks (producers, every few ms while they wait); two checking
  // at once store the same observation.
  int64_t now = clock::now().time_since_epoch().count();
  uint64_t w = written_.load(std::memory_order_relaxed);
  if (w != progress_seen_.load(std::memory_order_relaxed)) {
    progress_seen_.store(w, std::memory_order_relaxed);
    progress_seen_at_.store(now, std::memory_order_relaxed);
    return true;
  }
  return now - progress_seen_at_.load(std::memory_order_relaxed) < std::chrono::nanoseconds(stall_patience).count();
}

void client_connection::flush() {
  if (!transport_->writes_from_any_thread() && !loop_.in_loop_thread()) {
    // Only the owning loop may write this transport (TLS): ask it, once while a request
    // is outstanding; bytes appended meanwhile go out with that flush.
    if (!owner_flush_posted_.exchange(true, std::memory_order_acq_rel)) {
      loop_.post([self = shared_from_this()] {
        self->owner_flush_posted_.store(false, std::memory_order_release);
        self->flush();
      });
    }
    return;
  }
  std::unique_lock lock(out_mutex_);
  write_out(lock);
}

void client_connection::write_out(std::unique_lock<std::mutex>& lock) {
  // One writer at a time, and not under the lock: producers on other loops keep
  // appending while this thread is in writev (nats-server's flushOutbound does the
  // same). A second flusher finds flushing_ set and leaves; the bytes it wanted out are
  // written by this loop, which goes on until the buffer is empty or the socket full.
  if (flushing_ || write_blocked_ || transport_closed_) return;
  flushing_ = true;
  while (!out_.empty() && !discard_) {
    iovec iov[64];
    int cnt = out_.fill_iov(iov, 64);
    lock.unlock();
    ssize_t n = transport_->writev(iov, cnt);
    int e = errno;
    lock.lock();
    if (n > 0) {
      out_.consume(size_t(n));
      written_.store(written_.load(std::memory_order_relaxed) + uint64_t(n), std::memory_order_relaxed);
      continue;
    }
    if (n < 0 && e == EINTR) continue;
    if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
      write_blocked_ = true;
      blocked_since_ = clock::now();
      if (loop_.in_loop_thread()) {
        arm_write();
      } else {
        loop_.post([self = shared_from_this()] { self->arm_write(); });
      }
      break;
    }
    // Broken pipe or reset: drop the output and let the connection close.
    discard_ = true;
    closing_ = true;
    close_async(close_reason::write_error);
    break;
  }
  flushing_ = false;
  if (discard_) out_.clear();
}

void client_connection::arm_write() {
  if (is_closed()) return;
  transport_->wait_writable(shared_from_this());
}

void client_connection::on_writable(const std::error_code& ec) {
  if (ec || is_closed()) return;
  std::unique_lock lock(out_mutex_);
  write_blocked_ = false;
  write_out(lock);
}

// ---- closing ------------------------------------------------------------------------

void client_connection::close_async(close_reason why) {
  // Always posted, even from the owning loop: a close must not run in the middle of a
  // delivery that is still using this connection.
  loop_.post([self = shared_from_this(), why] { self->close(why); });
}

void client_connection::close(close_reason why) {
  if (closed_.exchange(true)) return;
  {
    std::unique_lock lock(out_mutex_);
    closing_ = true;
    // A producer's loop may be in writev on this transport right now: let it finish
    // (writes do not block) before the transport is closed and the buffer freed.
    while (flushing_) {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    write_blocked_ = false;
    // Best effort: an -ERR or the last replies queued before closing.
    // (No other writer can start meanwhile: write_out holds flushing_ while unlocked.)
    if (!out_.empty() && why != close_reason::slow_consumer_pending && why != close_reason::write_error)
      write_out(lock);
    out_.clear();
    transport_->close();
    transport_closed_ = true;
  }
  if (stall_timer_) stall_timer_->cancel();
  std::vector<platform::subscription_ptr> subs;
  {
    std::lock_guard lock(subs_mutex_);
    subs.reserve(subs_.size());
    for (auto& s : subs_) {
      s->closed.store(true, std::memory_order_relaxed);
      subs.push_back(s);
    }
    subs_.clear();
  }
  if (account_) {
    // Small sets go at once; a huge one (a client with a million subscriptions) is
    // handed to the account actor so this loop's other clients do not wait on it.
    auto* cp = server_.control();
    if (subs.size() > 4096 && cp) {
      cp->release_subscriptions(*account_, std::move(subs));
    } else {
      account_->subjects().remove_all(subs);
    }
  }
  caches_.clear();
  if (connected_) account_->connections--;
  server_.counters().current_connections--;
  if (why == close_reason::client_closed || why == close_reason::server_shutdown) {
    spdlog::debug("{} - cid:{} - Client connection closed: {}", remote_, id_, to_string(why));
  } else {
    spdlog::info("{} - cid:{} - Client connection closed: {}", remote_, id_, to_string(why));
  }
  auto self = shared_from_this();
  loop_.detach(self);
  if (connected_) {
    if (auto* cp = server_.control()) cp->client_closed(self, why);
  }
}

// ---- protocol -----------------------------------------------------------------------

void client_connection::mark_pending() { loop_.add_pending(shared_from_this()); }

void client_connection::send_error_text(std::string_view text) {
  if (trace_) spdlog::trace("{} - cid:{} - ->> [-ERR '{}']", remote_, id_, text);
  enqueue(proto::err_line(text));
  mark_pending();
}

void client_connection::send_error(err e) { send_error_text(proto::text(e)); }

void client_connection::send_ok() {
  enqueue("+OK\r\n");
  mark_pending();
}

void client_connection::revoke() {
  if (is_closed()) return;
  bool jwt_user = user_ && user_->from_jwt;
  spdlog::info("{} - cid:{} - Authorization revoked by {}", remote_, id_,
               jwt_user ? "an account JWT update" : "a configuration reload");
  // Outside any read batch: close() writes the -ERR; the loop's pending set is not used.
  enqueue(proto::err_line(proto::text(jwt_user ? err::user_authentication_revoked : err::authorization_violation)));
  close(close_reason::auth_violation);
}

bool client_connection::auth_violation(std::string_view why) {
  if (why.empty()) spdlog::info("{} - cid:{} - Authorization Error", remote_, id_);
  else spdlog::info("{} - cid:{} - Authorization Error: {}", remote_, id_, why);
  send_error(err::authorization_violation);
  close(close_reason::auth_violation);
  return false;
}

bool client_connection::on_connect(std::string_view json) {
  if (trace_) spdlog::trace("{} - cid:{} - <<- [CONNECT {}]", remote_, id_, json);
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    send_error(err::invalid_connect_json);
    close(close_reason::protocol_violation);
    return false;
  }
  auto get_bool = [&](const char* k, bool def) {
    auto it = j.find(k);
    return (it != j.end() && it->is_boolean()) ? it->get<bool>() : def;
  };
  auto get_str = [&](const char* k) {
    auto it = j.find(k);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  opts_.verbose = get_bool("verbose", true);
  opts_.pedantic = get_bool("pedantic", true);
  opts_.echo.store(get_bool("echo", true), std::memory_order_relaxed);
  // With no_header_support the server does not offer headers, whatever the client asks.
  bool headers = get_bool("headers", false) && server_.opts().header_support;
  opts_.headers.store(headers, std::memory_order_relaxed);
  opts_.no_responders = get_bool("no_responders", false);
  if (!connected_) {  // identity strings are fixed by the first CONNECT (see client_options)
    opts_.name = get_str("name");
    opts_.lang = get_str("lang");
    opts_.version = get_str("version");
  }
  if (auto it = j.find("protocol"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 1) {
      send_error(err::invalid_client_protocol);
      close(close_reason::protocol_violation);
      return false;
    }
    opts_.protocol = it->get<int>();
  }
  if (opts_.no_responders && !headers) {
    send_error(err::no_responders_requires_headers);
    close(close_reason::protocol_violation);
    return false;
  }
  // Obsolete fields nats-server treats as an authorization violation.
  if (j.contains("account") || j.contains("new_account")) return auth_violation();
  credentials creds;
  creds.user = get_str("user");
  creds.pass = get_str("pass");
  creds.token = get_str("auth_token");
  creds.nkey = get_str("nkey");
  creds.sig = get_str("sig");
  creds.jwt = get_str("jwt");
  creds.nonce = nonce_;
  creds.remote_ip = remote_ip();
  std::vector<std::string> cert_names;
  if (map_certificate_) {
    cert_names = transport_->peer_identities();
    creds.certificate = &cert_names;
  }
  auto d = server_.auth()->decide(creds);
  using outcome = authenticator::decision::outcome;
  if (d.result == outcome::reject) return auth_violation(d.why);
  if (d.result == outcome::accept) return connected_ ? confirm_reconnect(d.user, d.acc) : finish_connect(d.user, d.acc);
  // Bcrypt: verified off the I/O threads; reading pauses until the answer comes back.
  auth_pending_ = true;
  std::weak_ptr<client_connection> weak = shared_from_this();
  server_.control()->verify_password(d.stored, d.given, [weak, user = std::move(d.user), acc = std::move(d.acc)](bool ok) {
    auto self = weak.lock();
    if (!self) return;
    self->loop_.post([self, ok, user, acc] {
      if (self->is_closed()) return;
      self->auth_pending_ = false;
      bool go_on = !ok                ? self->auth_violation("password or token does not match")
                   : self->connected_ ? self->confirm_reconnect(user, acc)
                                      : self->finish_connect(user, acc);
      if (go_on && !self->deferred_input_.empty()) {
        std::string rest;
        rest.swap(self->deferred_input_);
        go_on = self->process_input(rest.data(), rest.size());
      }
      self->end_batch(nullptr);
      if (go_on) self->arm_read();
    });
  });
  return false;
}

bool client_connection::finish_connect(std::shared_ptr<const user_record> user, account_ptr acc) {
  auto& limits = acc->limits;
  if (limits.max_connections >= 0 && acc->connections.fetch_add(1) >= limits.max_connections) {
    acc->connections--;
    send_error(err::maximum_account_connections_exceeded);
    close(close_reason::max_connections);
    return false;
  }
  if (limits.max_connections < 0) acc->connections++;
  account_ = std::move(acc);
  user_ = std::move(user);
  perms_ = user_ ? user_->permissions : nullptr;
  delivery_filter_ = perms_ && (perms_->has_sub_deny() || perms_->responses_max);
  int64_t max_payload = server_.opts().max_payload;
  if (limits.max_payload > 0 && limits.max_payload < max_payload) max_payload = limits.max_payload;
  if (user_ && user_->max_payload >= 0 && user_->max_payload < max_payload) max_payload = user_->max_payload;
  parser_.set_limits(server_.opts().max_control_line, max_payload);
  connected_ = true;
  if (auto* cp = server_.control()) cp->client_connected(shared_from_this());
  if (opts_.verbose) send_ok();
  return true;
}

bool client_connection::confirm_reconnect(const std::shared_ptr<const user_record>& user, const account_ptr& acc) {
  // The options above were applied already; the identity may not change: a
  // connection stays in the account and the permissions it logged in with.
  // Compared by name: a configuration reload builds new user records.
  if ((user ? user->name : no_user) != user_name() || acc != account_) return auth_violation();
  if (opts_.verbose) send_ok();
  return true;
}

bool client_connection::allowed_to_publish(std::string_view subject) {
  auto it = publish_decisions_.find(std::string(subject));
  bool allowed;
  if (it != publish_decisions_.end()) {
    allowed = it->second;
  } else {
    allowed = perms_->can_publish(subject);
    if (publish_decisions_.size() >= 256) publish_decisions_.erase(publish_decisions_.begin());
    publish_decisions_.emplace(subject, allowed);
  }
  if (allowed || !perms_->responses_max) return allowed;
  // allow_responses: a reply subject this client received may be answered.
  std::lock_guard lock(replies_mutex_);
  auto r = replies_.find(std::string(subject));
  if (r == replies_.end()) return false;
  if (r->second.expires < clock::now()) {
    replies_.erase(r);
    return false;
  }
  if (--r->second.left <= 0) replies_.erase(r);
  return true;
}

bool client_connection::accepts_delivery(std::string_view subject, std::string_view reply) {
  if (perms_->has_sub_deny() && perms_->delivery_denied(subject)) return false;
  if (perms_->responses_max && !reply.empty()) {
    std::lock_guard lock(replies_mutex_);
    auto now = clock::now();
    if (replies_.size() > 10000) {  // bounded: drop what expired
      for (auto it = replies_.begin(); it != replies_.end();) it = it->second.expires < now ? replies_.erase(it) : ++it;
    }
    replies_[std::string(reply)] = {*perms_->responses_max, now + perms_->responses_expires};
  }
  return true;
}

bool client_connection::on_msg(const proto::message_args& m) {
  if (trace_) {
    if (m.header_len >= 0)
      spdlog::trace("{} - cid:{} - <<- [HPUB {}{}{} {} {}]", remote_, id_, m.subject, m.reply.empty() ? "" : " ",
                    m.reply, m.header_len, m.data.size());
    else
      spdlog::trace("{} - cid:{} - <<- [PUB {}{}{} {}]", remote_, id_, m.subject, m.reply.empty() ? "" : " ",
                    m.reply, m.data.size());
  }
  if (!account_) return auth_violation();
  if (m.header_len >= 0 && !opts_.headers.load(std::memory_order_relaxed)) {
    send_error(err::headers_not_supported);
    close(close_reason::protocol_violation);
    return false;
  }
  if (perms_ && perms_->restricts_publish() && !allowed_to_publish(m.subject)) {
    spdlog::debug("{} - cid:{} - Publish Violation - Subject \"{}\"", remote_, id_, m.subject);
    send_error_text(proto::permissions_publish(m.subject));
    return true;
  }
  if (!m.reply.empty() && reserved_reply(m.reply)) {
    send_error_text(proto::permissions_reply(m.reply));
    return true;
  }
  if (opts_.pedantic && !platform::subject::valid_publish(m.subject)) {
    // Pedantic clients are told, but the message is still delivered (nats-server does).
    send_error(err::invalid_publish_subject);
  }
  if (opts_.verbose) send_ok();
  if (m.header_len == 0) {
    // HPUB with an empty header block is a plain message (nats-server delivers MSG).
    auto plain = m;
    plain.header_len = -1;
    router::deliver(*this, plain);
    return true;
  }
  router::deliver(*this, m);
  return true;
}

bool client_connection::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (trace_) {
    if (queue.empty())
      spdlog::trace("{} - cid:{} - <<- [SUB {} {}]", remote_, id_, subject, sid);
    else
      spdlog::trace("{} - cid:{} - <<- [SUB {} {} {}]", remote_, id_, subject, queue, sid);
  }
  if (!account_) return auth_violation();
  if (!platform::subject::valid_subscription(subject) || (!queue.empty() && !platform::subject::valid_queue(queue))) {
    send_error(err::invalid_subject);
    return true;
  }
  if (perms_ && !perms_->can_subscribe(subject, queue)) {
    spdlog::debug("{} - cid:{} - Subscription Violation - Subject \"{}\"", remote_, id_, subject);
    send_error_text(queue.empty() ? proto::permissions_subscribe(subject)
                                  : proto::permissions_subscribe_queue(subject, queue));
    return true;
  }
  {
    std::lock_guard lock(subs_mutex_);
    // A live sid is ignored, as nats-server does; a closed one (e.g. after an
    // auto-unsubscribe) is replaced.
    auto it = subs_.find(sid);
    bool fresh = it == subs_.end();
    if (fresh || (*it)->closed.load()) {
      int64_t max_subs = max_subscriptions();
      if (max_subs >= 0 && int64_t(subs_.size()) - (fresh ? 0 : 1) >= max_subs) {
        send_error(err::maximum_subscriptions_exceeded);
        return true;
      }
      auto sub = std::make_shared<platform::subscription>(subject, queue, sid);
      sub->owner = shared_from_this();
      // A pipelined burst: warm the table slots the next SUB/UNSUB will probe.
      const auto& next = parser_.upcoming();
      account_->subjects().insert(sub, next.subject);
      if (!fresh) subs_.erase(it);
      subs_.insert(std::move(sub));  // same hash group as the find above: cached
      if (next.what != platform::protocol::upcoming_op::kind::none) subs_.prefetch(next.sid);
    }
  }
  if (opts_.verbose) send_ok();
  return true;
}

bool client_connection::on_unsub(std::string_view sid, int64_t max_msgs) {
  if (trace_) {
    if (max_msgs < 0)
      spdlog::trace("{} - cid:{} - <<- [UNSUB {}]", remote_, id_, sid);
    else
      spdlog::trace("{} - cid:{} - <<- [UNSUB {} {}]", remote_, id_, sid, max_msgs);
  }
  if (!account_) return auth_violation();
  platform::subscription_ptr sub;
  {
    std::lock_guard lock(subs_mutex_);
    auto it = subs_.find(sid);
    if (it != subs_.end() && max_msgs > 0) {
      sub = *it;
    } else if (it != subs_.end() && !(*it)->closed.exchange(true)) {
      // A plain UNSUB: out of the sid table here, with the iterator in hand.
      sub = *it;
      subs_.erase(it);
    }
    const auto& next = parser_.upcoming();  // a pipelined burst: warm the next sid's slot
    if (next.what != platform::protocol::upcoming_op::kind::none) subs_.prefetch(next.sid);
  }
  if (sub && max_msgs > 0) {
    // Auto-unsubscribe. Publishers on other loops may be delivering right now; the
    // limit and the count are both written under the outbound lock (enqueue_msg), so
    // either a delivery already counted past the limit (then it goes now) or every
    // later delivery sees the limit and the one that reaches it removes the
    // subscription. remove_subscription() is idempotent.
    bool reached;
    {
      std::lock_guard lock(out_mutex_);
      sub->max_msgs.store(uint64_t(max_msgs), std::memory_order_relaxed);
      reached = sub->delivered.load(std::memory_order_relaxed) >= uint64_t(max_msgs);
    }
    if (reached) remove_subscription(sub);
  } else if (sub) {
    account_->subjects().remove(sub);
  }
  if (opts_.verbose) send_ok();
  return true;
}

void client_connection::remove_subscription(const platform::subscription_ptr& sub) {
  if (sub->closed.exchange(true)) return;  // removed already (or the client closed)
  {
    std::lock_guard lock(subs_mutex_);
    auto it = subs_.find(sub->sid());
    if (it != subs_.end() && *it == sub) subs_.erase(it);
  }
  account_->subjects().remove(sub);
}

int64_t client_connection::max_subscriptions() const {
  // The tightest of the server's max_subs, the account's and the user's (a JWT's subs)
  // limits; -1: none.
  int64_t limit = -1;
  for (int64_t l : {account_->limits.max_subscriptions.load(), server_.opts().max_subs, user_ ? user_->max_subs : -1})
    if (l >= 0 && (limit < 0 || l < limit)) limit = l;
  return limit;
}

size_t client_connection::subscription_count() {
  std::lock_guard lock(subs_mutex_);
  return subs_.size();
}

bool client_connection::on_ping() {
  if (trace_) spdlog::trace("{} - cid:{} - <<- [PING]", remote_, id_);
  if (!account_) return auth_violation();
  enqueue("PONG\r\n");
  mark_pending();
  return true;
}

bool client_connection::on_pong() {
  if (trace_) spdlog::trace("{} - cid:{} - <<- [PONG]", remote_, id_);
  if (!account_) return auth_violation();
  pings_out_ = 0;
  return true;
}

// ---- timers -------------------------------------------------------------------------

void client_connection::housekeeping(clock::time_point now) {
  if (is_closed()) return;
  auto& o = server_.opts();
  if (tls_pending_) {
    // A client that stalls in the handshake is dropped at the TLS timeout.
    if (now - started_ > tls_timeout_) {
      spdlog::error("{} - cid:{} - TLS handshake error: timeout after {}ms", remote_, id_, tls_timeout_.count());
      close(close_reason::tls_handshake_error);
    }
    return;
  }
  if (connected_ && user_ && user_->expires > 0 &&
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) >= user_->expires) {
    spdlog::info("{} - cid:{} - User JWT expired", remote_, id_);
    send_error(err::user_authentication_expired);
    loop_.flush_pending();
    close(close_reason::auth_violation);
    return;
  }
  if (!connected_ && !auth_pending_ && server_.auth()->required() && now - started_ > o.auth_timeout) {
    send_error(err::authentication_timeout);
    close(close_reason::auth_timeout);
    return;
  }
  {
    std::unique_lock lock(out_mutex_);
    if (write_blocked_ && now - blocked_since_ > o.write_deadline) {
      discard_output_locked();
      lock.unlock();
      server_.counters().slow_consumers++;
      spdlog::info("{} - cid:{} - Slow Consumer Detected: WriteDeadline of {}ms exceeded", remote_, id_,
                   o.write_deadline.count());
      close(close_reason::slow_consumer_deadline);
      return;
    }
  }
  if (now >= next_ping_) {
    next_ping_ = now + o.ping_interval;
    if (pings_out_ >= o.ping_max) {
      send_error(err::stale_connection);
      loop_.flush_pending();
      close(close_reason::stale_connection);
      return;
    }
    // A client that sent us something recently is alive; skip the ping.
    if (now - last_read_ < o.ping_interval && pings_out_ == 0 && connected_) return;
    ++pings_out_;
    enqueue("PING\r\n");
    flush();
  }
}

}  // namespace actors
