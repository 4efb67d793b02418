// The dialtone CLI's obj commands (object stores on dialtone_objclient), run as real
// processes against a JetStream-enabled server; what they store is also read back with
// plain libnats (MSG.GET of the meta, an ordered consumer on the chunks), as any other
// object-store client would. Passes against nats-server too:
// DIALTONE_TEST_SERVER_BIN=/usr/sbin/nats-server test_server "[obj]".
#include <nats/nats.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nats_handles.hpp"
#include "cli_support.hpp"
#include "server_process.hpp"

using namespace testing_support;
using namespace std::chrono_literals;
using namespace testing_support::cli;

namespace {

constexpr uint64_t kBig = 100ull * 1024 * 1024;  // the round-trip object: 100 MiB, 800 chunks

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string b64url(const unsigned char* data, size_t len) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = uint32_t(data[i]) << 16 | (i + 1 < len ? uint32_t(data[i + 1]) << 8 : 0) |
                 (i + 2 < len ? data[i + 2] : 0);
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += i + 1 < len ? a[(v >> 6) & 63] : '=';
    out += i + 2 < len ? a[v & 63] : '=';
  }
  return out;
}

// "SHA-256=" + URL-safe base64 with padding, the object store's digest form.
struct sha256 {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  sha256() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~sha256() { EVP_MD_CTX_free(ctx); }
  void update(const void* d, size_t n) { EVP_DigestUpdate(ctx, d, n); }
  std::string digest() {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    return "SHA-256=" + b64url(md, len);
  }
};

// Writes `size` random bytes to `path`; returns their digest.
std::string write_random_file(const std::string& path, uint64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  sha256 h;
  std::vector<uint64_t> block(1 << 17);  // 1 MiB
  for (uint64_t done = 0; done < size;) {
    for (auto& w : block) w = rng();
    size_t n = size_t(std::min<uint64_t>(size - done, block.size() * 8));
    out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(n));
    h.update(block.data(), n);
    done += n;
  }
  REQUIRE(out.good());
  return h.digest();
}

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  sha256 h;
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0)
    h.update(buf.data(), size_t(in.gcount()));
  return h.digest();
}

bool same_files(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  for (;;) {
    fa.read(ba.data(), std::streamsize(ba.size()));
    fb.read(bb.data(), std::streamsize(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (fa.gcount() == 0) return true;
    if (!std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
  }
}

// A plain libnats connection, to read what the CLI stored as any client would.
struct obj_reader : js_client {
  using js_client::js_client;

  // The meta of `name` in `bucket` (STREAM.MSG.GET last_by_subj $O.<b>.M.<b64url(name)>).
  nlohmann::json meta(const std::string& bucket, const std::string& name) {
    std::string subject =
        "$O." + bucket + ".M." + b64url(reinterpret_cast<const unsigned char*>(name.data()), name.size());
    natsMsg* m = nullptr;
    jsErrCode jerr = jsErrCode(0);
    auto st = js_GetLastMsg(&m, js.get(), ("OBJ_" + bucket).c_str(), subject.c_str(), nullptr, &jerr);
    INFO("js_GetLastMsg " << subject << ": " << natsStatus_GetText(st));
    REQUIRE(st == NATS_OK);
    msg_ptr held(m);
    const char* rollup = nullptr;
    CHECK(natsMsgHeader_Get(m, "Nats-Rollup", &rollup) == NATS_OK);
    CHECK(std::string(rollup ? rollup : "") == "sub");
    auto j = nlohmann::json::parse(std::string(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))));
    return j;
  }

  // Reads the chunks $O.<b>.C.<nuid> through an ordered consumer; returns their digest
  // and adds up size and count.
  std::string read_chunks(const std::string& bucket, const std::string& nuid, uint64_t chunks, uint64_t* size) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    std::string stream = "OBJ_" + bucket;
    so.Stream = stream.c_str();
    so.Ordered = true;
    natsSubscription* sub = nullptr;
    std::string subject = "$O." + bucket + ".C." + nuid;
    REQUIRE(js_SubscribeSync(&sub, js.get(), subject.c_str(), nullptr, &so, nullptr) == NATS_OK);
    sub_ptr held(sub);
    sha256 h;
    *size = 0;
    for (uint64_t i = 0; i < chunks; ++i) {
      natsMsg* m = nullptr;
      REQUIRE(natsSubscription_NextMsg(&m, sub, 10'000) == NATS_OK);
      REQUIRE(std::string(natsMsg_GetSubject(m)) == subject);
      h.update(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m)));
      *size += uint64_t(natsMsg_GetDataLength(m));
      natsMsg_Destroy(m);
    }
    natsSubscription_Unsubscribe(sub);
    return h.digest();
  }
};

}  // namespace

