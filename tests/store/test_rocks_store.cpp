// rocks_store only: what survives closing and reopening the directory, open errors,
// and recovery from a full disk.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "services/store/idle_release.hpp"
#include "store_fixture.hpp"

using namespace store_test;
using store::stored_message;

TEST_CASE("rocks: everything written is there after reopening", "[store][rocks]") {
  fixture f("rocks");
  {
    auto b = f.s->make_batch();
    for (uint64_t seq = 1; seq <= 1000; ++seq)
      b->put_message(1, msg(seq, "r." + std::to_string(seq % 3), "p" + std::to_string(seq),
                            seq % 2 ? "" : "NATS/1.0\r\nK: v\r\n\r\n", static_cast<int64_t>(seq)));
    b->put_message(2, msg(1, "other"));
    b->put_message(3, msg(1, "dropped"));
    b->put_meta("streams/A", "a");
    b->put_meta("streams/B", "b");
    REQUIRE(f.s->write(*b, false).ok);  // not synced: the WAL in the page cache is enough
  }
  {
    auto b = f.s->make_batch();
    b->delete_message(1, 500, "r.2");
    b->delete_meta("streams/B");
    REQUIRE(f.s->write(*b, true).ok);
  }
  REQUIRE(f.s->drop_stream(3).ok);

  for (int round = 0; round < 2; ++round) {
    INFO("reopen " << round);
    f.reopen();
    auto& s = *f.s;
    std::vector<stored_message> out;
    s.scan(1, 0, 0, 0, "", out);
    REQUIRE(out.size() == 999);
    CHECK(out[0].seq == 1);
    CHECK(out[0].time_ns == 1);
    CHECK(out[1].headers == "NATS/1.0\r\nK: v\r\n\r\n");
    CHECK_FALSE(s.get(1, 500));
    CHECK(s.get(1, 1000)->payload == "p1000");
    CHECK(s.last_on_subject(1, "r.2", 502) == 497u);
    CHECK(s.first_on_subject(1, "r.1", 2) == 4u);
    uint64_t count = 0;
    s.for_each_subject(1, [&](std::string_view, const store::subject_state& st) { count += st.count; });
    CHECK(count == 999);
    CHECK(s.get(2, 1)->subject == "other");
    CHECK_FALSE(s.get(3, 1));
    CHECK(s.sequences_on_subject(3, "dropped", 0).empty());
    CHECK(s.get_meta("streams/A") == "a");
    CHECK_FALSE(s.get_meta("streams/B"));
    // Something written after a reopen is kept by the next one too.
    if (round == 0) put(s, 2, {msg(2, "after")});
    CHECK(s.get(2, 2));
  }
}

TEST_CASE("rocks: an idle store writes its memtables out and keeps every message", "[store][rocks][memory]") {
  fixture f("rocks");
  // Below the threshold nothing is flushed.
  put(*f.s, 1, {msg(1, "small", "x")});
  CHECK(f.s->release_memory(store::idle_flush_min) == 0);
  // 2 MiB of messages in the memtable: released (about their size), and still there.
  const std::string body(1024, 'p');
  auto b = f.s->make_batch();
  for (uint64_t seq = 2; seq <= 2049; ++seq) b->put_message(1, msg(seq, "big." + std::to_string(seq % 7), body));
  REQUIRE(f.s->write(*b, false).ok);
  size_t released = f.s->release_memory(store::idle_flush_min);
  CHECK(released >= 2u << 20);
  CHECK(f.s->release_memory(store::idle_flush_min) == 0);  // nothing left to write out
  CHECK(f.s->get(1, 1)->payload == "x");
  CHECK(f.s->get(1, 2049)->payload == body);
  CHECK(f.s->last_on_subject(1, "big.4", 2049) == 2048u);  // 2048 % 7 == 4
  f.reopen();
  std::vector<stored_message> out;
  f.s->scan(1, 0, 0, 0, "", out);
  CHECK(out.size() == 2049);
}

