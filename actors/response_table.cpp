#include "actors/response_table.hpp"

#include <cstring>
#include <stdexcept>

#include "libplatform/random_token.hpp"

namespace actors {

namespace {

constexpr size_t tag_size = 4;

// The digit's value in base62_alphabet, or -1.
int base62_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

uint32_t pack_tag(const char* p) {
  uint32_t t;
  std::memcpy(&t, p, tag_size);
  return t;
}

}  // namespace

response_table::response_table(std::string prefix) : reply_prefix_("_R_." + prefix + ".") {
  // The longest subject (an 11-digit id and the tag) must fit a reply_subject.
  if (reply_prefix_.size() + 11 + tag_size > sizeof(reply_subject::data))
    throw std::invalid_argument("response route prefix too long: " + prefix);
  // Start the sequence at a random point so reply subjects differ across restarts;
  // each one also ends in random characters (add()). Clients cannot forge "_R_."
  // replies anyway (client_connection refuses them).
  next_ = platform::fast_random();
}

reply_subject response_table::add(pending_response r, std::chrono::steady_clock::time_point now) {
  reply_subject out;
  std::memcpy(out.data, reply_prefix_.data(), reply_prefix_.size());
  size_t n = reply_prefix_.size();
  char tag[tag_size];
  for (char& c : tag) c = platform::base62_alphabet[platform::random_below(62)];
  r.tag = pack_tag(tag);
  r.expires = now + r.threshold;
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    if (routes_.size() >= max_routes) return {};
    id = ++next_;
    routes_.insert_or_assign(id, std::move(r));
  }
  char digits[16];
  size_t d = 0;
  do {
    digits[d++] = platform::base62_alphabet[id % 62];
    id /= 62;
  } while (id);
  while (d) out.data[n++] = digits[--d];
  std::memcpy(out.data + n, tag, tag_size);
  out.size = uint8_t(n + tag_size);
  return out;
}

std::optional<response_table::route_key> response_table::parse(std::string_view subject) const {
  if (subject.size() < reply_prefix_.size() + 1 + tag_size || subject.size() > reply_prefix_.size() + 11 + tag_size ||
      subject.compare(0, reply_prefix_.size(), reply_prefix_) != 0)
    return std::nullopt;
  std::string_view digits = subject.substr(reply_prefix_.size(), subject.size() - reply_prefix_.size() - tag_size);
  uint64_t id = 0;
  for (char c : digits) {
    int v = base62_value(c);
    if (v < 0 || __builtin_mul_overflow(id, uint64_t(62), &id) || __builtin_add_overflow(id, uint64_t(v), &id))
      return std::nullopt;
  }
  return route_key{id, pack_tag(subject.data() + subject.size() - tag_size)};
}

std::optional<pending_response> response_table::take(std::string_view subject, bool empty_payload) {
  auto key = parse(subject);
  if (!key) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = routes_.find(key->id);
  if (it == routes_.end() || it->second.tag != key->tag) return std::nullopt;
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

void response_table::remove(std::string_view subject) {
  auto key = parse(subject);
  if (!key) return;
  std::lock_guard lock(mutex_);
  auto it = routes_.find(key->id);
  if (it != routes_.end() && it->second.tag == key->tag) routes_.erase(it);
}

size_t response_table::expire(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.expires <= now) {
      routes_.erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  // A flood of unanswered requests grows the table's slot array; hand it back once the
  // routes are mostly gone (the table never shrinks by itself).
  if (routes_.capacity() > 4096 && routes_.size() < routes_.capacity() / 16) routes_.rehash(0);
  return n;
}

size_t response_table::size() {
  std::lock_guard lock(mutex_);
  return routes_.size();
}

}  // namespace actors
