// The stream_store contract, run against both implementations: every TEST_CASE runs
// once with rocks_store (fresh directory) and once with memory_store.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "store_fixture.hpp"

using namespace store_test;
using store::stored_message;

#define STORE_KINDS GENERATE(as<std::string>{}, "rocks", "memory")

TEST_CASE("put and get round trip", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;

  const std::string hdr = "NATS/1.0\r\nX-A: 1\r\n\r\n";
  const std::string binary("a\0b\0\0c\xff\x01", 8);
  put(s, 1,
      {msg(1, "orders.new", "hello"), msg(2, "orders.new", "with headers", hdr, -5), msg(3, "bin", binary),
       msg(4, "empty", ""), msg(5, "empty.hdr", "", hdr)});

  auto m1 = s.get(1, 1);
  REQUIRE(m1);
  CHECK(m1->seq == 1);
  CHECK(m1->subject == "orders.new");
  CHECK(m1->payload == "hello");
  CHECK(m1->headers.empty());
  CHECK(m1->time_ns == 1'700'000'000'000'000'000);

  auto m2 = s.get(1, 2);
  REQUIRE(m2);
  CHECK(m2->headers == hdr);
  CHECK(m2->payload == "with headers");
  CHECK(m2->time_ns == -5);

  auto m3 = s.get(1, 3);
  REQUIRE(m3);
  CHECK(m3->payload.size() == 8);
  CHECK(m3->payload == binary);

  auto m4 = s.get(1, 4);
  REQUIRE(m4);
  CHECK(m4->payload.empty());
  CHECK(m4->headers.empty());
  CHECK(m4->subject == "empty");

  auto m5 = s.get(1, 5);
  REQUIRE(m5);
  CHECK(m5->payload.empty());
  CHECK(m5->headers == hdr);

  CHECK_FALSE(s.get(1, 0));
  CHECK_FALSE(s.get(1, 6));
  CHECK_FALSE(s.get(2, 1));  // another stream

  // A large payload.
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>(i);
  put(s, 1, {msg(6, "big", big)});
  auto m6 = s.get(1, 6);
  REQUIRE(m6);
  CHECK(m6->payload == big);
}

TEST_CASE("empty batch and foreign batch", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto b = f.s->make_batch();
  CHECK(b->size() == 0);
  CHECK(f.s->write(*b, true).ok);

  // A batch from the other kind of store is refused, not misused.
  auto other = f.kind == "rocks" ? store::make_memory_store() : nullptr;
  temp_dir d;
  if (!other) {
    std::string error;
    other = store::open_rocks_store((d.path / "db").string(), error);
    REQUIRE(other);
  }
  auto foreign = other->make_batch();
  foreign->put_meta("k", "v");
  auto st = f.s->write(*foreign, false);
  CHECK_FALSE(st.ok);
  CHECK_FALSE(st);
  CHECK_FALSE(st.no_space);
  CHECK_FALSE(st.error.empty());
  CHECK_FALSE(f.s->get_meta("k"));
}

TEST_CASE("try_write applies a batch or reports would_block with nothing applied", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  auto b = s.make_batch();
  b->put_message(1, msg(1, "a", "quiet"));
  auto st = s.try_write(*b);
  REQUIRE(st.ok);
  CHECK_FALSE(st.would_block);
  CHECK(s.get(1, 1)->payload == "quiet");

  // Beside a writer of large batches: every try either applied its message or left it
  // out entirely, and what would block can be written (waiting) afterwards.
  std::atomic<bool> stop{false};
  std::atomic<int> writer_failed{0};
  std::thread writer([&] {
    uint64_t seq = 1;
    while (!stop.load()) {
      auto big = s.make_batch();
      for (int i = 0; i < 200; ++i) big->put_message(2, msg(seq++, "big", std::string(1024, 'x')));
      if (!s.write(*big, false).ok) writer_failed.fetch_add(1);
    }
  });
  int applied = 0, blocked = 0;
  for (uint64_t seq = 2; seq < 2000; ++seq) {
    auto t = s.make_batch();
    t->put_message(1, msg(seq, "a", "try"));
    auto r = s.try_write(*t);
    if (r.ok) {
      ++applied;
      CHECK(s.get(1, seq));
    } else {
      REQUIRE(r.would_block);
      ++blocked;
      CHECK_FALSE(s.get(1, seq));
      REQUIRE(s.write(*t, false).ok);
      CHECK(s.get(1, seq));
    }
  }
  stop = true;
  writer.join();
  CHECK(applied + blocked == 1998);
  CHECK(writer_failed.load() == 0);
  std::vector<stored_message> all;
  s.scan(1, 1, 5000, 0, "", all);
  CHECK(all.size() == 1999);
}

