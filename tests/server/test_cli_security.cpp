// The dialtone CLI's security tooling and logins, as real processes: nkey gen/pub, the
// whole operator -> account -> user chain made with `dialtone jwt` and used with
// `--creds`, `jwt push` to a running server's resolver (a new account, a revocation),
// and logging in with --nkey, --user/--password and the --tls-* flags.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "libplatform/crypto/nkeys.hpp"
#include "server_process.hpp"
#include "tls_support.hpp"

using namespace testing_support;
using namespace std::chrono_literals;

namespace {

const std::string cli = DIALTONE_CLI_BIN;

run_result dialtone(std::vector<std::string> args) {
  args.insert(args.begin(), cli);
  return run_command(args, 20s);
}

std::string ok(std::vector<std::string> args) {
  auto r = dialtone(args);
  std::string cmd;
  for (auto& a : args) cmd += a + " ";
  INFO("dialtone " << cmd << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

// The first line of `text` that starts with `prefix`.
std::string line_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return line;
  FAIL("no line starting with " << prefix << " in:\n" << text);
  return "";
}

// `dialtone nkey gen <type> -o <file>`: returns the public key.
std::string gen(const std::string& type, const std::string& file) {
  return line_starting(ok({"nkey", "gen", type, "-o", file}), std::string(1, char(std::toupper(type[0]))));
}

void wait_listening(background_command& c) {
  for (int i = 0; i < 300; ++i) {
    if (c.output_so_far().find("Listening") != std::string::npos) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("subscriber never started: " << c.output_so_far());
}

}  // namespace

TEST_CASE("cli: nkey gen writes a private seed file and nkey pub reads it", "[cli][security]") {
  temp_dir d;
  auto file = d.path + "/u.nk";
  auto pub = gen("user", file);
  CHECK(platform::crypto::is_public_key(pub, platform::crypto::key_type::user));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(line_starting(ok({"nkey", "pub", file}), "U") == pub);
  auto again = dialtone({"nkey", "gen", "user", "-o", file});  // never overwrites a seed
  CHECK(again.exit_code != 0);
  CHECK(again.output.find("not overwritten") != std::string::npos);
  auto printed = ok({"nkey", "gen", "account"});
  CHECK(line_starting(printed, "SA").size() == 58);
  CHECK(line_starting(printed, "A").size() == 56);
  auto wrong = dialtone({"jwt", "operator", "--name", "x", "--key", file});
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.output.find("holds a user seed, not a operator seed") != std::string::npos);
  CHECK(wrong.output.find("SU") == std::string::npos);  // the seed is never printed
}

TEST_CASE("cli: an operator, accounts and users made with dialtone jwt work end to end", "[cli][security][jwt]") {
  temp_dir d;
  auto p = [&](const std::string& f) { return d.path + "/" + f; };
  gen("operator", p("op.nk"));
  auto sys = gen("account", p("sys.nk"));
  auto a = gen("account", p("a.nk"));
  auto b = gen("account", p("b.nk"));
  gen("user", p("sysuser.nk"));
  auto alice = gen("user", p("alice.nk"));
  gen("user", p("bob.nk"));
  auto op_jwt = line_starting(ok({"jwt", "operator", "--name", "acme", "--key", p("op.nk"), "--system-account", sys}), "eyJ");
  auto sys_jwt = line_starting(ok({"jwt", "account", "--name", "SYS", "--key", sys, "--operator-key", p("op.nk")}), "eyJ");
  auto a_jwt = line_starting(ok({"jwt", "account", "--name", "A", "--key", p("a.nk"), "--operator-key", p("op.nk")}), "eyJ");
  std::ofstream(p("a.jwt")) << a_jwt << "\n";
  ok({"jwt", "user", "--name", "sys", "--key", p("sysuser.nk"), "--account-key", p("sys.nk"), "--creds", p("sys.creds")});
  ok({"jwt", "user", "--name", "alice", "--key", p("alice.nk"), "--account-key", p("a.nk"), "--pub-allow", "orders.>",
      "--sub-allow", "orders.>", "--sub-allow", "_INBOX.>", "--creds", p("alice.creds")});
  auto decoded = ok({"jwt", "decode", p("alice.creds")});
  CHECK(decoded.find("\"orders.>\"") != std::string::npos);
  CHECK(decoded.find("Signature verified") != std::string::npos);

  auto dir = p("jwt");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + a + ".jwt") << a_jwt;
  auto conf = write_temp_file("op.conf", "operator: " + op_jwt + "\nsystem_account: " + sys +
                                             "\nresolver { type: full, dir: \"" + dir + "\" }\nresolver_preload { " +
                                             sys + ": " + sys_jwt + " }\n");
  server_process s({"-c", conf});
  background_command sub({cli, "-s", s.url(), "--creds", p("alice.creds"), "sub", "orders.>"});
  wait_listening(sub);
  ok({"-s", s.url(), "--creds", p("alice.creds"), "pub", "orders.new", "hello"});
  // Permissions from the JWT hold for the CLI too.
  auto denied = dialtone({"-s", s.url(), "--creds", p("alice.creds"), "pub", "payroll.x", "no"});
  CHECK(denied.exit_code != 0);
  CHECK(denied.output.find("Permissions Violation for Publish to \"payroll.x\"") != std::string::npos);
  // A new account pushed at run time: its users can log in at once.
  auto b_jwt = line_starting(ok({"jwt", "account", "--name", "B", "--key", b, "--operator-key", p("op.nk")}), "eyJ");
  ok({"jwt", "user", "--name", "bob", "--key", p("bob.nk"), "--account-key", p("b.nk"), "--creds", p("bob.creds")});
  auto before = dialtone({"-s", s.url(), "--creds", p("bob.creds"), "pub", "x", "y"});
  CHECK(before.exit_code != 0);
  CHECK(before.output.find("authorization violation") != std::string::npos);
  std::ofstream(p("b.jwt")) << b_jwt << "\n";
  auto pushed = ok({"-s", s.url(), "--creds", p("sys.creds"), "jwt", "push", p("b.jwt")});
  CHECK(pushed.find("jwt updated") != std::string::npos);
  ok({"-s", s.url(), "--creds", p("bob.creds"), "pub", "x", "y"});
  // Revoking alice: re-issue A from its JWT with a revocation and push it.
  std::this_thread::sleep_for(1100ms);  // revocations cover users issued before the given second
  auto revoked = line_starting(ok({"jwt", "account", "--from", p("a.jwt"), "--revoke", alice, "--operator-key", p("op.nk")}), "eyJ");
  std::ofstream(p("a2.jwt")) << revoked << "\n";
  ok({"-s", s.url(), "--creds", p("sys.creds"), "jwt", "push", p("a2.jwt")});
  auto out = sub.finish(5s);
  CHECK(out.output.find("hello") != std::string::npos);
  CHECK(out.output.find("connection lost") != std::string::npos);
  auto after = dialtone({"-s", s.url(), "--creds", p("alice.creds"), "pub", "orders.new", "x"});
  CHECK(after.exit_code != 0);
  CHECK(std::filesystem::exists(dir + "/" + b + ".jwt"));
}

