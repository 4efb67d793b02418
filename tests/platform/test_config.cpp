// Tests for the nats-server config parser (conf_parser) and its mapping onto
// server_options (load_options). Expected values follow nats-server's conf/lex_test.go
// and conf/parse_test.go where those define the behaviour.
#include <catch2/catch.hpp>
#include <cstring>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

#include "config_test_support.hpp"
#include "libplatform/config/conf_parser.hpp"
#include "libplatform/config/load_options.hpp"

using namespace platform::config;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

value parse(std::string_view text) { return parse_string(text, "test.conf"); }

// The full what() of the parse_error that `text` must produce.
std::string error_of(std::string_view text) {
  return config_test_support::parse_error_text([&] { parse(text); }, std::string(text));
}

const value& at(const value& v, std::string_view key) {
  const value* found = v.find(key);
  REQUIRE(found != nullptr);
  return *found;
}

server_options load(std::string_view text) {
  server_options opts;
  load_options(parse(text), opts);
  return opts;
}

// The full what() of the parse_error that parsing the file at `path` must produce.
std::string file_error(const std::string& path) {
  return config_test_support::parse_error_text([&] { parse_file(path); }, path);
}

std::string load_error(std::string_view text) {
  return config_test_support::parse_error_text([&] { load(text); }, std::string(text));
}

// A scratch directory removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("dialtone_config_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, std::string_view text) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class scoped_env {
 public:
  scoped_env(const char* name, const char* val) : name_(name) { ::setenv(name, val, 1); }
  ~scoped_env() { ::unsetenv(name_); }

 private:
  const char* name_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------

TEST_CASE("keys and values are separated by ':', '=' or whitespace", "[config]") {
  value v = parse("a: 1\nb = 2\nc 3\nd=4\ne:5\nf\t6");
  REQUIRE(v.is_map());
  REQUIRE(v.map.size() == 6);
  CHECK(v.map[0].first == "a");
  CHECK(at(v, "a").i == 1);
  CHECK(at(v, "b").i == 2);
  CHECK(at(v, "c").i == 3);
  CHECK(at(v, "d").i == 4);
  CHECK(at(v, "e").i == 5);
  CHECK(at(v, "f").i == 6);
  CHECK(at(parse("foo=\t'bar'\t"), "foo").s == "bar");
  CHECK(at(parse("foo='bar'\r\n"), "foo").s == "bar");
}

TEST_CASE("keys keep their order and spelling; find ignores case", "[config]") {
  value v = parse("Zeta = 1\nalpha = 2\nMid = 3");
  REQUIRE(v.map.size() == 3);
  CHECK(v.map[0].first == "Zeta");
  CHECK(v.map[1].first == "alpha");
  CHECK(v.map[2].first == "Mid");
  CHECK(at(v, "zeta").i == 1);
  CHECK(at(v, "MID").i == 3);
  CHECK(v.find_exact("zeta") == nullptr);
  CHECK(v.find("missing") == nullptr);
  // A repeated key keeps its place and takes the later value.
  value dup = parse("a = 1\nb = 2\na = 3");
  REQUIRE(dup.map.size() == 2);
  CHECK(dup.map[0].first == "a");
  CHECK(dup.map[0].second.i == 3);
}

TEST_CASE("terminators ';' and ',' are optional at top level", "[config]") {
  value v = parse("foo='1'; bar=2.2; baz=true; boo=22");
  CHECK(at(v, "foo").s == "1");
  CHECK(at(v, "bar").d == Approx(2.2));
  CHECK(at(v, "baz").b);
  CHECK(at(v, "boo").i == 22);
  value c = parse("a = 1, b = 2;\nc = 3,\n");
  CHECK(at(c, "a").i == 1);
  CHECK(at(c, "b").i == 2);
  CHECK(at(c, "c").i == 3);
}

TEST_CASE("maps, with or without separator, nested, with any terminator", "[config]") {
  value v = parse(R"(
cluster { port: 6222 }
gateway = { port = 7222 }
leaf: { port 7422 }
systems {
  allinone {
    description: "This is a description."
  }
}
m { a = 1, b = 2; c = 3
  d = 4, }
'quoted-map' = {'bar-1.2.3' = { port:4242 }}
empty {}
)");
  CHECK(at(at(v, "cluster"), "port").i == 6222);
  CHECK(at(at(v, "gateway"), "port").i == 7222);
  CHECK(at(at(v, "leaf"), "port").i == 7422);
  CHECK(at(at(at(v, "systems"), "allinone"), "description").s == "This is a description.");
  const value& m = at(v, "m");
  REQUIRE(m.map.size() == 4);
  CHECK(m.map[3].first == "d");
  CHECK(m.map[3].second.i == 4);
  CHECK(at(at(at(v, "quoted-map"), "bar-1.2.3"), "port").i == 4242);
  CHECK(at(v, "empty").is_map());
  CHECK(at(v, "empty").map.empty());
  CHECK(at(v, "cluster").pos.line == 2);
  CHECK(at(v, "cluster").pos.column == 9);
}

TEST_CASE("arrays with ',' or new lines, comments, trailing commas and maps", "[config]") {
  value v = parse("foo = [1, 2, 3, 'bar']");
  const value& foo = at(v, "foo");
  REQUIRE(foo.is_array());
  REQUIRE(foo.arr.size() == 4);
  CHECK(foo.arr[0].i == 1);
  CHECK(foo.arr[2].i == 3);
  CHECK(foo.arr[3].s == "bar");
  CHECK(at(parse("foo = [1,2,3,'bar']"), "foo").arr.size() == 4);

  value ml = parse(R"(
# top level comment
foo = [
 1, # One
 2, // Two
 3 # Three
 'bar'     ,
 "bar"
]
nosep [
 1 // foo
 2
 nats-route://foo:bar@apcera.me:4245
]
trailing = [a, b,]
empty = []
nested = [[1, 2], [3]]
array [
  { abc: 123 }
  { xyz: "word" }
]
)");
  const value& f = at(ml, "foo");
  REQUIRE(f.arr.size() == 5);
  CHECK(f.arr[2].i == 3);
  CHECK(f.arr[4].s == "bar");
  const value& nosep = at(ml, "nosep");
  REQUIRE(nosep.arr.size() == 3);
  CHECK(nosep.arr[2].s == "nats-route://foo:bar@apcera.me:4245");
  CHECK(at(ml, "trailing").arr.size() == 2);
  CHECK(at(ml, "empty").arr.empty());
  REQUIRE(at(ml, "nested").arr.size() == 2);
  CHECK(at(ml, "nested").arr[0].arr[1].i == 2);
  const value& maps = at(ml, "array");
  REQUIRE(maps.arr.size() == 2);
  CHECK(at(maps.arr[0], "abc").i == 123);
  CHECK(at(maps.arr[1], "xyz").s == "word");
}

