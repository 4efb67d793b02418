#pragma once
// The `kv` and `stream` commands of the dialtone CLI: JetStream key-value buckets and
// streams, on the official NATS C client (libnats), modeled on `nats kv` and
// `nats stream`. Same conventions as the rest of the CLI: data to stdout, notes to
// stderr, every error one line "dialtone: ..." with exit code 1.
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace dialtone_cli {

class jetstream_commands {
 public:
  // Adds `kv` and `stream`, with their subcommands, to `app`. `server` (the URL) is read
  // only when a command runs, so it may be set by parsing.
  jetstream_commands(CLI::App& app, const std::string& server);
  ~jetstream_commands();
  jetstream_commands(const jetstream_commands&) = delete;
  jetstream_commands& operator=(const jetstream_commands&) = delete;

  // The command words this adds ("kv", "stream").
  static bool is_command(const std::string& word);
  // For `command word`: an error line when `word` is not one of the command's
  // subcommands (CLI11 would only say a subcommand is required), else empty.
  static std::string check_subcommand(const std::string& command, const std::string& word);

  // After parsing: runs the kv or stream command given and returns its exit code, or
  // nullopt when neither was given.
  std::optional<int> run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dialtone_cli