TEST_CASE("scan order, limits and filters", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  // Written out of order, in two batches: scan returns sequence order.
  put(s, 7, {msg(5, "a.x.1", "55555"), msg(1, "a.b", "1"), msg(3, "a.b.c", "333")});
  put(s, 7, {msg(2, "a.c", "22"), msg(4, "b.b", "4444"), msg(6, "a.b", "666666")});
  std::vector<stored_message> out;

  s.scan(7, 1, 100, 0, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
  CHECK(out[2].subject == "a.b.c");
  CHECK(out[2].payload == "333");

  s.scan(7, 0, 100, 0, "", out);  // from 0: from the start
  CHECK(out.size() == 6);

  s.scan(7, 3, 2, 0, "", out);  // max_msgs
  CHECK(seqs_of(out) == std::vector<uint64_t>{3, 4});

  s.scan(7, 1, 0, 0, "", out);  // 0 = no limit
  CHECK(out.size() == 6);

  // max_bytes counts subject + headers + payload and stops once reached.
  // seq 1: "a.b"+"1" = 4 bytes, seq 2: "a.c"+"22" = 5 bytes, seq 3: 5+3 = 8 bytes.
  s.scan(7, 1, 100, 9, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2});
  s.scan(7, 1, 100, 10, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2, 3});
  s.scan(7, 1, 100, 1, "", out);  // always at least one
  CHECK(seqs_of(out) == std::vector<uint64_t>{1});

  // Filters: literal, '*', '>'.
  s.scan(7, 1, 100, 0, "a.b", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 6});
  s.scan(7, 2, 100, 0, "a.b", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{6});
  s.scan(7, 1, 1, 0, "a.b", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1});
  s.scan(7, 1, 100, 0, "a.*", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2, 6});
  s.scan(7, 1, 100, 0, "a.>", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2, 3, 5, 6});
  s.scan(7, 1, 100, 0, "*.b", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 4, 6});
  s.scan(7, 1, 100, 0, ">", out);
  CHECK(out.size() == 6);
  s.scan(7, 1, 100, 0, "a.*.*", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{3, 5});
  s.scan(7, 1, 2, 0, "a.>", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 2});
  s.scan(7, 1, 100, 0, "nomatch", out);
  CHECK(out.empty());
  s.scan(7, 1, 100, 0, "no.*", out);
  CHECK(out.empty());

  // Past the end, and an unknown stream; `out` is cleared first.
  out.push_back(msg(99, "junk"));
  s.scan(7, 7, 100, 0, "", out);
  CHECK(out.empty());
  out.push_back(msg(99, "junk"));
  s.scan(8, 1, 100, 0, "", out);
  CHECK(out.empty());
}

TEST_CASE("scan from a sequence inside a hole", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  put(s, 1, {msg(1, "x"), msg(2, "x"), msg(3, "y"), msg(10, "x"), msg(11, "y"), msg(300, "x")});
  std::vector<stored_message> out;
  s.scan(1, 4, 100, 0, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{10, 11, 300});
  s.scan(1, 12, 100, 0, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{300});
  s.scan(1, 4, 100, 0, "y", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{11});
  s.scan(1, 12, 100, 0, "*", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{300});
  // 256 and 255 differ in a lower byte: big-endian keys keep numeric order.
  put(s, 1, {msg(255, "z"), msg(256, "z"), msg(65536, "z")});
  s.scan(1, 12, 100, 0, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{255, 256, 300, 65536});
}