TEST_CASE("a number directly before ']' is still a number", "[config]") {
  // nats-server reads "[1]" as the string "1"; we read the integer.
  value v = parse("a = [1]\nb = [1k]\nc = [2.5]");
  CHECK(at(v, "a").arr.at(0).is_integer());
  CHECK(at(v, "b").arr.at(0).i == 1000);
  CHECK(at(v, "c").arr.at(0).d == Approx(2.5));
}

TEST_CASE("comments with '#' and '//' anywhere whitespace may be", "[config]") {
  value v = parse(R"(# leading
// also leading
a = 1 # after a value
b = 2 // after a value
m {
  # inside a map
  c = 3 // after
}
c = "# not a comment"
d = bar#baz
)");
  CHECK(v.map.size() == 5);
  CHECK(at(v, "a").i == 1);
  CHECK(at(v, "b").i == 2);
  CHECK(at(at(v, "m"), "c").i == 3);
  CHECK(at(v, "c").s == "# not a comment");
  CHECK(at(v, "d").s == "bar#baz");  // as in nats-server, '#' inside a bare word is text
  CHECK(parse("# only a comment").map.empty());
  CHECK(parse("").map.empty());
  CHECK(parse("\n   \n").map.empty());
}

TEST_CASE("double-quoted strings process escapes", "[config]") {
  value v = parse(R"(a = "tab\tnl\ncr\rq\"bs\\"
b = "\x65\x41"
c = "multi
line"
d = ""
)");
  CHECK(at(v, "a").s == "tab\tnl\ncr\rq\"bs\\");
  CHECK(at(v, "b").s == "eA");
  CHECK(at(v, "c").s == "multi\nline");
  CHECK(at(v, "d").s.empty());
  CHECK(at(parse("foo = \"\\xe9\""), "foo").s == "\xe9");
}

TEST_CASE("single-quoted strings are raw", "[config]") {
  value v = parse("foo = 'bar\\r\\n  \\t'\nexpr = '(true == \"false\")'\ntext = 'two\nlines'\ne = ''");
  CHECK(at(v, "foo").s == "bar\\r\\n  \\t");
  CHECK(at(v, "expr").s == "(true == \"false\")");
  CHECK(at(v, "text").s == "two\nlines");
  CHECK(at(v, "e").s.empty());
}

TEST_CASE("bare strings", "[config]") {
  value v = parse(R"(a = bar
b = nats://user:pass@host:4222
c = 3xyz
d = 1Ghz
e = 2Pie
f = 3Mbs,
g = 5Gø
h = \x65
i = bar' 
j = localhost:4222
k = 127.0.0.1:4222
l = 0.0.0.0
m = -1Ghz
)");
  CHECK(at(v, "a").s == "bar");
  CHECK(at(v, "b").s == "nats://user:pass@host:4222");
  CHECK(at(v, "c").s == "3xyz");
  CHECK(at(v, "d").s == "1Ghz");
  CHECK(at(v, "e").s == "2Pie");
  CHECK(at(v, "f").s == "3Mbs");
  CHECK(at(v, "g").s == "5Gø");
  CHECK(at(v, "h").s == "e");      // escapes work in bare words too
  CHECK(at(v, "i").s == "bar");    // a quote ends a bare word
  CHECK(at(v, "j").s == "localhost:4222");
  CHECK(at(v, "k").s == "127.0.0.1:4222");
  CHECK(at(v, "l").s == "0.0.0.0");
  CHECK(at(v, "m").s == "-1Ghz");
  value m = parse("map {\n  foo = 3xyz}\nx = 1");
  CHECK(at(at(m, "map"), "foo").s == "3xyz");
}

TEST_CASE("block strings run to a line holding only ')'", "[config]") {
  CHECK(at(parse("numbers (\n1234567890\n)\n"), "numbers").s == "\n1234567890\n");
  CHECK(at(parse("numbers (\n1234567890\n)"), "numbers").s == "\n1234567890\n");
  value v = parse("numbers (\n  12(34)56\n  (\n    7890\n  )\n)\nafter = 1\n");
  CHECK(at(v, "numbers").s == "\n  12(34)56\n  (\n    7890\n  )\n");
  CHECK(at(v, "after").i == 1);
}

TEST_CASE("integers, negative numbers and floats", "[config]") {
  value v = parse("a = 123\nb=-123\nc = 22.2\nd = -1.5\ne = 0\nf = 9223372036854775807\ng = 1.0");
  CHECK(at(v, "a").i == 123);
  CHECK(at(v, "b").i == -123);
  CHECK(at(v, "c").is_float());
  CHECK(at(v, "c").d == Approx(22.2));
  CHECK(at(v, "d").d == Approx(-1.5));
  CHECK(at(v, "e").i == 0);
  CHECK(at(v, "f").i == INT64_MAX);
  CHECK(at(v, "g").is_float());
  CHECK(error_of("a = 9223372036854775808") ==
        "test.conf:1:5: integer '9223372036854775808' is out of range");
}

