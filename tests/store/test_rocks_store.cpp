// rocks_store only: what survives closing and reopening the directory, open errors,
// and recovery from a full disk.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

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
std::pair<std::vector<uint64_t>, store::store_status> write_until_full(store::stream_store& s, uint64_t& seq,
                                                                       std::set<uint64_t>& acked) {
  constexpr uint64_t per_batch = 16;
  for (int i = 0; i < 400; ++i) {
    auto b = s.make_batch();
    std::vector<uint64_t> seqs;
    for (uint64_t k = 0; k < per_batch; ++k, ++seq) {
      b->put_message(1, msg(seq, "full", random_payload(64 << 10, seq)));
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