TEST_CASE("delete_message removes the message and its index entry", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  put(s, 1, {msg(1, "a"), msg(2, "b"), msg(3, "a"), msg(4, "a")});
  {
    auto b = s.make_batch();
    b->delete_message(1, 3, "a");
    b->delete_message(1, 2, "b");
    CHECK(b->size() == 2);
    REQUIRE(s.write(*b, true).ok);
  }
  CHECK_FALSE(s.get(1, 3));
  CHECK_FALSE(s.get(1, 2));
  CHECK(s.get(1, 4));
  std::vector<stored_message> out;
  s.scan(1, 1, 100, 0, "", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 4});
  s.scan(1, 2, 100, 0, "a", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{4});
  CHECK(s.sequences_on_subject(1, "a", 0) == std::vector<uint64_t>{1, 4});
  CHECK(s.sequences_on_subject(1, "b", 0).empty());
  CHECK(s.first_on_subject(1, "a", 2) == 4u);
  CHECK(s.last_on_subject(1, "a", 3) == 1u);
  CHECK_FALSE(s.first_on_subject(1, "b", 0));
  CHECK_FALSE(s.last_on_subject(1, "b", 100));

  std::map<std::string, store::subject_state> subjects;
  s.for_each_subject(1, [&](std::string_view subj, const store::subject_state& st) { subjects[std::string(subj)] = st; });
  REQUIRE(subjects.size() == 1);
  CHECK(subjects["a"].count == 2);
  CHECK(subjects["a"].first == 1);
  CHECK(subjects["a"].last == 4);

  // Deleting what is not there is harmless.
  auto b = s.make_batch();
  b->delete_message(1, 99, "a");
  b->delete_message(5, 1, "a");
  CHECK(s.write(*b, false).ok);
  CHECK(s.get(1, 1));
}

TEST_CASE("messages without index entries and an index put back later", "[store]") {
  // A stream with at most one message per subject stores none (store::subject_index::
  // skip) and rebuilds its table from for_each_head; one that wants an index again
  // drops whatever it has and puts an entry per message.
  fixture f(STORE_KINDS);
  INFO(f.kind);
  // The store, fetched again after each reopen (a reference would outlive it).
  auto S = [&]() -> store::stream_store& { return *f.s; };
  const std::string hdr = "NATS/1.0\r\nX: y\r\n\r\n";
  const std::string large(70000, 'L');  // rocks: in the value log
  auto write = [&](const std::function<void(store::write_batch&)>& fill) {
    auto b = S().make_batch();
    fill(*b);
    auto st = S().write(*b, false);
    INFO(st.error);
    REQUIRE(st.ok);
  };
  auto skip = store::subject_index::skip;
  write([&](store::write_batch& b) {
    b.put_message(7, store::message_view{1, 10, "k.a", "", "one"}, skip);
    b.put_message(7, store::message_view{2, 20, "k.b", hdr, large}, skip);
    b.put_message(7, store::message_view{3, 30, "k.a", "", "three"}, skip);
    b.delete_message(7, 1, "k.a", 3, skip);
    b.put_message(8, msg(1, "k.a"));  // another stream, indexed
  });
  auto heads = [&](uint64_t id) {
    std::vector<store::message_head> out;
    S().for_each_head(id, [&](const store::message_head& h) { out.push_back(h); });
    return out;
  };
  auto check_data = [&] {
    CHECK(S().get(7, 3)->payload == "three");
    CHECK(S().get(7, 2)->payload == large);
    CHECK_FALSE(S().get(7, 1));
    auto h = heads(7);
    REQUIRE(h.size() == 2);
    CHECK(h[0].seq == 2);
    CHECK(h[0].subject == "k.b");
    CHECK(h[0].time_ns == 20);
    CHECK(h[0].headers_size == hdr.size());
    CHECK(h[0].payload_size == large.size());
    CHECK(h[1].seq == 3);
    CHECK(h[1].subject == "k.a");
    CHECK(h[1].payload_size == 5);
    CHECK(heads(8).size() == 1);
    CHECK(heads(9).empty());
    CHECK(S().sequences_on_subject(8, "k.a", 0) == std::vector<uint64_t>{1});
  };
  check_data();
  CHECK(S().sequences_on_subject(7, "k.a", 0).empty());
  CHECK_FALSE(S().first_on_subject(7, "k.b", 0));
  if (f.kind == "rocks") {
    f.reopen();
    check_data();
  }

  // An index again: entries for the two live messages, then more messages with theirs.
  write([&](store::write_batch& b) {
    b.drop_subject_index(7);
    b.put_index(7, "k.b", 2);
    b.put_index(7, "k.a", 3);
    b.put_message(7, msg(4, "k.a", "four"));
  });
  CHECK(S().sequences_on_subject(7, "k.a", 0) == std::vector<uint64_t>{3, 4});
  CHECK(S().first_on_subject(7, "k.b", 0) == 2u);
  CHECK(S().sequences_on_subject(8, "k.a", 0) == std::vector<uint64_t>{1});  // not dropped
  // Entries put by put_index are deleted as rewritten ones.
  write([&](store::write_batch& b) { b.delete_message(7, 3, "k.a", 5, store::subject_index::rewritten); });
  CHECK(S().sequences_on_subject(7, "k.a", 0) == std::vector<uint64_t>{4});
  if (f.kind == "rocks") {
    f.reopen();
    CHECK(S().sequences_on_subject(7, "k.a", 0) == std::vector<uint64_t>{4});
    CHECK(S().sequences_on_subject(7, "k.b", 0) == std::vector<uint64_t>{2});
  }
  // Dropped again: nothing of stream 7 in the index, the messages stay.
  write([&](store::write_batch& b) { b.drop_subject_index(7); });
  std::map<std::string, store::subject_state> subjects;
  S().for_each_subject(7, [&](std::string_view subj, const store::subject_state& st) { subjects[std::string(subj)] = st; });
  CHECK(subjects.empty());
  CHECK(heads(7).size() == 2);  // 2 and 4
  CHECK(S().sequences_on_subject(8, "k.a", 0) == std::vector<uint64_t>{1});
}

