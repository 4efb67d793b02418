#pragma once
// JetStream inside the server: the pieces and who owns which thread.
//
//   service        one per server: the stores (RocksDB for file streams, memory), the
//                  server-wide limits, the ticker (timers for every stream), and one
//                  js_account per account.
//   js_account     the JetStream API of one account: an internal client subscribed to
//                  $JS.API.> in that account, drained by its own actor. Account-level
//                  requests (INFO, STREAM.CREATE/UPDATE/DELETE/NAMES/LIST) run there;
//                  everything about one stream is posted to that stream.
//   stream         an actor (an internal client drained by its own actor) that owns
//                  the subjects it captures, its messages in the store, its consumers
//                  and its API requests. Publishes reach it through the router like
//                  any subscription, a whole read batch per wake; one drain is one
//                  store write_batch (group commit), and the pub acks are published
//                  after the write returns.
//   consumer       state inside its stream (same thread): deliveries, acks, pulls.
//
// Threads: a stream's state is touched only by its drain: its actor's, or an I/O loop's
// inline drain of a few small publishes (internal_client::set_inline_drain), never both
// at once (the client's drain lock), and such a drain never waits for the store
// (stream_store::try_write; a batch that would wait is left to the actor); a
// js_account's stream table only by its API actor, except `streams_mutex` readers (the
// ticker and LIST). Requests reach a stream as inbox jobs (internal_client::post).
#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "actors/account.hpp"
#include "actors/control_plane.hpp"
#include "actors/internal_client.hpp"
#include "libplatform/sublist.hpp"
#include "services/jetstream/api.hpp"
#include "services/jetstream/jetstream.hpp"
#include "services/store/stream_store.hpp"

namespace jetstream {

class service;
class stream;

// Storage used by one account, against its limits (any thread).
struct js_usage {
  std::atomic<int64_t> memory{0}, store{0};
  std::atomic<int64_t> streams{0}, consumers{0};
  account_limits limits;
};

// A request for a stream, handed from the API actor to the stream's actor.
struct api_request {
  std::string subject, reply, payload;
  std::vector<std::string> tokens;  // the subject after "$JS.API."
};
using api_request_ptr = std::shared_ptr<api_request>;

struct pending_ack {
  uint64_t cseq = 0;
  uint64_t deliveries = 0;
  int64_t deadline = 0;  // ns (steady clock)
  int64_t delivered_at = 0;
};

// Sequences due for redelivery, in the order they became due (nats-server's rdq):
// the oldest expired ack first, not the lowest sequence.
class redelivery_queue {
 public:
  void insert(uint64_t s) {
    if (members_.insert(s).second) order_.push_back(s);
  }
  void erase(uint64_t s) { members_.erase(s); }  // stale entries in order_ are skipped
  size_t count(uint64_t s) const { return members_.count(s); }
  bool empty() const { return members_.empty(); }
  void clear() {
    members_.clear();
    order_.clear();
  }
  // The next due sequence (call only when !empty()).
  uint64_t pop() {
    for (;;) {
      uint64_t s = order_.front();
      order_.pop_front();
      if (members_.erase(s)) return s;
    }
  }

 private:
  std::set<uint64_t> members_;
  std::deque<uint64_t> order_;
};

struct pull_request {
  std::string reply;
  int64_t batch = 1, max_bytes = 0;
  int64_t expires_at = 0;  // steady ns; 0 = never
  bool no_wait = false;
  int64_t heartbeat = 0, last_hb = 0;
  int64_t delivered = 0;
};

// Ends an interest watch (platform::sublist::watch_interest) when destroyed. Holds the
// account's subject index by an aliasing pointer, so it may outlive the stream.
struct interest_watch_token {
  std::shared_ptr<platform::sublist> list;
  uint64_t id = 0;
  interest_watch_token(std::shared_ptr<platform::sublist> l, uint64_t i) : list(std::move(l)), id(i) {}
  ~interest_watch_token() { list->unwatch_interest(id); }
  interest_watch_token(const interest_watch_token&) = delete;
  interest_watch_token& operator=(const interest_watch_token&) = delete;
};

class consumer {
 public:
  std::string name;
  consumer_config cfg;
  int64_t created = 0;
  bool ephemeral = false;

