// The dialtone CLI and dialtone-server's own command line, run as real processes.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <thread>

#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

const std::string cli = DIALTONE_CLI_BIN;
const std::string server_bin = DIALTONE_SERVER_BIN;

// Waits until a background `dialtone sub`/`reply` says it is listening.
void wait_listening(background_command& c) {
  for (int i = 0; i < 200; ++i) {
    if (c.output_so_far().find("Listening") != std::string::npos) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("subscriber never started: " << c.output_so_far());
}

}  // namespace

TEST_CASE("cli: pub reaches sub", "[cli]") {
  server_process s;
  background_command sub({cli, "-s", s.url(), "sub", "greetings.*", "--count", "2"});
  wait_listening(sub);
  auto p1 = run_command({cli, "-s", s.url(), "pub", "greetings.en", "hello"}, 5s);
  auto p2 = run_command({cli, "-s", s.url(), "pub", "greetings.fr", "bonjour"}, 5s);
  CHECK(p1.exit_code == 0);
  CHECK(p2.exit_code == 0);
  auto r = sub.finish(5s);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("Received on \"greetings.en\"") != std::string::npos);
  CHECK(r.output.find("hello") != std::string::npos);
  CHECK(r.output.find("bonjour") != std::string::npos);
}

TEST_CASE("cli: req gets the reply", "[cli]") {
  server_process s;
  background_command rep({cli, "-s", s.url(), "reply", "time.now", "noon", "--count", "1"});
  wait_listening(rep);
  auto r = run_command({cli, "-s", s.url(), "req", "time.now", "what time?"}, 5s);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("noon") != std::string::npos);
  CHECK(rep.finish(5s).output.find("what time?") != std::string::npos);
}

TEST_CASE("cli: queue subscribers share messages", "[cli]") {
  server_process s;
  background_command a({cli, "-s", s.url(), "sub", "jobs", "--queue", "w", "--raw"});
  background_command b({cli, "-s", s.url(), "sub", "jobs", "--queue", "w", "--raw"});
  wait_listening(a);
  wait_listening(b);
  auto p = run_command({cli, "-s", s.url(), "pub", "jobs", "job", "--count", "40"}, 5s);
  CHECK(p.exit_code == 0);
  std::this_thread::sleep_for(300ms);
  auto count = [](const std::string& s) {  // --raw prints one payload per line
    size_t n = 0;
    for (size_t i = s.find("\njob\n"); i != std::string::npos; i = s.find("\njob\n", i + 1)) ++n;
    return n;
  };
  size_t na = count(a.output_so_far()), nb = count(b.output_so_far());
  CHECK(na + nb == 40);
}

TEST_CASE("cli: errors are one clear line and a non-zero exit", "[cli][bad-input]") {
  server_process s;
  auto nores = run_command({cli, "-s", s.url(), "req", "nobody.home", "hi"}, 5s);
  CHECK(nores.exit_code != 0);
  CHECK(nores.output == "dialtone: no responders for \"nobody.home\"\n");
  auto refused = run_command({cli, "-s", "nats://127.0.0.1:1", "pub", "foo", "x"}, 5s);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("cannot connect to nats://127.0.0.1:1") != std::string::npos);
  // A password in the URL never reaches an error message.
  auto secret = run_command({cli, "-s", "nats://alice:s3cret@127.0.0.1:1", "pub", "foo", "x"}, 5s);
  CHECK(secret.output.find("cannot connect to nats://alice:***@127.0.0.1:1") != std::string::npos);
  CHECK(secret.output.find("s3cret") == std::string::npos);
  auto bad = run_command({cli, "-s", s.url(), "pub", "bad subject", "x"}, 5s);
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("invalid subject") != std::string::npos);
}

TEST_CASE("server: --help, --version and unknown flags", "[cli]") {
  auto help = run_command({server_bin, "--help"}, 5s);
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("--port") != std::string::npos);
  CHECK(help.output.find("--config") != std::string::npos);
  auto ver = run_command({server_bin, "--version"}, 5s);
  CHECK(ver.exit_code == 0);
  CHECK(ver.output.find("dialtone-server: v") == 0);
  auto bad = run_command({server_bin, "--no-such-flag"}, 5s);
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("Usage") != std::string::npos);
}

TEST_CASE("server: config errors stop start-up with file:line:column", "[cli][bad-input]") {
  auto path = write_temp_file("broken.conf", "port: 4222\nmax_payload: {\n");
  auto r = run_command({server_bin, "-c", path}, 5s);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(path + ":") != std::string::npos);
  CHECK(r.output.find("configuration error") != std::string::npos);
  auto typed = write_temp_file("typed.conf", "port: \"abc\"\n");
  r = run_command({server_bin, "-c", typed}, 5s);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(typed + ":1:7: port must be an integer") != std::string::npos);
}

