// The subject index. Every test runs twice through one helper: straight matches and
// through a per-connection match cache, so the cache can never hide a bug.
#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "libplatform/match_cache.hpp"
#include "libplatform/subject.hpp"
#include "libplatform/sublist.hpp"

using namespace platform;

namespace {

struct owner : subscriber {};

subscription_ptr make_sub(const std::string& subject, const std::string& queue = "", const std::string& sid = "") {
  return std::make_shared<subscription>(subject, queue, sid.empty() ? subject + "/" + queue : sid);
}

// What one lookup sees: plain sids and per-group member sids, sorted.
struct seen {
  std::multiset<std::string> plain;
  std::map<std::string, std::multiset<std::string>> groups;
  bool operator==(const seen& o) const { return plain == o.plain && groups == o.groups; }
};

seen collect(const match_result& r) {
  seen s;
  for (auto& p : r.plain) s.plain.insert(std::string(p->sid()));
  for (auto& g : r.queues)
    for (auto& m : g.members) s.groups[std::string(g.name)].insert(std::string(m->sid()));
  return s;
}

// The one helper every test matches through: cached (with a long-lived cache, so stale
// entries would show) or not.
struct matcher {
  bool cached;
  match_cache cache;
  seen operator()(const sublist& sl, const std::string& subject) {
    if (cached) return collect(cache.lookup(sl, subject));
    return collect(*sl.match(subject));
  }
};

}  // namespace

TEST_CASE("sublist matches literals and wildcards", "[sublist]") {
  for (bool cached : {false, true}) {
    DYNAMIC_SECTION("cache " << (cached ? "on" : "off")) {
      sublist sl;
      matcher m{cached, {}};
      auto a = make_sub("foo.bar", "", "a");
      auto b = make_sub("foo.*", "", "b");
      auto c = make_sub("foo.>", "", "c");
      auto d = make_sub(">", "", "d");
      auto e = make_sub("*.bar", "", "e");
      for (auto& s : {a, b, c, d, e}) sl.insert(s);
      CHECK(sl.count() == 5);
      CHECK(m(sl, "foo.bar").plain == std::multiset<std::string>{"a", "b", "c", "d", "e"});
      CHECK(m(sl, "foo.baz").plain == std::multiset<std::string>{"b", "c", "d"});
      CHECK(m(sl, "foo.bar.baz").plain == std::multiset<std::string>{"c", "d"});
      CHECK(m(sl, "foo").plain == std::multiset<std::string>{"d"});
      CHECK(m(sl, "foo..bar").plain.empty());  // empty token matches nothing
      // A published wildcard token is a literal: only wildcard subscriptions match it.
      CHECK(m(sl, "foo.*").plain == std::multiset<std::string>{"b", "c", "d"});
      CHECK(sl.remove(b));
      CHECK_FALSE(sl.remove(b));
      CHECK(m(sl, "foo.bar").plain == std::multiset<std::string>{"a", "c", "d", "e"});
      sl.remove_all({a, c, d, e});
      CHECK(sl.count() == 0);
      CHECK(m(sl, "foo.bar").plain.empty());
    }
  }
}

TEST_CASE("sublist groups queue members across patterns", "[sublist]") {
  for (bool cached : {false, true}) {
    DYNAMIC_SECTION("cache " << (cached ? "on" : "off")) {
      sublist sl;
      matcher m{cached, {}};
      sl.insert(make_sub("svc.a", "q", "1"));
      sl.insert(make_sub("svc.*", "q", "2"));
      sl.insert(make_sub("svc.a", "other", "3"));
      sl.insert(make_sub("svc.a", "", "4"));
      auto r = m(sl, "svc.a");
      CHECK(r.plain == std::multiset<std::string>{"4"});
      REQUIRE(r.groups.size() == 2);
      CHECK(r.groups["q"] == std::multiset<std::string>{"1", "2"});
      CHECK(r.groups["other"] == std::multiset<std::string>{"3"});
    }
  }
}

TEST_CASE("sublist cache notices every change", "[sublist]") {
  sublist sl;
  matcher m{true, {}};
  CHECK(m(sl, "a.b").plain.empty());
  auto s = make_sub("a.*", "", "x");
  sl.insert(s);
  CHECK(m(sl, "a.b").plain.size() == 1);
  sl.remove(s);
  CHECK(m(sl, "a.b").plain.empty());
}

