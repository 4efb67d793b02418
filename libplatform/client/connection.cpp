#include "libplatform/client/connection.hpp"

#include <asio.hpp>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "libplatform/client/client_parser.hpp"
#include "libplatform/client/server_url.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/subject.hpp"

#ifndef DIALTONE_VERSION
#define DIALTONE_VERSION "0.0.0"
#endif

namespace platform::client {

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

bool contains_nocase(std::string_view hay, std::string_view needle) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == lower(needle[j])) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

status invalid(std::string_view what, std::string_view value) {
  return status{errc::invalid_argument,
                "invalid " + std::string(what) + " \"" + std::string(value) + "\""};
}

// "2s" or "500ms", for messages.
std::string millis(std::chrono::milliseconds d) {
  auto n = d.count();
  return n % 1000 == 0 ? std::to_string(n / 1000) + "s" : std::to_string(n) + "ms";
}

}  // namespace

// Everything the reader thread and the callers share. Fields below `mu` are guarded
// by it; the asio objects and `parser`/`read_buf`/`writing` belong to the reader
// thread once connect() has started it.
struct connection::impl final : client_parser_handler {
  enum class state { idle, connecting, connected, closing, closed };

  struct subscription {
    std::string subject;
    message_handler callback;
    uint64_t max = 0;  // 0 = no limit
    uint64_t delivered = 0;
  };
  struct request_waiter {
    std::optional<message> reply;
  };
  struct pong_waiter {
    bool done = false;
  };

  asio::io_context io;
  tcp::resolver resolver{io};
  tcp::socket socket{io};
  asio::steady_timer timer{io};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::atomic<std::thread::id> io_thread_id{};

  client_parser parser;
  std::vector<char> read_buf = std::vector<char>(64 * 1024);
  std::string writing;       // bytes in the current async_write
  status handler_failure;    // set by a parser callback to drop the connection
  connect_options opts;      // written before the thread starts, then read-only
  server_url url;

  mutable std::mutex mu;
  std::condition_variable cv;  // state, queue space, pongs, request replies
  state st = state::idle;
  status reason;               // why the connection ended
  server_info info;
  std::string out;             // bytes queued for the socket
  bool write_in_flight = false;
  uint64_t next_sid = 1;
  std::unordered_map<uint64_t, std::shared_ptr<subscription>> subs;
  std::deque<std::shared_ptr<pong_waiter>> pongs;
  std::string mux_prefix;  // "_INBOX.<id>." shared by all requests
  uint64_t mux_sid = 0;
  uint64_t next_request = 1;
  std::unordered_map<std::string, std::shared_ptr<request_waiter>> requests;
  std::string last_err;    // text of the last -ERR

  bool on_io_thread() const { return io_thread_id.load() == std::this_thread::get_id(); }

  // ---- writing (any thread, mu held) ----

  void queue_locked(std::string_view bytes) {
    out.append(bytes);
    if (!write_in_flight) {
      write_in_flight = true;
      asio::post(io, [this] { write_some(); });
    }
  }

  void queue_publish_locked(std::string_view subject, std::string_view reply,
                            std::string_view hdr, std::string_view payload) {
    std::string& o = out;
    o.append(hdr.empty() ? "PUB " : "HPUB ").append(subject).push_back(' ');
    if (!reply.empty()) o.append(reply).push_back(' ');
    if (!hdr.empty()) {
      append_number(o, hdr.size());
      o.push_back(' ');
    }
    append_number(o, hdr.size() + payload.size());
    o.append("\r\n").append(hdr).append(payload).append("\r\n");
    queue_locked({});
  }

  void write_some() {  // reader thread
    {
      std::lock_guard lk(mu);
      writing.swap(out);
      out.clear();
      if (writing.empty() || st == state::closed) {
        write_in_flight = false;
        writing.clear();
        cv.notify_all();
        return;
      }
    }
    cv.notify_all();  // queue space for blocked publishers
    asio::async_write(socket, asio::buffer(writing), [this](std::error_code ec, size_t) {
      if (ec) {
        {
          std::lock_guard lk(mu);
          write_in_flight = false;
        }
        if (ec != asio::error::operation_aborted)
          teardown(status{errc::io_error, "write failed: " + ec.message()});
        return;
      }
      writing.clear();
      if (writing.capacity() > 4 * 1024 * 1024) std::string().swap(writing);
      write_some();
    });
  }

  // ---- connecting (reader thread) ----

