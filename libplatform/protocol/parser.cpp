#include "libplatform/protocol/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace platform::protocol {

namespace {

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c | 0x20) : c; }

// Case-insensitive: does `s` start with the lower-case `op`?
bool starts_with_op(std::string_view s, std::string_view op) noexcept {
  if (s.size() < op.size()) return false;
  for (size_t i = 0; i < op.size(); ++i)
    if (lower(s[i]) != op[i]) return false;
  return true;
}

constexpr size_t max_args = 5;
using arg_list = std::array<std::string_view, max_args>;

// Splits on runs of spaces/tabs; returns the count, or max_args + 1 when there are more.
size_t split_args(std::string_view s, arg_list& out) noexcept {
  size_t n = 0, i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i == s.size()) break;
    size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (n == max_args) return max_args + 1;
    out[n++] = s.substr(start, i - start);
  }
  return n;
}

// PUB's arguments, split without a general tokenizer: the subject is the first token,
// the size the last, and a reply (if any) sits between them. Returns false when the
// count of tokens is not 2 or 3.
bool split_pub_args(std::string_view s, std::string_view& subject, std::string_view& reply,
                    std::string_view& size) noexcept {
  const char* p = s.data();
  const char* e = p + s.size();
  while (p < e && is_blank(*p)) ++p;
  while (e > p && is_blank(e[-1])) --e;
  const char* subj_end = p;
  while (subj_end < e && !is_blank(*subj_end)) ++subj_end;
  const char* size_begin = e;
  while (size_begin > subj_end && !is_blank(size_begin[-1])) --size_begin;
  if (subj_end == p || size_begin == subj_end) return false;  // fewer than 2 tokens
  subject = std::string_view(p, size_t(subj_end - p));
  size = std::string_view(size_begin, size_t(e - size_begin));
  const char* mid = subj_end;
  const char* mid_end = size_begin;
  while (mid < mid_end && is_blank(*mid)) ++mid;
  while (mid_end > mid && is_blank(mid_end[-1])) --mid_end;
  reply = std::string_view(mid, size_t(mid_end - mid));
  for (char c : reply)
    if (is_blank(c)) return false;  // more than 3 tokens
  return true;
}

// Parses a non-negative decimal; -1 when it is not one.
int64_t parse_size(std::string_view s) noexcept {
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

struct op_name {
  std::string_view name;  // lower case
  bool takes_args;        // must be followed by a blank
};
constexpr std::array<op_name, 10> ops = {{{"pub", true},
                                          {"hpub", true},
                                          {"sub", true},
                                          {"unsub", true},
                                          {"connect", true},
                                          {"ping", false},
                                          {"pong", false},
                                          {"+ok", false},
                                          {"info", true},
                                          {"-err", true}}};

}  // namespace

bool server_parser::valid_partial_op(std::string_view partial) const {
  for (auto& op : ops) {
    size_t n = std::min(partial.size(), op.name.size());
    if (!starts_with_op(partial.substr(0, n), op.name.substr(0, n))) continue;
    if (partial.size() <= op.name.size() || !op.takes_args) return true;
    char c = partial[op.name.size()];
    if (is_blank(c)) return true;
  }
  return false;
}

void server_parser::shrink() {
  if (line_.capacity() > 256 && line_.empty()) std::string().swap(line_);
  if (payload_.capacity() > 4096 && payload_.empty()) std::string().swap(payload_);
}

parse_status server_parser::parse(const char* data, size_t len, parser_handler& h) {
  ahead_at_ = nullptr;
  const char* p = data;
  const char* end = data + len;

  if (state_ == state::payload) {
    size_t want = payload_need_ - payload_.size();
    size_t take = std::min(want, size_t(end - p));
    payload_.append(p, take);
    p += take;
    if (payload_.size() < payload_need_) return parse_status::ok;
    state_ = state::line;
    size_t size = payload_need_ - 2;
    if (payload_[size] != '\r' || payload_[size + 1] != '\n') return fail(err::unknown_protocol_operation);
    message_args m;
    m.subject = subject_;
    m.reply = reply_;
    m.header_len = header_len_;
    m.data = std::string_view(payload_.data(), size);
    bool go_on = h.on_msg(m);
    payload_.clear();
    if (!go_on) {
      consumed_ = size_t(p - data);
      return parse_status::stopped;
    }
  }

  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
    if (!nl) {
      size_t total = line_.size() + size_t(end - p);
      if (int64_t(total) > max_control_line_) return fail(err::maximum_control_line_exceeded);
      line_.append(p, end);
      if (!valid_partial_op(line_)) return fail(err::unknown_protocol_operation);
      return parse_status::ok;
    }
    std::string_view line;
    if (!line_.empty()) {
      line_.append(p, nl);
      line = line_;
    } else {
      line = std::string_view(p, size_t(nl - p));
    }
    p = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto st = process_line(line, p, end, h);
    line_.clear();
    if (st != parse_status::ok) {
      consumed_ = size_t(p - data);
      return st;
    }
  }
  return parse_status::ok;
}

