// The response routes of service imports: reply subjects handed out, answered, forged.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "actors/response_table.hpp"

using actors::pending_response;
using actors::response_table;
using platform::accounts::response_type;

namespace {

pending_response route(std::string reply, response_type type = response_type::singleton) {
  pending_response r;
  r.reply = std::move(reply);
  r.type = type;
  r.threshold = std::chrono::seconds(2);
  return r;
}

}  // namespace

TEST_CASE("response table: each request gets its own reply subject and one answer", "[responses]") {
  response_table t("abcdef");
  CHECK(t.reply_prefix() == "_R_.abcdef.");
  std::set<std::string> subjects;
  for (int i = 0; i < 1000; ++i) {
    auto s = t.add(route("_INBOX.requester." + std::to_string(i)));
    REQUIRE_FALSE(s.empty());
    CHECK(s.view().substr(0, 11) == "_R_.abcdef.");
    subjects.emplace(s.view());
  }
  CHECK(subjects.size() == 1000);
  CHECK(t.size() == 1000);
  for (auto& s : subjects) {
    auto r = t.take(s, false);
    REQUIRE(r);
    CHECK(r->reply.rfind("_INBOX.requester.", 0) == 0);
    CHECK_FALSE(t.take(s, false));  // a singleton is answered once
  }
  CHECK(t.size() == 0);
}

TEST_CASE("response table: subjects it did not hand out find nothing", "[responses]") {
  response_table t("abcdef");
  std::string s(t.add(route("_INBOX.x")).view());
  std::string forged_tag = s;
  forged_tag.back() = forged_tag.back() == 'a' ? 'b' : 'a';
  std::string forged_id = s;
  forged_id[11] = forged_id[11] == '1' ? '2' : '1';
  for (const std::string& bad :
       {forged_tag, forged_id, std::string("_R_.abcdef."), std::string("_R_.abcdef.ab"),
        std::string("_R_.abcdef.zzzzzzzzzzzzzzz"), std::string("_R_.abcdef.zzzzzzzzzzzabcd"),  // id past 64 bits
        std::string("_R_.ghijkl.") + s.substr(11), std::string("_R_.abcdef.1.2.abcd"), s + "x"}) {
    INFO(bad);
    CHECK_FALSE(t.take(bad, false));
    t.remove(bad);
  }
  CHECK(t.size() == 1);  // the real route is still there
  REQUIRE(t.take(s, false));
}

TEST_CASE("response table: streamed routes stay until an empty answer or expiry", "[responses]") {
  response_table t("abcdef");
  auto now = std::chrono::steady_clock::now();
  std::string s(t.add(route("_INBOX.s", response_type::stream), now).view());
  REQUIRE(t.take(s, false));
  REQUIRE(t.take(s, false));
  REQUIRE(t.take(s, true));  // the empty payload ends the stream
  CHECK_FALSE(t.take(s, false));

  std::string gone(t.add(route("_INBOX.g"), now).view());
  std::string removed(t.add(route("_INBOX.r"), now).view());
  t.remove(removed);
  CHECK_FALSE(t.take(removed, false));
  CHECK(t.expire(now + std::chrono::seconds(1)) == 0);
  CHECK(t.expire(now + std::chrono::seconds(3)) == 1);
  CHECK_FALSE(t.take(gone, false));
}

TEST_CASE("response table: a flood of unanswered requests is dropped at expiry",
          "[responses]") {
  response_table t("abcdef");
  auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) REQUIRE_FALSE(t.add(route("_INBOX.flood"), now).empty());
  CHECK(t.size() == 100000);
  CHECK(t.expire(now + std::chrono::seconds(3)) == 100000);
  CHECK(t.size() == 0);
  // Later requests still get routes.
  std::string s(t.add(route("_INBOX.after"), now).view());
  REQUIRE(t.take(s, false));
}