TEST_CASE("cli obj: 100 MiB round trip, ls, info, and the stored form", "[jetstream][cli][obj]") {
  temp_dir files;
  std::string big = files.path + "/big.bin", back = files.path + "/back.bin";
  std::string digest = write_random_file(big, kBig, 42);
  js_server srv;
  auto& s = srv.s;

  auto add = ok(s, {"obj", "add", "FILES", "--description", "test files", "--ttl", "1h"});
  CHECK(has(add, "Bucket FILES"));
  CHECK(has(add, "Description: test files"));
  CHECK(has(add, "TTL: 1h"));
  CHECK(has(add, "Sealed: no"));
  CHECK(has(add, "Backing stream: OBJ_FILES"));

  // Not a terminal and no --progress: only the summary line.
  auto put = ok(s, {"obj", "put", "FILES", big}, 180s);
  auto summary = line_starting(put, "put big.bin: ");
  INFO(put);
  CHECK(lines(put).size() == 1);
  CHECK(summary.rfind("put big.bin: 104857600 bytes in 800 chunks, ", 0) == 0);
  CHECK(has(summary, " MB/s), " + digest));

  auto get = ok(s, {"obj", "get", "FILES", "big.bin", "-o", back}, 180s);
  CHECK(has(get, "get big.bin: 104857600 bytes in 800 chunks, "));
  CHECK(has(get, digest + " verified"));
  CHECK_FALSE(exists(back + ".part"));
  CHECK(same_files(big, back));
  CHECK(file_digest(back) == digest);

  // --progress draws progress lines on stderr even without a terminal.
  std::string small = files.path + "/small.bin";
  std::string small_digest = write_random_file(small, 3'000'000, 7);
  auto progress = ok(s, {"obj", "put", "FILES", small, "--name", "docs/small file.bin", "--chunk-size", "64KiB",
                         "--description", "a small one", "--progress"});
  CHECK(has(progress, "put docs/small file.bin  2.9 MiB / 2.9 MiB  100%  "));
  CHECK(has(progress, "put docs/small file.bin: 3000000 bytes in 46 chunks, "));

  auto ls = lines(ok(s, {"obj", "ls", "FILES"}));
  REQUIRE(ls.size() == 3);
  CHECK(cells(ls[0]) == std::vector<std::string>{"Name", "Size", "Chunks", "Modified", "Digest"});
  auto row = cells(ls[1]);
  REQUIRE(row.size() == 5);
  CHECK(row[0] == "big.bin");
  CHECK(row[1] == "100 MiB");
  CHECK(row[2] == "800");
  CHECK(row[3].rfind("20", 0) == 0);
  CHECK(row[4] == digest);
  CHECK(cells(ls[2])[0] == "docs/small file.bin");
  CHECK(cells(ls[2])[2] == "46");
  CHECK(ls[1].find("800") == ls[0].find("Chunks"));

  auto info = ok(s, {"obj", "info", "FILES", "big.bin"});
  CHECK(has(info, "Object big.bin in bucket FILES"));
  CHECK(has(info, "Size: 100 MiB (104857600 bytes)"));
  CHECK(has(info, "Chunks: 800 of at most 128 KiB"));
  CHECK(has(info, "Digest: " + digest));
  CHECK(has(info, "Modified: 20"));
  auto info_small = ok(s, {"obj", "info", "FILES", "docs/small file.bin"});
  CHECK(has(info_small, "Chunks: 46 of at most 64 KiB"));
  CHECK(has(info_small, "Description: a small one"));

  auto status = ok(s, {"obj", "info", "FILES"});
  CHECK(has(status, "Bucket FILES"));
  CHECK(has(status, "Size: 103 MiB"));

  // What any object-store client finds: the meta, rolled up, on $O.FILES.M.<base64url
  // of the name>, and the chunks on $O.FILES.C.<nuid>, which hash to the meta's digest.
  obj_reader c(s);
  auto meta = c.meta("FILES", "big.bin");
  CHECK(meta["name"] == "big.bin");
  CHECK(meta["bucket"] == "FILES");
  CHECK(meta["size"] == kBig);
  CHECK(meta["chunks"] == 800);
  CHECK(meta["digest"] == digest);
  CHECK(meta["options"]["max_chunk_size"] == 131072);
  std::string nuid = meta["nuid"];
  CHECK(nuid.size() == 22);
  uint64_t size = 0;
  CHECK(c.read_chunks("FILES", nuid, 800, &size) == digest);
  CHECK(size == kBig);

  // To stdout (no progress on stdout; the summary goes to stderr).
  std::string piped = files.path + "/piped.bin";
  auto to_stdout = run_command({"/bin/sh", "-c",
                                "'" + cli_bin + "' -s " + s.url() + " obj get FILES 'docs/small file.bin' > " + piped},
                               20s);
  INFO(to_stdout.output);
  CHECK(to_stdout.exit_code == 0);
  CHECK(has(to_stdout.output, "get docs/small file.bin: 3000000 bytes in 46 chunks"));
  CHECK(same_files(small, piped));

  // A new version replaces the old one, whose chunks are purged.
  ok(s, {"obj", "put", "FILES", small, "--name", "big.bin"});
  auto replaced = c.meta("FILES", "big.bin");
  CHECK(replaced["size"] == 3'000'000);
  CHECK(replaced["digest"] == small_digest);
  auto status2 = ok(s, {"obj", "info", "FILES"});
  CHECK(has(status2, "Size: 5.7 MiB"));
}