  void start_connect() {
    timer.expires_after(opts.timeout);
    timer.async_wait([this](std::error_code ec) {
      if (ec) return;
      {
        std::lock_guard lk(mu);  // the PONG may have won just before the timer fired
        if (st != state::connecting) return;
      }
      teardown(status{errc::timeout, "timed out after " + millis(opts.timeout)});
    });
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [this](std::error_code ec, tcp::resolver::results_type results) {
      if (ec) {
        if (ec != asio::error::operation_aborted)
          teardown(status{errc::resolve_failed, "cannot resolve host \"" + url.host + "\""});
        return;
      }
      asio::async_connect(socket, results, [this](std::error_code ec, const tcp::endpoint&) {
        if (ec) {
          if (ec == asio::error::operation_aborted) return;
          if (ec == asio::error::connection_refused) {
            teardown(status{errc::connection_refused});
          } else {
            teardown(status{errc::connect_failed, ec.message()});
          }
          return;
        }
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        read_some();
      });
    });
  }

  void read_some() {
    socket.async_read_some(asio::buffer(read_buf), [this](std::error_code ec, size_t n) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        std::string text;
        {
          std::lock_guard lk(mu);
          text = last_err;
        }
        if (contains_nocase(text, "authorization violation")) {
          teardown(status{errc::authorization_violation, text});
        } else if (!text.empty()) {
          teardown(status{errc::connection_closed, "connection closed by the server: " + text});
        } else if (ec == asio::error::eof) {
          teardown(status{errc::connection_closed, "connection closed by the server"});
        } else {
          teardown(status{errc::io_error, "read failed: " + ec.message()});
        }
        return;
      }
      status s = parser.feed(std::string_view(read_buf.data(), n), *this);
      if (s.ok() && !handler_failure.ok()) s = handler_failure;
      if (!s.ok()) {
        teardown(s);
        return;
      }
      {
        std::lock_guard lk(mu);
        if (st == state::closed) return;
      }
      read_some();
    });
  }

  // Ends the connection once (reader thread): records why, wakes every waiter and
  // tells the user if it had been open.
  void teardown(status why) {
    status_handler notify;
    {
      std::lock_guard lk(mu);
      if (st == state::closed) return;
      if (st == state::connected || st == state::closing) notify = opts.on_closed;
      st = state::closed;
      reason = std::move(why);
      pongs.clear();
      requests.clear();
      subs.clear();
    }
    std::error_code ignored;
    timer.cancel();
    resolver.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    cv.notify_all();
    if (notify) notify(reason);
  }

  void stop_thread() {
    work.reset();
    if (thread.joinable() && !on_io_thread()) thread.join();
  }

  // ---- parser callbacks (reader thread) ----

  void on_info(std::string_view json) override {
    server_info si;
    bool tls = false;
    try {
      auto j = nlohmann::json::parse(json);
      si.server_id = j.value("server_id", "");
      si.server_name = j.value("server_name", "");
      si.version = j.value("version", "");
      si.max_payload = j.value("max_payload", int64_t{1024 * 1024});
      si.headers = j.value("headers", false);
      tls = j.value("tls_required", false);
    } catch (const nlohmann::json::exception& e) {
      handler_failure = status{errc::protocol_error, "protocol error: bad INFO: " + std::string(e.what())};
      return;
    }
    std::unique_lock lk(mu);
    info = si;
    if (st != state::connecting) return;  // async INFO: just keep the new limits
    if (tls) {
      handler_failure = status{errc::tls_required};
      return;
    }
    nlohmann::json c = {{"verbose", false},     {"pedantic", false},
                        {"tls_required", false}, {"headers", si.headers},
                        {"no_responders", si.headers}, {"protocol", 1},
                        {"lang", "cpp"},         {"version", DIALTONE_VERSION}};
    if (!opts.name.empty()) c["name"] = opts.name;
    if (!opts.echo) c["echo"] = false;
    if (!url.user.empty()) {
      c["user"] = url.user;
      c["pass"] = url.pass;
    } else if (!url.token.empty()) {
      c["auth_token"] = url.token;
    }
    std::string line = "CONNECT ";
    line += c.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += "\r\nPING\r\n";
    queue_locked(line);
  }

  void on_msg(const msg_view& m) override {
    uint64_t sid = 0;
    auto [ptr, ec] = std::from_chars(m.sid.data(), m.sid.data() + m.sid.size(), sid);
    if (ec != std::errc{}) return;  // not one of ours
    std::shared_ptr<subscription> sub;
    {
      std::lock_guard lk(mu);
      if (sid != mux_sid || mux_sid == 0) {
        auto it = subs.find(sid);
        if (it == subs.end()) return;  // unsubscribed meanwhile
        sub = it->second;
        ++sub->delivered;
        if (sub->max != 0 && sub->delivered >= sub->max) subs.erase(it);
      }
    }
    message msg;
    msg.subject = m.subject;
    msg.reply = m.reply;
    msg.payload = m.payload;
    msg.sid = sid;
    msg.has_headers = m.has_headers;
    if (m.has_headers) {
      auto h = parse_headers(m.header_block);
      if (!h) {
        handler_failure = h.error();
        return;
      }
      msg.header = std::move(*h);
    }
    if (!sub) {  // a reply to request(): "<mux_prefix><token>"
      std::lock_guard lk(mu);
      if (msg.subject.size() <= mux_prefix.size()) return;
      auto it = requests.find(msg.subject.substr(mux_prefix.size()));
      if (it == requests.end() || it->second->reply) return;  // late or duplicate
      it->second->reply = std::move(msg);
      cv.notify_all();
      return;
    }
    try {
      sub->callback(msg);
    } catch (const std::exception& e) {
      report(status{errc::callback_failed, "message callback threw: " + std::string(e.what())});
    } catch (...) {
      report(status{errc::callback_failed});
    }
  }

  void on_ping() override {
    std::lock_guard lk(mu);
    queue_locked("PONG\r\n");
  }

  void on_pong() override {
    std::lock_guard lk(mu);
    if (st == state::connecting) {
      if (!handler_failure.ok()) return;  // a -ERR came first; feed() will tear down
      st = state::connected;
      timer.cancel();
      cv.notify_all();
      return;
    }
    if (!pongs.empty()) {
      pongs.front()->done = true;
      pongs.pop_front();
      cv.notify_all();
    }
  }

  void on_ok() override {}

  void on_err(std::string_view text) override {
    errc code = contains_nocase(text, "authorization violation") ? errc::authorization_violation
                                                                  : errc::server_error;
    bool connecting;
    {
      std::lock_guard lk(mu);
      last_err = text;
      connecting = st == state::connecting;
    }
    if (connecting) {
      handler_failure = status{code, std::string(text)};
    } else {
      report(status{code, std::string(text)});
    }
  }

  void report(const status& s) {
    if (opts.on_error) opts.on_error(s);
  }
};

