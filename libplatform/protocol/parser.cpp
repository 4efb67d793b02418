#include "libplatform/protocol/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

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

// Every operation a client may send, in one table: valid_partial_op() accepts the
// beginning of a line only if it can still become one of these, and process_line()
// switches over `kind` with no default. So the table and the cases agree: a kind
// without a case draws -Wswitch, and the static_assert below wants every kind in the
// table exactly once.
enum class op_kind { pub, hpub, sub, unsub, connect, ping, pong, ok, info, err, none };
struct op_name {
  std::string_view name;  // lower case
  bool takes_args;        // must be followed by a blank
  op_kind kind;
};
// PUB first: it is the hot path, and the lookup stops at the first match.
constexpr std::array<op_name, 10> ops = {{{"pub", true, op_kind::pub},
                                          {"hpub", true, op_kind::hpub},
                                          {"sub", true, op_kind::sub},
                                          {"unsub", true, op_kind::unsub},
                                          {"connect", true, op_kind::connect},
                                          {"ping", false, op_kind::ping},
                                          {"pong", false, op_kind::pong},
                                          {"+ok", false, op_kind::ok},
                                          {"info", true, op_kind::info},
                                          {"-err", true, op_kind::err}}};

constexpr bool every_kind_listed_once() {
  for (int k = 0; k < int(op_kind::none); ++k) {
    int n = 0;
    for (auto& op : ops) n += int(op.kind) == k;
    if (n != 1) return false;
  }
  return true;
}
static_assert(every_kind_listed_once(), "each op_kind needs exactly one entry in ops");

// Which operation a complete control line is. An op without arguments matches
// whatever follows its name up to the newline (nats-server reads "PINGx" as PING).
// Each entry is tried in table order with its name known at compile time, so the
// comparisons unroll as if written out by hand.
struct found_op {
  op_kind kind = op_kind::none;
  size_t name_len = 0;
};
template <size_t I>
inline bool line_is(std::string_view line) noexcept {
  constexpr op_name op = ops[I];
  constexpr size_t n = op.name.size();
  if (line.size() < n + (op.takes_args ? 1 : 0)) return false;
  for (size_t i = 0; i < n; ++i)
    if (lower(line[i]) != op.name[i]) return false;
  return !op.takes_args || is_blank(line[n]);
}
template <size_t... I>
inline found_op find_op_in(std::string_view line, std::index_sequence<I...>) noexcept {
  found_op f;
  (void)((line_is<I>(line) ? (f = {ops[I].kind, ops[I].name.size()}, true) : false) || ...);
  return f;
}
inline found_op find_op(std::string_view line) noexcept {
  return find_op_in(line, std::make_index_sequence<ops.size()>{});
}

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
  auto [kind, op_len] = find_op(line);
  if (kind == op_kind::sub) {
    n = split_args(line.substr(op_len), a);
    if (n != 2 && n != 3) return;
    upcoming_ = {upcoming_op::kind::sub, a[0], a[n - 1]};
  } else if (kind == op_kind::unsub) {
    n = split_args(line.substr(op_len), a);
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

  auto [kind, op_len] = find_op(line);
  auto rest = line.substr(op_len);
  arg_list a;
  // A SUB/UNSUB line's arguments: those look_ahead already split, or split now.
  auto args_of = [&]() {
    if (line.data() == ahead_at_) {
      ahead_at_ = nullptr;
      std::copy_n(ahead_args_.begin(), ahead_n_, a.begin());
      return ahead_n_;
    }
    return split_args(rest, a);
  };

  switch (kind) {
    case op_kind::pub:
    case op_kind::hpub: {  // the hot path
      message_args m;
      int64_t total;
      if (kind == op_kind::pub) {
        std::string_view size;
        if (!split_pub_args(rest, m.subject, m.reply, size)) return fail(err::unknown_protocol_operation);
        total = parse_size(size);
        if (total < 0) return fail(err::unknown_protocol_operation);
      } else {
        size_t n = split_args(rest, a);
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
    case op_kind::ping:
      return h.on_ping() ? parse_status::ok : parse_status::stopped;
    case op_kind::pong:
      return h.on_pong() ? parse_status::ok : parse_status::stopped;
    case op_kind::sub: {
      size_t n = args_of();
      if (n != 2 && n != 3) return fail(err::unknown_protocol_operation);
      look_ahead(p, end);
      bool go_on = n == 2 ? h.on_sub(a[0], {}, a[1]) : h.on_sub(a[0], a[1], a[2]);
      upcoming_ = {};
      return go_on ? parse_status::ok : parse_status::stopped;
    }
    case op_kind::unsub: {
      size_t n = args_of();
      if (n != 1 && n != 2) return fail(err::unknown_protocol_operation);
      // A max that is not a number (or is negative) is ignored: a plain unsubscribe,
      // as nats-server does.
      int64_t max = n == 2 ? parse_size(a[1]) : -1;
      look_ahead(p, end);
      bool go_on = h.on_unsub(a[0], max);
      upcoming_ = {};
      return go_on ? parse_status::ok : parse_status::stopped;
    }
    case op_kind::connect: {
      auto json = rest;
      while (!json.empty() && is_blank(json.front())) json.remove_prefix(1);
      while (!json.empty() && is_blank(json.back())) json.remove_suffix(1);
      return h.on_connect(json) ? parse_status::ok : parse_status::stopped;
    }
    case op_kind::ok:
      // nats-server ignores +OK from a client (OP_PLUS_OK: nothing but the newline
      // matters), and so do we.
      return parse_status::ok;
    case op_kind::info:
      // Clients have no business sending INFO; nats-server ignores it from them.
      return parse_status::ok;
    case op_kind::err: {
      // nats-server (processErr) logs "Client Error <text>" and closes a client that
      // sends -ERR, with no -ERR of its own in reply. We stop with an error too, and
      // keep the text in peer_error() so the caller can log it and close silently;
      // error() stays unknown_protocol_operation for a caller that does not look.
      auto text = rest;
      while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
      peer_error_.assign(text);
      has_peer_error_ = true;
      return fail(err::unknown_protocol_operation);
    }
    case op_kind::none:
      break;
  }
  return fail(err::unknown_protocol_operation);
}

}  // namespace platform::protocol