TEST_CASE("rocks: an idle store lets its write-ahead log files go, though one family holds only a little",
          "[store][rocks]") {
  // A stream writes its state record (meta family) in every batch: a few bytes per
  // batch, never enough for that memtable to be written out on its own account.
  fixture f("rocks");
  auto log_bytes = [&] {
    uint64_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(f.db_path()))
      if (e.path().extension() == ".log") n += e.file_size();
    return n;
  };
  const std::string body(512, 'v');
  uint64_t seq = 1;
  for (int batch = 0; batch < 100; ++batch) {
    auto b = f.s->make_batch();
    for (int i = 0; i < 200; ++i, ++seq) b->put_message(1, msg(seq, "s." + std::to_string(seq % 10), body));
    b->put_meta("T/state", "last " + std::to_string(seq));
    REQUIRE(f.s->write(*b, false).ok);
  }
  REQUIRE(log_bytes() > (8u << 20));  // 10 MiB of messages went through the log
  f.s->release_memory(store::idle_flush_min);
  // RocksDB deletes the files it no longer needs right after the flush, maybe on its
  // own thread.
  for (int i = 0; i < 100 && log_bytes() >= (1u << 20); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(log_bytes() < (1u << 20));
  CHECK(f.s->get_meta("T/state") == "last " + std::to_string(seq));
  CHECK(f.s->get(1, seq - 1)->payload == body);
  f.reopen();
  CHECK(f.s->get_meta("T/state") == "last " + std::to_string(seq));
  std::vector<stored_message> all;
  f.s->scan(1, 1, 0, 0, "", all);
  CHECK(all.size() == seq - 1);
}

TEST_CASE("rocks: keys overwritten over many memtable flushes and compactions stay deleted, also after reopening",
          "[store][rocks]") {
  // A KV bucket's life: each put deletes the previous message on its subject (with its
  // size, as streams pass it), written in batches, the memtables written out every few
  // thousand messages so the deletions and the messages they delete meet in flushes and
  // in RocksDB's compactions of the files.
  fixture f("rocks");
  constexpr uint64_t subjects = 50, total = 30000;
  std::map<std::string, uint64_t> last;  // subject -> its only message
  auto subject_of = [](uint64_t seq) { return "$KV.b.k" + std::to_string(seq * 7 % subjects); };
  for (uint64_t seq = 1; seq <= total;) {
    auto b = f.s->make_batch();
    for (int i = 0; i < 100 && seq <= total; ++i, ++seq) {
      auto subject = subject_of(seq);
      b->put_message(1, msg(seq, subject, "v" + std::to_string(seq)));
      if (auto it = last.find(subject); it != last.end()) b->delete_message(1, it->second, subject, 64);
      last[subject] = seq;
    }
    REQUIRE(f.s->write(*b, false).ok);
    if (seq % 2000 == 1) f.s->release_memory(0);
  }
  auto check_state = [&] {
    std::vector<stored_message> all;
    f.s->scan(1, 1, 0, 0, "", all);
    std::set<uint64_t> want;
    for (auto& [s, q] : last) want.insert(q);
    auto seqs = seqs_of(all);
    CHECK(std::set<uint64_t>(seqs.begin(), seqs.end()) == want);
    CHECK(all.size() == subjects);
    size_t wrong = 0;
    f.s->for_each_subject(1, [&](std::string_view subject, const store::subject_state& st) {
      auto it = last.find(std::string(subject));
      if (it == last.end() || st.count != 1 || st.first != it->second || st.last != it->second) ++wrong;
    });
    CHECK(wrong == 0);
    for (auto& [s, q] : last) {
      CHECK(f.s->sequences_on_subject(1, s, 0) == std::vector<uint64_t>{q});
      CHECK(f.s->get(1, q)->payload == "v" + std::to_string(q));
    }
    size_t resurrected = 0;
    for (uint64_t seq = 1; seq <= total; seq += 13)
      if (!want.count(seq) && f.s->get(1, seq)) ++resurrected;
    CHECK(resurrected == 0);
  };
  check_state();
  f.s->release_memory(0);
  check_state();
  f.reopen();
  check_state();
}

