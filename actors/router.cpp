#include "actors/router.hpp"

#include <random>

#include "actors/client_connection.hpp"
#include "actors/io/event_loop.hpp"
#include "libplatform/protocol/writer.hpp"

namespace actors::router {

namespace {

using platform::protocol::message_args;

// Cheap per-thread random numbers for picking queue group members.
uint32_t fast_random() {
  thread_local uint64_t state = std::random_device{}() | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return uint32_t(state);
}

inline void bump(std::atomic<uint64_t>& a, uint64_t n) {
  // Only the owning loop thread writes this counter: no read-modify-write needed.
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

bool deliver_to(client_connection& from, const platform::subscription_ptr& sp, const message_args& m,
                bool respect_echo = true) {
  platform::subscription& s = *sp;
  if (s.closed.load(std::memory_order_relaxed)) return false;
  auto* to = static_cast<client_connection*>(s.owner.get());
  if (respect_echo && to == &from && !from.options().echo) return false;

  uint64_t max = s.max_msgs.load(std::memory_order_relaxed);
  bool last = false;
  if (max) {
    uint64_t n = s.delivered.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > max) return false;
    last = n == max;
  } else {
    bump(s.delivered, 1);
  }

  platform::protocol::line_buffer line;
  std::string_view body = m.data;
  if (m.header_len >= 0 && to->options().headers) {
    platform::protocol::format_msg_line(line, m.subject, s.sid, m.reply, m.header_len, m.data.size());
  } else {
    // A receiver that did not ask for headers gets the payload alone.
    body = m.payload();
    platform::protocol::format_msg_line(line, m.subject, s.sid, m.reply, -1, body.size());
  }
  if (line.overflow) return false;
  size_t pending = to->enqueue(line.view(), body, "\r\n");
  if (last) to->remove_subscription(sp);
  if (pending == 0) return false;
  from.loop().add_pending(std::static_pointer_cast<client_connection>(s.owner));
  return true;
}

void send_no_responders(client_connection& from, std::string_view reply) {
  static constexpr std::string_view status = "NATS/1.0 503\r\n\r\n";
  const auto& r = from.cache().lookup(from.acc().subjects(), reply);
  message_args m;
  m.subject = reply;
  m.header_len = int64_t(status.size());
  m.data = status;
  auto mine = [&](const platform::subscription_ptr& s) {
    return s->owner.get() == static_cast<platform::subscriber*>(&from);
  };
  for (auto& s : r.plain)
    if (mine(s) && deliver_to(from, s, m, false)) return;
  for (auto& g : r.queues)
    for (auto& s : g.members)
      if (mine(s) && deliver_to(from, s, m, false)) return;
}

}  // namespace

size_t deliver(client_connection& from, const message_args& m) {
  bump(from.msgs_in, 1);
  bump(from.bytes_in, m.data.size());
  // The reference stays valid until the next lookup on this cache: no lookup may
  // happen while `r` is in use.
  const platform::match_result& r = from.cache().lookup(from.acc().subjects(), m.subject);
  size_t delivered = 0;
  for (auto& s : r.plain) delivered += deliver_to(from, s, m);
  for (auto& g : r.queues) {
    size_t n = g.members.size();
    size_t start = fast_random() % n;
    for (size_t k = 0; k < n; ++k) {
      if (deliver_to(from, g.members[(start + k) % n], m)) {
        ++delivered;
        break;
      }
    }
  }
  if (delivered == 0 && !m.reply.empty() && from.options().no_responders)
    send_no_responders(from, m.reply);
  return delivered;
}

}  // namespace actors::router