connection::connection() : impl_(std::make_unique<impl>()) {}

connection::~connection() {
  close();
  if (impl_->thread.joinable()) impl_->thread.detach();  // destroyed from a callback: a bug
}

std::string connection::new_inbox() { return "_INBOX." + platform::random_token(22); }

status connection::connect(std::string_view url, connect_options options) {
  auto parsed = parse_server_url(url);
  if (!parsed) return parsed.error();
  impl& d = *impl_;
  {
    std::lock_guard lk(d.mu);
    if (d.st != impl::state::idle) return status{errc::already_connected};
    d.st = impl::state::connecting;
  }
  d.url = std::move(*parsed);
  d.opts = std::move(options);
  d.work.emplace(asio::make_work_guard(d.io));
  d.thread = std::thread([&d] {
    d.io_thread_id.store(std::this_thread::get_id());
    d.io.run();
  });
  asio::post(d.io, [&d] { d.start_connect(); });

  std::unique_lock lk(d.mu);
  d.cv.wait(lk, [&] { return d.st != impl::state::connecting; });
  if (d.st == impl::state::connected) return status{};
  status why = d.reason;
  lk.unlock();
  d.stop_thread();
  return why;
}

status connection::publish(std::string_view subject, std::string_view payload,
                           std::string_view reply, const headers& hdrs) {
  if (!subject::valid_subscription(subject)) return invalid("subject", subject);
  if (!reply.empty() && !subject::valid_subscription(reply)) return invalid("reply subject", reply);
  std::string hdr;
  if (!hdrs.empty()) {
    if (status s = encode_headers(hdrs, hdr); !s) return s;
  }
  impl& d = *impl_;
  std::unique_lock lk(d.mu);
  if (!d.on_io_thread()) {
    d.cv.wait(lk, [&] {
      return d.out.size() < d.opts.max_pending_bytes || d.st != impl::state::connected;
    });
  }
  if (d.st != impl::state::connected) return status{errc::not_connected};
  size_t size = hdr.size() + payload.size();
  if (static_cast<int64_t>(size) > d.info.max_payload) {
    return status{errc::payload_too_large,
                  "message of " + std::to_string(size) + " bytes exceeds the server's max_payload of " +
                      std::to_string(d.info.max_payload)};
  }
  d.queue_publish_locked(subject, reply, hdr, payload);
  return status{};
}