TEST_CASE("subject index lookups keep prefix subjects apart", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  // "a.b" is a prefix of "a.b.c" and "a.bc": the '\0' separator must keep them apart.
  put(s, 3,
      {msg(1, "a.b"), msg(2, "a.b.c"), msg(3, "a.bc"), msg(4, "a.b"), msg(5, "a.b.c"), msg(6, "a"), msg(7, "a.b"),
       msg(258, "a.b.c"), msg(1000, "a.b")});

  CHECK(s.first_on_subject(3, "a.b", 0) == 1u);
  CHECK(s.first_on_subject(3, "a.b", 1) == 1u);
  CHECK(s.first_on_subject(3, "a.b", 2) == 4u);
  CHECK(s.first_on_subject(3, "a.b", 8) == 1000u);
  CHECK_FALSE(s.first_on_subject(3, "a.b", 1001));
  CHECK(s.first_on_subject(3, "a.b.c", 0) == 2u);
  CHECK(s.first_on_subject(3, "a.b.c", 6) == 258u);
  CHECK(s.first_on_subject(3, "a", 0) == 6u);
  CHECK_FALSE(s.first_on_subject(3, "a.", 0));
  CHECK_FALSE(s.first_on_subject(3, "a.b.c.d", 0));
  CHECK_FALSE(s.first_on_subject(3, "b", 0));
  CHECK_FALSE(s.first_on_subject(4, "a.b", 0));  // another stream

  CHECK(s.last_on_subject(3, "a.b", UINT64_MAX) == 1000u);
  CHECK(s.last_on_subject(3, "a.b", 999) == 7u);
  CHECK(s.last_on_subject(3, "a.b", 7) == 7u);
  CHECK(s.last_on_subject(3, "a.b", 3) == 1u);
  CHECK_FALSE(s.last_on_subject(3, "a.b", 0));
  CHECK(s.last_on_subject(3, "a.b.c", UINT64_MAX) == 258u);
  CHECK(s.last_on_subject(3, "a.b.c", 257) == 5u);
  CHECK_FALSE(s.last_on_subject(3, "a.b.c", 1));
  CHECK(s.last_on_subject(3, "a.bc", 100) == 3u);
  CHECK(s.last_on_subject(3, "a", 100) == 6u);
  CHECK_FALSE(s.last_on_subject(3, "a.b.", UINT64_MAX));
  CHECK_FALSE(s.last_on_subject(3, "zzz", UINT64_MAX));
  CHECK_FALSE(s.last_on_subject(2, "a.b", UINT64_MAX));

  CHECK(s.sequences_on_subject(3, "a.b", 0) == std::vector<uint64_t>{1, 4, 7, 1000});
  CHECK(s.sequences_on_subject(3, "a.b", 5) == std::vector<uint64_t>{7, 1000});
  CHECK(s.sequences_on_subject(3, "a.b.c", 0) == std::vector<uint64_t>{2, 5, 258});
  CHECK(s.sequences_on_subject(3, "a.bc", 0) == std::vector<uint64_t>{3});
  CHECK(s.sequences_on_subject(3, "a", 0) == std::vector<uint64_t>{6});
  CHECK(s.sequences_on_subject(3, "a.b", 1001).empty());
  CHECK(s.sequences_on_subject(3, "nope", 0).empty());

  // A literal scan filter goes through the index: same prefix rules.
  std::vector<stored_message> out;
  s.scan(3, 0, 100, 0, "a.b", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{1, 4, 7, 1000});
  s.scan(3, 0, 100, 0, "a.b.*", out);
  CHECK(seqs_of(out) == std::vector<uint64_t>{2, 5, 258});
}

