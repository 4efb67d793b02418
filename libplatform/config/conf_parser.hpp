#pragma once
// Parser for the nats-server configuration file format (nats-server conf/lex.go and
// conf/parse.go), so that a nats-server config file works unchanged with dialtone.
// It turns text into a tree of values and nothing more: what the keys mean is
// load_options' business. Plain functions, no shared state; safe on any thread
// (variable references read the process environment).
//
// Syntax, briefly (see the tests in tests/platform/test_config.cpp for every case):
//   port: 4222          port = 4222          port 4222        key/value separators
//   cluster { port: 6222 }                   maps, with or without a separator
//   routes [ a, b ]  or one value a line     arrays
//   # comment    // comment                  comments
//   "escapes \t \n \r \" \\ \xHH"  'raw'  bare_word   strings
//   text (                                   block string: everything up to a line
//   ...                                      holding only ')'
//   )
//   1k = 1000, 1kb/1ki/1kib = 1024 (also m, g, t, p, e)   size suffixes
//   true/false/yes/no/on/off (any case)      booleans
//   2016-05-04T18:53:41Z                     datetime (UTC only)
//   include 'other.conf'                     merged into the current map; the path is
//                                            relative to the including file
//   $NAME                                    an earlier key in this or an enclosing map,
//                                            else the environment variable NAME
//   { ... } around the whole file            JSON-style documents
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace platform::config {

struct position {
  std::string file;
  int line = 0;    // 1-based; 0 when the error concerns the whole file
  int column = 0;  // 1-based, counted in characters (UTF-8 code points)
};

// One parsed value: a plain tagged struct rather than a variant so that callers can
// read fields directly after checking `type`.
struct value {
  enum class kind { null_v, boolean, integer, floating, string, datetime, array, map };

  kind type = kind::null_v;
  bool b = false;
  int64_t i = 0;      // integer; datetime: seconds since the Unix epoch (UTC)
  double d = 0;
  std::string s;      // string; datetime: the text as written
  std::vector<value> arr;
  // Keys as written, in file order. A key written twice keeps its first place and
  // takes the later value (nats-server keeps the last value too).
  std::vector<std::pair<std::string, value>> map;
  position pos;       // where the value starts (for $references: where the reference is)
  // Set on a map entry that some $variable referred to. nats-server does not report
  // such keys as unknown options: they are variable definitions.
  bool referenced = false;

  bool is_bool() const noexcept { return type == kind::boolean; }
  bool is_integer() const noexcept { return type == kind::integer; }
  bool is_float() const noexcept { return type == kind::floating; }
  bool is_string() const noexcept { return type == kind::string; }
  bool is_datetime() const noexcept { return type == kind::datetime; }
  bool is_array() const noexcept { return type == kind::array; }
  bool is_map() const noexcept { return type == kind::map; }

  // Map lookup ignoring ASCII case, as nats-server lower-cases option names. If two
  // keys differ only in case, the later one wins. nullptr if absent or not a map.
  const value* find(std::string_view key) const noexcept;
  // Exact-case lookup (variable references are case-sensitive).
  const value* find_exact(std::string_view key) const noexcept;

  // "an integer", "a string", ... for error messages.
  static std::string_view describe(kind k) noexcept;
};

// A syntax or type error. what() is "file:line:column: reason" ("file: reason" when
// the error concerns the whole file, e.g. it cannot be read).
class parse_error : public std::runtime_error {
 public:
  parse_error(position where, std::string why);
  position pos;
  std::string reason;  // without the position prefix
};

// Parses a config file. Includes are resolved relative to the directory of the file
// that contains them. Throws parse_error.
value parse_file(const std::string& path);

// Parses config text; `name` is used in error positions. Includes are resolved
// relative to the current directory, as nats-server does. Throws parse_error.
value parse_string(std::string_view text, const std::string& name = "<string>");

// Go time.ParseDuration syntax: "300ms", "1.5s", "2m", "1h30m", "-10us", "0"; units
// ns, us (µs, μs), ms, s, m, h. Throws std::invalid_argument naming the text.
std::chrono::nanoseconds parse_duration(std::string_view text);

}  // namespace platform::config
