#include "actors/io/event_loop.hpp"

#include <pthread.h>
#include <sched.h>

#include <asio/post.hpp>
#include <chrono>
#include <string>

#include "actors/client_connection.hpp"

namespace actors::io {

namespace {
thread_local event_loop* current_loop = nullptr;
}

event_loop* event_loop::current() noexcept { return current_loop; }

void event_loop::adopt_current_thread() {
  current_loop = this;
  thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
}

event_loop::event_loop(int index, std::chrono::microseconds busy_poll)
    : index_(index),
      busy_poll_(busy_poll),
      // One thread runs it (asio's scheduler optimises for that); its queue stays
      // thread-safe, since other threads post() to it.
      context_(1),
      work_(asio::make_work_guard(context_)),
      read_buffer_(new char[read_buffer_size]),
      housekeeping_timer_(context_) {}

event_loop::~event_loop() {
  stop();
  join();
  if (current_loop == this) current_loop = nullptr;  // a test's thread that adopted it
}

void event_loop::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), ("dialtone-io-" + std::to_string(index_)).c_str());
    current_loop = this;
    thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
    thread_id_.notify_all();
    schedule_housekeeping();
    run();
  });
  // Wait until the thread id is known so in_loop_thread() is reliable from the start.
  thread_id_.wait(std::thread::id{}, std::memory_order_acquire);
}

void event_loop::run() {
  using clock = std::chrono::steady_clock;
  const auto window = busy_poll_;
  while (!context_.stopped()) {
    if (context_.run_one() == 0) break;  // blocks in epoll; 0: stopped
    if (window.count() == 0) continue;
    auto last = clock::now();
    for (;;) {
      if (context_.poll() > 0) {
        last = clock::now();
        continue;
      }
      if (context_.stopped() || clock::now() - last > window) break;
      sched_yield();  // let other work on this core run (e.g. a local client)
    }
  }
}

void event_loop::stop() {
  work_.reset();
  context_.stop();
}

void event_loop::join() {
  if (thread_.joinable()) thread_.join();
}

bool event_loop::flush_pending(const receiver* producer, std::vector<receiver_ptr>* backed) {
  bool backed_up = false;
  // A flush may add receivers (an internal client driven by this loop drains its
  // inbox when flushed, and what it publishes joins the set): flush until none is left,
  // each round a new batch so a receiver flushed already can join again.
  while (!pending_.empty()) {
    flushing_.swap(pending_);
    ++batch_;
    for (auto& c : flushing_) {
      c->flush();
      // A receiver far behind: let the producer wait until it catches up, rather than
      // buffering toward max_pending and cutting it off as a slow consumer. A client
      // that reads its own messages is not waited for: it may be blocked writing to us.
      if (c.get() == producer || !c->backed_up()) continue;
      backed_up = true;
      if (backed) backed->push_back(c);
    }
    flushing_.clear();
  }
  return backed_up;
}

void event_loop::attach(const std::shared_ptr<client_connection>& c) { connections_.insert(c); }
void event_loop::detach(const std::shared_ptr<client_connection>& c) { connections_.erase(c); }

std::vector<std::shared_ptr<client_connection>> event_loop::connections() const {
  return {connections_.begin(), connections_.end()};
}

void event_loop::set_housekeeping(std::chrono::milliseconds every,
                                  std::function<void(client_connection&)> f) {
  housekeeping_every_ = every;
  housekeeping_ = std::move(f);
}

void event_loop::schedule_housekeeping() {
  housekeeping_timer_.expires_after(housekeeping_every_);
  housekeeping_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    if (housekeeping_) {
      // Copy: a check may close (and detach) a connection.
      for (auto& c : connections()) housekeeping_(*c);
    }
    schedule_housekeeping();
  });
}

}  // namespace actors::io
