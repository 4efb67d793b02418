// Tests for the accounts/authentication config: load_auth_config (nats-server's
// parseAuthorization, parseUsers, parseUserPermissions, parseAccounts and friends in
// server/opts.go), validate (the import/export checks of server/accounts.go), find_export
// and password_matches. The cycle cases are nats-server's test/accounts_cycles_test.go.
#include <catch2/catch.hpp>

#include <crypt.h>

#include <memory>
#include <string>

#include "config_test_support.hpp"
#include "libplatform/accounts/auth_config.hpp"

using namespace platform::accounts;
using platform::config::parse_error;
using platform::config::parse_string;
using namespace std::chrono_literals;

namespace {

auth_config load(std::string_view text) { return load_auth_config(parse_string(text, "accounts.conf")); }

// The full what() of the parse_error that loading `text` must produce.
std::string load_error(std::string_view text) {
  return config_test_support::parse_error_text([&] { load(text); }, std::string(text));
}

std::string validate_error(const auth_config& cfg) {
  return config_test_support::parse_error_text([&] { validate(cfg); }, "validate() to fail");
}

const account_entry& account(const auth_config& cfg, std::string_view name) {
  const account_entry* a = cfg.find_account(name);
  REQUIRE(a != nullptr);
  return *a;
}

const user_entry& user(const auth_config& cfg, std::string_view name) {
  const user_entry* u = cfg.find_user(name);
  REQUIRE(u != nullptr);
  return *u;
}

using strings = std::vector<std::string>;

// The usage-service example: SVC exports a per-account service, public and private
// streams; A and B import what is theirs.
constexpr std::string_view usage_conf = R"conf(accounts {
  SVC {
    users = [ {user: svc, password: "$2b$04$sS0s/ErwbhK4EWApWB1LWup/A1uuyoPO6UXIAkEsa0EfbHTBKrjYS"} ]
    exports = [
      {service: "svc.usage.*", account_token_position: 3, latency: {sampling: "50%", subject: "svc.latency"}}
      {service: "svc.stream", response: chunked, response_threshold: "5s"}
      {service: "svc.traced", latency: {sampling: headers, subject: "svc.latency.traced"}}
      {service: "svc.all", latency: "svc.latency.all"}
      {stream: "public.>"}
      {stream: "events.*.created"}
      {stream: "private.>", accounts: [A]}
    ]
    limits { max_connections: 10, max_subs: 100, max_payload: 1MB, max_leafnodes: 2 }
  }
  A {
    users = [
      {user: alice, password: a, permissions: {publish: "usage", subscribe: ["svc.>", "created.>", "inbox.* workers"]}}
    ]
    imports = [
      {service: {account: SVC, subject: "svc.usage.A"}, to: usage}
      {stream: {account: SVC, subject: "public.>"}, prefix: svc}
      {stream: {account: SVC, subject: "events.*.created"}, to: "created.$1"}
      {stream: {account: SVC, subject: "private.>"}}
    ]
  }
  B {
    users = [ {user: bob, password: b}, {user: carol, password: c, permissions: {subscribe: "x"}} ]
    default_permissions { publish { allow: ["usage", "_INBOX.>"], deny: "usage.secret" }, allow_responses: true }
    imports = [
      {service: {account: SVC, subject: "svc.usage.B"}, to: usage}
      {service: {account: SVC, subject: "svc.stream"}}
    ]
  }
}
authorization { users = [ {user: guest, password: guest} ], timeout: 2.5 }
no_auth_user: guest
)conf";

}  // namespace

TEST_CASE("a multi-account config loads with its exports, imports, users and limits", "[accounts]") {
  auth_config cfg = load(usage_conf);

  // Configured accounts in file order, then $G and $SYS.
  REQUIRE(cfg.accounts.size() == 5);
  CHECK(cfg.accounts[0].name == "SVC");
  CHECK(cfg.accounts[1].name == "A");
  CHECK(cfg.accounts[2].name == "B");
  CHECK(cfg.accounts[3].name == "$G");
  CHECK(cfg.accounts[4].name == "$SYS");
  CHECK(cfg.system_account == "$SYS");
  CHECK(cfg.accounts[0].pos.line == 2);
  CHECK(cfg.accounts[0].pos.column == 7);

  const account_entry& svc = account(cfg, "SVC");
  CHECK(svc.max_connections == 10);
  CHECK(svc.max_subscriptions == 100);
  CHECK(svc.max_payload == 1024 * 1024);
  CHECK(svc.max_leafnodes == 2);
  CHECK(account(cfg, "A").max_connections == -1);
  REQUIRE(svc.exports.size() == 7);

  const export_entry& usage = svc.exports[0];
  CHECK(usage.type == export_entry::kind::service);
  CHECK(usage.subject == "svc.usage.*");
  CHECK(usage.account_token_position == 3);
  CHECK(usage.approved.empty());
  CHECK(usage.response == response_type::singleton);
  CHECK(usage.response_threshold == 2min);
  REQUIRE(usage.latency);
  CHECK(usage.latency->sampling == 50);
  CHECK(usage.latency->subject == "svc.latency");
  CHECK(usage.pos.line == 5);
  CHECK(usage.pos.column == 7);

  CHECK(svc.exports[1].response == response_type::chunked);
  CHECK(svc.exports[1].response_threshold == 5s);
  CHECK_FALSE(svc.exports[1].latency);
  REQUIRE(svc.exports[2].latency);
  CHECK(svc.exports[2].latency->sampling == 0);  // "headers"
  REQUIRE(svc.exports[3].latency);
  CHECK(svc.exports[3].latency->sampling == 100);  // a bare subject samples everything
  CHECK(svc.exports[3].latency->subject == "svc.latency.all");
  CHECK(svc.exports[4].type == export_entry::kind::stream);
  CHECK(svc.exports[4].subject == "public.>");
  CHECK(svc.exports[6].approved == strings{"A"});

  const account_entry& a = account(cfg, "A");
  REQUIRE(a.imports.size() == 4);
  CHECK(a.imports[0].type == import_entry::kind::service);
  CHECK(a.imports[0].account == "SVC");
  CHECK(a.imports[0].subject == "svc.usage.A");
  CHECK(a.imports[0].to == "usage");
  CHECK(a.imports[1].type == import_entry::kind::stream);
  CHECK(a.imports[1].subject == "public.>");
  CHECK(a.imports[1].prefix == "svc");
  CHECK(a.imports[1].to.empty());
  CHECK(a.imports[2].to == "created.$1");
  CHECK(a.imports[3].prefix.empty());
  CHECK(a.imports[3].to.empty());
  CHECK(a.imports[3].pos.line == 23);
  CHECK(a.imports[3].pos.column == 7);
  // A service import without `to` is published on its own subject.
  CHECK(account(cfg, "B").imports[1].to == "svc.stream");

  // Users from authorization{} (in $G) and from every account.
  REQUIRE(cfg.users.size() == 5);
  CHECK(user(cfg, "svc").account == "SVC");
  CHECK(is_bcrypt(user(cfg, "svc").password));
  CHECK(user(cfg, "alice").account == "A");
  CHECK(user(cfg, "alice").password == "a");
  CHECK(user(cfg, "guest").account == "$G");
  CHECK(cfg.find_user("nobody") == nullptr);
  CHECK(cfg.no_auth_user == "guest");
  CHECK(cfg.auth_timeout == 2500ms);
  CHECK(cfg.auth_required());
  CHECK(cfg.warnings.empty());
}