  // Delivery state. Sequences are stream sequences (sseq) and consumer sequences (cseq).
  uint64_t next_sseq = 1;        // next stream sequence to look at
  uint64_t delivered_cseq = 0, delivered_sseq = 0;
  uint64_t ack_floor_cseq = 0, ack_floor_sseq = 0;
  std::map<uint64_t, pending_ack> pending;   // by sseq, awaiting ack
  redelivery_queue redeliver;                  // sseqs due for redelivery
  std::deque<uint64_t> lps;                   // last_per_subject: sseqs still to send first
  uint64_t lps_end = 0;                        // after the lps list, continue from here
  uint64_t num_redelivered = 0;
  int64_t num_pending = 0;                     // messages still to deliver (new ones)
  std::deque<pull_request> waiting;            // pull requests

  // Push state.
  bool had_interest = false;
  int64_t last_active = 0;       // steady ns: interest seen / pull request received
  int64_t last_sent = 0;         // steady ns: last message or heartbeat sent
  std::string fc_reply;          // outstanding flow-control request
  int64_t fc_bytes = 0;          // bytes delivered and not yet confirmed by a flow-control answer
  int64_t fc_mark = 0;           // fc_bytes when the outstanding request was sent
  bool dirty = false;            // state to persist (durables)
  // Push: wakes the stream when a client subscribes to the deliver subject.
  std::unique_ptr<interest_watch_token> deliver_watch;

  bool matches(std::string_view subject) const;
  bool filtered() const { return !cfg.filter_subject.empty() || !cfg.filter_subjects.empty(); }
  bool acks() const { return cfg.ack != ack_policy::none; }
};

class stream : public std::enable_shared_from_this<stream> {
 public:
  stream(service& svc, std::shared_ptr<js_usage> usage, actors::account_ptr acc, uint64_t id, stream_config cfg,
         int64_t created);
  ~stream();

  // API actor: starts the actor and subscriptions (after restore() for a recovered one).
  void start(actors::control_plane& cp);
  // Any thread: stops delivering and subscribing; the actor ends.
  void stop();
  // Start-up, before start(): rebuilds the in-memory state from the store.
  void restore();
  void restore_state();
  void restore_from_record(uint64_t bytes);

  const std::string& name() const { return cfg_.name; }
  uint64_t id() const { return id_; }
  // Snapshot for LIST / NAMES / overlap checks (any thread).
  stream_config config_copy();
  json info_snapshot();
  const actors::internal_client_ptr& client() const { return client_; }
  // Any thread: whether tick() has anything to do (ages, consumers' timers, the
  // de-duplication window); the ticker skips the others, so idle buckets cost nothing.
  bool wants_tick() const { return wants_tick_.load(std::memory_order_relaxed); }

  // Stream thread (posted by the API actor).
  void handle(const api_request& r);
  void apply_update(const stream_config& c, const api_request& r);
  void destroy(const api_request* r);  // deletes everything, answers r if given
  void tick();

 private:
  friend class service;
  struct uncommitted {
    std::string subject;
    uint64_t size;
  };
  // Publishing.
  void on_publish(const actors::inbound_msg& m);
  void store_message(std::string_view subject, std::string_view hdrs, std::string_view payload, int64_t ts,
                     uint64_t& seq_out);
  void reply_ack(std::string_view reply, std::string_view body);
  void reply_ack(std::string_view reply, uint64_t seq);  // the pub ack of `seq`
  void append_ack(std::string& out, uint64_t seq) const;
  void commit();             // writes the pending batch, then publishes the held acks
  void after_drain();
  bool batch_pending() const { return batch_ && batch_->size() > 0; }
  store::write_batch& batch();

