// Tests for subject_transform: the import subject mappings of nats-server's
// server/subject_transform.go ($N, {{wildcard(N)}}, positional '*', '>', prefixes).
#include <catch2/catch.hpp>

#include <string>

#include "libplatform/accounts/subject_transform.hpp"

using platform::accounts::subject_transform;
using Catch::Matchers::Contains;

namespace {

subject_transform make(std::string_view from, std::string_view to) {
  std::string error;
  auto t = subject_transform::create(from, to, &error);
  INFO(from << " -> " << to << ": " << error);
  REQUIRE(t.has_value());
  return *t;
}

// The error create() reports for an impossible mapping.
std::string error_of(std::string_view from, std::string_view to) {
  std::string error;
  auto t = subject_transform::create(from, to, &error);
  INFO(from << " -> " << to);
  REQUIRE_FALSE(t.has_value());
  return error;
}

}  // namespace

TEST_CASE("$N places the N-th wildcard of the source", "[transform]") {
  auto t = make("events.*.created.*", "created.$2.$1");
  CHECK(t.apply("events.eu.created.order") == "created.order.eu");
  CHECK(t.from() == "events.*.created.*");
  CHECK(t.to() == "created.$2.$1");
  CHECK(t.uses_every_wildcard());

  // A wildcard may be placed twice or not at all (only strict import checks mind).
  auto twice = make("a.*.*", "b.$1.$1");
  CHECK(twice.apply("a.x.y") == "b.x.x");
  CHECK_FALSE(twice.uses_every_wildcard());
}

TEST_CASE("{{wildcard(N)}} is the same as $N, with spaces and any case", "[transform]") {
  auto t = make("orders.*.*", "by.{{wildcard(2)}}.{{ Wildcard( 1 ) }}");
  CHECK(t.apply("orders.eu.42") == "by.42.eu");
  CHECK(t.uses_every_wildcard());
}

TEST_CASE("a '*' in the destination takes the next wildcard in order", "[transform]") {
  auto t = make("a.*.b.*", "x.*.y.*");
  CHECK(t.apply("a.1.b.2") == "x.1.y.2");
  // Mixed with $N: the positional count ignores $N tokens.
  auto mixed = make("a.*.*", "x.$2.*");
  CHECK(mixed.apply("a.1.2") == "x.2.1");
}

TEST_CASE("'>' carries the rest of the subject over", "[transform]") {
  auto t = make("public.>", "imported.public.>");
  CHECK(t.apply("public.a") == "imported.public.a");
  CHECK(t.apply("public.a.b.c") == "imported.public.a.b.c");

  auto with_wildcard = make("a.*.>", "b.$1.rest.>");
  CHECK(with_wildcard.apply("a.x.y.z") == "b.x.rest.y.z");
}

TEST_CASE("a literal source maps to a literal destination", "[transform]") {
  auto t = make("svc.usage.A", "usage");
  CHECK(t.matches("svc.usage.A"));
  CHECK_FALSE(t.matches("svc.usage.B"));
  CHECK(t.apply("svc.usage.A") == "usage");
}

TEST_CASE("'$' tokens that are not numbers stay literal", "[transform]") {
  auto t = make("a.*", "$JS.$1.$name");
  CHECK(t.apply("a.x") == "$JS.x.$name");
}

TEST_CASE("matches() uses the source pattern and treats subject wildcards as literals", "[transform]") {
  auto t = make("events.*.created", "c.$1");
  CHECK(t.matches("events.eu.created"));
  CHECK_FALSE(t.matches("events.eu.deleted"));
  CHECK_FALSE(t.matches("events.eu.created.more"));
  CHECK(t.matches("events.*.created"));  // '*' is just a token here
  auto rest = make("a.>", "b.>");
  CHECK(rest.matches("a.b.c"));
  CHECK_FALSE(rest.matches("a"));
}

TEST_CASE("prefix() prepends a literal prefix", "[transform]") {
  auto t = subject_transform::prefix("imports.svc");
  CHECK(t.matches("anything.at.all"));
  CHECK(t.apply("public.x") == "imports.svc.public.x");
  CHECK(t.to() == "imports.svc.>");
  // nats-server adds the separator only when the prefix does not end in one.
  CHECK(subject_transform::prefix("imports.").apply("a") == "imports.a");
}