TEST_CASE("size suffixes: k/m/g/t/p/e are 1000s, with b/i/ib they are 1024s", "[config]") {
  value v = parse(R"(
k = 8k
K = 1K
kb = 4kb
ki = 3ki
kib = 4kib
m = 1m
mb = 2MB
mi = 2Mi
mib = 64MiB
g = 2g
gb = 22GB
gi = 22Gi
gib = 22GiB
t = 1t
tb = 22TB
ti = 22Ti
p = 1p
pb = 22PB
e = 1e
eb = 1EB
neg = -1m
neggb = -1GB
)");
  auto n = [&](const char* key) { return v.find_exact(key)->i; };
  CHECK(n("k") == 8'000);
  CHECK(n("K") == 1'000);
  CHECK(n("kb") == 4 * 1024);
  CHECK(n("ki") == 3 * 1024);
  CHECK(n("kib") == 4 * 1024);
  CHECK(n("m") == 1'000'000);
  CHECK(n("mb") == 2LL * 1024 * 1024);
  CHECK(n("mi") == 2LL * 1024 * 1024);
  CHECK(n("mib") == 64LL * 1024 * 1024);
  CHECK(n("g") == 2'000'000'000LL);
  CHECK(n("gb") == 22LL * 1024 * 1024 * 1024);
  CHECK(n("gi") == 22LL * 1024 * 1024 * 1024);
  CHECK(n("gib") == 22LL * 1024 * 1024 * 1024);
  CHECK(n("t") == 1'000'000'000'000LL);
  CHECK(n("tb") == 22LL * 1024 * 1024 * 1024 * 1024);
  CHECK(n("ti") == 22LL * 1024 * 1024 * 1024 * 1024);
  CHECK(n("p") == 1'000'000'000'000'000LL);
  CHECK(n("pb") == 22LL * 1024 * 1024 * 1024 * 1024 * 1024);
  CHECK(n("e") == 1'000'000'000'000'000'000LL);
  CHECK(n("eb") == 1LL << 60);
  CHECK(n("neg") == -1'000'000);
  CHECK(n("neggb") == -(1LL << 30));
  CHECK(at(parse("foo = 4Gb, bar = 5"), "foo").i == 4LL << 30);

  CHECK(error_of("x = 1kbb") == "test.conf:1:5: invalid size suffix 'kbb' in '1kbb' (k, m, g, t, p, e are "
                                "powers of 1000; kb, ki, kib and so on are powers of 1024)");
  CHECK(error_of("x = 10e") == "test.conf:1:5: integer '10e' is out of range");
  CHECK(error_of("x = 1k2") ==
        "test.conf:1:7: expected a new line, ';' or ',' after the value of 'x', found '2'");
}

TEST_CASE("booleans in any case", "[config]") {
  for (const char* t : {"true", "TRUE", "True", "yes", "Yes", "on", "ON"})
    CHECK(at(parse(std::string("foo = ") + t), "foo").b == true);
  for (const char* f : {"false", "FALSE", "no", "NO", "off", "Off"}) {
    value doc = parse(std::string("foo = ") + f);
    CHECK(at(doc, "foo").is_bool());
    CHECK(at(doc, "foo").b == false);
  }
  CHECK(at(parse("foo = 'true'"), "foo").is_string());
  CHECK(at(parse("foo = truex"), "foo").s == "truex");
}

TEST_CASE("datetimes in Zulu form", "[config]") {
  value v = parse("now = 2016-05-04T18:53:41Z\nleap = 2000-02-29T00:00:00Z\ngmt = false");
  const value& now = at(v, "now");
  REQUIRE(now.is_datetime());
  CHECK(now.s == "2016-05-04T18:53:41Z");
  CHECK(now.i == 1462388021);
  CHECK(at(v, "leap").i == 951782400);
  CHECK_FALSE(at(v, "gmt").b);
  CHECK(error_of("d = 2016-05-04") ==
        "test.conf:1:15: invalid datetime, expected the form YYYY-MM-DDTHH:MM:SSZ, found end of file");
  CHECK(error_of("d = 2016-13-04T18:53:41Z") ==
        "test.conf:1:5: invalid datetime '2016-13-04T18:53:41Z': a field is out of range");
  CHECK(error_of("d = 2015-02-29T00:00:00Z") ==
        "test.conf:1:5: invalid datetime '2015-02-29T00:00:00Z': a field is out of range");
  CHECK(error_of("d = 12-34") == "test.conf:1:5: dates must be in the full UTC form YYYY-MM-DDTHH:MM:SSZ");
}

TEST_CASE("JSON-style documents", "[config]") {
  value v = parse(R"(
{
  "http_port": 8227,
  "port": 4227,
  "write_deadline": "1h",
  "cluster": {
    "port": 6222,
    "routes": [
      "nats://127.0.0.1:4222",
      "nats://127.0.0.1:4223"
    ]
  }
}
)");
  CHECK(at(v, "http_port").i == 8227);
  CHECK(at(v, "write_deadline").s == "1h");
  CHECK(at(at(v, "cluster"), "routes").arr.size() == 2);
  CHECK(at(parse(R"({"http_port": 8224,"port": 4224})"), "port").i == 4224);
  CHECK(at(parse("{ listen: 0.0.0.0:4222 }"), "listen").s == "0.0.0.0:4222");
  CHECK(parse("{}").map.empty());
  CHECK(parse("\n{\n# comment\n}\n").map.empty());
  // nats-server accepts a stray '}' after the document.
  CHECK(at(parse("accounts { users = [{}]}\n}\n"), "accounts").is_map());
  CHECK(error_of("{\n  port: 4222\n") == "test.conf:1:1: unterminated block: no '}' matches this '{'");
}

TEST_CASE("CRLF line endings", "[config]") {
  value v = parse("a = 1\r\nb = \"x\"\r\nm {\r\n  c = [1,\r\n 2]\r\n}\r\nt (\r\nhi\r\n)\r\nd = bare\r\n");
  CHECK(at(v, "a").i == 1);
  CHECK(at(v, "b").s == "x");
  CHECK(at(at(v, "m"), "c").arr.size() == 2);
  CHECK(at(v, "t").s == "\r\nhi\r\n");
  CHECK(at(v, "d").s == "bare");
  CHECK(at(v, "d").pos.line == 10);
  CHECK(error_of("a = 1\r\nz = bad bad\r\n") ==
        "test.conf:2:9: expected a new line, ';' or ',' after the value of 'z', found 'b'");
}

TEST_CASE("a key may be followed by its value on a later line", "[config]") {
  // nats-server skips new lines between a key and a value without a separator.
  CHECK(at(parse("foo\n  2"), "foo").i == 2);
}

// ---------------------------------------------------------------------------
// Variables
// ---------------------------------------------------------------------------

TEST_CASE("variables resolve to earlier keys in enclosing maps", "[config]") {
  value v = parse(R"(
index = 22
foo = $index
nest {
  index = 11
  foo = $index
  deeper { bar = $index }
  list = [ { x = $index } ]
}
bar = $index
BAR_USERS = { users = [ {user = "bar"} ] }
accounts { bar = $BAR_USERS }
)");
  CHECK(at(v, "foo").i == 22);
  CHECK(at(at(v, "nest"), "foo").i == 11);
  CHECK(at(at(at(v, "nest"), "deeper"), "bar").i == 11);
  CHECK(at(at(at(v, "nest"), "list").arr.at(0), "x").i == 11);
  CHECK(at(v, "bar").i == 22);
  const value& users = at(at(at(v, "accounts"), "bar"), "users");
  REQUIRE(users.arr.size() == 1);
  CHECK(at(users.arr[0], "user").s == "bar");
  // A resolved value is positioned at the reference; the definition is marked.
  CHECK(at(v, "foo").pos.line == 3);
  CHECK(at(v, "foo").pos.column == 7);
  CHECK(at(v, "index").referenced);
  CHECK(at(v, "BAR_USERS").referenced);
  CHECK_FALSE(at(v, "foo").referenced);
}

TEST_CASE("variables do not see later keys, sibling maps or other case", "[config]") {
  CHECK_THAT(error_of("foo = $later\nlater = 1"), StartsWith("test.conf:1:7: variable '$later' is not defined"));
  CHECK_THAT(error_of("a { x = 1 }\nb { y = $x }"), StartsWith("test.conf:2:9: variable '$x' is not defined"));
  CHECK_THAT(error_of("Index = 1\nfoo = $index"), StartsWith("test.conf:2:7: variable '$index' is not defined"));
}

TEST_CASE("variables fall back to the environment, parsed as a value", "[config]") {
  scoped_env num("DIALTONE_TEST_NUM", "22");
  scoped_env str("DIALTONE_TEST_STR", "xyz");
  scoped_env quoted("DIALTONE_TEST_QUOTED", "'3xyz'");
  scoped_env size("DIALTONE_TEST_SIZE", "2MB");
  scoped_env nested("DIALTONE_TEST_NESTED", "$DIALTONE_TEST_NUM");
  value v = parse(R"(
a = $DIALTONE_TEST_NUM
b = $DIALTONE_TEST_STR
c = $DIALTONE_TEST_QUOTED
d = $DIALTONE_TEST_SIZE
e = $DIALTONE_TEST_NESTED
)");
  CHECK(at(v, "a").i == 22);
  CHECK(at(v, "b").s == "xyz");
  CHECK(at(v, "c").s == "3xyz");
  CHECK(at(v, "d").i == 2 * 1024 * 1024);
  CHECK(at(v, "e").i == 22);
  CHECK(at(v, "a").pos.line == 2);
  // A key in the file wins over the environment.
  CHECK(at(parse("DIALTONE_TEST_NUM = 5\nx = $DIALTONE_TEST_NUM"), "x").i == 5);
}

TEST_CASE("environment variable errors", "[config]") {
  scoped_env self("DIALTONE_TEST_SELF", "$DIALTONE_TEST_SELF");
  scoped_env bad("DIALTONE_TEST_BAD", "a b");
  CHECK(error_of("x = $DIALTONE_TEST_SELF") ==
        "test.conf:1:5: environment variable 'DIALTONE_TEST_SELF' could not be parsed: "
        "variable '$DIALTONE_TEST_SELF' refers to itself through the environment");
  CHECK_THAT(error_of("x = $DIALTONE_TEST_BAD"),
             StartsWith("test.conf:1:5: environment variable 'DIALTONE_TEST_BAD' could not be parsed: "));
  ::unsetenv("DIALTONE_TEST_UNSET");
  CHECK(error_of("\nport = $DIALTONE_TEST_UNSET") ==
        "test.conf:2:8: variable '$DIALTONE_TEST_UNSET' is not defined: no earlier key 'DIALTONE_TEST_UNSET' "
        "in an enclosing map and no environment variable of that name");
}

TEST_CASE("a lone '$' is an error", "[config]") {
  CHECK(error_of("a = $") == "test.conf:1:5: expected a variable name after '$'");
}

TEST_CASE("unquoted bcrypt hashes are not variables", "[config]") {
  CHECK(at(parse("password: $2a$11$ooo"), "password").s == "$2a$11$ooo");
}

// ---------------------------------------------------------------------------
// Includes
// ---------------------------------------------------------------------------

TEST_CASE("include merges a file relative to the including file", "[config]") {
  temp_dir dir;
  dir.write("conf/passwords.conf", "ALICE_PASS: alice_secret\nBOB_PASS = 'bob_secret'\n");
  dir.write("conf/tls.conf", "tls_key = 1\n");
  dir.write("conf/sub/nested.conf", "include ../tls.conf\nnested = true\n");
  std::string main = dir.write("conf/main.conf", R"(listen: 127.0.0.1:4222
include "sub/nested.conf"
authorization {
  include './passwords.conf'
  CAROL_PASS: foo
  users = [
    {user: alice, password: $ALICE_PASS}
    {user: bob,   password: $BOB_PASS}
    {user: carol, password: $CAROL_PASS}
  ]
}
after = 1
)");
  value v = parse_file(main);
  CHECK(at(v, "listen").s == "127.0.0.1:4222");
  CHECK(at(v, "nested").b);
  CHECK(at(v, "tls_key").i == 1);
  CHECK(at(v, "after").i == 1);
  const value& auth = at(v, "authorization");
  CHECK(at(auth, "ALICE_PASS").s == "alice_secret");
  const value& users = at(auth, "users");
  REQUIRE(users.arr.size() == 3);
  CHECK(at(users.arr[0], "password").s == "alice_secret");
  CHECK(at(users.arr[1], "password").s == "bob_secret");
  CHECK(at(users.arr[2], "password").s == "foo");
  // Values from an included file carry that file's position.
  CHECK_THAT(at(auth, "ALICE_PASS").pos.file, Contains("passwords.conf"));
  CHECK(at(auth, "BOB_PASS").pos.line == 2);
  CHECK(at(v, "listen").pos.file == main);
}

TEST_CASE("include errors name the file and position", "[config]") {
  temp_dir dir;
  std::string missing = dir.write("missing.conf", "a = 1\n  include 'nope.conf'\n");
  CHECK(file_error(missing) == missing + ":2:11: cannot read include file 'nope.conf': No such file or directory");

  std::string cycle = dir.write("a.conf", "x = 1\ninclude 'b.conf'\n");
  dir.write("b.conf", "include 'a.conf'\n");
  CHECK_THAT(file_error(cycle), Contains("b.conf:1:9: include cycle: 'a.conf' is already being parsed"));

  std::string bad_inner = dir.write("outer.conf", "include inner.conf\n");
  dir.write("inner.conf", "\nport: \"abc\n");
  CHECK(file_error(bad_inner) == (dir.path() / "inner.conf").string() + ":2:7: unterminated string: no closing '\"'");

  CHECK(error_of("include\n") == "test.conf:1:8: expected a file name after 'include'");
  CHECK(error_of("include [a]") == "test.conf:1:9: expected a file name after 'include', found '['");
}

TEST_CASE("parse_file reports an unreadable file", "[config]") {
  temp_dir dir;
  std::string path = (dir.path() / "absent.conf").string();
  try {
    parse_file(path);
    FAIL("expected an error");
  } catch (const parse_error& e) {
    CHECK(std::string(e.what()) == path + ": cannot read config file: No such file or directory");
    CHECK(e.pos.line == 0);
  }
}

// ---------------------------------------------------------------------------
// Syntax errors
// ---------------------------------------------------------------------------

TEST_CASE("syntax errors give file, line, column and a plain reason", "[config]") {
  CHECK(error_of("\n\nport: \n") == "test.conf:3:7: expected a value after 'port'");
  CHECK(error_of("port:") == "test.conf:1:6: expected a value after 'port'");
  CHECK(error_of("port") == "test.conf:1:5: expected a value after 'port'");
  CHECK(error_of("a = ,") == "test.conf:1:5: expected a value after 'a', found ','");
  CHECK(error_of("port = 4222\nhost = \"abc") == "test.conf:2:8: unterminated string: no closing '\"'");
  CHECK(error_of("host = 'abc") == "test.conf:1:8: unterminated string: no closing \"'\"");
  CHECK(error_of("'foo = 1") == "test.conf:1:1: unterminated quoted key");
  CHECK(error_of("a {\n  b = 1\n") == "test.conf:1:3: unterminated map: no '}' matches this '{'");
  CHECK(error_of("a = [1,\n 2") == "test.conf:1:5: unterminated array: no ']' matches this '['");
  CHECK(error_of("a = [1,\n 2\n") == "test.conf:1:5: unterminated array: no ']' matches this '['");
  CHECK(error_of("quote = (\n  foo = bar\n") ==
        "test.conf:1:9: unterminated block string: no line holding only ')' closes this '('");
  CHECK(error_of("foo = bar baz") ==
        "test.conf:1:11: expected a new line, ';' or ',' after the value of 'foo', found 'b'");
  CHECK(error_of(" :foo = 22") == "test.conf:1:2: unexpected ':', expected a key");
  CHECK(error_of("foo = .2") == "test.conf:1:7: floats must start with a digit");
  CHECK(error_of("foo = 1.x") == "test.conf:1:9: floats must have a digit after the '.', found 'x'");
  CHECK(error_of("foo = -x") == "test.conf:1:7: expected a digit after '-', found 'x'");
  CHECK(error_of("foo = [1 2]") == "test.conf:1:10: expected ',' or ']' after an array value, found '2'");
  CHECK(error_of("foo = [,1]") == "test.conf:1:8: unexpected ',' in array, expected a value");
  CHECK(error_of("m { a = 1 ]") == "test.conf:1:11: expected a new line, ';' or ',' after the value of 'a', found ']'");
  CHECK(error_of("m { a }") == "test.conf:1:7: expected a value after 'a', found '}'");
  CHECK(error_of("foo = \"\\q\"") ==
        "test.conf:1:8: invalid escape sequence: '\\' followed by 'q'; allowed are \\xHH, \\t, \\n, \\r, \\\" and \\\\");
  CHECK(error_of(R"(foo = "[\x]")") == "test.conf:1:9: expected two hexadecimal digits after '\\x', found ']'");
  CHECK(error_of(R"(foo = "[\xe]")") == "test.conf:1:9: expected two hexadecimal digits after '\\x', found ']'");
  CHECK(error_of("foo = xyz\\x\n") == "test.conf:1:10: expected two hexadecimal digits after '\\x', found a new line");
  // Columns count characters, not bytes.
  CHECK(error_of("name = \"ø\" x") == "test.conf:1:12: expected a new line, ';' or ',' after the value of 'name', found 'x'");
  CHECK(error_of("a = 1 \x01") ==
        "test.conf:1:7: expected a new line, ';' or ',' after the value of 'a', found byte 0x01");
}

TEST_CASE("deep nesting is an error, not a crash", "[config]") {
  CHECK(error_of("a = " + std::string(100000, '[')) == "test.conf:1:105: maps and arrays are nested too deeply");
  std::string maps;
  for (int n = 0; n < 5000; ++n) maps += "a { ";
  CHECK_THAT(error_of(maps), Contains("maps and arrays are nested too deeply"));
}

TEST_CASE("garbage input yields a value or a parse_error, never a crash or hang", "[config]") {
  std::mt19937 rng(20240611);
  const std::string alphabet = "{}[]()=:;,#/\\\"'$- \t\n\rabcxyz019.kKbBiImMgGeE_ø\x01";
  const std::string seed = R"(listen: 127.0.0.1:4222
max_payload: 2MB
ping_interval: "30s"
text (
block
)
authorization { users = [ {user: a, password: 'b'} ], timeout: 1.5 }
list = [1, 2k, "x\ty", $listen]
when = 2016-05-04T18:53:41Z
)";
  auto run = [](const std::string& input) {
    try {
      value v = parse(input);
      CHECK(v.is_map());
    } catch (const parse_error& e) {
      CHECK(e.pos.line >= 1);
      CHECK(e.pos.column >= 1);
    }
  };
  for (int n = 0; n < 3000; ++n) {
    std::string input;
    size_t len = rng() % 120;
    for (size_t k = 0; k < len; ++k) {
      input.push_back(rng() % 8 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()]);
    }
    run(input);
  }
  for (int n = 0; n < 3000; ++n) {  // mutations of a valid config
    std::string input = seed;
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
      size_t where = rng() % (input.size() + 1);
      switch (rng() % 3) {
        case 0: if (where < input.size()) input.erase(where, 1); break;
        case 1: input.insert(where, 1, alphabet[rng() % alphabet.size()]); break;
        default: input = input.substr(0, where); break;
      }
    }
    run(input);
  }
}

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

TEST_CASE("parse_duration accepts Go duration syntax", "[config]") {
  CHECK(parse_duration("2m") == 2min);
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("10us") == 10us);
  CHECK(parse_duration("10\u00b5s") == 10us);
  CHECK(parse_duration("10\u03bcs") == 10us);
  CHECK(parse_duration("7ns") == 7ns);
  CHECK(parse_duration("0") == 0ns);
  CHECK(parse_duration("-1.5h") == -90min);
  CHECK(parse_duration("+5s") == 5s);
  CHECK(parse_duration(".5s") == 500ms);
  CHECK(parse_duration("1.s") == 1s);
  CHECK(parse_duration("1h2m3s4ms5us6ns") == 1h + 2min + 3s + 4ms + 5us + 6ns);
  CHECK(parse_duration("9223372036854775807ns").count() == INT64_MAX);
  CHECK(parse_duration("-9223372036854775808ns").count() == INT64_MIN);
  CHECK(parse_duration("0.000000001s") == 1ns);
}