TEST_CASE("cli: logs in with --nkey and --user/--password", "[cli][security]") {
  temp_dir d;
  auto pub = gen("user", d.path + "/u.nk");
  server_process s({}, "authorization { users = [ { nkey: " + pub + " }, { user: ann, password: pw } ] }\n");
  ok({"-s", s.url(), "--nkey", d.path + "/u.nk", "pub", "x", "y"});
  ok({"-s", s.url(), "--user", "ann", "--password", "pw", "pub", "x", "y"});
  auto bad = dialtone({"-s", s.url(), "--user", "ann", "--password", "wrong", "pub", "x", "y"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("authorization violation") != std::string::npos);
  CHECK(bad.output.find("wrong") == std::string::npos);
}

TEST_CASE("cli: logs in over TLS with a CA and a client certificate", "[cli][security][tls]") {
  test_pki pki;
  auto [cert, key] = pki.client("cli", "/CN=cli", "");
  server_process s({}, "tls { cert_file: \"" + pki.server_cert + "\", key_file: \"" + pki.server_key +
                           "\", ca_file: \"" + pki.ca_cert + "\", verify: true }\n");
  std::string url = "nats://localhost:" + std::to_string(s.port());
  ok({"-s", url, "--tls-ca", pki.ca_cert, "--tls-cert", cert, "--tls-key", key, "pub", "x", "y"});
  auto no_cert = dialtone({"-s", url, "--tls-ca", pki.ca_cert, "pub", "x", "y"});
  CHECK(no_cert.exit_code != 0);
  CHECK(no_cert.output.find("cannot connect") != std::string::npos);
  auto no_ca = dialtone({"-s", url, "--tls-cert", cert, "--tls-key", key, "pub", "x", "y"});
  CHECK(no_ca.exit_code != 0);
  CHECK(no_ca.output.find("TLS handshake failed") != std::string::npos);
}