TEST_CASE("user permissions: lists, allow/deny maps, single strings, queues and responses", "[accounts]") {
  auth_config cfg = load(usage_conf);

  const user_entry& alice = user(cfg, "alice");
  REQUIRE(alice.permissions);
  REQUIRE(alice.permissions->publish);
  CHECK(alice.permissions->publish->allow == strings{"usage"});  // a single string is a one-entry list
  CHECK(alice.permissions->publish->has_allow);
  CHECK(alice.permissions->publish->deny.empty());
  REQUIRE(alice.permissions->subscribe);
  CHECK(alice.permissions->subscribe->allow == strings{"svc.>", "created.>", "inbox.* workers"});
  CHECK_FALSE(alice.permissions->responses_max);

  // Account default_permissions apply to users without their own.
  const user_entry& bob = user(cfg, "bob");
  REQUIRE(bob.permissions);
  REQUIRE(bob.permissions->publish);
  CHECK(bob.permissions->publish->allow == strings{"usage", "_INBOX.>"});
  CHECK(bob.permissions->publish->deny == strings{"usage.secret"});
  CHECK_FALSE(bob.permissions->subscribe);
  CHECK(bob.permissions->responses_max == 1);  // allow_responses: true
  CHECK(bob.permissions->responses_expires == 2min);

  const user_entry& carol = user(cfg, "carol");
  REQUIRE(carol.permissions);
  CHECK_FALSE(carol.permissions->publish);
  REQUIRE(carol.permissions->subscribe);
  CHECK(carol.permissions->subscribe->allow == strings{"x"});

  CHECK_FALSE(user(cfg, "guest").permissions);
}

TEST_CASE("allow_responses forms, and their effect on publish", "[accounts]") {
  auth_config cfg = load(R"conf(authorization {
  users = [
    {user: a, permissions: {allow_responses: {max: 5, expires: "1m"}}}
    {user: b, permissions: {publish: {deny: "secret"}, allow_responses: true}}
    {user: c, permissions: {publish: ["x"], allow_responses: {max: 0, ttl: "0s"}}}
    {user: d, permissions: {allow_responses: false}}
    {user: e, permissions: {pub: {}, sub: {allow: [], deny: ["y"]}}}
  ]
})conf");
  const user_permissions& a = *user(cfg, "a").permissions;
  CHECK(a.responses_max == 5);
  CHECK(a.responses_expires == 1min);
  // Without an allow list, a user with response permissions may publish replies only.
  REQUIRE(a.publish);
  CHECK(a.publish->has_allow);
  CHECK(a.publish->allow.empty());

  const user_permissions& b = *user(cfg, "b").permissions;
  CHECK(b.publish->has_allow);
  CHECK(b.publish->allow.empty());
  CHECK(b.publish->deny == strings{"secret"});

  // 0 keeps the defaults.
  const user_permissions& c = *user(cfg, "c").permissions;
  CHECK(c.responses_max == 1);
  CHECK(c.responses_expires == 2min);
  CHECK(c.publish->allow == strings{"x"});

  const user_permissions& d = *user(cfg, "d").permissions;
  CHECK_FALSE(d.responses_max);
  CHECK_FALSE(d.publish);

  // An empty map restricts nothing; an empty allow list neither (nats-server).
  const user_permissions& e = *user(cfg, "e").permissions;
  CHECK_FALSE(e.publish);
  REQUIRE(e.subscribe);
  CHECK_FALSE(e.subscribe->has_allow);
  CHECK(e.subscribe->deny == strings{"y"});
}

