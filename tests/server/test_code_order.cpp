// The release server is linked in traced code order (DIALTONE_CODE_ORDER in the top
// CMakeLists.txt, list in apps/dialtone-server/code-order.txt): the functions that run
// sit together at the front of the binary's code, so a running server maps fewer pages
// of it. Read from the symbol table of the real binary, for the server's own functions
// (each in its own section: -ffunction-sections), which lld can place one by one.
// RocksDB's functions come from Debian's archive with one code section per file, so
// only their files move; the bench measures the effect (idle RSS, BENCHMARKS.md).
#ifdef DIALTONE_CODE_ORDER_FILE

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "server_process.hpp"

namespace {

struct text_symbol {
  unsigned long long address = 0;
  std::string name;
};

// Functions defined in the binary (nm: address, size, type, name).
std::vector<text_symbol> binary_functions(const std::string& binary) {
  auto nm = testing_support::run_command({"/usr/bin/nm", "--defined-only", "-S", binary}, std::chrono::seconds(60));
  REQUIRE(nm.exit_code == 0);
  std::vector<text_symbol> out;
  std::regex row(R"(^([0-9a-f]+) [0-9a-f]+ ([tTwW]) (\S+)$)");
  std::istringstream lines(nm.output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) out.push_back({std::stoull(m[1].str(), nullptr, 16), m[3].str()});
  }
  return out;
}

// The server's own code: functions in its namespaces, not compiler-made clones
// (".cold", ".constprop.0": parts the compiler split off, placed on their own).
bool own_function(const std::string& name) {
  static const std::regex own(R"(^_ZN[KVL]?(6actors|8platform|9jetstream|5store|6reqlog|11objectstore|10server_app)\d.*)");
  return name.find('.') == std::string::npos && std::regex_match(name, own);
}

}  // namespace

TEST_CASE("the server's code that runs is laid out first - its traced order", "[build]") {
  std::vector<std::string> order;
  {
    std::ifstream in(DIALTONE_CODE_ORDER_FILE);
    REQUIRE(in);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) order.push_back(l);
  }
  std::unordered_set<std::string> listed(order.begin(), order.end());
  auto functions = binary_functions(DIALTONE_SERVER_BIN);
  REQUIRE(functions.size() > 1000);

  // Several names can share one function (a constructor's C1 and C2 entry points): it is
  // listed when any of them is.
  std::set<unsigned long long> listed_addresses;
  for (auto& f : functions)
    if (listed.count(f.name)) listed_addresses.insert(f.address);

  unsigned long long last_listed = 0, first_unlisted = ~0ull;
  std::string last_listed_name, first_unlisted_name;
  size_t own_listed = 0, own_unlisted = 0;
  std::set<std::string> own_in_binary;
  for (auto& f : functions) {
    if (!own_function(f.name)) continue;
    own_in_binary.insert(f.name);
    if (listed_addresses.count(f.address)) {
      ++own_listed;
      if (f.address >= last_listed) last_listed = f.address, last_listed_name = f.name;
    } else {
      ++own_unlisted;
      if (f.address < first_unlisted) first_unlisted = f.address, first_unlisted_name = f.name;
    }
  }
  INFO("own functions listed " << own_listed << ", not listed " << own_unlisted);
  // A list that still names the code: most of its own functions exist in the binary.
  // (Far fewer means the code changed a lot since it was traced: run
  // scripts/code-order.py; a stale list costs memory, not correctness.)
  size_t own_in_list = 0, own_found = 0;
  for (auto& n : order)
    if (own_function(n)) {
      ++own_in_list;
      own_found += own_in_binary.count(n);
    }
  INFO("own functions in the list " << own_in_list << ", found in the binary " << own_found);
  REQUIRE(own_in_list > 100);
  CHECK(own_found * 2 > own_in_list);
  // Every own function that ran in the trace comes before every one that did not.
  REQUIRE(own_listed > 100);
  REQUIRE(own_unlisted > 0);
  INFO("last listed " << last_listed_name << ", first not listed " << first_unlisted_name);
  CHECK(last_listed < first_unlisted);
}

TEST_CASE("the release server loads no shared library it takes from an archive - and packs its relocations",
          "[build]") {
  // readelf -d: the libraries the loader opens (NEEDED) and the dynamic tags.
  auto dyn = testing_support::run_command({"/usr/bin/readelf", "-dW", DIALTONE_SERVER_BIN}, std::chrono::seconds(60));
  REQUIRE(dyn.exit_code == 0);
  std::vector<std::string> needed;
  std::regex row(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
  for (std::sregex_iterator it(dyn.output.begin(), dyn.output.end(), row), end; it != end; ++it)
    needed.push_back((*it)[1].str());
  INFO("NEEDED: " << [&] {
    std::string all;
    for (auto& n : needed) all += n + " ";
    return all;
  }());
  // The server still needs the libraries with no archive (CAF) and the C++ runtime.
  REQUIRE(std::find_if(needed.begin(), needed.end(), [](const std::string& n) { return n.rfind("libcaf_core.so", 0) == 0; }) !=
          needed.end());
  // spdlog and fmt are compiled in from their headers (every build).
  for (auto& n : needed) {
    CHECK(n.rfind("libspdlog.so", 0) != 0);
    CHECK(n.rfind("libfmt.so", 0) != 0);
  }
  // Each library linked from its archive (libssl, libcrypto, libsodium, ...): not opened.
  std::string names = DIALTONE_STATIC_NAMES;
  std::vector<std::string> statics;
  for (size_t at = 0; at < names.size();) {
    size_t comma = names.find(',', at);
    if (comma == std::string::npos) comma = names.size();
    statics.push_back(names.substr(at, comma - at));
    at = comma + 1;
  }
  REQUIRE(!statics.empty());
  for (auto& base : statics)
    for (auto& n : needed) {
      INFO(base << " is linked from its archive");
      CHECK(n.rfind(base + ".so", 0) != 0);
    }
#ifdef DIALTONE_PACKED_RELOCS
  // lld 15 and later: relative relocations in a RELR table (DT_RELR), few left in RELA.
  CHECK(dyn.output.find("(RELR)") != std::string::npos);
  auto rela = testing_support::run_command({"/usr/bin/readelf", "-rW", DIALTONE_SERVER_BIN}, std::chrono::seconds(60));
  REQUIRE(rela.exit_code == 0);
  size_t relative = 0;
  for (size_t at = rela.output.find("R_X86_64_RELATIVE"); at != std::string::npos;
       at = rela.output.find("R_X86_64_RELATIVE", at + 1))
    ++relative;
  INFO("R_X86_64_RELATIVE entries left in RELA: " << relative);
  CHECK(relative < 1000);
#endif
}

#endif  // DIALTONE_CODE_ORDER_FILE