// Bytes in the server's value log files (<store_dir>/jetstream/vlog).
static uint64_t value_log_bytes(const std::string& store_dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(store_dir + "/jetstream/vlog", ec), end; !ec && it != end;
       it.increment(ec))
    n += it->file_size(ec);
  return n;
}

TEST_CASE("cli obj: deleting objects gives their disk space back, also from files shared with kept ones",
          "[cli][vlog]") {  // dialtone's storage layout: not in [obj] (which nats-server passes too)
  // Chunks go to 64 MiB value log files in the order they arrive: objects of 40, 40,
  // 40 and 10 MiB fill the first file with A and most of B, the second with the rest
  // of B, C and most of D. Deleting A and C leaves both files mostly dead, but not
  // empty: the server compacts them (moves B's and D's chunks) by itself.
  constexpr uint64_t mib = 1 << 20;
  temp_dir files;
  std::vector<std::pair<std::string, uint64_t>> objects = {{"a", 40}, {"b", 40}, {"c", 40}, {"d", 10}};
  std::map<std::string, std::string> digests;
  js_server srv;
  auto& s = srv.s;
  ok(s, {"obj", "add", "BIG"});
  for (auto& [name, size] : objects) {
    std::string path = files.path + "/" + name;
    digests[name] = write_random_file(path, size * mib, size + name[0]);
    ok(s, {"obj", "put", "BIG", path, "--name", name}, 180s);
  }
  uint64_t before = value_log_bytes(srv.store.path);
  CHECK(before >= 128 * mib);
  ok(s, {"obj", "rm", "BIG", "a"});
  ok(s, {"obj", "rm", "BIG", "c"});
  // B and D (50 MiB) are what stays; without compaction both 64 MiB files would.
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (value_log_bytes(srv.store.path) > 56 * mib && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  uint64_t after = value_log_bytes(srv.store.path);
  INFO("value log bytes before " << before << ", after " << after);
  CHECK(after <= 56 * mib);
  for (std::string name : {"b", "d"}) {
    std::string back = files.path + "/" + name + ".back";
    auto get = ok(s, {"obj", "get", "BIG", name, "-o", back}, 180s);
    CHECK(has(get, digests[name] + " verified"));
    CHECK(same_files(files.path + "/" + name, back));
  }
  CHECK(dialtone(s, {"obj", "get", "BIG", "a", "-o", files.path + "/a.back"}).exit_code != 0);
}

TEST_CASE("cli obj: empty objects, rm, seal", "[jetstream][cli][obj]") {
  temp_dir files;
  js_server srv;
  auto& s = srv.s;
  ok(s, {"obj", "add", "B"});
  std::string empty = files.path + "/empty", out = files.path + "/out";
  { std::ofstream(empty, std::ios::binary); }
  std::string empty_digest = "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=";
  auto put = ok(s, {"obj", "put", "B", empty});
  CHECK(has(put, "put empty: 0 bytes in 0 chunks, "));
  CHECK(has(put, empty_digest));
  auto get = ok(s, {"obj", "get", "B", "empty", "-o", out});
  CHECK(has(get, "get empty: 0 bytes in 0 chunks, "));
  CHECK(has(get, empty_digest + " verified"));
  REQUIRE(exists(out));
  std::ifstream in(out, std::ios::binary);
  CHECK(in.peek() == std::char_traits<char>::eof());
  CHECK(has(ok(s, {"obj", "info", "B", "empty"}), "Size: 0 B"));

  std::string data = files.path + "/data";
  std::string data_digest = write_random_file(data, 300'000, 1);
  ok(s, {"obj", "put", "B", data});
  CHECK(ok(s, {"obj", "rm", "B", "data"}) == "Deleted object \"data\" in bucket \"B\"\n");
  std::string gone = files.path + "/gone";
  auto missing = dialtone(s, {"obj", "get", "B", "data", "-o", gone});
  CHECK(missing.exit_code == 1);
  CHECK(missing.output == "dialtone: object not found: data\n");
  CHECK_FALSE(exists(gone));
  CHECK_FALSE(exists(gone + ".part"));
  CHECK(dialtone(s, {"obj", "info", "B", "data"}).output == "dialtone: object not found: data\n");
  CHECK(dialtone(s, {"obj", "rm", "B", "data"}).output == "dialtone: object not found: data\n");
  auto ls = lines(ok(s, {"obj", "ls", "B"}));
  REQUIRE(ls.size() == 2);
  CHECK(cells(ls[1])[0] == "empty");
  // The delete marker: deleted, no size, no chunks, no digest; the chunks are purged.
  obj_reader c(s);
  auto marker = c.meta("B", "data");
  CHECK(marker["deleted"] == true);
  CHECK(marker["size"] == 0);
  CHECK(marker["chunks"] == 0);
  CHECK(marker["digest"] == "");

  ok(s, {"obj", "put", "B", data, "--name", "kept"});
  auto refused = dialtone(s, {"obj", "seal", "B"});
  CHECK(refused.exit_code == 1);
  CHECK(has(refused.output, "use -f"));
  CHECK(has(ok(s, {"obj", "seal", "B", "-f"}), "Sealed: yes"));
  auto sealed_put = dialtone(s, {"obj", "put", "B", data, "--name", "more"});
  CHECK(sealed_put.exit_code == 1);
  CHECK(sealed_put.output == "dialtone: cannot put \"more\" in bucket \"B\": bucket \"B\" is sealed\n");
  auto sealed_rm = dialtone(s, {"obj", "rm", "B", "kept"});
  CHECK(sealed_rm.exit_code == 1);
  CHECK(has(sealed_rm.output, "bucket \"B\" is sealed"));
  // Still readable.
  auto read = ok(s, {"obj", "get", "B", "kept", "-o", out});
  CHECK(has(read, data_digest + " verified"));
  CHECK(same_files(data, out));
  CHECK(has(ok(s, {"obj", "ls"}), "yes"));
}

TEST_CASE("cli obj: a corrupt object fails get with a clear error", "[jetstream][cli][obj]") {
  temp_dir files;
  js_server srv;
  auto& s = srv.s;
  ok(s, {"obj", "add", "B"});
  std::string data = files.path + "/data", out = files.path + "/out";
  write_random_file(data, 500'000, 3);
  ok(s, {"obj", "put", "B", data});
  obj_reader c(s);
  auto meta = c.meta("B", "data");
  std::string good_digest = meta["digest"];

  // Another writer's meta whose digest does not match the chunks.
  auto republish = [&](const nlohmann::json& m) {
    natsMsg* msg = nullptr;
    std::string body = m.dump();
    REQUIRE(natsMsg_Create(&msg, "$O.B.M.ZGF0YQ==", nullptr, body.data(), int(body.size())) == NATS_OK);
    natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
    jsPubAck* pa = nullptr;
    REQUIRE(js_PublishMsg(&pa, c.js.get(), msg, nullptr, nullptr) == NATS_OK);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(msg);
  };
  auto wrong = meta;
  wrong["digest"] = "SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  republish(wrong);
  auto r = dialtone(s, {"obj", "get", "B", "data", "-o", out});
  CHECK(r.exit_code == 1);
  CHECK(r.output.rfind("dialtone: digest mismatch for \"data\": its meta gives SHA-256=AAAA", 0) == 0);
  CHECK(has(r.output, "the data read has " + good_digest + "\n"));
  CHECK(lines(r.output).size() == 1);
  CHECK_FALSE(exists(out));
  CHECK_FALSE(exists(out + ".part"));

  // A meta that claims more bytes than the chunks hold.
  auto longer = meta;
  longer["size"] = 600'000;
  republish(longer);
  auto r2 = dialtone(s, {"obj", "get", "B", "data", "-o", out});
  CHECK(r2.exit_code == 1);
  CHECK(r2.output == "dialtone: size mismatch for \"data\": its meta gives 600000 bytes, the chunks hold 500000\n");
  CHECK_FALSE(exists(out));

  // A meta whose chunks are gone.
  nlohmann::json purge = {{"filter", "$O.B.C." + meta["nuid"].get<std::string>()}};
  natsMsg* reply = nullptr;
  std::string body = purge.dump();
  REQUIRE(natsConnection_Request(&reply, c.nc.get(), "$JS.API.STREAM.PURGE.OBJ_B", body.data(), int(body.size()),
                                 5000) == NATS_OK);
  natsMsg_Destroy(reply);
  republish(meta);
  auto r3 = dialtone(s, {"obj", "get", "B", "data", "-o", out});
  CHECK(r3.exit_code == 1);
  CHECK(r3.output == "dialtone: \"data\" is incomplete: 0 of 4 chunks are stored\n");
  CHECK_FALSE(exists(out));
}

TEST_CASE("cli obj: links", "[jetstream][cli][obj]") {
  temp_dir files;
  js_server srv;
  auto& s = srv.s;
  ok(s, {"obj", "add", "SRC"});
  ok(s, {"obj", "add", "DST"});
  std::string data = files.path + "/data", out = files.path + "/out";
  std::string digest = write_random_file(data, 1'000'000, 5);
  ok(s, {"obj", "put", "SRC", data, "--name", "original"});
  auto link = ok(s, {"obj", "link", "DST", "alias", "SRC", "original"});
  CHECK(has(link, "Link alias in bucket DST"));
  CHECK(has(link, "Points to: SRC/original"));
  auto got = ok(s, {"obj", "get", "DST", "alias", "-o", out});
  CHECK(has(got, "get original (via link DST/alias): 1000000 bytes in 8 chunks"));
  CHECK(has(got, digest + " verified"));
  CHECK(same_files(data, out));
  ok(s, {"obj", "link", "DST", "everything", "SRC"});
  auto whole = dialtone(s, {"obj", "get", "DST", "everything"});
  CHECK(whole.exit_code == 1);
  CHECK(whole.output == "dialtone: \"everything\" is a link to bucket \"SRC\", not to an object\n");
  auto to_link = dialtone(s, {"obj", "link", "DST", "again", "DST", "alias"});
  CHECK(to_link.exit_code == 1);
  CHECK(has(to_link.output, "links cannot point to links"));
  auto ls = lines(ok(s, {"obj", "ls", "DST"}));
  REQUIRE(ls.size() == 3);
  CHECK(cells(ls[1]) == std::vector<std::string>{"alias", "-", "-", cells(ls[1])[3], "link to SRC/original"});
  CHECK(cells(ls[2])[4] == "link to bucket SRC");
  obj_reader c(s);
  auto meta = c.meta("DST", "alias");
  CHECK(meta["options"]["link"]["bucket"] == "SRC");
  CHECK(meta["options"]["link"]["name"] == "original");
}

TEST_CASE("cli obj: watch prints current objects and changes until SIGTERM", "[jetstream][cli][obj]") {
  temp_dir files;
  js_server srv;
  auto& s = srv.s;
  ok(s, {"obj", "add", "W"});
  std::string data = files.path + "/data";
  write_random_file(data, 200'000, 9);
  ok(s, {"obj", "put", "W", data, "--name", "first"});
  background_command watch(
      {"/bin/sh", "-c", "'" + cli_bin + "' -s " + s.url() + " obj watch W & echo PID=$!; wait $!; echo EXIT=$?"});
  auto wait_for = [&](const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      if (has(watch.output_so_far(), text)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  REQUIRE(wait_for("Watching bucket \"W\""));
  REQUIRE(wait_for("PUT W > first: 200000 bytes in 2 chunks, SHA-256="));
  ok(s, {"obj", "put", "W", data, "--name", "second"});
  ok(s, {"obj", "rm", "W", "first"});
  REQUIRE(wait_for("DEL W > first"));
  auto out = watch.output_so_far();
  auto pid_line = line_starting(out, "PID=");
  REQUIRE_FALSE(pid_line.empty());
  ::kill(std::stoi(pid_line.substr(4)), SIGTERM);
  auto r = watch.finish(5s);
  INFO(r.output);
  CHECK(has(r.output, "EXIT=0"));
  CHECK(has(r.output, "] PUT W > second: 200000 bytes in 2 chunks"));
  auto first = line_starting(r.output, "[");
  REQUIRE(first.size() > 22);
  CHECK(first.substr(21, 20) == "] PUT W > first: 200");
}

TEST_CASE("cli obj: errors", "[jetstream][cli][obj]") {
  js_server srv;
  auto& s = srv.s;
  auto nobucket = dialtone(s, {"obj", "get", "NOPE", "x"});
  CHECK(nobucket.exit_code == 1);
  CHECK(nobucket.output == "dialtone: bucket not found: NOPE\n");
  CHECK(dialtone(s, {"obj", "info", "NOPE"}).output == "dialtone: bucket not found: NOPE\n");
  CHECK(dialtone(s, {"obj", "ls", "NOPE"}).output == "dialtone: bucket not found: NOPE\n");
  CHECK(dialtone(s, {"obj", "ls"}).output == "no object store buckets\n");
  auto bad = dialtone(s, {"obj", "add", "bad.name"});
  CHECK(bad.exit_code == 1);
  CHECK(has(bad.output, "dialtone: invalid bucket name \"bad.name\""));
  ok(s, {"obj", "add", "B"});
  CHECK(dialtone(s, {"obj", "ls", "B"}).output == "no objects in bucket \"B\"\n");
  auto different = dialtone(s, {"obj", "add", "B", "--storage", "memory"});
  CHECK(different.exit_code == 1);
  CHECK(different.output == "dialtone: bucket \"B\" already exists with a different configuration\n");
  auto nofile = dialtone(s, {"obj", "put", "B", "/nonexistent/file"});
  CHECK(nofile.exit_code == 1);
  CHECK(nofile.output == "dialtone: cannot open /nonexistent/file: No such file or directory\n");
  auto stdin_name = dialtone(s, {"obj", "put", "B", "-"});
  CHECK(stdin_name.output == "dialtone: put from stdin needs --name\n");
  auto chunk = dialtone(s, {"obj", "put", "B", "/etc/hostname", "--chunk-size", "lots"});
  CHECK(chunk.exit_code == 1);
  CHECK(has(chunk.output, "invalid --chunk-size \"lots\""));
  auto unknown = dialtone(s, {"obj", "frob"});
  CHECK(unknown.exit_code == 2);
  CHECK(has(unknown.output, "dialtone: unknown obj command \"frob\""));
  auto refused = dialtone(s, {"obj", "rm", "B"});
  CHECK(refused.exit_code == 1);
  CHECK(has(refused.output, "use -f"));
  CHECK(ok(s, {"obj", "rm", "B", "-f"}) == "Deleted bucket \"B\"\n");

  server_process plain;  // no -js
  auto r = dialtone(plain, {"obj", "ls"});
  CHECK(r.exit_code == 1);
  CHECK(r.output == "dialtone: JetStream is not enabled on the server (start it with -js)\n");
}