TEST_CASE("authorization: single user, token, default permissions, keys in any case", "[accounts]") {
  auth_config single = load(R"conf(AUTHORIZATION { User: admin, PASS: "pw", Permissions: {publish: "a.>"}, timeout: "3s" })conf");
  REQUIRE(single.users.size() == 1);
  CHECK(single.users[0].name == "admin");
  CHECK(single.users[0].password == "pw");
  CHECK(single.users[0].account == "$G");
  REQUIRE(single.users[0].permissions);
  CHECK(single.users[0].permissions->publish->allow == strings{"a.>"});
  CHECK(single.auth_timeout == 3s);

  auth_config token = load(R"conf(authorization { token: "$2a$05$3sSWEVA1eMCbV0hWavDjXOx.ClBjI6u1CuUdLqf22cbJjXsnzz8/." })conf");
  CHECK(token.users.empty());
  CHECK(token.auth_required());
  CHECK(password_matches(token.token, "test"));
  CHECK(token.token_pos.line == 1);
  CHECK(token.token_pos.column == 24);

  auth_config users = load(R"conf(authorization {
  default_permissions: {subscribe: "public.>"}
  users = [ {username: u1, password: p1}, {user: u2, permission: {subscribe: "own.>"}, allowed_connection_types: ["standard", "WEBSOCKET"]} ]
})conf");
  CHECK(user(users, "u1").permissions->subscribe->allow == strings{"public.>"});
  CHECK(user(users, "u2").permissions->subscribe->allow == strings{"own.>"});
  CHECK(user(users, "u2").allowed_connection_types == strings{"STANDARD", "WEBSOCKET"});
  CHECK(user(users, "u1").allowed_connection_types.empty());

  auth_config none = load("port: 4222\n");
  CHECK_FALSE(none.auth_required());
  REQUIRE(none.accounts.size() == 2);
  CHECK(none.accounts[0].name == "$G");
  CHECK(none.accounts[1].name == "$SYS");
}

TEST_CASE("accounts: list form, system account, limits and ignored settings", "[accounts]") {
  auth_config list = load("accounts: [A, B]\nsystem_account: B\n");
  REQUIRE(list.accounts.size() == 3);  // A, B, $G; B is the system account
  CHECK(list.system_account == "B");
  CHECK(list.accounts[2].name == "$G");

  auth_config alias = load("accounts { SYS {} }\nsystem: SYS\n");
  CHECK(alias.system_account == "SYS");
  CHECK(alias.find_account("$SYS") == nullptr);

  // $SYS may be configured, e.g. to give it users.
  auth_config sys = load("accounts { $SYS { users = [{user: admin, password: x}] } }\n");
  CHECK(user(sys, "admin").account == "$SYS");
  CHECK(sys.accounts.size() == 2);

  auth_config ignored = load(R"conf(accounts {
  A { jetstream: enabled, mappings: { a: b } }
})conf");
  CHECK(ignored.warnings == strings{"accounts.conf:2: account \"A\" mappings is not supported yet and ignored"});
  CHECK(ignored.find_account("A")->jetstream);

  // Per-account JetStream with limits; "disabled" turns it off.
  auth_config js = load(R"conf(accounts {
  A { jetstream: { max_file: 1048576, max_mem: 4096, max_streams: 3, max_consumers: 7 } }
  B { jetstream: disabled }
  C { }
})conf");
  const auto* a = js.find_account("A");
  REQUIRE(a != nullptr);
  CHECK(a->jetstream);
  CHECK(a->js_max_store == 1048576);
  CHECK(a->js_max_memory == 4096);
  CHECK(a->js_max_streams == 3);
  CHECK(a->js_max_consumers == 7);
  CHECK_FALSE(js.find_account("B")->jetstream);
  CHECK_FALSE(js.find_account("C")->jetstream);
  CHECK_THROWS_WITH(load("accounts { A { jetstream: { max_file: -5 } } }\n"),
                    Catch::Matchers::Contains("must be -1 (unlimited) or a positive number"));

  // A $variable defined inside accounts{} is not an account.
  auth_config vars = load(R"conf(accounts {
  PERMS: {publish: "x"}
  A { users = [{user: a, permissions: $PERMS}] }
})conf");
  CHECK(vars.find_account("PERMS") == nullptr);
  CHECK(user(vars, "a").permissions->publish->allow == strings{"x"});
}