TEST_CASE("parse_duration rejects malformed text with a clear message", "[config]") {
  auto message = [](std::string_view text) -> std::string {
    try {
      parse_duration(text);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message("") == "invalid duration \"\" (expected a number and unit, e.g. \"2m\", \"1h30m\", \"500ms\")");
  CHECK_THAT(message("abc"), StartsWith("invalid duration \"abc\""));
  CHECK_THAT(message("-"), StartsWith("invalid duration \"-\""));
  CHECK_THAT(message(".s"), StartsWith("invalid duration \".s\""));
  CHECK(message("10") == "missing unit in duration \"10\" (use ns, us, ms, s, m or h)");
  CHECK(message("1.5.3s") == "missing unit in duration \"1.5.3s\" (use ns, us, ms, s, m or h)");
  CHECK(message("1x") == "unknown unit \"x\" in duration \"1x\" (use ns, us, ms, s, m or h)");
  CHECK(message("1d") == "unknown unit \"d\" in duration \"1d\" (use ns, us, ms, s, m or h)");
  CHECK_THAT(message("9223372036854775808ns"), StartsWith("invalid duration"));
  CHECK_THAT(message("3000000h"), StartsWith("invalid duration"));
}

// ---------------------------------------------------------------------------
// load_options
// ---------------------------------------------------------------------------

TEST_CASE("listen sets host and port", "[config][options]") {
  auto o = load("listen: 127.0.0.1:4333");
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 4333);
  o = load("host: 10.0.0.1\nlisten: :4334");
  CHECK(o.host == "0.0.0.0");
  CHECK(o.port == 4334);
  o = load("listen: 4335");
  CHECK(o.host == "0.0.0.0");
  CHECK(o.port == 4335);
  o = load("listen: \"4336\"");
  CHECK(o.port == 4336);
  o = load("listen: localhost:4337");
  CHECK(o.host == "localhost");
  CHECK(o.port == 4337);
  o = load("listen: \"[::1]:4338\"");
  CHECK(o.host == "::1");
  CHECK(o.port == 4338);
  o = load("listen: \"0.0.0.0:-1\"");
  CHECK(o.port == -1);
  CHECK(load_error("listen: nonsense") == "test.conf:1:9: listen 'nonsense' is not an address; expected "
                                          "\"host:port\", \":port\" or a port number");
  CHECK(load_error("listen: \"::1:4222\"") == "test.conf:1:9: listen '::1:4222' is not an address; expected "
                                             "\"host:port\", \":port\" or a port number");
  CHECK(load_error("listen: 70000") == "test.conf:1:9: listen must be a port between -1 and 65535");
  CHECK(load_error("listen: [1]") == "test.conf:1:9: listen must be a port or a \"host:port\" string");
}

