#pragma once
// The `obj` command of the dialtone CLI: JetStream object stores (buckets of large
// objects, streamed in chunks), on the object-store client library dialtone_objclient
// (objectstore/client/), modeled on `nats obj`. Same conventions as the kv and stream
// commands: data to stdout, notes, progress and summaries to stderr, every error one
// line "dialtone: ..." with exit code 1.
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace dialtone_cli {

class object_commands {
 public:
  // Adds `obj` and its subcommands to `app`. `server` (the URL) is read only when a
  // command runs, so it may be set by parsing.
  object_commands(CLI::App& app, const std::string& server);
  ~object_commands();
  object_commands(const object_commands&) = delete;
  object_commands& operator=(const object_commands&) = delete;

  // The command word this adds ("obj").
  static bool is_command(const std::string& word);
  // For `obj word`: an error line when `word` is not one of its subcommands, else empty.
  static std::string check_subcommand(const std::string& command, const std::string& word);

  // After parsing: runs the obj command given and returns its exit code, or nullopt
  // when it was not given.
  std::optional<int> run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dialtone_cli
