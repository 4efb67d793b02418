#include <catch2/catch.hpp>

#include "libplatform/subject.hpp"

using namespace platform::subject;

TEST_CASE("subscription subjects", "[subject]") {
  for (auto s : {"foo", "foo.bar", "foo.*", "*", ">", "foo.>", "*.*.>", "a*.b>", "$SYS.>", "_INBOX.abc.*"}) {
    INFO(s);
    CHECK(valid_subscription(s));
  }
  for (auto s : {"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.foo", "foo bar", "foo\tbar", "foo\r",
                 "foo.\n"}) {
    INFO(s);
    CHECK_FALSE(valid_subscription(s));
  }
}

TEST_CASE("publish subjects", "[subject]") {
  CHECK(valid_publish("foo.bar"));
  CHECK(valid_publish("a*.b>"));  // not whole tokens: literals
  CHECK_FALSE(valid_publish("foo.*"));
  CHECK_FALSE(valid_publish("foo.>"));
  CHECK_FALSE(valid_publish("foo..bar"));
  CHECK_FALSE(valid_publish(""));
}

TEST_CASE("queue names", "[subject]") {
  CHECK(valid_queue("workers"));
  CHECK(valid_queue("q.1"));
  CHECK_FALSE(valid_queue(""));
  CHECK_FALSE(valid_queue("a b"));
}

TEST_CASE("reference matcher", "[subject]") {
  CHECK(matches("foo", "foo"));
  CHECK_FALSE(matches("foo", "foo.bar"));
  CHECK(matches("foo.*", "foo.bar"));
  CHECK_FALSE(matches("foo.*", "foo"));
  CHECK_FALSE(matches("foo.*", "foo.bar.baz"));
  CHECK(matches("foo.>", "foo.bar.baz"));
  CHECK_FALSE(matches("foo.>", "foo"));
  CHECK(matches(">", "a"));
  CHECK(matches("*.b.*", "a.b.c"));
  CHECK(matches("foo.*", "foo.*"));  // a published '*' is a literal token that '*' matches
  CHECK_FALSE(matches("foo.bar", "foo.*"));
  CHECK(is_literal("foo.bar"));
  CHECK_FALSE(is_literal("foo.*"));
  CHECK_FALSE(is_literal(">"));
}