TEST_CASE("for_each_subject aggregates per subject in order", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  put(s, 9,
      {msg(1, "b"), msg(2, "a.b.c"), msg(3, "a.b"), msg(4, "b"), msg(5, "a.b"), msg(6, "b"), msg(7, "a"),
       msg(8, "a.b")});
  put(s, 10, {msg(1, "other")});
  put(s, 8, {msg(1, "before")});

  std::vector<std::pair<std::string, store::subject_state>> got;
  s.for_each_subject(9, [&](std::string_view subj, const store::subject_state& st) { got.emplace_back(subj, st); });
  REQUIRE(got.size() == 4);
  CHECK(got[0].first == "a");
  CHECK(got[0].second.first == 7);
  CHECK(got[0].second.last == 7);
  CHECK(got[0].second.count == 1);
  CHECK(got[1].first == "a.b");
  CHECK(got[1].second.first == 3);
  CHECK(got[1].second.last == 8);
  CHECK(got[1].second.count == 3);
  CHECK(got[2].first == "a.b.c");
  CHECK(got[2].second.count == 1);
  CHECK(got[2].second.first == 2);
  CHECK(got[3].first == "b");
  CHECK(got[3].second.first == 1);
  CHECK(got[3].second.last == 6);
  CHECK(got[3].second.count == 3);

  int calls = 0;
  s.for_each_subject(11, [&](std::string_view, const store::subject_state&) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("streams never mix and drop_stream removes only its stream", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  // Ids chosen so that byte-wise neighbours and extremes are covered.
  const std::vector<uint64_t> ids = {0, 1, 2, 255, 256, 0x0100000000000000ull, UINT64_MAX};
  for (auto id : ids) {
    auto b = s.make_batch();
    for (uint64_t seq = 1; seq <= 5; ++seq)
      b->put_message(id, msg(seq, "s." + std::to_string(id), std::to_string(id) + "/" + std::to_string(seq)));
    b->put_meta("stream/" + std::to_string(id), "cfg");
    REQUIRE(s.write(*b, false).ok);
  }
  for (auto id : ids) {
    INFO(id);
    std::vector<stored_message> out;
    s.scan(id, 0, 100, 0, "", out);
    REQUIRE(out.size() == 5);
    for (auto& m : out) CHECK(m.subject == "s." + std::to_string(id));
    CHECK(out.back().payload == std::to_string(id) + "/5");
    int subjects = 0;
    s.for_each_subject(id, [&](std::string_view subj, const store::subject_state& st) {
      ++subjects;
      CHECK(subj == "s." + std::to_string(id));
      CHECK(st.count == 5);
    });
    CHECK(subjects == 1);
    CHECK(s.last_on_subject(id, "s." + std::to_string(id), UINT64_MAX) == 5u);
  }

  for (auto dropped : {uint64_t{1}, uint64_t{255}, UINT64_MAX}) REQUIRE(s.drop_stream(dropped).ok);
  CHECK(s.drop_stream(12345).ok);  // unknown: fine

  for (auto id : ids) {
    INFO(id);
    bool gone = id == 1 || id == 255 || id == UINT64_MAX;
    std::vector<stored_message> out;
    s.scan(id, 0, 100, 0, "", out);
    CHECK(out.size() == (gone ? 0u : 5u));
    CHECK(s.get(id, 3).has_value() == !gone);
    CHECK(s.sequences_on_subject(id, "s." + std::to_string(id), 0).size() == (gone ? 0u : 5u));
    int subjects = 0;
    s.for_each_subject(id, [&](std::string_view, const store::subject_state&) { ++subjects; });
    CHECK(subjects == (gone ? 0 : 1));
    // Metadata is the caller's: drop_stream leaves it.
    CHECK(s.get_meta("stream/" + std::to_string(id)) == "cfg");
  }

  // A dropped stream id can be written again.
  put(s, 1, {msg(1, "again")});
  std::vector<stored_message> out;
  s.scan(1, 0, 100, 0, "", out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].subject == "again");
}

TEST_CASE("meta put, list, get and delete", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  {
    auto b = s.make_batch();
    b->put_meta("streams/ACC/ORDERS", "{\"o\":1}");
    b->put_meta("streams/ACC/EVENTS", "{\"e\":1}");
    b->put_meta("streams/B/X", "x");
    b->put_meta("consumers/ACC/ORDERS/c1", "c1");
    b->put_meta("streams/ACC", "not a child");
    b->put_meta(std::string("bin\0key", 7), std::string("v\0v", 3));
    REQUIRE(b->size() == 6);
    REQUIRE(s.write(*b, true).ok);
  }
  CHECK(s.get_meta("streams/B/X") == "x");
  CHECK_FALSE(s.get_meta("streams/B"));
  CHECK(s.get_meta(std::string("bin\0key", 7)) == std::string("v\0v", 3));
  CHECK_FALSE(s.get_meta("bin"));

  auto acc = s.list_meta("streams/ACC/");
  REQUIRE(acc.size() == 2);
  CHECK(acc[0].first == "streams/ACC/EVENTS");  // key order
  CHECK(acc[0].second == "{\"e\":1}");
  CHECK(acc[1].first == "streams/ACC/ORDERS");

  CHECK(s.list_meta("streams/").size() == 4);
  CHECK(s.list_meta("").size() == 6);
  CHECK(s.list_meta("consumers/").size() == 1);
  CHECK(s.list_meta("zzz").empty());
  CHECK(s.list_meta("streams/ACC/ORDERS/").empty());

  {
    auto b = s.make_batch();
    b->put_meta("streams/ACC/ORDERS", "{\"o\":2}");  // overwrite
    b->delete_meta("streams/ACC/EVENTS");
    b->delete_meta("never/there");
    REQUIRE(s.write(*b, false).ok);
  }
  CHECK(s.get_meta("streams/ACC/ORDERS") == "{\"o\":2}");
  CHECK_FALSE(s.get_meta("streams/ACC/EVENTS"));
  acc = s.list_meta("streams/ACC/");
  REQUIRE(acc.size() == 1);
  CHECK(acc[0].second == "{\"o\":2}");

  // A prefix ending in 0xff bytes has no finite upper bound key: still listed right.
  {
    auto b = s.make_batch();
    b->put_meta("\xff\xff" "a", "1");
    b->put_meta("\xff\xff", "0");
    b->put_meta("\xff\xfe", "no");
    REQUIRE(s.write(*b, false).ok);
  }
  auto ff = s.list_meta("\xff\xff");
  REQUIRE(ff.size() == 2);
  CHECK(ff[0].second == "0");
  CHECK(ff[1].second == "1");
}

TEST_CASE("a batch with many operations applies fully", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  put(s, 2, {msg(1, "old.1"), msg(2, "old.2")});
  auto b = s.make_batch();
  for (uint64_t seq = 3; seq <= 5002; ++seq) b->put_message(2, msg(seq, "new." + std::to_string(seq % 10)));
  b->delete_message(2, 1, "old.1");
  for (int i = 0; i < 100; ++i) b->put_meta("k/" + std::to_string(i), std::to_string(i));
  b->delete_meta("k/50");
  CHECK(b->size() == 5000 + 1 + 100 + 1);
  REQUIRE(s.write(*b, true).ok);

  CHECK_FALSE(s.get(2, 1));
  CHECK(s.get(2, 2));
  CHECK(s.get(2, 5002));
  std::vector<stored_message> out;
  s.scan(2, 0, 0, 0, "", out);
  CHECK(out.size() == 5001);
  CHECK(s.sequences_on_subject(2, "new.7", 0).size() == 500);
  CHECK(s.list_meta("k/").size() == 99);
  CHECK_FALSE(s.get_meta("k/50"));
}

TEST_CASE("a 100k-message stream read in pages", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  constexpr uint64_t total = 100'000;
  for (uint64_t start = 1; start <= total; start += 5000) {
    auto b = s.make_batch();
    for (uint64_t seq = start; seq < start + 5000; ++seq)
      b->put_message(4, msg(seq, "load." + std::to_string(seq % 7), "payload-" + std::to_string(seq)));
    REQUIRE(s.write(*b, false).ok);
  }
  std::vector<stored_message> page;
  uint64_t next = 1, seen = 0, pages = 0;
  bool ordered = true, bounded = true;
  for (;;) {
    s.scan(4, next, 1000, 0, "", page);
    if (page.empty()) break;
    ++pages;
    bounded = bounded && page.size() <= 1000;
    for (auto& m : page) {
      ordered = ordered && m.seq == next && m.payload == "payload-" + std::to_string(m.seq);
      next = m.seq + 1;
      ++seen;
    }
  }
  CHECK(ordered);
  CHECK(bounded);
  CHECK(seen == total);
  CHECK(pages == 100);

  // Byte-bounded pages: each message is 6 + 8..14 bytes, so 64 KiB holds about 3500.
  s.scan(4, 1, 0, 64 << 10, "", page);
  CHECK(page.size() > 2000);
  CHECK(page.size() < 5000);

  // A filtered page of a sparse-ish subject deep in the stream.
  s.scan(4, 50'000, 1000, 0, "load.3", page);
  REQUIRE(page.size() == 1000);
  CHECK(page.front().seq == 50'004);  // 50004 % 7 == 3
  CHECK(page.back().seq == 50'004 + 999 * 7);
  s.scan(4, 50'000, 1000, 0, "load.*", page);
  CHECK(page.size() == 1000);

  uint64_t subjects = 0, count = 0;
  s.for_each_subject(4, [&](std::string_view, const store::subject_state& st) {
    ++subjects;
    count += st.count;
  });
  CHECK(subjects == 7);
  CHECK(count == total);
}

TEST_CASE("concurrent writers and readers on different streams", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  auto& s = *f.s;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (uint64_t id = 1; id <= 4; ++id) {
    threads.emplace_back([&, id] {
      for (uint64_t seq = 1; seq <= 500; ++seq) {
        auto b = s.make_batch();
        b->put_message(id, msg(seq, "t." + std::to_string(id)));
        if (!s.write(*b, false).ok) failed = true;
        std::vector<stored_message> out;
        s.scan(id, seq, 10, 0, "", out);
        if (out.size() != 1 || out[0].seq != seq) failed = true;
        if (s.last_on_subject(id, "t." + std::to_string(id), UINT64_MAX) != seq) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(failed);
  for (uint64_t id = 1; id <= 4; ++id) CHECK(s.sequences_on_subject(id, "t." + std::to_string(id), 0).size() == 500);
}

TEST_CASE("disk usage", "[store]") {
  fixture f(STORE_KINDS);
  INFO(f.kind);
  if (f.kind == "memory") {
    put(*f.s, 1, {msg(1, "x")});
    CHECK(f.s->disk_usage() == 0);
    return;
  }
  // rocks: the WAL alone holds what was written.
  std::string payload(1 << 20, 'p');
  uint64_t x = 88172645463325252ull;  // xorshift: incompressible, so LZ4 cannot shrink it
  for (auto& c : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  put(*f.s, 1, {msg(1, "x", payload), msg(2, "x", payload)});
  f.reopen();  // the usage is cached for a second: a fresh store measures now
  CHECK(f.s->disk_usage() >= 2u << 20);
  CHECK(f.s->disk_usage() < 64u << 20);
}