void server_parser::look_ahead(const char* p, const char* end) {
  upcoming_ = {};
  // SUB/UNSUB lines are short; a longer search would only find something else.
  constexpr size_t window = 256;
  size_t avail = std::min(size_t(end - p), window);
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
  if (!nl) return;
  std::string_view line(p, size_t(nl - p));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  arg_list a;
  size_t n;
  if (starts_with_op(line, "sub") && line.size() > 3 && is_blank(line[3])) {
    n = split_args(line.substr(3), a);
    if (n != 2 && n != 3) return;
    upcoming_ = {upcoming_op::kind::sub, a[0], a[n - 1]};
  } else if (starts_with_op(line, "unsub") && line.size() > 5 && is_blank(line[5])) {
    n = split_args(line.substr(5), a);
    if (n != 1 && n != 2) return;
    upcoming_ = {upcoming_op::kind::unsub, {}, a[0]};
  } else {
    return;
  }
  ahead_at_ = p;
  ahead_n_ = n;
  std::copy_n(a.begin(), n, ahead_args_.begin());
}

parse_status server_parser::process_line(std::string_view line, const char*& p, const char* end,
                                         parser_handler& h) {
  if (int64_t(line.size()) > max_control_line_) return fail(err::maximum_control_line_exceeded);
  if (line.empty()) return fail(err::unknown_protocol_operation);

  auto rest_after = [&](size_t n) { return line.substr(n); };
  char c0 = lower(line[0]);
  arg_list a;
  // A SUB/UNSUB line's arguments: those look_ahead already split, or split now.
  auto args_of = [&](size_t op_len) {
    if (line.data() == ahead_at_) {
      ahead_at_ = nullptr;
      std::copy_n(ahead_args_.begin(), ahead_n_, a.begin());
      return ahead_n_;
    }
    return split_args(line.substr(op_len), a);
  };

  // PUB / HPUB: the hot path.
  bool is_pub = c0 == 'p' && starts_with_op(line, "pub") && line.size() > 3 && is_blank(line[3]);
  bool is_hpub =
      !is_pub && c0 == 'h' && starts_with_op(line, "hpub") && line.size() > 4 && is_blank(line[4]);
  if (is_pub || is_hpub) {
    message_args m;
    int64_t total;
    if (is_pub) {
      std::string_view size;
      if (!split_pub_args(rest_after(3), m.subject, m.reply, size)) return fail(err::unknown_protocol_operation);
      total = parse_size(size);
      if (total < 0) return fail(err::unknown_protocol_operation);
    } else {
      size_t n = split_args(rest_after(4), a);
      if (n != 3 && n != 4) return fail(err::unknown_protocol_operation);
      m.subject = a[0];
      if (n == 4) m.reply = a[1];
      m.header_len = parse_size(a[n - 2]);
      total = parse_size(a[n - 1]);
      if (m.header_len < 0 || total < 0 || m.header_len > total)
        return fail(err::unknown_protocol_operation);
    }
    if (total > max_payload_) return fail(err::maximum_payload_violation);
    size_t need = size_t(total) + 2;
    if (size_t(end - p) >= need) {
      if (p[total] != '\r' || p[total + 1] != '\n') return fail(err::unknown_protocol_operation);
      m.data = std::string_view(p, size_t(total));
      p += need;
      return h.on_msg(m) ? parse_status::ok : parse_status::stopped;
    }
    // The payload continues in a later read: keep the args and what we have.
    subject_.assign(m.subject);
    reply_.assign(m.reply);
    header_len_ = m.header_len;
    payload_need_ = need;
    payload_.reserve(need);
    payload_.assign(p, end);
    p = end;
    state_ = state::payload;
    return parse_status::ok;
  }

  switch (c0) {
    case 'p':
      if (starts_with_op(line, "ping")) return h.on_ping() ? parse_status::ok : parse_status::stopped;
      if (starts_with_op(line, "pong")) return h.on_pong() ? parse_status::ok : parse_status::stopped;
      break;
    case 's':
      if (starts_with_op(line, "sub") && line.size() > 3 && is_blank(line[3])) {
        size_t n = args_of(3);
        if (n != 2 && n != 3) return fail(err::unknown_protocol_operation);
        look_ahead(p, end);
        bool go_on = n == 2 ? h.on_sub(a[0], {}, a[1]) : h.on_sub(a[0], a[1], a[2]);
        upcoming_ = {};
        return go_on ? parse_status::ok : parse_status::stopped;
      }
      break;
    case 'u':
      if (starts_with_op(line, "unsub") && line.size() > 5 && is_blank(line[5])) {
        size_t n = args_of(5);
        if (n != 1 && n != 2) return fail(err::unknown_protocol_operation);
        // A max that is not a number (or is negative) is ignored: a plain unsubscribe,
        // as nats-server does.
        int64_t max = n == 2 ? parse_size(a[1]) : -1;
        look_ahead(p, end);
        bool go_on = h.on_unsub(a[0], max);
        upcoming_ = {};
        return go_on ? parse_status::ok : parse_status::stopped;
      }
      break;
    case 'c':
      if (starts_with_op(line, "connect") && line.size() > 7 && is_blank(line[7])) {
        auto json = rest_after(7);
        while (!json.empty() && is_blank(json.front())) json.remove_prefix(1);
        while (!json.empty() && is_blank(json.back())) json.remove_suffix(1);
        return h.on_connect(json) ? parse_status::ok : parse_status::stopped;
      }
      break;
    case '+':
      if (starts_with_op(line, "+ok")) return parse_status::ok;
      break;
    case 'i':
      // Clients have no business sending INFO; nats-server ignores it from them.
      if (starts_with_op(line, "info") && line.size() > 4 && is_blank(line[4]))
        return parse_status::ok;
      break;
    default:
      break;
  }
  return fail(err::unknown_protocol_operation);
}

}  // namespace platform::protocol
