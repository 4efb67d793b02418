#pragma once
// The `reqlog` command of the dialtone CLI: the server's request log (services/reqlog)
// through its $RLOG API, on libnats. `query`, `show`, `tail`, `replay` and
// `rules ls|add|rm`. Same conventions as the other commands: data to stdout, notes to
// stderr, every error one line "dialtone: ..." with exit code 1.
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace dialtone_cli {

class reqlog_commands {
 public:
  reqlog_commands(CLI::App& app, const std::string& server);
  ~reqlog_commands();
  reqlog_commands(const reqlog_commands&) = delete;
  reqlog_commands& operator=(const reqlog_commands&) = delete;

  static bool is_command(const std::string& word);
  static std::string check_subcommand(const std::string& command, const std::string& word);
  std::optional<int> run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dialtone_cli