  // Message bookkeeping (stream thread).
 public:
  void commit_now() { commit(); }
 private:
  std::optional<store::stored_message> load(uint64_t seq);
  // Deletes a message (false if there is none). `subject_hint`: its subject, if the
  // caller knows it, so a subject's first or last message costs no store read.
  bool remove_message(uint64_t seq, std::string_view subject_hint = {});
  void fix_first();  // finds the first sequence again after its message was deleted
  void enforce_limits(std::string_view subject = {});
  void expire_old();
  uint64_t purge(std::string_view filter, uint64_t upto_seq, int64_t keep, bool& ok);
  // Bytes a message counts for (state.bytes, max_bytes): nats-server's formulas, file
  // store 22 + subject + headers + payload + 8, memory store + 16.
  uint64_t msg_size(std::string_view subj, std::string_view hdrs, std::string_view payload) const {
    return msg_size_of(subj.size(), hdrs.size(), payload.size());
  }
  uint64_t msg_size_of(uint64_t subj, uint64_t hdrs, uint64_t payload) const {
    // As nats-server 2.9 counts them: its file store adds a 4-byte header length to a
    // record with headers, its memory store does not.
    if (cfg_.storage == storage_type::memory) return subj + hdrs + payload + 16;
    return subj + hdrs + payload + 30 + (hdrs == 0 ? 0 : 4);
  }
  // state.first_seq: 0 for a stream that never had a message, else last + 1 when empty.
  uint64_t reported_first() const { return msgs_ ? first_seq_ : (last_seq_ ? last_seq_ + 1 : 0); }
  void save_state(store::write_batch& b);
  void account_bytes(int64_t delta);
  void dedupe_expire(int64_t now);

  // API (stream thread).
  void api_info(const api_request& r);
  void api_purge(const api_request& r);
  void api_msg_get(const api_request& r, bool direct);
  void api_direct_get_subject(const api_request& r, std::string_view subject);
  void api_msg_delete(const api_request& r);
  void api_consumer_create(const api_request& r);
  void api_consumer_info(const api_request& r, const std::string& name);
  void api_consumer_delete(const api_request& r, const std::string& name);
  void api_consumer_list(const api_request& r, bool names_only);
  void api_msg_next(const api_request& r, const std::string& name);
  void respond(const std::string& reply, const json& j);
  void respond_error(const std::string& reply, std::string_view type, const api_error& e);
  json state_json(bool with_subjects = false, std::string_view subjects_filter = {});
  json consumer_info(consumer& c);

  // Consumers (stream thread).
  void on_ack(const actors::inbound_msg& m);
  void on_flow_control(const actors::inbound_msg& m);
  void pump(consumer& c, int64_t now);
  size_t read_ahead(const consumer& c, size_t sent) const;  // messages a pump reads at once
  // (Re)arms c.deliver_watch for the deliver subject of a push consumer.
  void watch_deliver(consumer& c);
  void pump_all();
  bool deliver(consumer& c, const store::stored_message& m, bool redelivery, const std::string& to, int64_t now);
  void send_heartbeat(consumer& c, const std::string& to);
  // A pull request ends unfilled: 408 Request Timeout with what it still wanted.
  void end_request_timeout(const pull_request& w);
  int64_t count_pending(consumer& c);
  void acked(consumer& c, uint64_t sseq);
  void update_ack_floor(consumer& c);
  void retention_check(uint64_t sseq, std::string_view subject);
  void save_consumer(consumer& c, store::write_batch& b);
  void delete_consumer(const std::string& name);
  void restore_consumers();
  void new_message_for_consumers(uint64_t seq, std::string_view subject);
  std::string ack_reply(consumer& c, uint64_t dc, uint64_t sseq, uint64_t cseq, int64_t ts, int64_t pending);

  service& svc_;
  std::shared_ptr<js_usage> usage_;
  actors::account_ptr acc_;
  uint64_t id_;
  int64_t created_;
  store::stream_store* store_;
  actors::internal_client_ptr client_;
  std::atomic<bool> stopped_{false};

  std::mutex snapshot_mutex_;  // guards cfg_ writes and the snapshot below for other threads
  stream_config cfg_;
  struct {
    uint64_t msgs = 0, bytes = 0, first_seq = 0, last_seq = 0, num_subjects = 0, consumers = 0;
    int64_t first_ts = 0, last_ts = 0;
  } snap_;
  void refresh_snapshot();
  std::atomic<bool> wants_tick_{true};
  void update_wants_tick();  // stream thread
  // Object-store buckets (OBJ_<b> on $O.<b>.C.> and $O.<b>.M.>): chunks of object
  // versions no meta refers to (a put cut off mid-way) are purged once old enough.
  bool object_store_ = false;
  std::string obj_chunks_prefix_, obj_meta_prefix_;  // "$O.<b>.C.", "$O.<b>.M."
  int64_t next_orphan_check_ = 0;                    // steady ns
  void detect_object_store();
  void clean_orphans();

