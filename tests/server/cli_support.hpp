#pragma once
// Shared by the CLI tests (test_cli_kv.cpp, test_cli_obj.cpp): the dialtone CLI run as a
// real process against a JetStream-enabled server (js_server, nats_handles.hpp), and helpers to read its text output
// (stdout and stderr together).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "nats_handles.hpp"
#include "server_process.hpp"

namespace testing_support::cli {

inline const std::string cli_bin = DIALTONE_CLI_BIN;

inline run_result dialtone(const server_process& s, std::vector<std::string> args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::vector<std::string> argv = {cli_bin, "-s", s.url()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

// Runs and expects success; returns the output.
inline std::string ok(const server_process& s, std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto r = dialtone(s, args, timeout);
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  INFO("dialtone " << cmd << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The line starting with `prefix`, or "".
inline std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& l : lines(text))
    if (l.rfind(prefix, 0) == 0) return l;
  return "";
}

// Splits a table row into its cells (columns are separated by two or more spaces).
inline std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < row.size()) {
    size_t gap = row.find("  ", i);
    if (gap == std::string::npos) gap = row.size();
    out.push_back(row.substr(i, gap - i));
    i = row.find_first_not_of(' ', gap);
    if (i == std::string::npos) break;
  }
  return out;
}

}  // namespace testing_support::cli
