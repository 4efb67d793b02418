#pragma once
// Keys and credentials, so nobody needs another program: `nkey gen|pub`, `jwt
// operator|account|user|activation|decode|push` and `creds`. Everything but `jwt push`
// works offline, with libplatform/crypto (the code the server verifies with). Seeds
// are read from files and written to files created 0600; they never appear in an
// error message. Same conventions as the other commands: data to stdout, notes to
// stderr, every error one line "dialtone: ..." with exit code 1.
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace dialtone_cli {

class auth_commands {
 public:
  auth_commands(CLI::App& app, const std::string& server);
  ~auth_commands();
  auth_commands(const auth_commands&) = delete;
  auth_commands& operator=(const auth_commands&) = delete;

  static bool is_command(const std::string& word);
  static std::string check_subcommand(const std::string& command, const std::string& word);
  std::optional<int> run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dialtone_cli
