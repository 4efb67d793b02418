// A recursive-descent reading of the grammar that nats-server's conf/lex.go state
// machine accepts. Where the Go lexer has quirks that real configs rely on (bare
// words ending at a quote, a stray '}' after a JSON-style document, keys separated
// from values by new lines) we follow it; where it misbehaves (silently dropped
// values, infinite include recursion) we report an error instead.
#include "libplatform/config/conf_parser.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace platform::config {

namespace {

namespace fs = std::filesystem;

constexpr int eof = -1;
// Maps and arrays nested deeper than this are rejected, so that hostile input
// cannot exhaust the stack.
constexpr int max_nesting = 100;
constexpr size_t max_include_depth = 16;

bool is_digit(int c) { return c >= '0' && c <= '9'; }
bool is_blank(int c) { return c == ' ' || c == '\t'; }
bool is_newline(int c) { return c == '\n' || c == '\r'; }
bool is_space(int c) { return is_blank(c) || is_newline(c) || c == '\v' || c == '\f'; }
bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Where a number stops being a number; anything else turns it into a bare word
// ("3xyz"). nats-server does not list ']' here, so "[1]" would hold the string "1";
// we end numbers at ']' as well.
bool ends_number(int c) {
  return c == eof || is_newline(c) || is_blank(c) || c == '}' || c == ']' || c == ';' || c == ',';
}

bool is_size_suffix(int c) {
  switch (lower(static_cast<char>(c))) {
    case 'k': case 'm': case 'g': case 't': case 'p': case 'e': return true;
    default: return false;
  }
}

// 1k = 1000 but 1kb = 1ki = 1kib = 1024, and so on up to e (exa), as conf/parse.go.
bool size_multiplier(std::string_view suffix, int64_t& out) {
  if (suffix.empty()) {
    out = 1;
    return true;
  }
  static constexpr std::string_view units = "kmgtpe";
  auto power = units.find(lower(suffix[0]));
  std::string rest = to_lower(suffix.substr(1));
  if (power == std::string_view::npos) return false;
  int64_t base;
  if (rest.empty()) base = 1000;
  else if (rest == "b" || rest == "i" || rest == "ib") base = 1024;
  else return false;
  out = 1;
  for (size_t n = 0; n <= power; ++n) out *= base;
  return true;
}

// A readable name for the character at `off`, for error messages.
std::string describe_at(std::string_view text, size_t off) {
  if (off >= text.size()) return "end of file";
  auto c = static_cast<unsigned char>(text[off]);
  switch (c) {
    case '\n': return "a new line";
    case '\r': return "a carriage return";
    case '\t': return "a tab";
    case ' ': return "a space";
    default: break;
  }
  size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  bool printable = len > 0 && off + len <= text.size() && c >= 0x20 && c != 0x7f;
  for (size_t n = 1; printable && n < len; ++n)
    printable = (static_cast<unsigned char>(text[off + n]) & 0xC0) == 0x80;
  if (!printable) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
  }
  return "'" + std::string(text.substr(off, len)) + "'";
}

bool read_text(const fs::path& path, std::string& out, std::string& why) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    why = "it is a directory";
    return false;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = errno ? std::strerror(errno) : "cannot open";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

