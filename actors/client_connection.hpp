#pragma once
// One client connection, as a protocol session: CONNECT/SUB/UNSUB/PUB/PING rules,
// authentication, permissions and subscriptions, fed the bytes its transport reads
// (feed()). Three parts, one job each:
//   - the transport (io/transport.hpp): plain TCP now, TLS next; reads and writes;
//   - this session: parses input, applies the protocol rules, publishes through the
//     router, and is the receiver (receiver.hpp) the router delivers this client's
//     messages to;
//   - the outbound side: a platform::outbound_buffer under out_mutex_, written by
//     flush() without holding the lock across the write (a flushing flag keeps it to
//     one writer at a time, as nats-server's flushOutbound does).
// Threads: created by the listener on one I/O loop and read only by that loop's
// thread. Other threads (other loops, internal clients' actors) deliver into it (append
// under out_mutex_); other loops may flush it when the transport allows writes from any
// thread, otherwise the owning loop does (client_connection::flush()); actors never
// write it (router::flush_later). Closing happens on the owning loop.
// The actors hear of it through the control plane (control_plane.hpp) when it logs in
// and when it closes; the data path never goes through an actor.
// Lifetime: shared_ptr; subscriptions and match results keep it alive after close
// (with the transport closed and buffers freed) until the last result referring to it goes.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/steady_timer.hpp>
#include <absl/container/flat_hash_set.h>

#include "actors/account.hpp"
#include "actors/close_reason.hpp"
#include "actors/io/transport.hpp"
#include "actors/receiver.hpp"
#include "actors/router.hpp"
#include "libplatform/absl_key.hpp"
#include "libplatform/match_cache.hpp"
#include "libplatform/outbound_buffer.hpp"
#include "libplatform/protocol/parser.hpp"
#include "libplatform/sublist.hpp"

namespace actors {
namespace io {
class event_loop;
}
class server_core;
class permission_set;
struct user_record;

// What the client asked for in CONNECT. verbose, pedantic, no_responders and protocol
// are read only by the owning loop. echo and headers are read by every loop that
// delivers to this client, and a later CONNECT may change them: atomics. name, lang
// and version are set by the first CONNECT, before the connection is published to the
// actors, and never change afterwards (a later CONNECT keeps them), so any thread may
// read them.
struct client_options {
  bool verbose = true;  // protocol defaults when CONNECT omits a field
  bool pedantic = true;
  std::atomic<bool> echo{true};
  std::atomic<bool> headers{false};
  bool no_responders = false;
  int protocol = 0;
  std::string name, lang, version;
};

class client_connection final : public receiver,
                                public publisher,
                                public platform::protocol::parser_handler,
                                public io::transport_handler,
                                public std::enable_shared_from_this<client_connection> {
 public:
  using clock = std::chrono::steady_clock;
  // How long a backed-up receiver may take no bytes before its producers stop waiting
  // for it (stall_then_read()).
  static constexpr std::chrono::milliseconds stall_patience{1000};

  client_connection(server_core& server, io::event_loop& loop, std::unique_ptr<io::transport> transport,
                    uint64_t id);
  ~client_connection() override;

  // Loop thread: sends INFO and starts reading.
  void start();
  // Loop thread: processes bytes as if the transport had just read them (one read
  // batch: the receivers it fed are flushed at the end). Returns false once the
  // session stopped (closed, or waiting for a password check). The transport's reads
  // come through here; tests feed a session directly.
  bool feed(const char* data, size_t len);
  // Loop thread: closes with a reason; queued output (an -ERR) is flushed first.
  void close(close_reason why);
  // Loop thread: CONNECT was accepted.
  bool logged_in() const noexcept { return connected_; }
  // Loop thread: the login no longer holds (a reload removed or changed the user or
  // the account): -ERR 'Authorization Violation' and close.
  void revoke();
  // Any thread: asks the owning loop to close the connection.
  void close_async(close_reason why);

  // Any thread (delivery). Appends one frame; returns bytes now pending, or 0 when the
  // connection is closed or was just marked as a slow consumer.
  size_t enqueue(std::string_view a, std::string_view b = {}, std::string_view c = {});
  // Any thread (delivery): one MSG/HMSG frame for subscription `sub`, its line formatted
  // in place. Counts the delivery against the subscription's auto-unsubscribe limit
  // under the outbound lock: returns 0 without appending once the limit has been
  // reached, and sets `last` when this message is the one that reaches it.
  size_t enqueue_msg(std::string_view subject, platform::subscription& sub, std::string_view reply,
                     int64_t header_len, std::string_view body, bool& last);
  // receiver: the router hands this client a message (echo, delivery permissions,
  // auto-unsubscribe, then enqueue_msg and schedule_flush).
  size_t deliver(router::context& ctx, const platform::subscription_ptr& sub,
                 const platform::protocol::message_args& m) override;
  // Writes what is pending without blocking; arms a write wait if the socket is full.
  // From the owning loop, or any thread when the transport allows it; otherwise it
  // asks the owning loop to flush (see io/transport.hpp).
  void flush() override;
  // Far enough behind that its producers should wait for it, and still making progress
  // (see event_loop::flush_pending and stall_then_read()).
  bool backed_up() override;
  // Publishers off the I/O loops (actors: a stream's acks, the JetStream API, $SYS)
  // write a plain TCP client themselves: a post to its loop would add a thread wake-up
  // to every request/reply through an actor. Only a transport its loop alone may write
  // (TLS) sends them to the loop, in one post per loop (router::flush_later).
  io::event_loop* home_loop() noexcept override {
    return transport_->writes_from_any_thread() ? nullptr : &loop_;
  }
  size_t pending_bytes();

  // publisher
  platform::match_cache& cache_for(const account& a) override;
  client_connection* as_client() noexcept override { return this; }

  // transport_handler (owning loop)
  void on_readable(const std::error_code& ec) override;
  void on_writable(const std::error_code& ec) override;

  // Loop thread: the periodic check for pings, auth and write deadlines.
  void housekeeping(clock::time_point now);

  // parser_handler
  bool on_connect(std::string_view json) override;
  bool on_msg(const platform::protocol::message_args& m) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max_msgs) override;
  bool on_ping() override;
  bool on_pong() override;

