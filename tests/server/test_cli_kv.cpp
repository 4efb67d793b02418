// The dialtone CLI's kv and stream commands, run as real processes against a
// JetStream-enabled server. Outputs are checked as text (stdout and stderr together).
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

using namespace testing_support::cli;


TEST_CASE("cli kv: add, put, get, history, keys, del", "[jetstream][cli]") {
  js_server srv;
  auto& s = srv.s;
  auto add = ok(s, {"kv", "add", "CONFIG", "--history", "5", "--ttl", "1h"});
  CHECK(has(add, "Bucket CONFIG"));
  CHECK(has(add, "History: 5"));
  CHECK(has(add, "TTL: 1h"));

  CHECK(ok(s, {"kv", "put", "CONFIG", "app.name", "dialtone"}) == "1\n");
  CHECK(ok(s, {"kv", "put", "CONFIG", "app.port", "4222"}) == "2\n");
  CHECK(ok(s, {"kv", "put", "CONFIG", "app.name", "dialtone two"}) == "3\n");
  // The value from stdin.
  auto piped = run_command(
      {"/bin/sh", "-c", "printf 'line one\\nline two' | '" + cli_bin + "' -s " + s.url() + " kv put CONFIG motd"},
      10s);
  INFO(piped.output);
  CHECK(piped.exit_code == 0);
  CHECK(piped.output == "4\n");

  auto got = ok(s, {"kv", "get", "CONFIG", "app.name"});
  auto l = lines(got);
  REQUIRE(l.size() == 2);
  CHECK(l[0].rfind("CONFIG > app.name revision: 3 created: 20", 0) == 0);
  CHECK(l[1] == "dialtone two");
  CHECK(ok(s, {"kv", "get", "CONFIG", "app.name", "--raw"}) == "dialtone two");
  CHECK(ok(s, {"kv", "get", "CONFIG", "motd", "--raw"}) == "line one\nline two");
  CHECK(has(ok(s, {"kv", "get", "CONFIG", "app.name", "--revision", "1"}), "revision: 1 created: "));
  CHECK(ok(s, {"kv", "get", "CONFIG", "app.name", "--revision", "1", "--raw"}) == "dialtone");

  auto hist = lines(ok(s, {"kv", "history", "CONFIG", "app.name"}));
  REQUIRE(hist.size() == 3);
  CHECK(cells(hist[0]) == std::vector<std::string>{"Revision", "Op", "Created", "Length", "Value"});
  auto r1 = cells(hist[1]), r2 = cells(hist[2]);
  REQUIRE(r1.size() == 5);
  REQUIRE(r2.size() == 5);
  CHECK(r1[0] == "1");
  CHECK(r1[1] == "PUT");
  CHECK(r1[3] == "8");
  CHECK(r1[4] == "dialtone");
  CHECK(r2[0] == "3");
  CHECK(r2[4] == "dialtone two");
  // Columns line up: every cell of a column starts at the header's offset.
  CHECK(hist[1].find("PUT") == hist[0].find("Op"));
  CHECK(hist[2].find("dialtone two") == hist[0].find("Value"));
  // A multi-line value stays on one row.
  auto motd = lines(ok(s, {"kv", "history", "CONFIG", "motd"}));
  REQUIRE(motd.size() == 2);
  CHECK(has(motd[1], "line one\\nline two"));

  CHECK(ok(s, {"kv", "keys", "CONFIG"}) == "app.name\napp.port\nmotd\n");

  auto del = ok(s, {"kv", "del", "CONFIG", "app.port"});
  CHECK(has(del, "Deleted key \"app.port\""));
  auto missing = dialtone(s, {"kv", "get", "CONFIG", "app.port"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.output == "dialtone: key not found: app.port\n");
  auto again = dialtone(s, {"kv", "del", "CONFIG", "app.port"});
  CHECK(again.exit_code == 1);
  CHECK(again.output == "dialtone: key not found: app.port\n");
  auto port_hist = lines(ok(s, {"kv", "history", "CONFIG", "app.port"}));
  REQUIRE(port_hist.size() == 3);
  CHECK(cells(port_hist[2])[1] == "DEL");
  CHECK(ok(s, {"kv", "keys", "CONFIG"}) == "app.name\nmotd\n");

  auto purge = ok(s, {"kv", "purge", "CONFIG", "app.name"});
  CHECK(has(purge, "Purged key \"app.name\""));
  auto purged_hist = lines(ok(s, {"kv", "history", "CONFIG", "app.name"}));
  REQUIRE(purged_hist.size() == 2);
  CHECK(cells(purged_hist[1])[1] == "PURGE");

  auto status = ok(s, {"kv", "status", "CONFIG"});
  CHECK(has(status, "Bucket CONFIG"));
  // Stored messages: motd, app.port's value and delete marker, app.name's purge marker.
  CHECK(has(status, "Values: 4"));
  CHECK(has(status, "Backing stream: KV_CONFIG"));
}

TEST_CASE("cli kv: ls and rm", "[jetstream][cli]") {
  js_server srv;
  auto& s = srv.s;
  auto empty = dialtone(s, {"kv", "ls"});
  CHECK(empty.exit_code == 0);
  CHECK(empty.output == "no key-value buckets\n");

  ok(s, {"kv", "add", "alpha", "--history", "3"});
  ok(s, {"kv", "add", "beta", "--ttl", "90s", "--storage", "memory"});
  ok(s, {"kv", "put", "alpha", "k1", "v"});
  ok(s, {"kv", "put", "alpha", "k2", "v"});

  auto no_keys = dialtone(s, {"kv", "keys", "beta"});
  CHECK(no_keys.exit_code == 0);
  CHECK(no_keys.output == "no keys in bucket \"beta\"\n");

  auto ls = lines(ok(s, {"kv", "ls"}));
  REQUIRE(ls.size() == 3);
  CHECK(cells(ls[0]) == std::vector<std::string>{"Bucket", "Values", "History", "TTL", "Size"});
  auto a = cells(ls[1]), b = cells(ls[2]);
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == 5);
  CHECK(a[0] == "alpha");
  CHECK(a[1] == "2");
  CHECK(a[2] == "3");
  CHECK(a[3] == "-");
  CHECK(b[0] == "beta");
  CHECK(b[1] == "0");
  CHECK(b[2] == "1");
  CHECK(b[3] == "1m30s");
  CHECK(b[4] == "0 B");
  for (const auto& row : ls) CHECK(row.size() <= 80);

  // The buckets' streams are hidden from stream ls unless asked for.
  CHECK(dialtone(s, {"stream", "ls"}).output ==
        "no streams (2 behind key-value buckets or object stores; see --all)\n");
  CHECK(has(ok(s, {"stream", "ls", "--all"}), "KV_alpha"));

  // rm asks for confirmation; without a terminal it needs -f.
  auto refused = dialtone(s, {"kv", "rm", "alpha"});
  CHECK(refused.exit_code == 1);
  CHECK(has(refused.output, "use -f"));
  CHECK(has(ok(s, {"kv", "rm", "alpha", "-f"}), "Deleted bucket \"alpha\""));
  auto gone = dialtone(s, {"kv", "get", "alpha", "k1"});
  CHECK(gone.exit_code == 1);
  CHECK(gone.output == "dialtone: bucket not found: alpha\n");
  auto ls2 = lines(ok(s, {"kv", "ls"}));
  REQUIRE(ls2.size() == 2);
  CHECK(cells(ls2[1])[0] == "beta");
  auto rm_missing = dialtone(s, {"kv", "rm", "alpha", "-f"});
  CHECK(rm_missing.exit_code == 1);
  CHECK(rm_missing.output == "dialtone: bucket not found: alpha\n");
}