TEST_CASE("idle_watch: due once per quiet spell, never before the first write", "[store][memory]") {
  using clock = std::chrono::steady_clock;
  store::idle_watch w;
  auto t = clock::now();
  CHECK_FALSE(w.due(0, t));
  CHECK_FALSE(w.due(0, t + std::chrono::seconds(10)));  // nothing written yet
  CHECK_FALSE(w.due(5, t));                              // writes moved: the spell starts
  CHECK_FALSE(w.due(5, t + store::idle_release_after - std::chrono::milliseconds(1)));
  CHECK(w.due(5, t + store::idle_release_after));
  CHECK_FALSE(w.due(5, t + std::chrono::seconds(60)));  // once
  CHECK_FALSE(w.due(6, t + std::chrono::seconds(61)));  // a write starts a new spell
  CHECK(w.due(6, t + std::chrono::seconds(61) + store::idle_release_after));
}

TEST_CASE("rocks: open failure is reported, not thrown", "[store][rocks]") {
  temp_dir d;
  auto file = d.path / "a-file";
  std::ofstream(file) << "x";
  std::string error;
  auto s = store::open_rocks_store((file / "db").string(), error);
  CHECK_FALSE(s);
  CHECK_FALSE(error.empty());
}

namespace {

// A tmpfs of `size` mounted on a fresh directory, for as long as this object lives.
// Only tried as root (no sudo): `mounted` is false where mounting is not allowed.
struct tmpfs_mount {
  temp_dir dir;
  bool mounted = false;
  explicit tmpfs_mount(const std::string& size) {
    if (::geteuid() != 0) return;
    std::string cmd = "mount -t tmpfs -o size=" + size + " tmpfs '" + dir.path.string() + "' </dev/null >/dev/null 2>&1";
    mounted = std::system(cmd.c_str()) == 0;
  }
  ~tmpfs_mount() {
    if (mounted) (void)std::system(("umount '" + dir.path.string() + "' </dev/null >/dev/null 2>&1").c_str());
  }
};

// Fills the file system holding `path` by writing to it until the device is full.
void fill(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  std::string chunk(64 << 10, 'b');
  size_t step = chunk.size();
  while (step > 0) {
    if (::write(fd, chunk.data(), step) < 0) step /= 2;  // ENOSPC: top up with smaller writes
  }
  ::close(fd);
}

std::string random_payload(size_t n, uint64_t seed) {
  std::string p(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return p;
}

// Writes 1 MiB batches of stream 1 from `seq` on until one fails (WAL preallocation and
// the memtable absorb some, then a WAL or flush write fails). Adds the acknowledged
// sequences to `acked`, returns the failed batch's and its status.
// Payloads of 12 KiB stay in RocksDB (its WAL fills the disk); 64 KiB ones go to the
// value log (its append fills it).
std::pair<std::vector<uint64_t>, store::store_status> write_until_full(store::stream_store& s, uint64_t& seq,
                                                                       std::set<uint64_t>& acked,
                                                                       size_t payload = 12 << 10) {
  const uint64_t per_batch = (1u << 20) / payload;
  for (int i = 0; i < 400; ++i) {
    auto b = s.make_batch();
    std::vector<uint64_t> seqs;
    for (uint64_t k = 0; k < per_batch; ++k, ++seq) {
      b->put_message(1, msg(seq, "full", random_payload(payload, seq)));
      seqs.push_back(seq);
    }
    auto st = s.write(*b, false);
    if (!st.ok) return {seqs, st};
    acked.insert(seqs.begin(), seqs.end());
  }
  return {{}, {}};
}

}  // namespace

TEST_CASE("rocks: a full disk fails writes with no_space and the store recovers", "[store][rocks][disk-full]") {
  tmpfs_mount mnt("48m");
  if (!mnt.mounted) {
    WARN("cannot mount a tmpfs here (needs root): full-disk case not run");
    return;
  }
  const std::string db = (mnt.dir.path / "db").string();
  const std::string ballast = (mnt.dir.path / "ballast").string();
  std::string error;
  auto s = store::open_rocks_store(db, error);
  REQUIRE(s);
  put(*s, 1, {msg(1, "before")});
  fill(ballast);

  std::set<uint64_t> acked = {1};
  uint64_t seq = 2;
  auto [failed_batch, st] = write_until_full(*s, seq, acked);
  INFO(st.error);
  REQUIRE_FALSE(st.ok);
  CHECK(st.no_space);
  CHECK_FALSE(st.error.empty());

  // Still full: writes keep failing, with no_space, without throwing or aborting, also
  // when they come further apart than the resume rate limit (each then tries a
  // Resume(), which fails to flush on the full disk).
  for (int i = 0; i < 4; ++i) {
    if (i >= 2) std::this_thread::sleep_for(std::chrono::milliseconds(120));
    auto b = s->make_batch();
    b->put_meta("k", "v");
    auto again = s->write(*b, false);
    INFO(i << ": " << again.error);
    CHECK_FALSE(again.ok);
    CHECK(again.no_space);
  }
  // A write that must not wait (an I/O loop's) does not try to recover the store: it
  // reports would_block and leaves the recovery to a writer that may wait.
  {
    auto b = s->make_batch();
    b->put_meta("k", "v");
    auto tried = s->try_write(*b);
    CHECK_FALSE(tried.ok);
    CHECK(tried.would_block);
  }
  // Reads still work while writes fail.
  CHECK(s->get(1, 1));
  CHECK(s->get(1, *acked.rbegin()));

  // Space comes back: a later write resumes the store and succeeds. (RocksDB's own
  // recovery is switched off, so this is the store's Resume(): it works on the first
  // write more than 100 ms after the last attempt.)
  REQUIRE(::unlink(ballast.c_str()) == 0);
  store::store_status resumed = store::store_status::failure("not tried");
  int attempts = 0;
  for (; attempts < 50 && !resumed.ok; ++attempts) {
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    auto b = s->make_batch();
    b->put_message(1, msg(seq, "after", "resumed"));
    resumed = s->write(*b, false);
  }
  INFO(resumed.error);
  REQUIRE(resumed.ok);
  CHECK(attempts == 1);
  CHECK_FALSE(s->get_meta("k"));  // the failed writes left nothing
  acked.insert(seq);
  put(*s, 1, {msg(seq + 1, "after", "more")});
  acked.insert(seq + 1);

  // Everything acknowledged is there, now and after reopening; the failed batch is all
  // or nothing.
  auto check = [&](store::stream_store& st2) {
    size_t missing = 0;
    for (auto a : acked)
      if (!st2.get(1, a)) ++missing;
    CHECK(missing == 0);
    size_t present = 0;
    for (auto f : failed_batch)
      if (st2.get(1, f)) ++present;
    CHECK((present == 0 || present == failed_batch.size()));
    CHECK(st2.get(1, seq + 1)->payload == "more");
  };
  check(*s);
  s.reset();
  s = store::open_rocks_store(db, error);
  INFO(error);
  REQUIRE(s);
  check(*s);
  s.reset();
}

TEST_CASE("rocks: closing and reopening on a full disk", "[store][rocks][disk-full]") {
  tmpfs_mount mnt("48m");
  if (!mnt.mounted) {
    WARN("cannot mount a tmpfs here (needs root): full-disk case not run");
    return;
  }
  const std::string db = (mnt.dir.path / "db").string();
  const std::string ballast = (mnt.dir.path / "ballast").string();
  std::string error;
  auto s = store::open_rocks_store(db, error);
  REQUIRE(s);
  put(*s, 1, {msg(1, "before")});
  fill(ballast);
  std::set<uint64_t> acked = {1};
  uint64_t seq = 2;
  auto [failed_batch, st] = write_until_full(*s, seq, acked);
  REQUIRE_FALSE(st.ok);

  // Closed while the disk is full and the DB in its error state: no abort.
  s.reset();
  // Opening on the full disk may fail (recovery has to write), but must not abort.
  s = store::open_rocks_store(db, error);
  if (s) {
    CHECK(s->get(1, *acked.begin()));
    s.reset();
  } else {
    CHECK_FALSE(error.empty());
  }

  REQUIRE(::unlink(ballast.c_str()) == 0);
  s = store::open_rocks_store(db, error);
  INFO(error);
  REQUIRE(s);
  size_t missing = 0;
  for (auto a : acked)
    if (!s->get(1, a)) ++missing;
  CHECK(missing == 0);
  put(*s, 1, {msg(seq, "after")});
  CHECK(s->get(1, seq));
  s.reset();
}

namespace {

// Files in the store's value log directory.
size_t vlog_files(const fixture& f) {
  size_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(f.db_path() + "/vlog", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".vlog") ++n;
  return n;
}

std::string big_payload(uint64_t seq, size_t size) {
  std::string p(size, '\0');
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<char>((seq * 131 + i * 7) & 0xff);
  return p;
}

}  // namespace

TEST_CASE("rocks: large payloads live in the value log; files go when nothing refers to them",
          "[store][rocks][vlog]") {
  fixture f("rocks");
  constexpr size_t chunk = 128 << 10;
  // 1200 chunks of 128 KiB: 150 MiB, three value log files (64 MiB each).
  for (uint64_t from = 1; from <= 1200; from += 100) {
    auto b = f.s->make_batch();
    for (uint64_t seq = from; seq < from + 100; ++seq)
      b->put_message(1, msg(seq, seq <= 600 ? "$O.b.C.one" : "$O.b.C.two", big_payload(seq, chunk), "", 0));
    REQUIRE(f.s->write(*b, from % 300 == 1).ok);  // some synced (value log fdatasync too)
  }
  // A small message stays in RocksDB; one of each kind in another stream.
  {
    auto b = f.s->make_batch();
    b->put_message(2, msg(1, "small", "tiny"));
    b->put_message(2, msg(2, "large", big_payload(2, 20000)));
    REQUIRE(f.s->write(*b, false).ok);
  }
  CHECK(vlog_files(f) >= 3);
  auto check_all = [&](uint64_t lo, uint64_t hi) {
    for (uint64_t seq = lo; seq <= hi; seq += 37) {
      auto m = f.s->get(1, seq);
      REQUIRE(m);
      CHECK(m->payload == big_payload(seq, chunk));
      auto h = f.s->head(1, seq);
      REQUIRE(h);
      CHECK(h->payload_size == chunk);
      CHECK(h->subject == m->subject);
    }
  };
  check_all(1, 1200);
  CHECK(f.s->get(2, 2)->payload == big_payload(2, 20000));
  CHECK(f.s->get(2, 1)->payload == "tiny");
  uint64_t before = f.s->disk_usage();
  CHECK(before > 150u << 20);

  f.reopen();
  check_all(1, 1200);

  // Delete the first object (a purge): the files holding only its chunks go.
  size_t files_before = vlog_files(f);
  {
    auto b = f.s->make_batch();
    for (uint64_t seq = 1; seq <= 600; ++seq) b->delete_message(1, seq, "$O.b.C.one", chunk + 100);
    REQUIRE(f.s->write(*b, false).ok);
  }
  CHECK(vlog_files(f) < files_before);
  check_all(601, 1200);
  CHECK_FALSE(f.s->get(1, 1));
  // Counts survived a restart: dropping the rest frees every file but the active one.
  f.reopen();
  check_all(601, 1200);
  REQUIRE(f.s->drop_stream(1).ok);
  {
    auto b = f.s->make_batch();
    b->delete_message(2, 2, "large");  // no size hint: looked up
    REQUIRE(f.s->write(*b, false).ok);
  }
  CHECK(vlog_files(f) <= 1);
  f.reopen();
  CHECK(vlog_files(f) <= 1);
  CHECK(f.s->get(2, 1)->payload == "tiny");
}

TEST_CASE("rocks: a large message put and deleted in one batch, and a batch never written, leave nothing",
          "[store][rocks][vlog]") {
  fixture f("rocks");
  const std::string p = big_payload(1, 70000);
  {
    auto b = f.s->make_batch();
    b->put_message(1, msg(1, "k", p));
    b->put_message(1, msg(2, "k", p));
    b->delete_message(1, 1, "k", 70100);  // an overwrite within the batch
    REQUIRE(f.s->write(*b, false).ok);
  }
  {
    auto b = f.s->make_batch();  // abandoned: its payload is dead
    b->put_message(1, msg(3, "k", p));
  }
  CHECK(f.s->get(1, 2)->payload == p);
  CHECK_FALSE(f.s->get(1, 3));
  {
    auto b = f.s->make_batch();
    b->delete_message(1, 2, "k", 70100);
    REQUIRE(f.s->write(*b, false).ok);
  }
  // A fresh file on reopen; the old one had nothing live.
  f.reopen();
  CHECK(vlog_files(f) == 1);
  CHECK(f.s->disk_usage() < 1u << 20);
}

TEST_CASE("rocks: a value log payload that was damaged on disk reads as missing, not as wrong data",
          "[store][rocks][vlog]") {
  fixture f("rocks");
  const std::string p = big_payload(9, 50000);
  {
    auto b = f.s->make_batch();
    b->put_message(1, msg(1, "k", p));
    REQUIRE(f.s->write(*b, true).ok);
  }
  std::string file;
  for (auto& e : std::filesystem::directory_iterator(f.db_path() + "/vlog")) file = e.path().string();
  int fd = ::open(file.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, "X", 1, 1000) == 1);
  ::close(fd);
  CHECK_FALSE(f.s->get(1, 1));
  CHECK(f.s->head(1, 1)->payload_size == p.size());  // the record itself is intact
}