  uint64_t id() const noexcept { return id_; }
  const client_options& options() const noexcept { return opts_; }
  account& acc() noexcept { return *account_; }
  const account_ptr& acc_ptr() const noexcept { return account_; }
  io::event_loop& loop() noexcept { return loop_; }
  platform::match_cache& cache() noexcept { return caches_.own(); }
  // This client described for latency reports (client_info_json), in the account it
  // was last described for (by account id). Loop thread only.
  struct info_json_slot {
    uint64_t acc = 0;
    std::shared_ptr<const std::string> json;
  };
  info_json_slot& info_json_cache() noexcept { return info_json_; }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  const std::string& remote_ip() const noexcept { return transport_->remote_ip(); }
  const std::string& user_name() const noexcept;
  // The user record this client logged in with (null: no auth, or a token).
  const std::shared_ptr<const user_record>& user() const noexcept { return user_; }
  std::chrono::system_clock::time_point started_at() const noexcept { return started_wall_; }

  // Any thread: removes a subscription from this client and the subject index (it
  // reached its auto-unsubscribe limit, or was unsubscribed). Idempotent: the first
  // caller to close the subscription removes it.
  void remove_subscription(const platform::subscription_ptr& sub);

  // Stats, readable from any thread.
  std::atomic<uint64_t> msgs_in{0}, bytes_in{0}, msgs_out{0}, bytes_out{0};
  size_t subscription_count();