TEST_CASE("cli kv: watch prints current values and updates until SIGTERM", "[jetstream][cli]") {
  js_server srv;
  auto& s = srv.s;
  ok(s, {"kv", "add", "W"});
  ok(s, {"kv", "put", "W", "a", "1"});
  ok(s, {"kv", "put", "W", "user.x", "old"});
  // Through a shell, to learn the watcher's pid and exit code.
  background_command watch(
      {"/bin/sh", "-c",
       "'" + cli_bin + "' -s " + s.url() + " kv watch W 'user.>' & echo PID=$!; wait $!; echo EXIT=$?"});
  auto wait_for = [&](const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      if (has(watch.output_so_far(), text)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  REQUIRE(wait_for("Watching bucket \"W\" for \"user.>\""));
  REQUIRE(wait_for("user.x: old"));
  ok(s, {"kv", "put", "W", "user.x", "new"});
  ok(s, {"kv", "put", "W", "a", "2"});  // not watched
  ok(s, {"kv", "del", "W", "user.x"});
  REQUIRE(wait_for("DEL W > user.x"));
  auto out = watch.output_so_far();
  auto pid_line = line_starting(out, "PID=");
  REQUIRE_FALSE(pid_line.empty());
  ::kill(std::stoi(pid_line.substr(4)), SIGTERM);
  auto r = watch.finish(5s);
  INFO(r.output);
  CHECK(has(r.output, "EXIT=0"));
  auto put_old = line_starting(r.output, "[");
  CHECK(put_old.size() > 22);
  CHECK(put_old.substr(21) == "] PUT W > user.x: old");
  CHECK(has(r.output, "] PUT W > user.x: new\n"));
  CHECK_FALSE(has(r.output, "W > a"));
}

TEST_CASE("cli kv: errors", "[jetstream][cli]") {
  js_server srv;
  auto& s = srv.s;
  auto nobucket = dialtone(s, {"kv", "get", "NOPE", "k"});
  CHECK(nobucket.exit_code == 1);
  CHECK(nobucket.output == "dialtone: bucket not found: NOPE\n");
  auto status = dialtone(s, {"kv", "status", "NOPE"});
  CHECK(status.output == "dialtone: bucket not found: NOPE\n");

  auto badbucket = dialtone(s, {"kv", "add", "bad.bucket"});
  CHECK(badbucket.exit_code == 1);
  CHECK(has(badbucket.output, "dialtone: invalid bucket name \"bad.bucket\""));
  ok(s, {"kv", "add", "B"});
  for (std::string key : {".lead", "trail.", "dou..ble", "sp ace", "star*"}) {
    auto r = dialtone(s, {"kv", "put", "B", key, "v"});
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "dialtone: invalid key \"" + key + "\""));
  }
  auto history = dialtone(s, {"kv", "add", "B", "--history", "65"});
  CHECK(history.exit_code != 0);
  auto ttl = dialtone(s, {"kv", "add", "C", "--ttl", "soon"});
  CHECK(ttl.exit_code == 1);
  CHECK(has(ttl.output, "invalid TTL \"soon\""));
  auto different = dialtone(s, {"kv", "add", "B", "--history", "9"});
  CHECK(different.exit_code == 1);
  CHECK(different.output == "dialtone: bucket \"B\" already exists with a different configuration\n");

  auto unknown = dialtone(s, {"kv", "frob"});
  CHECK(unknown.exit_code == 2);
  CHECK(has(unknown.output, "dialtone: unknown kv command \"frob\""));

  auto refused = run_command({cli_bin, "-s", "nats://127.0.0.1:1", "kv", "ls"}, 10s);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output == "dialtone: cannot connect to nats://127.0.0.1:1: server unreachable\n");
}