TEST_CASE("simple server keys", "[config][options]") {
  auto o = load(R"(
net: 127.0.0.2
port: 5222
server_name: "n1"
max_payload: 2MB
max_control_line: 8kb
max_connections: 100
max_pending: 128MB
ping_interval: "30s"
ping_max: 5
write_deadline: "2.5s"
debug: true
trace: on
logfile: "/var/log/nats.log"
store_dir: "/data/js"
)");
  CHECK(o.host == "127.0.0.2");
  CHECK(o.port == 5222);
  CHECK(o.server_name == "n1");
  CHECK(o.max_payload == 2 * 1024 * 1024);
  CHECK(o.max_control_line == 8 * 1024);
  CHECK(o.max_connections == 100);
  CHECK(o.max_pending == 128LL * 1024 * 1024);
  CHECK(o.ping_interval == 30s);
  CHECK(o.ping_max == 5);
  CHECK(o.write_deadline == 2500ms);
  CHECK(o.debug);
  CHECK(o.trace);
  CHECK(o.logfile == "/var/log/nats.log");
  CHECK(o.store_dir == "/data/js");
  CHECK(o.warnings.empty());
}

TEST_CASE("aliases, key case and zero values", "[config][options]") {
  auto o = load("HOST: h\nPort: 0\nmax_conn: 7\nlog_file: x.log\nMax_Payload: 0\nstoredir: /s\ntrace_verbose: true");
  CHECK(o.host == "h");
  CHECK(o.port == 4222);  // 0 keeps the default, as nats-server
  CHECK(o.max_connections == 7);
  CHECK(o.logfile == "x.log");
  CHECK(o.max_payload == 1024 * 1024);
  CHECK(o.store_dir == "/s");
  CHECK(o.trace);
  CHECK(load("max_connections: 0").max_connections == -1);
  CHECK(load("ping_interval: \"0s\"").ping_interval == 2min);
  CHECK(load("write_deadline: \"0s\"").write_deadline == 0ms);
  CHECK(load("port: -1").port == -1);
  CHECK(load("write_deadline: \"500us\"").write_deadline == 1ms);  // rounded up to our resolution
  // Dialtone's own: the I/O loops' polling window before they sleep.
  CHECK(load("").busy_poll == 100us);
  CHECK(load("busy_poll: \"250us\"").busy_poll == 250us);
  CHECK(load("busy_poll: \"0s\"").busy_poll == 0us);
  CHECK_THROWS_WITH(load("busy_poll: \"soon\""), Catch::Contains("busy_poll"));
}