 private:
  void read_some();
  bool process_input(const char* data, size_t len);
  // Any thread: false when the message must not be delivered here (a sub deny list);
  // records the reply subject for allow_responses.
  bool accepts_delivery(std::string_view subject, std::string_view reply);
  void arm_read();
  void arm_write();
  void stall_then_read();
  // After input was processed (a read, or bytes replayed after a password check): flush
  // every receiver the batch fed, once. Backed-up receivers go to `backed`, if given
  // (see event_loop::flush_pending).
  bool end_batch(std::vector<receiver_ptr>* backed);
  void send_error(platform::protocol::err e);
  void send_error_text(std::string_view text);
  void send_ok();
  void mark_pending();  // this client has protocol output: flush it with the batch
  // Writes the outbound buffer; `lock` holds out_mutex_ and is released around each
  // writev (flushing_ keeps other writers out), then held again on return.
  void write_out(std::unique_lock<std::mutex>& lock);
  // out_mutex_ held: drop what is queued and take no more (slow consumer, broken pipe);
  // a writer in progress frees the buffer when it is done.
  void discard_output_locked();
  size_t appended_locked(size_t payload_bytes, bool is_message);  // out_mutex_ held
  bool auth_violation(std::string_view why = {});
  // CONNECT, once credentials are known good: binds the account and applies limits.
  bool finish_connect(std::shared_ptr<const user_record> user, account_ptr acc);
  // A CONNECT on a connection that is already logged in: it must prove the same
  // identity again (nats-server re-authenticates every CONNECT).
  bool confirm_reconnect(const std::shared_ptr<const user_record>& user, const account_ptr& acc);
  bool allowed_to_publish(std::string_view subject);
  int64_t max_subscriptions() const;

  server_core& server_;
  io::event_loop& loop_;
  std::unique_ptr<io::transport> transport_;
  uint64_t id_;
  const std::string& remote_;  // the transport's "ip:port", for log lines
  account_ptr account_;
  std::shared_ptr<const user_record> user_;
  std::shared_ptr<const permission_set> perms_;
  client_options opts_;
  platform::protocol::server_parser parser_;
  match_caches caches_;
  std::unordered_map<std::string, bool> publish_decisions_;  // per-connection permission cache
  info_json_slot info_json_;

  // Owning-loop state.
  bool connected_ = false;     // CONNECT accepted
  bool auth_pending_ = false;  // waiting for a bcrypt check; reading is paused
  bool trace_ = false;
  bool delivery_filter_ = false;
  int pings_out_ = 0;
  int stall_rounds_ = 0;
  // Receivers this producer waits for while they drain (stall_then_read()).
  std::vector<receiver_ptr> waiting_on_;
  std::string deferred_input_;  // bytes that arrived behind a CONNECT being verified
  clock::time_point started_, last_read_, next_ping_;
  std::chrono::system_clock::time_point started_wall_;
  std::string nonce_;  // sent in INFO when nkey or JWT users may log in
  // TLS: the handshake is under way (nothing is read until it ends), how long it may
  // take, and whether the client certificate names the user (verify_and_map).
  bool tls_pending_ = false;
  std::chrono::milliseconds tls_timeout_{2000};
  bool map_certificate_ = false;
  void handshake_done(const std::string& error);
  std::unique_ptr<asio::steady_timer> stall_timer_;

  // The client's subscriptions by sid. A set of the subscriptions themselves, hashed and
  // compared by their sid: 16 bytes a slot rather than a copied key string plus pointer
  // (48), so a table of 100k sids stays mostly in cache.
  struct sid_of {
    std::string_view operator()(const platform::subscription& s) const noexcept { return s.sid(); }
  };
  using by_sid = platform::by_string_key<sid_of>;
  std::mutex subs_mutex_;  // loop thread and routers (auto-unsubscribe)
  absl::flat_hash_set<platform::subscription_ptr, by_sid, by_sid> subs_;

  struct reply_grant {
    int left;
    clock::time_point expires;
  };
  std::mutex replies_mutex_;  // allow_responses: reply subjects this client may answer
  std::unordered_map<std::string, reply_grant> replies_;

  std::mutex out_mutex_;  // guards everything below
  platform::outbound_buffer out_;
  bool flushing_ = false;  // a writer is in writev with the lock released
  bool write_blocked_ = false;
  bool closing_ = false;  // no more appends (slow consumer or closing)
  bool discard_ = false;  // drop the output instead of writing it
  bool transport_closed_ = false;
  clock::time_point blocked_since_;
  // Bytes written to the socket so far (written under out_mutex_). Producers that wait
  // for this reader compare it across their checks to tell a slow reader from a
  // stalled one (backed_up()); the clock is read there, not on every write.
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> progress_seen_{0};   // written_ as a producer last saw it
  std::atomic<int64_t> progress_seen_at_{0};  // when it last changed (steady clock, ns)
  std::atomic<bool> closed_{false};
  // A flush was posted to the owning loop and has not run yet (owner-only writes).
  std::atomic<bool> owner_flush_posted_{false};
};

}  // namespace actors