  // Stream thread only.
  uint64_t msgs_ = 0, bytes_ = 0, first_seq_ = 0, last_seq_ = 0;
  int64_t first_ts_ = 0, last_ts_ = 0;
  // Per subject: first/last sequence, count, and the sizes of its first and last
  // messages (unknown_size until read) so deleting them needs no store read.
  static constexpr uint64_t unknown_size = ~uint64_t(0);
  struct subject_info {
    uint64_t first = 0, last = 0, count = 0;
    uint64_t first_size = unknown_size, last_size = unknown_size;
  };
  // Looked up by string_view (a message's subject) without a copy.
  std::unordered_map<std::string, subject_info, platform::string_hash, std::equal_to<>> subjects_;
  bool first_stale_ = false;  // first_seq_'s message was deleted: fix_first() before use
  // Whether the store keeps this stream's subject index (store::subject_index). A file
  // stream with at most one message per subject (a KV bucket with history 1) goes
  // without: its sequences on a subject are the first and last in subjects_ (two while
  // a new message waits for the old one's removal), and start-up rebuilds subjects_
  // from the messages. Entries of messages up to reindexed_upto_ were put by put_index
  // (the stream went from one message per subject to more).
  bool indexed_ = true;
  uint64_t reindexed_upto_ = 0;
  bool wants_index() const { return cfg_.storage != storage_type::file || cfg_.max_msgs_per_subject != 1; }
  void set_indexed(bool on);  // into the pending batch; commit() writes it
  store::subject_index index_mode(uint64_t seq) const {
    if (!indexed_) return store::subject_index::skip;
    return seq <= reindexed_upto_ ? store::subject_index::rewritten : store::subject_index::keep;
  }
  // The subject index's answers, from the store or, without one, from subjects_ (which
  // also has messages still in the pending batch).
  std::vector<uint64_t> sequences_on(std::string_view subject, uint64_t from);
  std::optional<uint64_t> first_on(std::string_view subject, uint64_t from);
  void enforce_subject_limit_all();  // every subject down to max_msgs_per_subject
  void trim_subject(std::string_view subject);  // one subject down to it (oldest first)
  std::map<uint64_t, uncommitted> uncommitted_;  // in batch_, not yet in the store
  absl::flat_hash_set<uint64_t> deleted_;        // deleted in batch_, still in the store
  std::unique_ptr<store::write_batch> batch_;
  // Pub acks held until the batch they acknowledge is written: replies and bodies in
  // one buffer, so holding one allocates nothing once the buffer has grown.
  struct held_ack {
    size_t reply_at, reply_len, body_at, body_len;
  };
  std::string held_buf_;
  std::vector<held_ack> held_acks_;
  std::string_view held_reply(const held_ack& h) const { return {held_buf_.data() + h.reply_at, h.reply_len}; }
  std::string_view held_body(const held_ack& h) const { return {held_buf_.data() + h.body_at, h.body_len}; }
  void clear_held_acks();
  struct dedupe_entry {
    uint64_t seq;
    int64_t ts;
  };
  std::unordered_map<std::string, dedupe_entry> dedupe_;
  std::deque<std::pair<int64_t, std::string>> dedupe_order_;
  std::string last_msg_id_;
  std::map<std::string, std::unique_ptr<consumer>> consumers_;
  bool store_failed_logged_ = false;
  bool state_dirty_ = false;
  // An I/O loop's inline drain could not write without waiting (another write, a
  // stall): the batch and its acks wait for the actor's drain, which writes them, and
  // until then every drain is the actor's.
  bool commit_deferred_ = false;
  uint64_t batch_bytes_ = 0;  // message bytes put in batch_ since the last write
};

class js_account : public std::enable_shared_from_this<js_account> {
 public:
  js_account(service& svc, actors::account_ptr acc, account_limits limits);
  void start(actors::control_plane& cp);
  void stop();
  void restore();  // loads the account's streams from the store