TEST_CASE("cli kv and stream: JetStream not enabled", "[jetstream][cli]") {
  server_process s;  // no -js
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{"kv", "ls"},
                                                                             {"kv", "add", "B"},
                                                                             {"kv", "get", "B", "k"},
                                                                             {"stream", "ls"},
                                                                             {"stream", "info", "S"}}) {
    auto r = dialtone(s, args);
    CHECK(r.exit_code == 1);
    CHECK(r.output == "dialtone: JetStream is not enabled on the server (start it with -js)\n");
  }
}

TEST_CASE("cli stream: add, ls, info, view, rm", "[jetstream][cli]") {
  js_server srv;
  auto& s = srv.s;
  CHECK(dialtone(s, {"stream", "ls"}).output == "no streams\n");

  auto add = ok(s, {"stream", "add", "ORDERS", "--subjects", "orders.new,orders.shipped", "--max-age", "7d",
                    "--max-msgs-per-subject", "100", "--storage", "memory"});
  CHECK(has(add, "Stream ORDERS created "));
  CHECK(has(add, "Subjects: orders.new, orders.shipped"));
  CHECK(has(add, "Storage: memory"));
  CHECK(has(add, "Retention: limits"));
  CHECK(has(add, "Max age: 168h"));
  CHECK(has(add, "Max msgs per subject: 100"));
  CHECK(has(add, "Messages: 0"));

  ok(s, {"pub", "orders.new", "{\"id\":1}"});
  ok(s, {"pub", "orders.shipped", "{\"id\":1,\"carrier\":\"ups\"}"});
  ok(s, {"pub", "orders.new", "second", "-H", "X-Trace:abc"});
  ok(s, {"pub", "elsewhere", "not stored"});

  // The stream stores published messages asynchronously: wait for all three.
  std::string info;
  for (int i = 0; i < 100; ++i) {
    info = ok(s, {"stream", "info", "ORDERS"});
    if (has(info, "Messages: 3")) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(has(info, "Messages: 3"));
  CHECK(has(info, "Last sequence: 3 @ 20"));
  CHECK(has(info, "Number of subjects: 2"));

  auto ls = lines(ok(s, {"stream", "ls"}));
  REQUIRE(ls.size() == 2);
  CHECK(cells(ls[0]) == std::vector<std::string>{"Stream", "Subjects", "Messages", "Bytes", "Last seq"});
  auto row = cells(ls[1]);
  REQUIRE(row.size() == 5);
  CHECK(row[0] == "ORDERS");
  CHECK(row[1].rfind("orders.new,", 0) == 0);
  CHECK(row[2] == "3");
  CHECK(row[4] == "3");

  auto view = ok(s, {"stream", "view", "ORDERS"});
  auto vl = lines(view);
  REQUIRE(vl.size() >= 10);
  CHECK(vl[0].rfind("[1] Subject: orders.new Received: 20", 0) == 0);
  CHECK(vl[1] == "{\"id\":1}");
  CHECK(vl[3].rfind("[2] Subject: orders.shipped Received: ", 0) == 0);
  CHECK(vl[4] == "{\"id\":1,\"carrier\":\"ups\"}");
  CHECK(vl[6].rfind("[3] Subject: orders.new ", 0) == 0);
  CHECK(vl[7] == "X-Trace: abc");
  CHECK(vl[9] == "second");
  CHECK_FALSE(has(view, "not stored"));

  auto page = ok(s, {"stream", "view", "ORDERS", "--since-seq", "2", "--count", "1"});
  CHECK(page.rfind("[2] Subject: orders.shipped", 0) == 0);
  CHECK_FALSE(has(page, "[1]"));
  CHECK_FALSE(has(page, "[3]"));

  auto overlap = dialtone(s, {"stream", "add", "OTHER", "--subjects", "orders.new"});
  CHECK(overlap.exit_code == 1);
  CHECK(has(overlap.output, "overlap"));
  auto bad_name = dialtone(s, {"stream", "add", "a.b", "--subjects", "x"});
  CHECK(bad_name.exit_code == 1);
  CHECK(has(bad_name.output, "invalid stream name \"a.b\""));

  // rm asks for confirmation as kv rm does; without a terminal it needs -f, and the
  // stream stays.
  auto refused = dialtone(s, {"stream", "rm", "ORDERS"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.output == "dialtone: refusing to delete stream \"ORDERS\" without confirmation; use -f\n");
  CHECK(has(ok(s, {"stream", "info", "ORDERS"}), "ORDERS"));
  CHECK(ok(s, {"stream", "rm", "ORDERS", "-f"}) == "Deleted stream \"ORDERS\"\n");
  auto gone = dialtone(s, {"stream", "info", "ORDERS"});
  CHECK(gone.exit_code == 1);
  CHECK(gone.output == "dialtone: stream not found: ORDERS\n");
  CHECK(dialtone(s, {"stream", "rm", "ORDERS"}).output == "dialtone: stream not found: ORDERS\n");
  CHECK(dialtone(s, {"stream", "ls"}).output == "no streams\n");
}