std::string canonical_name(const fs::path& path) {
  std::error_code ec;
  auto canon = fs::weakly_canonical(path, ec);
  return ec ? path.lexically_normal().string() : canon.string();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void set_entry(value& target, std::string key, value v) {
  for (auto& [k, old] : target.map) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  target.map.emplace_back(std::move(key), std::move(v));
}

// Shared by a parse and the parses it starts for includes and environment variables,
// to catch cycles and bound the total nesting.
struct shared_state {
  std::vector<std::string> includes;   // canonical paths being parsed, outermost first
  std::vector<std::string> env_names;  // environment variables being expanded
  int depth = 0;                       // maps and arrays currently open
};

struct cursor {
  size_t off = 0;
  int line = 1;
  int column = 1;
};

class parser {
 public:
  parser(std::string_view text, std::string file, fs::path base_dir, shared_state& shared)
      : text_(text), file_(std::move(file)), base_dir_(std::move(base_dir)), shared_(shared) {}

  value parse_document() {
    value root;
    root.type = value::kind::map;
    root.pos = here();
    scopes_.push_back(&root);
    parse_entries(root, true, root.pos);
    scopes_.pop_back();
    return root;
  }

 private:
  int peek(size_t ahead = 0) const noexcept {
    size_t at = cur_.off + ahead;
    return at < text_.size() ? static_cast<unsigned char>(text_[at]) : eof;
  }

  void advance() noexcept {
    if (cur_.off >= text_.size()) return;
    auto c = static_cast<unsigned char>(text_[cur_.off++]);
    if (c == '\n') {
      ++cur_.line;
      cur_.column = 1;
    } else if ((c & 0xC0) != 0x80) {  // UTF-8 continuation bytes share their column
      ++cur_.column;
    }
  }

  position here() const { return position{file_, cur_.line, cur_.column}; }
  std::string next_char() const { return describe_at(text_, cur_.off); }

  [[noreturn]] void fail(const position& where, std::string reason) const {
    throw parse_error(where, std::move(reason));
  }

  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }

  void skip_comment() {
    while (peek() != eof && !is_newline(peek())) advance();
  }

  void skip_blanks() {
    while (is_blank(peek())) advance();
  }

  void skip_space_and_comments() {
    for (;;) {
      if (is_space(peek())) advance();
      else if (at_comment()) skip_comment();
      else return;
    }
  }

  struct nesting_guard {
    explicit nesting_guard(parser& p, const position& at) : p_(p) {
      if (++p_.shared_.depth > max_nesting) p_.fail(at, "maps and arrays are nested too deeply");
    }
    ~nesting_guard() { --p_.shared_.depth; }
    parser& p_;
  };

  // Key/value pairs until the '}' that closes a map, or end of input at top level.
  void parse_entries(value& target, bool top_level, const position& opened) {
    std::vector<position> braces;  // '{' wrapping a JSON-style document
    for (;;) {
      skip_space_and_comments();
      int c = peek();
      if (c == eof) {
        if (!top_level) fail(opened, "unterminated map: no '}' matches this '{'");
        if (!braces.empty()) fail(braces.back(), "unterminated block: no '}' matches this '{'");
        return;
      }
      if (c == '}') {
        advance();
        if (!top_level) return;
        // A '}' with no '{' after a top-level value is accepted by nats-server.
        if (!braces.empty()) braces.pop_back();
        continue;
      }
      if (top_level && c == '{') {
        braces.push_back(here());
        advance();
        continue;
      }
      if (c == ':' || c == '=' || c == ',' || c == ';' || c == ']')
        fail(here(), "unexpected " + next_char() + ", expected a key");
      parse_entry(target);
    }
  }

  void parse_entry(value& target) {
    position key_pos = here();
    std::string key;
    int quote = peek();
    bool quoted = quote == '"' || quote == '\'';
    if (quoted) {
      advance();
      size_t start = cur_.off;
      while (peek() != quote) {
        if (peek() == eof) fail(key_pos, "unterminated quoted key");
        advance();
      }
      key.assign(text_.substr(start, cur_.off - start));
      advance();
    } else {
      size_t start = cur_.off;
      while (peek() != eof && !is_space(peek()) && peek() != ':' && peek() != '=') advance();
      key.assign(text_.substr(start, cur_.off - start));
    }
    if (!quoted && is_space(peek()) && iequal(key, "include")) {
      parse_include(target);
      expect_entry_end("include");
      return;
    }
    // nats-server lets new lines sit between a key and its separator, not after it.
    while (is_space(peek())) advance();
    if (peek() == ':' || peek() == '=') {
      advance();
      skip_blanks();
    }
    value v = parse_value("after '" + key + "'");
    set_entry(target, key, std::move(v));
    expect_entry_end(key);
  }

  void expect_entry_end(std::string_view key) {
    skip_blanks();
    int c = peek();
    if (c == eof || c == '}') return;  // '}' is consumed by parse_entries
    if (is_newline(c) || c == ';' || c == ',') {
      advance();
      return;
    }
    if (at_comment()) {
      skip_comment();
      return;
    }
    fail(here(), "expected a new line, ';' or ',' after the value of '" + std::string(key) + "', found " +
                     next_char());
  }

  value parse_value(const std::string& context) {
    position p = here();
    int c = peek();
    switch (c) {
      case eof:
      case '\n':
      case '\r':
        fail(p, "expected a value " + context);
      case ',':
      case ';':
      case '}':
      case ']':
        fail(p, "expected a value " + context + ", found " + next_char());
      case '[': return parse_array();
      case '{': return parse_map();
      case '"':
      case '\'': return parse_quoted(c);
      case '(': return parse_block();
      case '.': fail(p, "floats must start with a digit");
      default: break;
    }
    if (c == '-' || is_digit(c)) return parse_number();
    return parse_bare();
  }

  value parse_array() {
    position opened = here();
    nesting_guard guard(*this, opened);
    advance();
    value a;
    a.type = value::kind::array;
    a.pos = opened;
    for (;;) {
      skip_space_and_comments();
      int c = peek();
      if (c == eof) fail(opened, "unterminated array: no ']' matches this '['");
      if (c == ']') {
        advance();
        return a;
      }
      if (c == ',') fail(here(), "unexpected ',' in array, expected a value");
      a.arr.push_back(parse_value("in the array"));
      skip_blanks();
      if (at_comment()) skip_comment();
      c = peek();
      if (c == ',' || is_newline(c)) advance();
      else if (c == eof) fail(opened, "unterminated array: no ']' matches this '['");
      else if (c != ']') fail(here(), "expected ',' or ']' after an array value, found " + next_char());
    }
  }

  value parse_map() {
    position opened = here();
    nesting_guard guard(*this, opened);
    advance();
    value m;
    m.type = value::kind::map;
    m.pos = opened;
    scopes_.push_back(&m);
    parse_entries(m, false, opened);
    scopes_.pop_back();
    return m;
  }

  // '"...' with escapes or '...' raw; both may span lines.
  value parse_quoted(int quote) {
    position opened = here();
    advance();
    value v;
    v.type = value::kind::string;
    v.pos = opened;
    for (;;) {
      int c = peek();
      if (c == eof)
        fail(opened, quote == '"' ? "unterminated string: no closing '\"'" : "unterminated string: no closing \"'\"");
      if (c == quote) {
        advance();
        return v;
      }
      if (quote == '"' && c == '\\') {
        read_escape(v.s);
        continue;
      }
      v.s.push_back(static_cast<char>(c));
      advance();
    }
  }

  // Called at the backslash.
  void read_escape(std::string& out) {
    position p = here();
    advance();
    int c = peek();
    switch (c) {
      case 't': out.push_back('\t'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case 'x': {
        advance();
        for (size_t n = 0; n < 2; ++n) {
          int h = peek(n);
          if (!is_hex(h))
            fail(p, "expected two hexadecimal digits after '\\x', found " + describe_at(text_, cur_.off + n));
        }
        out.push_back(static_cast<char>(hex_value(peek()) * 16 + hex_value(peek(1))));
        advance();
        advance();
        return;
      }
      case eof: fail(p, "unterminated escape sequence at end of file");
      default:
        fail(p, "invalid escape sequence: '\\' followed by " + next_char() +
                    "; allowed are \\xHH, \\t, \\n, \\r, \\\" and \\\\");
    }
    advance();
  }

  // '(' text ')' where the closing ')' stands alone at the start of a line.
  value parse_block() {
    position opened = here();
    advance();
    size_t start = cur_.off;
    for (;;) {
      int c = peek();
      if (c == eof) fail(opened, "unterminated block string: no line holding only ')' closes this '('");
      if (c == ')' && text_[cur_.off - 1] == '\n') {
        int n = peek(1);
        if (n == eof || n == '\n' || (n == '\r' && peek(2) == '\n')) {
          value v;
          v.type = value::kind::string;
          v.pos = opened;
          v.s.assign(text_.substr(start, cur_.off - start));
          advance();
          return v;
        }
      }
      advance();
    }
  }

  // Integers (with size suffixes), floats, datetimes, dotted addresses, or bare words
  // that merely start with a digit.
  value parse_number() {
    cursor start = cur_;
    position p = here();
    bool negative = peek() == '-';
    if (negative) {
      advance();
      if (peek() == '.') fail(p, "floats must start with a digit");
      if (!is_digit(peek())) fail(p, "expected a digit after '-', found " + next_char());
    }
    while (is_digit(peek())) advance();
    size_t digits_end = cur_.off;
    int c = peek();
    if (c == '-' && !negative) {
      if (cur_.off - start.off != 4) fail(p, "dates must be in the full UTC form YYYY-MM-DDTHH:MM:SSZ");
      return parse_datetime(start);
    }
    if (c == '.') {
      advance();
      if (!is_digit(peek())) fail(here(), "floats must have a digit after the '.', found " + next_char());
      while (is_digit(peek())) advance();
      if (peek() == '.') {  // more dots: an address such as 127.0.0.1:4222
        while (is_digit(peek()) || peek() == '.' || peek() == ':' || peek() == '-') advance();
        value v;
        v.type = value::kind::string;
        v.pos = p;
        v.s.assign(text_.substr(start.off, cur_.off - start.off));
        return v;
      }
      return make_float(p, text_.substr(start.off, cur_.off - start.off));
    }
    if (is_size_suffix(c)) {
      advance();
      while (peek() == 'b' || peek() == 'B' || peek() == 'i' || peek() == 'I') advance();
      // A digit right after the suffix ends the number, and the value check then
      // rejects it, as nats-server does.
      if (!ends_number(peek()) && !is_digit(peek())) return reread_as_bare(start);
      return make_integer(p, text_.substr(start.off, digits_end - start.off),
                          text_.substr(digits_end, cur_.off - digits_end));
    }
    if (ends_number(c) || negative) return make_integer(p, text_.substr(start.off, digits_end - start.off), {});
    return reread_as_bare(start);
  }

  value reread_as_bare(const cursor& start) {
    cur_ = start;
    return parse_bare();
  }

  value make_integer(const position& p, std::string_view digits, std::string_view suffix) {
    std::string written = std::string(digits) + std::string(suffix);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range) fail(p, "integer '" + written + "' is out of range");
    if (ec != std::errc{} || end != digits.data() + digits.size())
      fail(p, "expected an integer, found '" + written + "'");
    int64_t multiplier = 1;
    if (!size_multiplier(suffix, multiplier))
      fail(p, "invalid size suffix '" + std::string(suffix) + "' in '" + written +
                  "' (k, m, g, t, p, e are powers of 1000; kb, ki, kib and so on are powers of 1024)");
    value v;
    v.type = value::kind::integer;
    v.pos = p;
    if (__builtin_mul_overflow(n, multiplier, &v.i)) fail(p, "integer '" + written + "' is out of range");
    return v;
  }

  value make_float(const position& p, std::string_view written) {
    value v;
    v.type = value::kind::floating;
    v.pos = p;
    auto [end, ec] = std::from_chars(written.data(), written.data() + written.size(), v.d);
    if (ec == std::errc::result_out_of_range) fail(p, "float '" + std::string(written) + "' is out of range");
    if (ec != std::errc{} || end != written.data() + written.size())
      fail(p, "expected a float, found '" + std::string(written) + "'");
    return v;
  }

  // Called at the '-' after a four-digit year.
  value parse_datetime(const cursor& start) {
    position p{file_, start.line, start.column};
    static constexpr std::string_view shape = "-00-00T00:00:00Z";  // '0' stands for any digit
    for (char want : shape) {
      int c = peek();
      if (want == '0' ? !is_digit(c) : c != want)
        fail(here(), "invalid datetime, expected the form YYYY-MM-DDTHH:MM:SSZ, found " + next_char());
      advance();
    }
    std::string_view t = text_.substr(start.off, cur_.off - start.off);
    auto field = [&](size_t at, size_t len) {
      int n = 0;
      for (size_t k = at; k < at + len; ++k) n = n * 10 + (t[k] - '0');
      return n;
    };
    int year = field(0, 4), month = field(5, 2), day = field(8, 2);
    int hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int days_in_month = month >= 1 && month <= 12 ? month_days[month - 1] + (month == 2 && leap) : 0;
    if (day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59)
      fail(p, "invalid datetime '" + std::string(t) + "': a field is out of range");
    value v;
    v.type = value::kind::datetime;
    v.pos = p;
    v.s.assign(t);
    v.i = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    return v;
  }

  // An unquoted word: a string, a boolean, or a $variable reference.
  value parse_bare() {
    position p = here();
    std::string out;
    bool escaped = false;
    for (;;) {
      int c = peek();
      if (c == eof || is_newline(c) || is_blank(c) || c == ';' || c == ',' || c == ']' || c == '}') break;
      if (c == '\'') {  // nats-server ends a bare word at a quote and drops the quote
        advance();
        break;
      }
      if (c == '\\') {
        read_escape(out);
        escaped = true;
        continue;
      }
      out.push_back(static_cast<char>(c));
      advance();
    }
    if (out.empty() && !escaped) fail(p, "expected a value, found " + next_char());
    value v;
    v.pos = p;
    if (!escaped) {
      std::string word = to_lower(out);
      if (word == "true" || word == "yes" || word == "on" || word == "false" || word == "no" || word == "off") {
        v.type = value::kind::boolean;
        v.b = word == "true" || word == "yes" || word == "on";
        return v;
      }
      if (out == "$") fail(p, "expected a variable name after '$'");
      if (out[0] == '$') return resolve_variable(out.substr(1), p);
    }
    v.type = value::kind::string;
    v.s = std::move(out);
    return v;
  }

  value resolve_variable(const std::string& name, const position& p) {
    // Unquoted bcrypt hashes ($2a$11$...) look like references; nats-server keeps them.
    if (name.rfind("2a$", 0) == 0) {
      value v;
      v.type = value::kind::string;
      v.pos = p;
      v.s = "$" + name;
      return v;
    }
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      for (auto& [k, defined] : (*scope)->map) {
        if (k != name) continue;
        defined.referenced = true;
        value v = defined;
        v.pos = p;
        v.referenced = false;
        return v;
      }
    }
    auto& active = shared_.env_names;
    if (std::find(active.begin(), active.end(), name) != active.end())
      fail(p, "variable '$" + name + "' refers to itself through the environment");
    const char* env = name.find('\0') == std::string::npos ? std::getenv(name.c_str()) : nullptr;
    if (env == nullptr)
      fail(p, "variable '$" + name + "' is not defined: no earlier key '" + name +
                  "' in an enclosing map and no environment variable of that name");
    // The environment value is parsed as a config value, so PORT=4222 is an integer.
    active.push_back(name);
    std::string doc = "pk=" + std::string(env);
    value parsed;
    try {
      parser sub(doc, "$" + name, base_dir_, shared_);
      parsed = sub.parse_document();
    } catch (const parse_error& e) {
      active.pop_back();
      fail(p, "environment variable '" + name + "' could not be parsed: " + e.reason);
    }
    active.pop_back();
    const value* found = parsed.find_exact("pk");
    if (found == nullptr) fail(p, "environment variable '" + name + "' holds no value");
    value v = *found;
    v.pos = p;
    return v;
  }

  // Called after the 'include' keyword; merges the file's keys into `target`.
  void parse_include(value& target) {
    skip_blanks();
    position p = here();
    int c = peek();
    std::string name;
    if (c == '"' || c == '\'') {
      advance();
      size_t start = cur_.off;
      while (peek() != c) {
        if (peek() == eof) fail(p, "unterminated include file name");
        advance();
      }
      name.assign(text_.substr(start, cur_.off - start));
      advance();
    } else if (c == eof || is_newline(c)) {
      fail(p, "expected a file name after 'include'");
    } else if (c == '[' || c == '{' || c == '(' || c == '\\' || c == '-' || is_digit(c)) {
      fail(p, "expected a file name after 'include', found " + next_char());
    } else {
      for (int ch = peek(); ch != eof && !is_newline(ch) && !is_blank(ch) && ch != ';' && ch != '}'; ch = peek()) {
        advance();
        if (ch == '\'') break;
        name.push_back(static_cast<char>(ch));
      }
    }
    if (shared_.includes.size() >= max_include_depth) fail(p, "includes are nested too deeply");
    fs::path path = fs::path(name).is_absolute() ? fs::path(name) : (base_dir_ / name).lexically_normal();
    std::string text, why;
    if (name.empty() || !read_text(path, text, why))
      fail(p, "cannot read include file '" + name + "': " + (name.empty() ? "empty file name" : why));
    std::string canon = canonical_name(path);
    auto& active = shared_.includes;
    if (std::find(active.begin(), active.end(), canon) != active.end())
      fail(p, "include cycle: '" + name + "' is already being parsed");
    active.push_back(canon);
    parser sub(text, path.string(), path.parent_path(), shared_);
    value included = sub.parse_document();
    active.pop_back();
    for (auto& [k, v] : included.map) set_entry(target, std::move(k), std::move(v));
  }

  std::string_view text_;
  std::string file_;
  fs::path base_dir_;
  shared_state& shared_;
  cursor cur_;
  std::vector<value*> scopes_;  // maps being filled, innermost last: where $names resolve
};