TEST_CASE("integer seconds for durations still work, with a warning", "[config][options]") {
  auto o = load("ping_interval: 30\nwrite_deadline: 5");
  CHECK(o.ping_interval == 30s);
  CHECK(o.write_deadline == 5s);
  REQUIRE(o.warnings.size() == 2);
  CHECK(o.warnings[0] == "test.conf:1: ping_interval should be converted to a duration, e.g. \"30s\"");
  CHECK(o.warnings[1] == "test.conf:2: write_deadline should be converted to a duration, e.g. \"5s\"");
}

TEST_CASE("authorization timeout", "[config][options]") {
  CHECK(load("authorization { timeout: 1.5 }").auth_timeout == 1500ms);
  CHECK(load("authorization { timeout: 3 }").auth_timeout == 3s);
  CHECK(load("authorization { TIMEOUT: \"250ms\", user: a, password: b }").auth_timeout == 250ms);
  CHECK(load("authorization { user: a }").auth_timeout == 2s);
  auto high = load("authorization { timeout: 90 }");
  CHECK(high.auth_timeout == 90s);
  REQUIRE(high.warnings.size() == 1);
  CHECK_THAT(high.warnings[0], StartsWith("test.conf:1: authorization timeout of 90"));
  CHECK(load_error("authorization: 5") == "test.conf:1:16: authorization must be a map");
  CHECK(load_error("authorization { timeout: true }") ==
        "test.conf:1:26: authorization timeout must be a number of seconds or a duration such as \"2s\"");
}