TEST_CASE("rocks: a full disk fails value log appends with no_space; space back, large writes go on",
          "[store][rocks][disk-full][vlog]") {
  tmpfs_mount mnt("48m");
  if (!mnt.mounted) {
    WARN("cannot mount a tmpfs here (needs root): full-disk case not run");
    return;
  }
  const std::string db = (mnt.dir.path / "db").string();
  const std::string ballast = (mnt.dir.path / "ballast").string();
  std::string error;
  auto s = store::open_rocks_store(db, error);
  REQUIRE(s);
  put(*s, 1, {msg(1, "before")});
  std::set<uint64_t> acked = {1};
  uint64_t seq = 2;
  auto [failed_batch, st] = write_until_full(*s, seq, acked, 64 << 10);
  INFO(st.error);
  REQUIRE_FALSE(st.ok);
  CHECK(st.no_space);
  CHECK(st.error.find("value log") != std::string::npos);
  CHECK(s->get(1, *acked.rbegin()));
  for (auto f : failed_batch) CHECK_FALSE(s->get(1, f));
  // Still full: a small write goes to RocksDB, which may have room; a large one fails.
  {
    auto b = s->make_batch();
    b->put_message(1, msg(seq, "full", random_payload(64 << 10, seq)));
    auto w = s->write(*b, false);
    CHECK_FALSE(w.ok);
    CHECK(w.no_space);
    ++seq;
  }
  // Deleting the messages gives the space back: the value log file holds nothing live
  // any more and starts over.
  {
    auto b = s->make_batch();
    for (auto a : acked)
      if (a > 1) b->delete_message(1, a, "full");
    REQUIRE(s->write(*b, false).ok);
    acked = {1};
  }
  std::vector<uint64_t> after;
  for (int i = 0; i < 3; ++i, ++seq) {
    auto b = s->make_batch();
    b->put_message(1, msg(seq, "full", random_payload(64 << 10, seq)));
    auto w = s->write(*b, false);
    INFO(w.error);
    REQUIRE(w.ok);
    acked.insert(seq);
    auto back = s->get(1, seq);
    REQUIRE(back);
    CHECK(back->payload == random_payload(64 << 10, seq));
  }
  s.reset();
  s = store::open_rocks_store(db, error);
  INFO(error);
  REQUIRE(s);
  size_t missing = 0;
  for (auto a : acked) {
    auto m = s->get(1, a);
    if (!m || (a > 1 && m->payload != random_payload(64 << 10, a))) {
      ++missing;
      UNSCOPED_INFO("missing " << a << (m ? " (wrong payload)" : ""));
    }
  }
  CHECK(missing == 0);
  for (auto f : failed_batch) CHECK_FALSE(s->get(1, f));
  s.reset();
}
