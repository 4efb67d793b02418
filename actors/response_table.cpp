#include "actors/response_table.hpp"


#include "libplatform/random_token.hpp"

namespace actors {

namespace {

void append_base62(std::string& out, uint64_t v) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = platform::base62_alphabet[v % 62];
    v /= 62;
  } while (v && n < sizeof tmp);
  while (n) out += tmp[--n];
}

}  // namespace

response_table::response_table(std::string prefix) : reply_prefix_("_R_." + prefix + ".") {
  // Start the sequence at a random point so reply subjects differ across restarts;
  // each one also ends in random characters (add()). Clients cannot forge "_R_."
  // replies anyway (client_connection refuses them).
  next_ = platform::fast_random();
}

std::string response_table::add(pending_response r, std::chrono::steady_clock::time_point now) {
  std::string subject = reply_prefix_;
  std::lock_guard lock(mutex_);
  if (routes_.size() >= max_routes) return {};
  append_base62(subject, ++next_);
  subject += platform::random_token(4);
  r.expires = now + r.threshold;
  routes_.emplace(subject, std::move(r));
  return subject;
}

std::optional<pending_response> response_table::take(std::string_view subject, bool empty_payload) {
  std::lock_guard lock(mutex_);
  auto it = routes_.find(std::string(subject));
  if (it == routes_.end()) return std::nullopt;
  using platform::accounts::response_type;
  if (it->second.type == response_type::singleton || empty_payload) {
    pending_response r = std::move(it->second);
    routes_.erase(it);
    return r;
  }
  // Streamed responses keep the route; only the first one reports latency.
  pending_response copy = it->second;
  it->second.latency.reset();
  it->second.expires = std::chrono::steady_clock::now() + it->second.threshold;
  return copy;
}

void response_table::remove(const std::string& subject) {
  std::lock_guard lock(mutex_);
  routes_.erase(subject);
}

size_t response_table::expire(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.expires <= now) {
      it = routes_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t response_table::size() {
  std::lock_guard lock(mutex_);
  return routes_.size();
}

}  // namespace actors