TEST_CASE("impossible mappings are refused with a reason", "[transform]") {
  CHECK(error_of("a.*.*", "b.$3") == "the destination token \"$3\" refers to wildcard 3, but the source \"a.*.*\" has only 2 wildcards");
  CHECK(error_of("a.*", "b.{{wildcard(2)}}") ==
        "the destination token \"{{wildcard(2)}}\" refers to wildcard 2, but the source \"a.*\" has only 1 wildcard");
  CHECK(error_of("a.b", "c.$1") == "the destination token \"$1\" refers to wildcard 1, but the source \"a.b\" has no wildcards");
  CHECK(error_of("a.*", "b.*.*") == "the destination token \"*\" refers to wildcard 2, but the source \"a.*\" has only 1 wildcard");
  CHECK(error_of("a.*", "b.$0") == "the destination token \"$0\" refers to wildcard 0, but the source \"a.*\" has only 1 wildcard");
  CHECK(error_of("a.*", "b.>") == "the destination \"b.>\" ends in '>' but the source \"a.*\" does not");
  CHECK(error_of("a.>", "b") == "the source \"a.>\" ends in '>' but the destination \"b\" does not");
  CHECK(error_of("a..b", "c") == "the source \"a..b\" is not a valid subject");
  CHECK(error_of("a.>.b", "c") == "the source \"a.>.b\" is not a valid subject");
  CHECK(error_of("a", "") == "the destination \"\" is not a valid subject");
  CHECK(error_of("a", "b..c") == "the destination \"b..c\" is not a valid subject");
  CHECK(error_of("a.>", "b.>.c") == "the destination \"b.>.c\" is not a valid subject");
  CHECK(error_of("a", "b c") == "the destination \"b c\" is not a valid subject");
  CHECK(error_of("a.*", "{{partition(3,1)}}") ==
        "mapping function \"{{partition(3,1)}}\" is not supported here; use $N or {{wildcard(N)}}");
  CHECK(error_of("a.*", "{{frobnicate(1)}}") == "mapping function \"{{frobnicate(1)}}\" is unknown; use $N or {{wildcard(N)}}");
  CHECK(error_of("a.*", "{{wildcard()}}") == "\"{{wildcard()}}\" needs exactly one wildcard number, e.g. {{wildcard(1)}}");
  CHECK(error_of("a.*", "{{wildcard(1,2)}}") == "\"{{wildcard(1,2)}}\" needs exactly one wildcard number, e.g. {{wildcard(1)}}");
  // Without an error pointer create() still refuses.
  CHECK_FALSE(subject_transform::create("a.*", "b.$2").has_value());
}

TEST_CASE("reverse() maps back, as a service import runs", "[transform]") {
  // Configured exporter subject -> local subject; requests travel local -> exporter.
  auto forward = make("svc.pair.*.*", "pair.$2.$1");
  auto back = forward.reverse();
  REQUIRE(back);
  CHECK(back->from() == "pair.*.*");
  CHECK(back->to() == "svc.pair.$2.$1");
  CHECK(forward.apply("svc.pair.x.y") == "pair.y.x");
  CHECK(back->apply("pair.y.x") == "svc.pair.x.y");

  auto positional = make("svc.*.b.*", "local.*.*").reverse();
  REQUIRE(positional);
  CHECK(positional->apply("local.1.2") == "svc.1.b.2");

  auto rest = make("a.*.>", "b.{{wildcard(1)}}.>").reverse();
  REQUIRE(rest);
  CHECK(rest->apply("b.x.y.z") == "a.x.y.z");

  auto literal = make("svc.usage.A", "usage").reverse();
  REQUIRE(literal);
  CHECK(literal->apply("usage") == "svc.usage.A");

  auto prefix = subject_transform::prefix("imports").reverse();
  REQUIRE(prefix);
  CHECK(prefix->apply("imports.public.x") == "public.x");

  // A wildcard the destination drops cannot be recovered.
  CHECK_FALSE(make("a.*.*", "b.$1").reverse());
}

TEST_CASE("identity() is true only when every subject comes out unchanged", "[transform]") {
  // Identity mappings: the service import forwards the subject it has.
  for (auto [from, to] : {std::pair{"svc.plain", "svc.plain"}, std::pair{"svc.*", "svc.$1"},
                          std::pair{"svc.*.x.*", "svc.*.x.*"}, std::pair{"a.*.>", "a.$1.>"}}) {
    auto t = make(from, to);
    INFO(from << " -> " << to);
    CHECK(t.identity());
    auto back = t.reverse();
    REQUIRE(back);
    CHECK(back->identity());
  }
  CHECK(make("svc.*", "svc.$1").apply("svc.x") == "svc.x");
  // Anything else builds the new subject.
  for (auto [from, to] : {std::pair{"svc.*", "other.$1"}, std::pair{"a.*.*", "a.$2.$1"}, std::pair{"a.*", "a.$1.$1"},
                          std::pair{"a.*", "a.x"}, std::pair{"a.b", "a"}, std::pair{"a.>", "a.b.>"}}) {
    INFO(from << " -> " << to);
    CHECK_FALSE(make(from, to).identity());
  }
  CHECK_FALSE(subject_transform::prefix("imports").identity());
  CHECK_FALSE(subject_transform::prefix("imports").reverse()->identity());
}