TEST_CASE("jetstream store_dir and duplicates", "[config][options]") {
  CHECK(load("jetstream { store_dir: /js, max_mem: 1G }").store_dir == "/js");
  CHECK(load("jetstream: enabled").store_dir == "./data");
  CHECK(load("jetstream: true\nstore_dir: /x").store_dir == "/x");
  CHECK(load_error("store_dir: /a\njetstream { store_dir: /b }") ==
        "test.conf:2:24: jetstream store_dir duplicates an earlier 'store_dir' setting");
  CHECK(load_error("jetstream: maybe") ==
        "test.conf:1:12: jetstream must be 'enabled' or 'disabled' when given as a string");
}

TEST_CASE("wrong value types are errors at the value", "[config][options]") {
  CHECK(load_error("debug: true\nport = \"abc\"") == "test.conf:2:8: port must be an integer");
  CHECK(load_error("debug: 1") == "test.conf:1:8: debug must be a boolean (true or false)");
  CHECK(load_error("server_name: 5") == "test.conf:1:14: server_name must be a string");
  CHECK(load_error("server_name: \"a b\"") == "test.conf:1:14: server_name cannot contain spaces");
  CHECK(load_error("max_payload: 4GB") == "test.conf:1:14: max_payload value is too big");
  CHECK(load_error("max_pending: -1") == "test.conf:1:14: max_pending must not be negative");
  CHECK(load_error("ping_interval: true") == "test.conf:1:16: ping_interval must be a duration such as \"30s\"");
  CHECK(load_error("ping_interval: \"abc\"") ==
        "test.conf:1:16: ping_interval is not a valid duration: invalid duration \"abc\" (expected a number "
        "and unit, e.g. \"2m\", \"1h30m\", \"500ms\")");
  CHECK(load_error("write_deadline: \"-1s\"") == "test.conf:1:17: write_deadline must not be negative");
  CHECK(load_error("logfile: [a]") == "test.conf:1:10: logfile must be a string");
  // The position of a value reached through a variable is the reference.
  CHECK(load_error("P = abc\nport: $P") == "test.conf:2:7: port must be an integer");
}

TEST_CASE("unknown keys are refused, as nats-server does; used variable definitions are not keys",
          "[config][options]") {
  CHECK(load_error("port: 4222\nfoo_bar: 1\n") == "test.conf:2:10: unknown field \"foo_bar\"");
  auto o = load("port: 4222\nPORT_BASE = 4000\nmax_payload: $PORT_BASE\n");
  CHECK(o.warnings.empty());
  CHECK(o.max_payload == 4000);
}

TEST_CASE("nats-server keys without a dialtone implementation load with a warning each", "[config][options]") {
  std::string text;
  std::vector<std::string> unsupported = {
      "client_advertise", "logtime", "logtime_utc", "mappings", "maps", "disable_sublist_cache", "no_sublist_cache",
      "default_sentinel", "http", "https", "http_port", "monitor_port", "https_port", "http_base_path", "cluster",
      "gateway", "leaf", "leafnodes", "logfile_size_limit", "log_size_limit", "logfile_max_num", "log_max_num",
      "syslog", "remote_syslog", "pidfile", "pid_file", "ports_file_dir", "prof_port", "prof_block_rate",
      "proxy_protocol", "max_traced_msg_len", "max_sub_tokens", "max_subscription_tokens", "allow_non_tls",
      "write_timeout", "lame_duck_duration", "lame_duck_grace_period", "roots", "root", "root_operators",
      "root_operator", "no_system_account", "no_system", "no_sys_acc", "connect_error_reports",
      "reconnect_error_reports", "websocket", "ws", "mqtt", "server_tags", "server_metadata", "feature_flags",
      "default_js_domain", "ocsp_cache", "no_fast_producer_stall", "max_closed_clients", "proxies"};
  for (auto& key : unsupported) text += key + ": {}\n";
  // Read by the accounts loader or implemented: no warning.
  for (const char* key : {"accounts", "no_auth_user", "system_account", "system", "jetstream"})
    text += std::string(key) + ": {}\n";
  auto o = load(text);
  REQUIRE(o.warnings.size() == unsupported.size());
  CHECK(o.warnings[0] ==
        "test.conf:1: 'client_advertise' is a nats-server option dialtone does not support yet; it is ignored");
  CHECK(o.warnings.back().find("'proxies'") != std::string::npos);
}

TEST_CASE("security options dialtone does not implement yet refuse to start", "[config][options]") {
  // Without them the server would run weaker than configured.
  for (const char* key : {"ocsp", "account_resolver", "accounts_resolver", "resolver_tls", "resolver_pinned_accounts"}) {
    INFO(key);
    CHECK(load_error(std::string(key) + ": {}\n") ==
          "test.conf:1:" + std::to_string(std::strlen(key) + 3) + ": " + key +
              " is not supported by dialtone yet; remove it rather than run without it");
  }
}