TEST_CASE("sublist agrees with the reference matcher on random subjects", "[sublist]") {
  std::mt19937 rng(12345);
  const std::vector<std::string> words = {"a", "b", "c", "foo", "bar"};
  auto random_subject = [&](bool wildcards) {
    int n = 1 + int(rng() % 4);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += '.';
      int r = int(rng() % 10);
      if (wildcards && r == 0) {
        s += '*';
      } else if (wildcards && r == 1 && i == n - 1) {
        s += '>';
      } else {
        s += words[rng() % words.size()];
      }
    }
    return s;
  };
  for (bool cached : {false, true}) {
    DYNAMIC_SECTION("cache " << (cached ? "on" : "off")) {
      sublist sl;
      matcher m{cached, {}};
      std::vector<subscription_ptr> subs;
      for (int round = 0; round < 3000; ++round) {
        // Mix inserts, removes and lookups so the cache sees changes between lookups.
        int op = int(rng() % 3);
        if (op == 0 || subs.empty()) {
          auto q = rng() % 4 == 0 ? std::string("q") + char('0' + rng() % 2) : std::string();
          auto s = make_sub(random_subject(true), q, std::to_string(round));
          // Half the inserts pass a next-subject hint (only a prefetch: no effect on results).
          sl.insert(s, rng() % 2 ? random_subject(true) : std::string());
          subs.push_back(s);
        } else if (op == 1) {
          size_t i = rng() % subs.size();
          REQUIRE(sl.remove(subs[i]));
          subs.erase(subs.begin() + long(i));
        } else {
          auto subj = random_subject(false);
          seen want;
          for (auto& s : subs) {
            if (!subject::matches(s->subject(), subj)) continue;
            if (s->queue().empty())
              want.plain.insert(std::string(s->sid()));
            else
              want.groups[std::string(s->queue())].insert(std::string(s->sid()));
          }
          INFO("subject " << subj);
          REQUIRE(m(sl, subj) == want);
        }
        REQUIRE(sl.count() == subs.size());
      }
    }
  }
}

TEST_CASE("sublist prunes empty nodes and handles many subjects", "[sublist]") {
  sublist sl;
  std::vector<subscription_ptr> subs;
  for (int i = 0; i < 20000; ++i) subs.push_back(make_sub("bench.sub." + std::to_string(i)));
  for (size_t i = 0; i < subs.size(); ++i)  // with the sibling hint a SUB burst gives
    sl.insert(subs[i], i + 1 < subs.size() ? std::string_view(subs[i + 1]->subject()) : std::string_view());
  CHECK(sl.count() == subs.size());
  CHECK(sl.match("bench.sub.19999")->plain.size() == 1);
  CHECK(sl.match("bench.sub.20000")->empty());
  auto g = sl.generation();
  sl.remove_all(subs);
  CHECK(sl.generation() > g);
  CHECK(sl.count() == 0);
  CHECK(sl.match("bench.sub.1")->empty());
}

TEST_CASE("subscription keeps subject, queue and sid, short or long", "[sublist]") {
  auto check = [](const std::string& subj, const std::string& queue, const std::string& sid) {
    subscription s(subj, queue, sid);
    CHECK(s.subject() == subj);
    CHECK(s.queue() == queue);
    CHECK(s.sid() == sid);
  };
  check("foo", "", "1");                                       // inline
  check("orders.eu.created", "workers", "12345");              // inline
  check("a.very.long.subject.with.many.tokens.in.it", "", "7"); // on the heap
  check("x", std::string(300, 'q'), "99");                     // a long queue name
  check("", "", "");                                            // degenerate, still consistent
  // Through the index: a long subject is found and removed like a short one.
  sublist sl;
  auto big = make_sub(std::string(200, 'a') + ".b", "g", "sid-1");
  auto small = make_sub("s.b");
  sl.insert(big);
  sl.insert(small);
  CHECK(sl.match(std::string(200, 'a') + ".b")->queues.size() == 1);
  CHECK(sl.match(std::string(200, 'a') + ".b")->queues[0].name == "g");
  CHECK(sl.remove(big));
  CHECK(sl.remove(small));
  CHECK(sl.count() == 0);
}