TEST_CASE("nats-server's import cycle cases", "[accounts]") {
  SECTION("service cycle between two accounts") {
    CHECK(load_error(R"conf(accounts {
  A {
    exports [ { service: help } ]
    imports [ { service { subject: help, account: B } } ]
  }
  B {
    exports [ { service: help } ]
    imports [ { service { subject: help, account: A } } ]
  }
})conf") == "accounts.conf:8:15: account \"B\" cannot import service \"help\" from account \"A\": the import forms a cycle (B -> A -> B)");
  }
  SECTION("service cycle through a wildcard export") {
    CHECK(load_error(R"conf(accounts {
  A { exports [ { service: * } ], imports [ { service { subject: help, account: B } } ] }
  B { exports [ { service: help } ], imports [ { service { subject: *, account: A } } ] }
})conf") == "accounts.conf:3:48: account \"B\" cannot import service \"*\" from account \"A\": the import forms a cycle (B -> A -> B)");
  }
  SECTION("service cycle through three accounts") {
    CHECK(load_error(R"conf(accounts {
  A { exports [ { service: * } ], imports [ { service { subject: help, account: B } } ] }
  B { exports [ { service: help } ], imports [ { service { subject: help, account: C } } ] }
  C { exports [ { service: * } ], imports [ { service { subject: *, account: A } } ] }
})conf") == "accounts.conf:4:45: account \"C\" cannot import service \"*\" from account \"A\": the import forms a cycle (C -> A -> B -> C)");
  }
  SECTION("service cycle with mapping") {
    CHECK(load_error(R"conf(accounts {
  A { exports [ { service: a } ], imports [ { service { subject: b, account: B }, to: a } ] }
  B { exports [ { service: b } ], imports [ { service { subject: a, account: A }, to: b } ] }
})conf") == "accounts.conf:3:45: account \"B\" cannot import service \"a\" from account \"A\": the import forms a cycle (B -> A -> B)");
  }
  SECTION("stream cycle") {
    CHECK(load_error(R"conf(accounts {
  A { exports [ { stream: strm } ], imports [ { stream { subject: strm, account: B } } ] }
  B { exports [ { stream: strm } ], imports [ { stream { subject: strm, account: A } } ] }
})conf") == "accounts.conf:3:47: account \"B\" cannot import stream \"strm\" from account \"A\": the import forms a cycle (B -> A -> B)");
  }
  SECTION("stream cycle with mapping") {
    CHECK(load_error(R"conf(accounts {
  A { exports [ { stream: * } ], imports [ { stream { subject: bar, account: B } } ] }
  B { exports [ { stream: bar } ], imports [ { stream { subject: foo, account: A }, to: bar } ] }
})conf") == "accounts.conf:3:46: account \"B\" cannot import stream \"foo\" from account \"A\": the import forms a cycle (B -> A -> B)");
  }
  SECTION("chains and mappings that do not loop are accepted") {
    CHECK_NOTHROW(load(R"conf(accounts {
  A { exports [ { stream: foo } ], imports [ { stream { subject: bar, account: B } } ] }
  B { exports [ { stream: bar } ], imports [ { stream { subject: baz, account: C }, to: bar } ] }
  C { exports [ { stream: baz } ], imports [ { stream { subject: foo, account: A }, to: bar } ] }
})conf"));
    CHECK_NOTHROW(load(R"conf(accounts {
  A { exports [ { service: * } ], imports [ { service { subject: help, account: B } } ] }
  B { exports [ { service: help } ], imports [ { service { subject: nohelp, account: C } } ] }
  C { exports [ { service: * } ], imports [ { service { subject: *, account: A } } ] }
})conf"));
    CHECK_NOTHROW(load(R"conf(accounts {
  A { exports [ { service: help } ], imports [ { service { subject: help, account: B } } ] }
  B { exports [ { service: help } ], imports [ { service { subject: help, account: C } } ] }
  C { exports [ { service: help } ], imports [ { service { subject: help, account: D } } ] }
  D { exports [ { service: help } ] }
})conf"));
  }
}

TEST_CASE("the cycle search gives up after 1024 accounts, as nats-server's", "[accounts]") {
  // A chain C1 -> C2 -> ... written from its far end, so that each import is checked
  // against the whole chain behind it.
  const int n = 1100;
  std::string conf = "accounts {\n";
  for (int i = n; i >= 1; --i) {
    conf += "  C" + std::to_string(i) + " { exports [ {service: help} ]";
    if (i < n) conf += ", imports [ {service: {account: C" + std::to_string(i + 1) + ", subject: help}} ]";
    conf += " }\n";
  }
  conf += "}\n";
  std::string error = load_error(conf);
  CHECK_THAT(error, Catch::Matchers::EndsWith(
                        "cannot import service \"help\" from account \"C" + std::to_string(n - 1023) +
                        "\": the cycle check gave up after following imports through 1024 accounts"));
}

