#include "libplatform/client/client_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace platform::client {

namespace {

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Operation names are case-insensitive on the wire; `upper` is given in upper case.
bool op_is(std::string_view op, std::string_view upper) noexcept {
  if (op.size() != upper.size()) return false;
  for (size_t i = 0; i < op.size(); ++i) {
    char c = op[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

bool parse_size(std::string_view s, size_t& out) noexcept {
  if (s.empty()) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return false;
  out = static_cast<size_t>(v);
  return true;
}

// A split payload is copied; reserve at most this much up front so a bogus size
// cannot make us allocate before the bytes actually arrive.
constexpr size_t max_payload_reserve = 4 * 1024 * 1024;

}  // namespace

status client_parser::fail(std::string message) {
  state_ = state::failed;
  error_ = "protocol error: " + std::move(message);
  return status{errc::protocol_error, error_};
}

status client_parser::feed(std::string_view data, client_parser_handler& h) {
  if (state_ == state::failed) return status{errc::protocol_error, error_};
  const char* p = data.data();
  const char* const end = p + data.size();

  // Consumes payload bytes from [p, end); delivers the message once complete.
  auto consume_payload = [&] {
    size_t avail = static_cast<size_t>(end - p);
    if (payload_.empty() && avail >= total_) {
      deliver(current_line_, std::string_view(p, total_), h);  // zero-copy path
      p += total_;
      line_.clear();
      state_ = state::payload_cr;
      return;
    }
    // The payload spans reads: keep the control line and the bytes seen so far.
    if (line_.empty() || current_line_.data() != line_.data()) {
      line_.assign(current_line_);
      current_line_ = line_;
    }
    if (payload_.empty()) payload_.reserve(std::min(total_, max_payload_reserve));
    size_t take = std::min(avail, total_ - payload_.size());
    payload_.append(p, take);
    p += take;
    if (payload_.size() == total_) {
      deliver(current_line_, payload_, h);
      if (payload_.capacity() > max_payload_reserve) {
        std::string().swap(payload_);
      } else {
        payload_.clear();
      }
      line_.clear();
      state_ = state::payload_cr;
    }
  };

  while (p < end) {
    switch (state_) {
      case state::control_line: {
        auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        size_t chunk = static_cast<size_t>((nl ? nl : end) - p);
        if (line_.size() + chunk > max_control_line_) return fail("control line too long");
        if (!nl) {
          line_.append(p, chunk);
          p = end;
          break;
        }
        std::string_view line;
        if (line_.empty()) {
          line = std::string_view(p, chunk);
        } else {
          line_.append(p, chunk);
          line = line_;
        }
        p = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (status st = process_line(line, h); !st.ok()) return st;
        if (state_ == state::payload) {
          current_line_ = line;
          consume_payload();
        } else {
          line_.clear();
        }
        break;
      }
      case state::payload:
        consume_payload();
        break;
      case state::payload_cr:
        if (*p == '\r') {
          state_ = state::payload_lf;
        } else if (*p == '\n') {
          state_ = state::control_line;
        } else {
          return fail("payload not followed by CRLF");
        }
        ++p;
        break;
      case state::payload_lf:
        if (*p != '\n') return fail("payload not followed by CRLF");
        state_ = state::control_line;
        ++p;
        break;
      case state::failed:
        return status{errc::protocol_error, error_};
    }
  }
  return status{};
}

status client_parser::process_line(std::string_view line, client_parser_handler& h) {
  std::string_view rest = line;
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  size_t op_len = 0;
  while (op_len < rest.size() && !is_blank(rest[op_len])) ++op_len;
  std::string_view op = rest.substr(0, op_len);
  std::string_view args = trim(rest.substr(op_len));

  if (op_is(op, "MSG")) return parse_msg_args(line, args, false);
  if (op_is(op, "HMSG")) return parse_msg_args(line, args, true);
  if (op_is(op, "PING")) {
    h.on_ping();
  } else if (op_is(op, "PONG")) {
    h.on_pong();
  } else if (op_is(op, "+OK")) {
    h.on_ok();
  } else if (op_is(op, "-ERR")) {
    if (args.size() >= 2 && args.front() == '\'' && args.back() == '\'') {
      args = args.substr(1, args.size() - 2);
    }
    h.on_err(args);
  } else if (op_is(op, "INFO")) {
    if (args.empty()) return fail("INFO without a body");
    h.on_info(args);
  } else if (!op.empty()) {  // an empty line is tolerated
    return fail("unknown operation \"" + std::string(op.substr(0, 32)) + "\"");
  }
  return status{};
}

status client_parser::parse_msg_args(std::string_view line, std::string_view args, bool hmsg) {
  std::string_view tok[6];
  size_t n = 0;
  while (!args.empty()) {
    if (n == 6) return fail(hmsg ? "too many HMSG arguments" : "too many MSG arguments");
    size_t len = 0;
    while (len < args.size() && !is_blank(args[len])) ++len;
    tok[n++] = args.substr(0, len);
    args.remove_prefix(len);
    while (!args.empty() && is_blank(args.front())) args.remove_prefix(1);
  }
  auto at = [&](std::string_view t) {
    return span{static_cast<uint32_t>(t.data() - line.data()), static_cast<uint32_t>(t.size())};
  };

  msg_args a;
  a.has_headers = hmsg;
  size_t header_len = 0, total = 0;
  if (!hmsg && (n == 3 || n == 4)) {
    if (!parse_size(tok[n - 1], total)) return fail("bad MSG size");
  } else if (hmsg && (n == 4 || n == 5)) {
    if (!parse_size(tok[n - 2], header_len) || !parse_size(tok[n - 1], total) ||
        header_len > total) {
      return fail("bad HMSG sizes");
    }
  } else {
    return fail(hmsg ? "wrong number of HMSG arguments" : "wrong number of MSG arguments");
  }
  a.subject = at(tok[0]);
  a.sid = at(tok[1]);
  bool has_reply = hmsg ? n == 5 : n == 4;
  if (has_reply) a.reply = at(tok[2]);
  a.header_len = header_len;
  args_ = a;
  total_ = total;
  state_ = state::payload;
  return status{};
}

void client_parser::deliver(std::string_view line, std::string_view data,
                            client_parser_handler& h) {
  auto view = [&](span s) { return line.substr(s.pos, s.len); };
  msg_view m;
  m.subject = view(args_.subject);
  m.sid = view(args_.sid);
  m.reply = view(args_.reply);
  m.has_headers = args_.has_headers;
  m.header_block = data.substr(0, args_.header_len);
  m.payload = data.substr(args_.header_len);
  h.on_msg(m);
}

}  // namespace platform::client
