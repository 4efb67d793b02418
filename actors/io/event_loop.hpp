#pragma once
// One I/O thread: an asio io_context that owns the sockets of the connections assigned
// to it, one shared read buffer, and the set of receivers to flush after each read
// batch. There is one loop per core. Everything here runs on the loop's own thread
// except post() and in_loop_thread(), which any thread may call.
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "actors/receiver.hpp"

namespace actors {
class client_connection;
}

namespace actors::io {

class event_loop {
 public:
  static constexpr size_t read_buffer_size = 64 * 1024;
  static constexpr int max_loops = receiver::max_loops;

  // `busy_poll`: how long the thread keeps polling after work before it sleeps in
  // epoll (server_options::busy_poll); zero: it sleeps at once.
  explicit event_loop(int index, std::chrono::microseconds busy_poll = {});
  ~event_loop();

  int index() const noexcept { return index_; }
  asio::io_context& context() noexcept { return context_; }
  bool in_loop_thread() const noexcept {
    return std::this_thread::get_id() == thread_id_.load(std::memory_order_acquire);
  }
  // The loop whose thread this is (start() or adopt_current_thread()), or null on any
  // other thread (actors, RocksDB's, tests' own).
  static event_loop* current() noexcept;

  void start();
  // Instead of start(): the calling thread is this loop's thread and runs it by hand
  // (context().poll()). For tests that drive sessions without a loop thread.
  void adopt_current_thread();
  void stop();  // asks the thread to finish; join() waits
  void join();
  template <class F>
  void post(F&& f) {
    asio::post(context_, std::forward<F>(f));
  }

  char* read_buffer() noexcept { return read_buffer_.get(); }

  // Read-batch bookkeeping, loop thread only. A receiver is added once per batch.
  void add_pending(const receiver_ptr& r) { add_pending(*r, r); }
  // `owner` is `r` itself, as the subscription that matched holds it (no new reference
  // is taken unless `r` joins the set).
  void add_pending(receiver& r, const std::shared_ptr<platform::subscriber>& owner) {
    auto& mark = r.flush_mark[index_];
    if (mark == batch_) return;
    mark = batch_;
    pending_.push_back(std::static_pointer_cast<receiver>(owner));
  }
  // Flushes every pending receiver once; returns true when one is still backed up above
  // its stall threshold (the producer should pause reading until it drains). Receivers
  // other than `producer` that are backed up are appended to `backed_up`, if given.
  bool flush_pending(const receiver* producer = nullptr, std::vector<receiver_ptr>* backed_up = nullptr);

  // Connections living on this loop, for periodic checks (pings, deadlines).
  void attach(const std::shared_ptr<client_connection>& c);
  void detach(const std::shared_ptr<client_connection>& c);
  std::vector<std::shared_ptr<client_connection>> connections() const;
  void set_housekeeping(std::chrono::milliseconds every, std::function<void(client_connection&)> f);

 private:
  void schedule_housekeeping();
  void run();  // the loop thread's body: run handlers; after work, poll for busy_poll_

  int index_;
  const std::chrono::microseconds busy_poll_;
  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};  // set by the thread itself, read by start()
  std::unique_ptr<char[]> read_buffer_;
  uint64_t batch_ = 1;
  std::vector<receiver_ptr> pending_;
  std::vector<receiver_ptr> flushing_;  // the round flush_pending() is working on
  std::unordered_set<std::shared_ptr<client_connection>> connections_;
  asio::steady_timer housekeeping_timer_;
  std::chrono::milliseconds housekeeping_every_{1000};
  std::function<void(client_connection&)> housekeeping_;
};

}  // namespace actors::io