TEST_CASE("imports the exporter does not allow are refused at the import", "[accounts]") {
  // Each case: the usage config's SVC exports, and one import into A.
  auto with_import = [](std::string_view import) {
    return std::string(R"conf(accounts {
  SVC {
    exports = [
      {service: "svc.usage.*", account_token_position: 3}
      {stream: "public.>"}
      {stream: "private.>", accounts: [B]}
      {service: "svc.pair.*.*"}
    ]
  }
  B {}
  A {
    imports = [
      )conf") + std::string(import) + "\n    ]\n  }\n}\n";
  };
  // Line 13, column 7 is where the import starts.
  CHECK(load_error(with_import(R"({service: {account: SVC, subject: "svc.usage.B"}, to: usage})")) ==
        "accounts.conf:13:7: account \"A\" cannot import service \"svc.usage.B\" from account \"SVC\": the export "
        "\"svc.usage.*\" is bound to the importer's name at token 3 (account \"A\" may import \"svc.usage.A\")");
  CHECK(load_error(with_import(R"({service: {account: SVC, subject: "svc.usage.*"}, to: usage})")) ==
        "accounts.conf:13:7: account \"A\" cannot import service \"svc.usage.*\" from account \"SVC\": the export "
        "\"svc.usage.*\" is bound to the importer's name at token 3, so it cannot be imported whole (account \"A\" may "
        "import \"svc.usage.A\")");
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: "private.x"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"private.x\" from account \"SVC\": the export "
        "\"private.>\" is private to account \"B\"");
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: "secret.x"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"secret.x\" from account \"SVC\": account \"SVC\" has "
        "no stream export that covers it");
  // The import must lie inside the export, not just overlap it.
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: ">"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \">\" from account \"SVC\": account \"SVC\" has no "
        "stream export that covers it");
  CHECK(load_error(with_import(R"({service: {account: SVC, subject: "public.x"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import service \"public.x\" from account \"SVC\": account \"SVC\" "
        "exports \"public.>\" as a stream, not as a service");
  CHECK(load_error(with_import(R"({stream: {account: NOPE, subject: "public.x"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"public.x\" from account \"NOPE\": there is no such "
        "account");
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: "public.*"}, prefix: "from.*"})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"public.*\" from account \"SVC\": the prefix "
        "\"from.*\" must not contain wildcards");
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: "public..x"}})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"public..x\" from account \"SVC\": the subject is not "
        "valid");
  CHECK(load_error(with_import(R"({service: {account: SVC, subject: "svc.pair.*.*"}, to: "pair.*"})")) ==
        "accounts.conf:13:7: account \"A\" cannot import service \"svc.pair.*.*\" from account \"SVC\": the local "
        "subject \"pair.*\" cannot map it: it must use every wildcard of \"svc.pair.*.*\"");
  CHECK(load_error(with_import(R"({service: {account: SVC, subject: "svc.pair.*.*"}, to: "pair.$3"})")) ==
        "accounts.conf:13:7: account \"A\" cannot import service \"svc.pair.*.*\" from account \"SVC\": the local "
        "subject \"pair.$3\" cannot map it: the destination token \"$3\" refers to wildcard 3, but the source "
        "\"svc.pair.*.*\" has only 2 wildcards");
  CHECK(load_error(with_import(R"({stream: {account: SVC, subject: "public.*"}, to: "mine.>"})")) ==
        "accounts.conf:13:7: account \"A\" cannot import stream \"public.*\" from account \"SVC\": cannot map it to "
        "\"mine.>\": the destination \"mine.>\" ends in '>' but the source \"public.*\" does not");

  // What is allowed: the importer's own token, wildcard mappings that place everything.
  CHECK_NOTHROW(load(with_import(R"({service: {account: SVC, subject: "svc.usage.A"}, to: usage})")));
  CHECK_NOTHROW(load(with_import(R"({service: {account: SVC, subject: "svc.pair.*.*"}, to: "pair.$2.$1"})")));
  CHECK_NOTHROW(load(with_import(R"({service: {account: SVC, subject: "svc.pair.*.*"}, to: "pair.*.*"})")));
  CHECK_NOTHROW(load(with_import(R"({service: {account: SVC, subject: "svc.pair.x.*"}, to: "px.{{wildcard(1)}}"})")));
  CHECK_NOTHROW(load(with_import(R"({stream: {account: SVC, subject: "public.*.b"}, to: "b.*"})")));
  CHECK_NOTHROW(load(with_import(R"({stream: {account: SVC, subject: "public.>"}, prefix: "from."})")));
}

TEST_CASE("duplicate imports are refused", "[accounts]") {
  CHECK(load_error(R"conf(accounts {
  S { exports [ {service: "a"}, {service: "b"} ] }
  A { imports [ {service: {account: S, subject: a}, to: x}, {service: {account: S, subject: b}, to: x} ] }
})conf") == "accounts.conf:3:61: account \"A\" cannot import service \"b\" from account \"S\": it already imports "
            "\"a\" from that account on the local subject \"x\"");
  CHECK(load_error(R"conf(accounts {
  S { exports [ {stream: "a.>"} ] }
  A { imports [ {stream: {account: S, subject: "a.>"}, prefix: p}, {stream: {account: S, subject: "a.>"}, prefix: q} ] }
})conf") == "accounts.conf:3:68: account \"A\" cannot import stream \"a.>\" from account \"S\": it is already imported");
}

TEST_CASE("exports that cannot work are refused at the export", "[accounts]") {
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc.usage.*", account_token_position: 2} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" service export \"svc.usage.*\": account_token_position 2 must point "
            "at a '*' token, not \"usage\"");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {stream: "svc.*", account_token_position: 3} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" stream export \"svc.*\": account_token_position 3 is past its last "
            "token (it has 2)");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", latency: {sampling: 150, subject: lat}} ] }
})conf") == "accounts.conf:2:58: an export in account \"SVC\" latency sampling must be between 1 and 100 percent, or "
            "\"headers\"");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", latency: {sampling: "0%", subject: lat}} ] }
})conf") == "accounts.conf:2:58: an export in account \"SVC\" latency sampling must be between 1 and 100 percent, or "
            "\"headers\"");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", latency: {sampling: "half", subject: lat}} ] }
})conf") == "accounts.conf:2:58: an export in account \"SVC\" latency sampling \"half\" is not a percentage; use 1 to "
            "100, \"50%\" or \"headers\"");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", latency: {sampling: 10}} ] }
})conf") == "accounts.conf:2:47: an export in account \"SVC\" latency needs a subject for the latency reports");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", latency: "lat.*"} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" service export \"svc\": the latency subject \"lat.*\" must be a valid "
            "subject without wildcards");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc.>", latency: "svc.latency"} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" service export \"svc.>\": the latency subject \"svc.latency\" is itself "
            "exported as service \"svc.>\"");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "svc", response_type: stream, latency: "lat"} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" service export \"svc\": latency can only be tracked for response_type "
            "singleton");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {stream: "a..b"} ] }
})conf") == "accounts.conf:2:21: account \"SVC\": the stream export \"a..b\" is not a valid subject");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {stream: "a", accounts: [NOPE]} ] }
})conf") == "accounts.conf:2:21: account \"SVC\" stream export \"a\" names account \"NOPE\", which is not configured");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {stream: "a", latency: "lat"} ] }
})conf") == "accounts.conf:2:44: an export in account \"SVC\": latency applies to service exports only");
  CHECK(load_error(R"conf(accounts {
  SVC { exports = [ {service: "a", response_type: "sometimes"} ] }
})conf") == "accounts.conf:2:51: an export in account \"SVC\": unknown response_type \"sometimes\"; use singleton, "
            "stream or chunked");
}