TEST_CASE("server: config values apply and unsupported keys are warned about by name", "[cli]") {
  server_process s({"-n", "flagname"}, "server_name: confname\nmax_payload: 2KB\ncluster { port: 6222 }\n"
                                       "jetstream { store_dir: /tmp/x }\naccounts { A { users = [] } }\n");
  raw_client c(s.port());
  auto info = c.read_until("\r\n");
  CHECK(info.find("\"max_payload\":2048") != std::string::npos);
  CHECK(info.find("\"server_name\":\"flagname\"") != std::string::npos);  // the flag wins
  auto log = s.log();
  CHECK(log.find("'cluster' is a nats-server option dialtone does not support yet; it is ignored") !=
        std::string::npos);
  CHECK(log.find("'jetstream'") == std::string::npos);
  CHECK(log.find("'accounts'") == std::string::npos);
}

TEST_CASE("server: an unknown key or a tls block without its files refuses to start", "[cli][bad-input]") {
  auto unknown = write_temp_file("unknown.conf", "port: 4222\nmystery_key: 1\n");
  auto r = run_command({server_bin, "-c", unknown}, 5s);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(unknown + ":2:14: unknown field \"mystery_key\"") != std::string::npos);
  // A tls block whose certificate cannot be read must not quietly serve plain text.
  auto tls = write_temp_file("tls.conf", "tls {\n  cert_file: server.pem\n  key_file: server-key.pem\n}\n");
  r = run_command({server_bin, "-c", tls, "-p", "-1"}, 5s);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("tls cert_file \"server.pem\"") != std::string::npos);
}

TEST_CASE("server: a port in use is a clear start-up error", "[cli][bad-input]") {
  server_process first;
  auto r = run_command({server_bin, "-a", "127.0.0.1", "-p", std::to_string(first.port())}, 5s);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
}

TEST_CASE("the README's example configurations behave as documented", "[cli][accounts]") {
  const std::string dir = std::string(DIALTONE_SOURCE_DIR) + "/examples/configs/";
  {
    server_process s({"-c", dir + "usage-service.conf"});
    background_command rep({cli, "-s", "nats://svc:svcpass@127.0.0.1:" + std::to_string(s.port()), "reply",
                            "svc.usage.*", "{\"calls\": 1234}", "--count", "1"});
    wait_listening(rep);
    auto r = run_command({cli, "-s", "nats://alice:alicepass@127.0.0.1:" + std::to_string(s.port()), "req", "usage",
                          "how much?"},
                         5s);
    CHECK(r.exit_code == 0);
    CHECK(r.output == "{\"calls\": 1234}\n");
    CHECK(rep.finish(5s).output.find("Received on \"svc.usage.A\"") != std::string::npos);
  }
  auto bad = run_command({server_bin, "-c", dir + "forbidden-import.conf"}, 5s);
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("forbidden-import.conf:14:7: account \"A\" cannot import service \"svc.usage.B\"") !=
        std::string::npos);
}

TEST_CASE("server: -l writes the log to a file and -V traces the protocol", "[cli]") {
  auto dir = write_temp_file("placeholder", "");
  auto log_path = dir.substr(0, dir.rfind('/')) + "/server.log";
  auto port_probe = std::make_unique<server_process>();  // a free port to reuse below
  int port = port_probe->port();
  port_probe.reset();
  background_command srv({server_bin, "-a", "127.0.0.1", "-p", std::to_string(port), "-V", "-l", log_path});
  std::string log;
  auto read_log = [&] {
    std::ifstream in(log_path);
    log.assign(std::istreambuf_iterator<char>(in), {});
  };
  for (int i = 0; i < 200 && log.find("Server is ready") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    read_log();
  }
  REQUIRE(log.find("Server is ready") != std::string::npos);
  {
    raw_client c(port);
    c.read_until("\r\n");
    c.send("CONNECT {\"verbose\":false,\"name\":\"tracer\"}\r\nSUB trace.me 1\r\nPING\r\n");
    c.read_until("PONG\r\n");
  }
  std::this_thread::sleep_for(100ms);
  read_log();
  CHECK(log.find("[TRC]") != std::string::npos);
  CHECK(log.find("<<- [CONNECT {\"verbose\":false,\"name\":\"tracer\"}]") != std::string::npos);
  CHECK(log.find("<<- [SUB trace.me 1]") != std::string::npos);
  CHECK(srv.output_so_far().empty());  // nothing on stderr: it all went to the file
}