result<uint64_t> connection::subscribe(std::string_view subject, std::string_view queue,
                                       message_handler callback) {
  if (!subject::valid_subscription(subject)) return invalid("subject", subject);
  if (!queue.empty() && !subject::valid_queue(queue)) return invalid("queue group", queue);
  if (!callback) return status{errc::invalid_argument, "subscribe without a callback"};
  impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.st != impl::state::connected) return status{errc::not_connected};
  uint64_t sid = d.next_sid++;
  auto sub = std::make_shared<impl::subscription>();
  sub->subject = subject;
  sub->callback = std::move(callback);
  d.subs.emplace(sid, std::move(sub));
  std::string line = "SUB ";
  line.append(subject).push_back(' ');
  if (!queue.empty()) line.append(queue).push_back(' ');
  append_number(line, sid);
  line.append("\r\n");
  d.queue_locked(line);
  return sid;
}

status connection::unsubscribe(uint64_t sid, uint64_t max) {
  impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.st != impl::state::connected) return status{errc::not_connected};
  auto it = d.subs.find(sid);
  if (it == d.subs.end()) {
    return status{errc::invalid_argument, "unknown subscription id " + std::to_string(sid)};
  }
  std::string line = "UNSUB ";
  append_number(line, sid);
  if (max == 0 || it->second->delivered >= max) {
    d.subs.erase(it);
  } else {
    it->second->max = max;
    line.push_back(' ');
    append_number(line, max);
  }
  line.append("\r\n");
  d.queue_locked(line);
  return status{};
}

status connection::flush(std::chrono::milliseconds timeout) {
  impl& d = *impl_;
  if (d.on_io_thread()) return status{errc::would_deadlock};
  std::unique_lock lk(d.mu);
  if (d.st != impl::state::connected) return status{errc::not_connected};
  auto waiter = std::make_shared<impl::pong_waiter>();
  d.pongs.push_back(waiter);
  d.queue_locked("PING\r\n");
  d.cv.wait_for(lk, timeout, [&] { return waiter->done || d.st == impl::state::closed; });
  if (waiter->done) return status{};
  if (d.st == impl::state::closed) return d.reason;
  return status{errc::timeout, "flush timed out after " + millis(timeout)};
}

result<message> connection::request(std::string_view subject, std::string_view payload,
                                    std::chrono::milliseconds timeout, const headers& hdrs) {
  impl& d = *impl_;
  if (d.on_io_thread()) return status{errc::would_deadlock};
  if (!subject::valid_subscription(subject)) return invalid("subject", subject);
  std::string hdr;
  if (!hdrs.empty()) {
    if (status s = encode_headers(hdrs, hdr); !s) return s;
  }
  std::unique_lock lk(d.mu);
  if (d.st != impl::state::connected) return status{errc::not_connected};
  if (static_cast<int64_t>(hdr.size() + payload.size()) > d.info.max_payload) {
    return status{errc::payload_too_large};
  }
  if (d.mux_sid == 0) {  // one wildcard subscription serves every request
    d.mux_prefix = new_inbox() + ".";
    d.mux_sid = d.next_sid++;
    std::string line = "SUB " + d.mux_prefix + "* ";
    append_number(line, d.mux_sid);
    line.append("\r\n");
    d.queue_locked(line);
  }
  std::string token;
  append_number(token, d.next_request++);
  auto waiter = std::make_shared<impl::request_waiter>();
  d.requests.emplace(token, waiter);
  d.queue_publish_locked(subject, d.mux_prefix + token, hdr, payload);
  d.cv.wait_for(lk, timeout, [&] { return waiter->reply || d.st == impl::state::closed; });
  d.requests.erase(token);
  if (waiter->reply) {
    if (waiter->reply->is_no_responders()) {
      return status{errc::no_responders, "no responders for \"" + std::string(subject) + "\""};
    }
    return std::move(*waiter->reply);
  }
  if (d.st == impl::state::closed) return d.reason;
  return status{errc::timeout, "request timed out after " + millis(timeout)};
}

void connection::close() {
  impl& d = *impl_;
  {
    std::unique_lock lk(d.mu);
    if (d.st == impl::state::idle) return;
    if (d.st == impl::state::connected) {
      d.st = impl::state::closing;
      if (!d.on_io_thread()) {
        d.cv.wait_for(lk, 2s, [&] {
          return (!d.write_in_flight && d.out.empty()) || d.st == impl::state::closed;
        });
      }
    }
  }
  asio::post(d.io, [&d] { d.teardown(status{errc::connection_closed, "connection closed"}); });
  d.stop_thread();
}

bool connection::is_connected() const {
  std::lock_guard lk(impl_->mu);
  return impl_->st == impl::state::connected;
}

server_info connection::info() const {
  std::lock_guard lk(impl_->mu);
  return impl_->info;
}

status connection::close_reason() const {
  std::lock_guard lk(impl_->mu);
  return impl_->reason;
}

}  // namespace platform::client
