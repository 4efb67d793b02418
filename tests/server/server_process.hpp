#pragma once
// Test support: runs the real dialtone-server binary on an ephemeral port, and a raw
// TCP client for byte-exact protocol tests. Used by every integration test.
#include <chrono>
#include <string>
#include <vector>

namespace testing_support {

// Servers that exited badly when stopped (e.g. a sanitizer report at exit); the test
// runner fails the run when this is not zero.
int bad_server_exits();

class server_process {
 public:
  // Starts dialtone-server with `-a 127.0.0.1 -p -1` plus extra args (or a config file
  // whose contents are given) and waits until it reports its port. `max_open_files`,
  // if set, is the server's file descriptor limit (soft and hard).
  explicit server_process(std::vector<std::string> extra_args = {}, const std::string& config_text = "",
                          int max_open_files = 0);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int pid() const { return pid_; }
  // Everything the server logged so far.
  std::string log();
  // Sends SIGTERM (SIGINT to a DIALTONE_TEST_SERVER_BIN reference server) and waits;
  // returns the exit status.
  int stop();
  // Kills with SIGKILL.
  void kill9();

 private:
  void read_log(std::chrono::milliseconds wait);
  int pid_ = -1;
  int port_ = 0;
  int log_fd_ = -1;
  std::string log_;
  std::string config_path_;
  int stop_signal_ = 0;  // SIGTERM, or SIGINT for a reference server (set on start)
};

// Runs a command and captures stdout+stderr and the exit code (for start-up failures).
struct run_result {
  int exit_code;
  std::string output;
};
run_result run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// A command running in the background (e.g. `dialtone sub`), its output captured.
class background_command {
 public:
  explicit background_command(const std::vector<std::string>& argv);
  ~background_command();
  // Waits for it to exit (killing it after the timeout); returns exit code and output.
  run_result finish(std::chrono::milliseconds timeout);
  // Output so far, without waiting for exit.
  std::string output_so_far();

 private:
  int pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

std::string write_temp_file(const std::string& name, const std::string& content);

// Rewrites the server's configuration file at `path` with `text`, sends SIGHUP and waits
// until the log reports the nth reload (success or failure).
void reload_config(server_process& s, const std::string& path, const std::string& text, int nth);

// A fresh empty directory under /tmp.
std::string make_temp_dir();

// A fresh directory, removed with its contents when this goes away (e.g. a JetStream
// store directory: declare it before the server_process using it, so it outlives it).
struct temp_dir {
  std::string path = make_temp_dir();
  temp_dir() = default;
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

class raw_client {
 public:
  explicit raw_client(int port);
  ~raw_client();
  void send(const std::string& bytes);
  // Reads until `needle` appears or the timeout passes; returns what came up to and
  // including the needle (or everything, on timeout). Later bytes stay buffered.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(3));
  // Reads what arrives within the timeout.
  std::string read_for(std::chrono::milliseconds timeout);
  // True once the server has closed the connection (read returns 0 or an error).
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(3));
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buffered_;
};

}  // namespace testing_support
