// Streaming parser for the server-to-client half of the NATS text protocol
// (MSG, HMSG, PING, PONG, +OK, -ERR, INFO), used by the load generator.
//
// Owner: the one thread that reads the connection. It keeps no reference to the
// input between feed() calls; a control line split across reads is carried in
// a small string, payloads are skipped without copying. Frames are fully parsed
// (`MSG <subj> <sid> [reply] <#bytes>\r\n<payload>\r\n`, trailing CRLF checked),
// so a miscounted or mis-framed stream is an error, not a wrong number.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dialtone::bench {

// Sink must provide:
//   void on_msg(std::string_view subject, std::string_view reply, std::size_t payload_size);
//   void on_ping();
// on_msg is called once the control line is parsed; the views are valid only
// during the call. msgs() counts frames whose payload and CRLF were consumed.
template <class Sink>
class inbound_parser {
public:
  explicit inbound_parser(Sink& sink) : sink_(sink) {}

  // Returns false on a protocol error or -ERR; error() then says why.
  bool feed(const char* p, std::size_t n) {
    const char* end = p + n;
    while (p < end) {
      switch (state_) {
      case state::control: {
        auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        if (nl == nullptr) {
          partial_line_.append(p, end);
          if (partial_line_.size() > max_control_line) return fail("control line too long");
          return true;
        }
        std::string_view line;
        if (partial_line_.empty()) {
          line = std::string_view(p, static_cast<std::size_t>(nl - p));
        } else {
          partial_line_.append(p, nl);
          line = partial_line_;
        }
        p = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        bool ok = on_control_line(line);
        partial_line_.clear();
        if (!ok) return false;
        break;
      }
      case state::payload: {
        std::size_t take = std::min(payload_left_, static_cast<std::size_t>(end - p));
        p += take;
        payload_left_ -= take;
        if (payload_left_ == 0) state_ = state::payload_cr;
        break;
      }
      case state::payload_cr:
        if (*p++ != '\r') return fail("payload not followed by CR");
        state_ = state::payload_lf;
        break;
      case state::payload_lf:
        if (*p++ != '\n') return fail("payload not followed by LF");
        ++msgs_;
        state_ = state::control;
        break;
      }
    }
    return true;
  }

  std::uint64_t msgs() const { return msgs_; }
  std::uint64_t pongs() const { return pongs_; }
  // HMSG frames seen (the load generator never publishes headers, so these
  // are server-made statuses such as 503 no-responders).
  std::uint64_t header_msgs() const { return header_msgs_; }
  const std::string& error() const { return error_; }

private:
  enum class state { control, payload, payload_cr, payload_lf };
  static constexpr std::size_t max_control_line = 64 * 1024;
  static constexpr int max_args = 6;

  static char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

  static bool starts_with_op(std::string_view line, std::string_view op) {
    if (line.size() < op.size()) return false;
    for (std::size_t i = 0; i < op.size(); ++i)
      if (upper(line[i]) != op[i]) return false;
    return line.size() == op.size() || line[op.size()] == ' ' || line[op.size()] == '\t';
  }

  // Splits on runs of spaces/tabs; returns the count, or max_args + 1 if too many.
  static int split_args(std::string_view s, std::string_view* out) {
    int count = 0;
    std::size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      if (i == s.size()) break;
      std::size_t start = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
      if (count == max_args) return max_args + 1;
      out[count++] = s.substr(start, i - start);
    }
    return count;
  }

  static bool parse_size(std::string_view s, std::size_t& out) {
    if (s.empty() || s.size() > 12) return false;
    std::size_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::size_t>(c - '0');
    }
    out = v;
    return true;
  }

  bool on_control_line(std::string_view line) {
    if (line.empty()) return fail("empty control line");
    std::string_view args[max_args];
    switch (upper(line[0])) {
    case 'M':
    case 'H': {
      bool has_headers = upper(line[0]) == 'H';
      std::size_t op_len = has_headers ? 4 : 3;
      if (!starts_with_op(line, has_headers ? "HMSG" : "MSG")) break;
      // MSG:  subj sid [reply] size       HMSG: subj sid [reply] hdr_size total_size
      int n = split_args(line.substr(op_len), args);
      int fixed = has_headers ? 4 : 3;
      if (n != fixed && n != fixed + 1) return fail("bad MSG/HMSG argument count");
      std::size_t size = 0;
      if (!parse_size(args[n - 1], size)) return fail("bad MSG/HMSG size");
      std::string_view reply = (n == fixed + 1) ? args[2] : std::string_view{};
      if (has_headers) ++header_msgs_;
      sink_.on_msg(args[0], reply, size);
      payload_left_ = size;
      state_ = size == 0 ? state::payload_cr : state::payload;
      return true;
    }
    case 'P':
      if (starts_with_op(line, "PONG")) {
        ++pongs_;
        return true;
      }
      if (starts_with_op(line, "PING")) {
        sink_.on_ping();
        return true;
      }
      break;
    case '+':
      if (starts_with_op(line, "+OK")) return true;
      break;
    case '-':
      return fail(std::string(line));
    case 'I':
      if (starts_with_op(line, "INFO")) return true;
      break;
    default:
      break;
    }
    return fail("unknown operation: " + std::string(line.substr(0, 64)));
  }

  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  Sink& sink_;
  state state_ = state::control;
  std::string partial_line_;
  std::size_t payload_left_ = 0;
  std::uint64_t msgs_ = 0;
  std::uint64_t pongs_ = 0;
  std::uint64_t header_msgs_ = 0;
  std::string error_;
};

} // namespace dialtone::bench