TEST_CASE("sublist: matching a subject of 50,000 tokens does not recurse", "[sublist][bad-input]") {
  // A '*' branch per token: recursion would need ~50,000 frames on the caller's stack.
  std::string stars, literal;
  for (int i = 0; i < 50000; ++i) {
    stars += i ? ".*" : "*";
    literal += i ? ".t" : "t";
  }
  sublist l;
  auto deep = make_sub(stars, "", "deep");
  auto all = make_sub(">", "", "all");
  l.insert(deep);
  l.insert(all);
  auto r = l.match(literal);
  auto s = collect(*r);
  CHECK(s.plain == std::multiset<std::string>{"deep", "all"});
  CHECK(collect(*l.match(literal + ".x")).plain == std::multiset<std::string>{"all"});
  CHECK(l.remove(deep));
  CHECK(collect(*l.match(literal)).plain == std::multiset<std::string>{"all"});
}

TEST_CASE("sublist: a result says whether it holds internal subscriptions", "[sublist]") {
  sublist l;
  auto client = make_sub("a.b", "", "1");
  l.insert(client);
  CHECK_FALSE(l.match("a.b")->has_internal);
  auto imp = make_sub("a.*", "", "2");
  imp->internal = true;
  l.insert(imp);
  CHECK(l.match("a.b")->has_internal);
  CHECK_FALSE(l.match("x")->has_internal);
}

TEST_CASE("interest watches fire for subscriptions that match the watched subject, until unwatched", "[sublist]") {
  sublist sl;
  int fired_inbox = 0, fired_other = 0;
  auto w1 = sl.watch_interest("_INBOX.abc.1", [&] { ++fired_inbox; });
  sl.watch_interest("orders.new", [&] { ++fired_other; });
  sl.insert(make_sub("unrelated"));
  CHECK(fired_inbox == 0);
  sl.insert(make_sub("_INBOX.abc.1"));
  CHECK(fired_inbox == 1);
  sl.insert(make_sub("_INBOX.abc.*"));  // a wildcard that covers it counts too
  sl.insert(make_sub("_INBOX.>", "q"));
  CHECK(fired_inbox == 3);
  sl.insert(make_sub("_INBOX.abc.2"));
  CHECK(fired_inbox == 3);
  CHECK(fired_other == 0);
  sl.unwatch_interest(w1);
  sl.insert(make_sub("_INBOX.abc.1", "", "second"));
  CHECK(fired_inbox == 3);
  sl.insert(make_sub("orders.*"));
  CHECK(fired_other == 1);
  // A watch may insert into the index it watches (it runs outside the index's lock).
  sublist sl2;
  sl2.watch_interest("a.b", [&] { sl2.insert(make_sub("x.y")); });
  sl2.insert(make_sub("a.b"));
  CHECK(sl2.count() == 2);
}

TEST_CASE("match cache: response-route subjects are matched every time and never stored", "[sublist]") {
  sublist sl;
  match_cache cache;
  auto routes = make_sub("_R_.abcdef.>", "", "router");
  auto all = make_sub(">", "", "all");
  sl.insert(routes);
  cache.lookup(sl, "orders.new");
  CHECK(cache.size() == 1);
  for (int i = 0; i < 1000; ++i) {
    std::string subject = "_R_.abcdef." + std::to_string(i) + "wxyz";
    CHECK(collect(cache.lookup(sl, subject)).plain == std::multiset<std::string>{"router"});
    auto held = cache.lookup_ptr(sl, subject);  // the router's second look: the same result
    REQUIRE(held);
    CHECK(held.get() == &cache.lookup(sl, subject));
  }
  CHECK(cache.size() == 1);  // only orders.new
  // A change to the index is seen by the next look at the same subject.
  std::string subject = "_R_.abcdef.7wxyz";
  CHECK(collect(cache.lookup(sl, subject)).plain.size() == 1);
  sl.insert(all);
  CHECK(collect(cache.lookup(sl, subject)).plain == std::multiset<std::string>{"router", "all"});
  sl.remove(routes);
  CHECK(collect(cache.lookup(sl, subject)).plain == std::multiset<std::string>{"all"});
}