TEST_CASE("unknown or misplaced fields are errors, as in nats-server", "[accounts]") {
  CHECK(load_error(R"conf(accounts { A { exports = [ {stream: "a", colour: blue} ] } })conf") ==
        "accounts.conf:1:50: unknown field \"colour\" in an export in account \"A\"");
  CHECK(load_error(R"conf(accounts { A { imports = [ {stream: {account: B, subject: a, extra: 1}} ] } })conf") ==
        "accounts.conf:1:69: unknown field \"extra\" in the stream of an import in account \"A\"");
  CHECK(load_error(R"conf(accounts { A { imports = [ {stream: {account: B, subject: a}, prefix: p, to: q} ] } })conf") ==
        "accounts.conf:1:78: an import in account \"A\" cannot have both a prefix and a to");
  CHECK(load_error(R"conf(accounts { A { imports = [ {stream: {account: B}} ] } })conf") ==
        "accounts.conf:1:37: the stream of an import in account \"A\" needs an account and a subject");
  CHECK(load_error(R"conf(accounts { A { imports = [ {to: x} ] } })conf") ==
        "accounts.conf:1:28: an import in account \"A\" needs a stream or a service, e.g. {stream: {account: X, subject: "
        "\"foo.>\"}}");
  CHECK(load_error(R"conf(accounts { A { exports = [ {accounts: [B]} ] } })conf") ==
        "accounts.conf:1:28: an export in account \"A\" needs a stream or a service subject, e.g. {stream: \"foo.>\"}");
  CHECK(load_error(R"conf(accounts { A { max_connections: 5 } })conf") ==
        "accounts.conf:1:33: unknown field \"max_connections\" in account \"A\"");
  CHECK(load_error(R"conf(accounts { A { limits { max_connections: 5, max_cars: 1 } } })conf") ==
        "accounts.conf:1:55: unknown field \"max_cars\" in limits of account \"A\"");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, permissions: {publish: "x", admin: true}} ] })conf") ==
        "accounts.conf:1:72: unknown field \"admin\" in user \"a\" permissions");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, permissions: {publish: {allow: "x", except: "y"}}} ] })conf") ==
        "accounts.conf:1:81: unknown field \"except\" in user \"a\" permissions publish (only allow and deny are "
        "permitted)");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, pasword: x} ] })conf") ==
        "accounts.conf:1:46: unknown field \"pasword\" in user \"a\"");
  CHECK(load_error(R"conf(authorization { colour: blue })conf") ==
        "accounts.conf:1:25: unknown field \"colour\" in authorization");
}

TEST_CASE("configuration errors in users and authorization", "[accounts]") {
  CHECK(load_error(R"conf(authorization { users = [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF5} ] })conf") ==
        "accounts.conf:1:34: not a valid public nkey for a user: \"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF5\"");
  CHECK(load_error(R"conf(authorization { users = [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, password: x} ] })conf") ==
        "accounts.conf:1:27: nkey user \"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4\" cannot also have a user "
        "name or password");
  CHECK(load_error(R"conf(authorization { users = [ {password: x} ] })conf") ==
        "accounts.conf:1:27: a user in authorization needs a user name or an nkey");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, permissions: {subscribe: ["ok", "a b c"]}} ] })conf") ==
        "accounts.conf:1:69: user \"a\" permissions subscribe: \"a b c\" is not a valid subject");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, permissions: {publish: "foo bar"}} ] })conf") ==
        "accounts.conf:1:60: user \"a\" permissions publish: \"foo bar\" is not a valid subject");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, permissions: {subscribe: "foo q..x"}} ] })conf") ==
        "accounts.conf:1:62: user \"a\" permissions subscribe: \"q..x\" is not a valid queue group");
  CHECK(load_error(R"conf(authorization { users = [ {user: a, allowed_connection_types: [CARRIER_PIGEON]} ] })conf") ==
        "accounts.conf:1:63: user \"a\" allowed_connection_types: unknown connection type \"CARRIER_PIGEON\"");
  CHECK(load_error(R"conf(authorization { auth_callout { issuer: x } })conf") ==
        "accounts.conf:1:30: auth_callout is not supported yet");
  CHECK(load_error(R"conf(authorization { timeout: "soon" })conf") ==
        "accounts.conf:1:26: authorization timeout is not a valid duration: invalid duration \"soon\" (expected a "
        "number and unit, e.g. \"2m\", \"1h30m\", \"500ms\")");
  CHECK(load_error(R"conf(authorization { user: 5 })conf") == "accounts.conf:1:23: authorization user must be a string");
  CHECK(load_error(R"conf(accounts { $G { users = [ {user: a} ] } })conf") ==
        "accounts.conf:1:15: \"$G\" is a reserved account name: users outside accounts{} belong to it");
  CHECK(load_error("accounts: [A, \"$G\"]\n") ==
        "accounts.conf:1:15: \"$G\" is a reserved account name: users outside accounts{} belong to it");
  CHECK(load_error("accounts: [A, A]\n") == "accounts.conf:1:15: account \"A\" is listed twice");
  CHECK(load_error("system_account: NOPE\n") == "accounts.conf:1:17: system_account \"NOPE\" is not a configured account");
}