TEST_CASE("tls blocks are read with nats-server's keys", "[config][options][tls]") {
  auto o = load("tls {\n  cert_file: \"s.pem\"\n  key_file: \"s-key.pem\"\n  ca_file: ca.pem\n  verify_and_map: true\n"
                "  timeout: 0.5\n  min_version: \"1.3\"\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n}\n");
  CHECK(o.tls.enabled);
  CHECK(o.tls.cert_file == "s.pem");
  CHECK(o.tls.key_file == "s-key.pem");
  CHECK(o.tls.ca_file == "ca.pem");
  CHECK(o.tls.verify);  // verify_and_map implies verify
  CHECK(o.tls.verify_and_map);
  CHECK(o.tls.timeout == std::chrono::milliseconds(500));
  CHECK(o.tls.min_version == "1.3");
  CHECK(o.tls.cipher_suites == std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
  CHECK(load("tls { cert_file: a, key_file: b, timeout: \"3s\" }\n").tls.timeout == std::chrono::seconds(3));
  CHECK(load_error("tls { cert_file: a }\n") == "test.conf:1:5: tls needs cert_file and key_file");
  CHECK(load_error("tls { cert_file: a, key_file: b, min_version: \"1.0\" }\n") ==
        "test.conf:1:47: tls min_version must be \"1.2\" or \"1.3\"");
  CHECK(load_error("tls { cert_file: a, key_file: b, verfy: true }\n").find("tls verfy is not a tls setting") !=
        std::string::npos);
  CHECK(load_error("tls { cert_file: a, key_file: b, timeout: 0 }\n").find("must be more than 0") != std::string::npos);
}

TEST_CASE("max_subs and no_header_support apply", "[config][options]") {
  auto o = load("max_subs: 10\nno_header_support: true\n");
  CHECK(o.max_subs == 10);
  CHECK_FALSE(o.header_support);
  o = load("max_subscriptions: 0\n");  // nats-server: 0 is unlimited
  CHECK(o.max_subs == -1);
  CHECK(o.header_support);
  CHECK(load_error("max_subs: -2") == "test.conf:1:11: max_subs must not be negative");
}

TEST_CASE("a real nats-server config loads", "[config][options]") {
  temp_dir dir;
  dir.write("accounts.conf", R"(
accounts {
  # An included file is parsed on its own: it cannot see the includer's keys.
  SYS: { users: [ { user: sys, password: "sys-secret" } ] }
  APP: {
    jetstream: enabled
    users: [
      { user: app, password: "app-secret", permissions: { publish: "app.>", subscribe: ["app.>", "_INBOX.>"] } }
    ]
    exports: [ { stream: "app.events.>" } ]
  }
}
)");
  std::string path = dir.write("nats.conf", R"(# nats-server style configuration
server_name: dialtone-1
listen: 0.0.0.0:4223
http_port: 8222
max_payload: 2MB
max_connections: 10k
ping_interval: "30s"
ping_max: 3
write_deadline: "5s"
lame_duck_duration: "30s"
logtime: true
debug: false
trace: false
log_file: "/tmp/nats.log"
pid_file: "/tmp/nats.pid"

SYS_PASS = "s3cret"

authorization {
  timeout: 2.5
  users = [
    { user: admin, password: $SYS_PASS }
  ]
}

include ./accounts.conf
system_account: SYS
no_auth_user: app

jetstream {
  store_dir: "/var/lib/dialtone"
  max_mem: 1G
  max_file: 10G
}

cluster {
  name: c1
  listen: 0.0.0.0:6222
  routes = [
    nats-route://127.0.0.1:6223
  ]
}

)");
  server_options o;
  load_options(parse_file(path), o);
  CHECK(o.server_name == "dialtone-1");
  CHECK(o.host == "0.0.0.0");
  CHECK(o.port == 4223);
  CHECK(o.max_payload == 2 * 1024 * 1024);
  CHECK(o.max_connections == 10'000);
  CHECK(o.ping_interval == 30s);
  CHECK(o.ping_max == 3);
  CHECK(o.write_deadline == 5s);
  CHECK(o.auth_timeout == 2500ms);
  CHECK_FALSE(o.debug);
  CHECK_FALSE(o.trace);
  CHECK(o.logfile == "/tmp/nats.log");
  CHECK(o.store_dir == "/var/lib/dialtone");
  CHECK(o.max_control_line == 4096);  // untouched defaults stay
  // http_port, lame_duck_duration, logtime, pid_file and cluster are not implemented yet.
  CHECK(o.warnings.size() == 5);

  CHECK_THROWS_AS(parse_file((dir.path() / "absent.conf").string()), parse_error);
}

TEST_CASE("request_log block: rules, limits and clear errors", "[config][options]") {
  CHECK_FALSE(load("").request_log);
  auto o = load(R"(request_log {
  record: [ { account: A, subjects: ["orders.>", "billing.*"] }, { account: B, subject: "price.>" } ]
  max_age: 30d
  max_bytes: 10GB
  auditor: AUDIT
  response_threshold: "500ms"
  max_cpu: 0.25
  max_queue: 100
})");
  CHECK(o.request_log);
  REQUIRE(o.rlog_record.size() == 2);
  CHECK(o.rlog_record[0].account == "A");
  CHECK(o.rlog_record[0].subjects == std::vector<std::string>{"orders.>", "billing.*"});
  CHECK(o.rlog_record[1].subjects == std::vector<std::string>{"price.>"});
  CHECK(o.rlog_max_age == std::chrono::hours(24 * 30));
  CHECK(o.rlog_max_bytes == 10LL * 1024 * 1024 * 1024);  // GB: 1024-based, as nats-server's parser
  CHECK(o.rlog_auditor == "AUDIT");
  CHECK(o.rlog_response_threshold == 500ms);
  CHECK(o.rlog_max_cpu == 0.25);
  CHECK(o.rlog_max_queue == 100);
  auto d = load("request_log { record: [ { account: A, subjects: [\"x\"] } ] }");
  CHECK(d.rlog_max_age == 0s);
  CHECK(d.rlog_max_bytes == -1);
  CHECK(d.rlog_response_threshold == 2s);
  CHECK(d.rlog_max_cpu == 0.1);

  CHECK_THROWS_WITH(load("request_log { record: [ { subjects: [\"x\"] } ] }"), Catch::Contains("needs an account"));
  CHECK_THROWS_WITH(load("request_log { record: [ { account: A } ] }"), Catch::Contains("needs subjects"));
  CHECK_THROWS_WITH(load("request_log { record: [ { account: A, subjects: [\"a..b\"] } ] }"),
                    Catch::Contains("not a valid subject"));
  CHECK_THROWS_WITH(load("request_log { max_cpu: 0 }"), Catch::Contains("share of one core"));
  CHECK_THROWS_WITH(load("request_log { max_cpu: 2 }"), Catch::Contains("share of one core"));
  CHECK_THROWS_WITH(load("request_log { max_queue: 0 }"), Catch::Contains("more than 0"));
  CHECK_THROWS_WITH(load("request_log { max_age: \"forever\" }"), Catch::Contains("max_age"));
  CHECK_THROWS_WITH(load("request_log { recrod: [] }"), Catch::Contains("is not a request_log setting"));
  CHECK_THROWS_WITH(load("request_log: true"), Catch::Contains("a map"));
}