std::string format_error(const position& where, const std::string& why) {
  if (where.line == 0) return where.file + ": " + why;
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " + why;
}

}  // namespace

parse_error::parse_error(position where, std::string why)
    : std::runtime_error(format_error(where, why)), pos(std::move(where)), reason(std::move(why)) {}

const value* value::find(std::string_view key) const noexcept {
  for (auto it = map.rbegin(); it != map.rend(); ++it)
    if (iequal(it->first, key)) return &it->second;
  return nullptr;
}

const value* value::find_exact(std::string_view key) const noexcept {
  for (const auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

std::string_view value::describe(kind k) noexcept {
  switch (k) {
    case kind::null_v: return "nothing";
    case kind::boolean: return "a boolean";
    case kind::integer: return "an integer";
    case kind::floating: return "a float";
    case kind::string: return "a string";
    case kind::datetime: return "a datetime";
    case kind::array: return "an array";
    case kind::map: return "a map";
  }
  return "a value";
}

value parse_file(const std::string& path) {
  std::string text, why;
  if (!read_text(path, text, why)) throw parse_error(position{path, 0, 0}, "cannot read config file: " + why);
  shared_state shared;
  shared.includes.push_back(canonical_name(path));
  parser p(text, path, fs::path(path).parent_path(), shared);
  return p.parse_document();
}

value parse_string(std::string_view text, const std::string& name) {
  shared_state shared;
  parser p(text, name, fs::path(), shared);
  return p.parse_document();
}

std::chrono::nanoseconds parse_duration(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto invalid = [&] {
    return std::invalid_argument("invalid duration " + quoted + " (expected a number and unit, e.g. \"2m\", "
                                 "\"1h30m\", \"500ms\")");
  };
  // Accumulated in nanoseconds as Go does; 2^63 is allowed only as a negative total.
  constexpr uint64_t limit = uint64_t{1} << 63;
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds{0};
  if (s.empty()) throw invalid();
  uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !is_digit(s[0])) throw invalid();
    uint64_t whole = 0;
    size_t n = 0;
    for (; n < s.size() && is_digit(s[n]); ++n) {
      if (whole > limit / 10) throw invalid();
      whole = whole * 10 + static_cast<uint64_t>(s[n] - '0');
      if (whole > limit) throw invalid();
    }
    bool has_whole = n > 0;
    s.remove_prefix(n);
    uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool saturated = false;  // digits past int64 precision are ignored
      for (n = 0; n < s.size() && is_digit(s[n]); ++n) {
        if (saturated) continue;
        if (fraction > (limit - 1) / 10) {
          saturated = true;
          continue;
        }
        fraction = fraction * 10 + static_cast<uint64_t>(s[n] - '0');
        scale *= 10;
      }
      has_fraction = n > 0;
      s.remove_prefix(n);
    }
    if (!has_whole && !has_fraction) throw invalid();
    size_t unit_len = 0;
    while (unit_len < s.size() && s[unit_len] != '.' && !is_digit(s[unit_len])) ++unit_len;
    if (unit_len == 0)
      throw std::invalid_argument("missing unit in duration " + quoted + " (use ns, us, ms, s, m or h)");
    std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    uint64_t ns_per_unit = 0;
    if (unit == "ns") ns_per_unit = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") ns_per_unit = 1000;
    else if (unit == "ms") ns_per_unit = 1000'000;
    else if (unit == "s") ns_per_unit = 1000'000'000;
    else if (unit == "m") ns_per_unit = 60 * 1000'000'000ULL;
    else if (unit == "h") ns_per_unit = 3600 * 1000'000'000ULL;
    else
      throw std::invalid_argument("unknown unit \"" + std::string(unit) + "\" in duration " + quoted +
                                  " (use ns, us, ms, s, m or h)");
    if (whole > limit / ns_per_unit) throw invalid();
    whole *= ns_per_unit;
    if (fraction > 0) {
      whole += static_cast<uint64_t>(static_cast<double>(fraction) * (static_cast<double>(ns_per_unit) / scale));
      if (whole > limit) throw invalid();
    }
    total += whole;
    if (total > limit) throw invalid();
  }
  if (negative) {
    return std::chrono::nanoseconds{total == limit ? std::numeric_limits<int64_t>::min()
                                                   : -static_cast<int64_t>(total)};
  }
  if (total == limit) throw invalid();
  return std::chrono::nanoseconds{static_cast<int64_t>(total)};
}

}  // namespace platform::config