TEST_CASE("duplicate users, in authorization and across accounts", "[accounts]") {
  CHECK(load_error(R"conf(authorization { users = [ {user: alice, password: x} ] }
accounts { A { users = [ {user: alice, password: y} ] } }
)conf") == "accounts.conf:2:26: user \"alice\" is configured twice (also at accounts.conf:1:27)");
  CHECK(load_error(R"conf(accounts {
  A { users = [ {user: bob} ] }
  B { users = [ {user: bob} ] }
})conf") == "accounts.conf:3:17: user \"bob\" is configured twice (also at accounts.conf:2:17)");
}

TEST_CASE("single user, token and user lists exclude one another, as in nats-server", "[accounts]") {
  CHECK(load_error(R"conf(authorization { user: a, password: b, token: t })conf") ==
        "accounts.conf:1:46: authorization cannot have both a user/password and a token");
  CHECK(load_error(R"conf(authorization { user: a, password: b, users: [] })conf") ==
        "accounts.conf:1:46: authorization cannot have both a single user/password and a users list");
  CHECK(load_error(R"conf(authorization { token: t, users: [ {user: u} ] })conf") ==
        "accounts.conf:1:34: authorization cannot have both a token and a users list");
  CHECK(load_error(R"conf(authorization { user: a, password: b }
accounts { A { users: [ {user: u} ] } }
)conf") == "accounts.conf:2:23: accounts cannot have users when authorization has a single user/password (at "
            "accounts.conf:1)");
  CHECK(load_error(R"conf(authorization { token: t }
accounts { A { users: [ {user: u} ] } }
)conf") == "accounts.conf:2:23: accounts cannot have users when authorization has a token (at accounts.conf:1)");
  CHECK(load_error(R"conf(authorization { password: b })conf") ==
        "accounts.conf:1:27: authorization has a password but no user");
  // Accounts without users may sit next to a token.
  CHECK_NOTHROW(load("authorization { token: t }\naccounts { A {} }\n"));
}

TEST_CASE("no_auth_user must name a configured user", "[accounts]") {
  CHECK(load_error("accounts { A { users = [ {user: a} ] } }\nno_auth_user: b\n") ==
        "accounts.conf:2:15: no_auth_user \"b\" is not a user in authorization{} or in any account");
  CHECK(load_error("no_auth_user: b\n") == "accounts.conf:1:15: no_auth_user \"b\" is set, but no users are configured");
  CHECK(load_error("authorization { user: a, password: b }\nno_auth_user: a\n") ==
        "accounts.conf:2:15: no_auth_user \"a\" is the single authorization user; it must name a user from a users list");
  CHECK(load("accounts { A { users = [ {user: a} ] } }\nno_auth_user: a\n").no_auth_user == "a");
}

TEST_CASE("find_export: exact match first, then a covering export; public, private, token-bound", "[accounts]") {
  account_entry svc;
  svc.name = "SVC";
  auto add = [&](export_entry::kind k, std::string subject, std::vector<std::string> approved = {}, int token = 0) {
    export_entry e;
    e.type = k;
    e.subject = std::move(subject);
    e.approved = std::move(approved);
    e.account_token_position = token;
    svc.exports.push_back(e);
  };
  using k = export_entry::kind;
  add(k::stream, "public.>");
  add(k::stream, "private.>", {"A", "B"});
  add(k::service, "svc.usage.*", {}, 3);
  add(k::service, "svc.*.report", {"C"});
  add(k::service, "svc.open.report");  // exact match decides alone

  CHECK(find_export(svc, k::stream, "X", "public.x") == &svc.exports[0]);
  CHECK(find_export(svc, k::stream, "X", "public.>") == &svc.exports[0]);
  CHECK(find_export(svc, k::stream, "X", "public.*.y") == &svc.exports[0]);
  CHECK(find_export(svc, k::stream, "X", "public") == nullptr);
  CHECK(find_export(svc, k::stream, "X", ">") == nullptr);          // wider than the export
  CHECK(find_export(svc, k::service, "X", "public.x") == nullptr);  // kinds do not mix

  CHECK(find_export(svc, k::stream, "A", "private.a") == &svc.exports[1]);
  CHECK(find_export(svc, k::stream, "B", "private.>") == &svc.exports[1]);
  CHECK(find_export(svc, k::stream, "C", "private.a") == nullptr);

  CHECK(find_export(svc, k::service, "A", "svc.usage.A") == &svc.exports[2]);
  CHECK(find_export(svc, k::service, "B", "svc.usage.B") == &svc.exports[2]);
  CHECK(find_export(svc, k::service, "A", "svc.usage.B") == nullptr);
  CHECK(find_export(svc, k::service, "A", "svc.usage.*") == nullptr);  // the bound token is still '*'

  CHECK(find_export(svc, k::service, "C", "svc.x.report") == &svc.exports[3]);
  CHECK(find_export(svc, k::service, "D", "svc.x.report") == nullptr);
  CHECK(find_export(svc, k::service, "D", "svc.open.report") == &svc.exports[4]);
  // The public exact export wins over the private wildcard one for everybody.
  CHECK(find_export(svc, k::service, "C", "svc.open.report") == &svc.exports[4]);
}

TEST_CASE("validate() checks a configuration built in code", "[accounts]") {
  auth_config cfg;
  auto add_account = [&](std::string name) -> account_entry& {
    account_entry a;
    a.name = std::move(name);
    a.pos = {"built", static_cast<int>(cfg.accounts.size()) + 1, 1};
    cfg.accounts.push_back(a);
    return cfg.accounts.back();
  };
  add_account("$G");
  add_account("$SYS");
  add_account("SVC");
  add_account("A");
  export_entry e;
  e.type = export_entry::kind::service;
  e.subject = "svc";
  e.latency = latency_config{0, "lat"};  // 0: "headers"
  e.pos = {"built", 10, 3};
  cfg.accounts[2].exports.push_back(e);
  CHECK_NOTHROW(validate(cfg));

  cfg.accounts[2].exports[0].latency->sampling = 101;
  CHECK(validate_error(cfg) == "built:10:3: account \"SVC\" service export \"svc\": latency sampling must be between 1 "
                               "and 100 percent, or \"headers\" (got 101)");
  cfg.accounts[2].exports[0].latency->sampling = 100;

  import_entry im;
  im.type = import_entry::kind::service;
  im.account = "SVC";
  im.subject = "svc";
  im.to = "svc";
  im.pos = {"built", 20, 5};
  cfg.accounts[3].imports.push_back(im);
  CHECK_NOTHROW(validate(cfg));
  cfg.accounts[2].exports[0].approved = {"B"};
  CHECK(validate_error(cfg) == "built:10:3: account \"SVC\" service export \"svc\" names account \"B\", which is not "
                               "configured");
  add_account("B");
  CHECK(validate_error(cfg) == "built:20:5: account \"A\" cannot import service \"svc\" from account \"SVC\": the export "
                               "\"svc\" is private to account \"B\"");
  cfg.accounts[2].exports[0].approved = {"A", "B"};
  CHECK_NOTHROW(validate(cfg));

  user_entry u;
  u.name = "u";
  u.account = "NOPE";
  u.pos = {"built", 30, 1};
  cfg.users.push_back(u);
  CHECK(validate_error(cfg) == "built:30:1: user \"u\" belongs to account \"NOPE\", which is not configured");
  cfg.users[0].account = "A";
  cfg.token = "t";
  cfg.token_pos = {"built", 40, 9};
  CHECK(validate_error(cfg) == "built:40:9: a token cannot be combined with users (user \"u\" at built:30:1)");
  cfg.token.clear();
  cfg.accounts.push_back(cfg.accounts[3]);
  CHECK(validate_error(cfg) == "built:4:1: account \"A\" is configured twice (also at built:4:1)");
}

TEST_CASE("password_matches: plain text", "[accounts]") {
  CHECK(password_matches("s3cret", "s3cret"));
  CHECK_FALSE(password_matches("s3cret", "s3creT"));
  CHECK_FALSE(password_matches("s3cret", "s3cret!"));  // a longer guess
  CHECK_FALSE(password_matches("s3cret", "s3cre"));    // a prefix
  CHECK_FALSE(password_matches("s3cret", ""));
  CHECK_FALSE(password_matches("", "x"));
  CHECK(password_matches("", ""));
  CHECK_FALSE(password_matches(std::string_view("ab\0c", 4), "ab"));
  // Not bcrypt: compared as text.
  CHECK_FALSE(is_bcrypt("$2a$1$short"));
  CHECK_FALSE(is_bcrypt("$2c$10$abcdefghijklmnopqrstuv"));
  CHECK_FALSE(is_bcrypt("2a$10$"));
  CHECK(password_matches("$2c$10$x", "$2c$10$x"));
}

TEST_CASE("password_matches: bcrypt hashes", "[accounts]") {
  // From nats-server's test/auth_test.go and test/configs/authorization.conf (Go's bcrypt).
  CHECK(is_bcrypt("$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq"));
  CHECK(password_matches("$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq", "IW@$6v(y1(t@fhPDvf!5^%"));
  CHECK_FALSE(password_matches("$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq", "IW@$6v(y1(t@fhPDvf!5^"));
  CHECK(password_matches("$2a$04$P/.bd.7unw9Ew7yWJqXsl.f4oNRLQGvadEL2YnqQXbbb.IVQajRdK", "foo"));
  CHECK_FALSE(password_matches("$2a$04$P/.bd.7unw9Ew7yWJqXsl.f4oNRLQGvadEL2YnqQXbbb.IVQajRdK", "bar"));
  // The hash itself is not the password.
  CHECK_FALSE(password_matches("$2a$04$P/.bd.7unw9Ew7yWJqXsl.f4oNRLQGvadEL2YnqQXbbb.IVQajRdK",
                               "$2a$04$P/.bd.7unw9Ew7yWJqXsl.f4oNRLQGvadEL2YnqQXbbb.IVQajRdK"));

  // Made with Python's crypt (METHOD_BLOWFISH, cost 4); $2y$ and $2a$ hash ASCII alike.
  const std::string b = "$2b$04$sS0s/ErwbhK4EWApWB1LWup/A1uuyoPO6UXIAkEsa0EfbHTBKrjYS";
  CHECK(password_matches(b, "s3cret"));
  CHECK_FALSE(password_matches(b, "s3cret "));
  CHECK_FALSE(password_matches(b, std::string_view("s3cret\0x", 8)));  // a NUL must not cut the guess short
  CHECK(password_matches("$2y$" + b.substr(4), "s3cret"));
  CHECK(password_matches("$2a$" + b.substr(4), "s3cret"));
  // A damaged hash matches nothing.
  CHECK_FALSE(password_matches("$2b$04$short", "s3cret"));

  // A fresh hash with a random salt.
  auto data = std::make_unique<crypt_data>();
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt) != nullptr);
  const char* hashed = crypt_rn("correct horse", salt, data.get(), sizeof(crypt_data));
  REQUIRE(hashed != nullptr);
  std::string fresh = hashed;
  CHECK(is_bcrypt(fresh));
  CHECK(password_matches(fresh, "correct horse"));
  CHECK_FALSE(password_matches(fresh, "correct horse battery"));
}
