#pragma once
// Shared by the store tests: a fresh store of either kind (rocks in its own temporary
// directory, removed afterwards) and small helpers to write messages.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "services/store/stream_store.hpp"

namespace store_test {

// A fresh temporary directory, removed with everything in it on destruction.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dialtone-store-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

// One store under test. `kind` is "rocks" or "memory".
struct fixture {
  std::string kind;
  std::unique_ptr<temp_dir> dir;  // rocks only
  std::unique_ptr<store::stream_store> s;

  explicit fixture(std::string k) : kind(std::move(k)) {
    if (kind == "rocks") {
      dir = std::make_unique<temp_dir>();
      reopen();
    } else {
      s = store::make_memory_store();
    }
  }
  ~fixture() { s.reset(); }  // close the DB before its directory goes

  std::string db_path() const { return (dir->path / "db").string(); }

  // rocks only: closes the store and opens the same directory again.
  void reopen() {
    s.reset();
    std::string error;
    s = store::open_rocks_store(db_path(), error);
    INFO(error);
    REQUIRE(s);
  }
};

inline store::stored_message msg(uint64_t seq, std::string subject, std::string payload = "data",
                                 std::string headers = {}, int64_t time_ns = 1'700'000'000'000'000'000) {
  store::stored_message m;
  m.seq = seq;
  m.time_ns = time_ns;
  m.subject = std::move(subject);
  m.headers = std::move(headers);
  m.payload = std::move(payload);
  return m;
}

// Writes the messages in one batch and requires success.
inline void put(store::stream_store& s, uint64_t stream_id, std::initializer_list<store::stored_message> ms) {
  auto b = s.make_batch();
  for (auto& m : ms) b->put_message(stream_id, m);
  auto st = s.write(*b, false);
  INFO(st.error);
  REQUIRE(st.ok);
}

inline std::vector<uint64_t> seqs_of(const std::vector<store::stored_message>& ms) {
  std::vector<uint64_t> out;
  for (auto& m : ms) out.push_back(m.seq);
  return out;
}

}  // namespace store_test