  service& svc;
  actors::account_ptr acc;
  std::shared_ptr<js_usage> usage;
  actors::internal_client_ptr api;
  std::mutex streams_mutex;  // writers: the API actor; readers: the ticker and snapshots
  std::map<std::string, std::shared_ptr<stream>> streams;
  std::atomic<uint64_t> api_total{0}, api_errors{0};
  bool enabled = true;  // false: every request gets "JetStream not enabled for account"

  void on_request(actors::internal_client& c, const actors::inbound_msg& m);

 private:
  void api_info(const std::string& reply);
  void stream_create(const api_request& r, bool update);
  void stream_delete(const api_request_ptr& r);
  void stream_list(const api_request& r, bool names_only);
  void forward(const std::string& stream_name, const api_request_ptr& r, std::string_view type);
  void respond(const std::string& reply, const json& j);
  void respond_error(const std::string& reply, std::string_view type, const api_error& e);
  std::shared_ptr<stream> find(const std::string& name);
};

class service {
 public:
  service(options opts, actors::control_plane& cp);
  ~service();
  bool open(std::string& error);
  void enable(const actors::account_ptr& acc, const account_limits& limits, bool enabled);
  void disable(const actors::account_ptr& acc);
  void shutdown();

  // The file store (RocksDB) holds file streams and every stream's metadata. A store
  // directory that holds nothing yet opens it when the first stream is created
  // (open_file_store), so a server with JetStream on and no streams does not carry
  // RocksDB (BENCHMARKS.md, idle RSS with -js); a store with data opens at start, so a
  // damaged one is a start-up error. store_for and meta_store are for code that runs
  // once a stream exists, when it is open.
  store::stream_store& store_for(storage_type t) { return t == storage_type::memory ? *memory_ : *file_store(); }
  store::stream_store& meta_store() { return *file_store(); }
  // The file store, or null while nothing has been stored. Any thread.
  store::stream_store* file_store() { return file_.load(std::memory_order_acquire); }
  // The file store, opened now if it is not yet; null with `error` when it cannot be.
  store::stream_store* open_file_store(std::string& error);
  const options& opts() const { return opts_; }
  actors::control_plane& control() { return cp_; }
  uint64_t next_stream_id() { return next_id_.fetch_add(1); }
  // Writes `b` (fsync per options); on failure logs once per 10 s and returns the
  // error. `may_wait` false: stream_store::try_write (an I/O loop storing a batch
  // itself); a would_block status is not an error and not logged.
  store::store_status write(store::stream_store& st, store::write_batch& b, bool may_wait = true);
  std::atomic<int64_t> memory_used{0}, store_used{0};
  uint64_t disk_usage();

 private:
  void ticker();
  // The ticker, once nothing was written for store::idle_release_after: the store's write
  // buffers go to disk, the streams' spare inbox slots are freed, and the freed memory
  // goes back to the system.
  void release_idle_memory(const std::vector<std::shared_ptr<stream>>& streams);
  std::atomic<uint64_t> writes_{0};  // write() calls, for the ticker's idle check
  options opts_;
  actors::control_plane& cp_;
  std::unique_ptr<store::stream_store> memory_;
  // file_owner_ is set once, under open_mutex_, before file_ publishes it (release);
  // readers load file_ (acquire). Destroyed with the service, after shutdown().
  std::mutex open_mutex_;
  std::unique_ptr<store::stream_store> file_owner_;
  std::atomic<store::stream_store*> file_{nullptr};
  std::string file_dir_;
  bool started_ = false;  // open() is done: a later open is the first stream's (open_mutex_)
  int lock_fd_ = -1;  // flock on <store_dir>/jetstream/dialtone.lock: one server per store
  std::atomic<uint64_t> next_id_{1};
  std::mutex accounts_mutex_;
  std::map<std::string, std::shared_ptr<js_account>> accounts_;
  std::thread ticker_;
  std::mutex tick_mutex_;
  std::condition_variable tick_cv_;
  bool stopping_ = false;
  std::atomic<int64_t> last_error_log_{0};
};

// Key of a stream's record in the meta column family.
std::string stream_meta_key(const std::string& account, const std::string& name);
std::string consumer_meta_key(uint64_t stream_id, const std::string& name);
std::string state_meta_key(uint64_t stream_id);
int64_t steady_ns();

}  // namespace jetstream
