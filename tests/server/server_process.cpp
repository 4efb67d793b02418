#include "server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

namespace testing_support {

namespace {

std::vector<char*> to_argv(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

bool read_available(int fd, std::string& out, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n <= 0) return false;
  out.append(buf, size_t(n));
  return true;
}

}  // namespace

std::string make_temp_dir() {
  char dir[] = "/tmp/dialtone-test-XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
  return dir;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string write_temp_file(const std::string& name, const std::string& content) {
  char dir[] = "/tmp/dialtone-test-XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
  std::string path = std::string(dir) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

namespace {

// `server`: the child is dialtone-server; under `make tsan` it gets its own
// suppressions (DIALTONE_SERVER_TSAN_OPTIONS: tests/tsan-server.supp).
int spawn_captured(const std::vector<std::string>& args, int& out_fd, int max_open_files = 0, bool server = false) {
  // The child's environment is built before fork (nothing that may lock runs after it).
  std::vector<std::string> env_text;
  const char* server_tsan = server ? std::getenv("DIALTONE_SERVER_TSAN_OPTIONS") : nullptr;
  for (char** e = environ; *e; ++e)
    if (!server_tsan || std::strncmp(*e, "TSAN_OPTIONS=", 13) != 0) env_text.emplace_back(*e);
  if (server_tsan) env_text.push_back(std::string("TSAN_OPTIONS=") + server_tsan);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
  int pid = fork();
  if (pid == 0) {
    if (max_open_files > 0) {
      rlimit r{rlim_t(max_open_files), rlim_t(max_open_files)};
      setrlimit(RLIMIT_NOFILE, &r);
    }
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    close(pipefd[1]);
    auto argv = to_argv(args);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(pipefd[1]);
  out_fd = pipefd[0];
  return pid;
}

run_result wait_captured(int pid, int fd, std::string& out, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    read_available(fd, out, 20);
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  while (read_available(fd, out, 0)) {
  }
  return {exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

server_process::server_process(std::vector<std::string> extra_args, const std::string& config_text,
                               int max_open_files) {
  // DIALTONE_TEST_SERVER overrides the binary under test (e.g. to run the suite against
  // an older build and see which tests it fails). DIALTONE_TEST_SERVER_BIN does the same
  // for a reference server such as nats-server, which takes the same -a, -p -1, -js and
  // -sd flags and logs the same "Listening for client connections on" and "Server is
  // ready" lines; it is stopped with SIGINT, as nats-server exits 1 on SIGTERM.
  const char* bin = std::getenv("DIALTONE_TEST_SERVER");
  const char* reference = std::getenv("DIALTONE_TEST_SERVER_BIN");
  stop_signal_ = SIGTERM;
  if (reference && *reference) {
    bin = reference;
    stop_signal_ = SIGINT;
  }
  std::vector<std::string> args = {bin && *bin ? bin : DIALTONE_SERVER_BIN, "-a", "127.0.0.1", "-p", "-1"};
  if (!config_text.empty()) {
    config_path_ = write_temp_file("server.conf", config_text);
    args.push_back("-c");
    args.push_back(config_path_);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = spawn_captured(args, log_fd_, max_open_files, true);
  fcntl(log_fd_, F_SETFL, O_NONBLOCK);
  std::regex ready("Listening for client connections on [^ ]+:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    read_log(std::chrono::milliseconds(50));
    std::smatch m;
    if (std::regex_search(log_, m, ready) && log_.find("Server is ready") != std::string::npos) {
      port_ = std::stoi(m[1]);
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("dialtone-server exited during start-up:\n" + log_);
    }
  }
  kill9();
  throw std::runtime_error("dialtone-server did not become ready:\n" + log_);
}

namespace {
std::atomic<int> bad_exits{0};
}  // namespace

int bad_server_exits() { return bad_exits.load(); }

server_process::~server_process() {
  if (pid_ > 0) {
    int rc = stop();
    if (rc != 0) {
      ++bad_exits;
      std::fprintf(stderr, "dialtone-server exited with %d when stopped; its log:\n%s\n", rc, log_.c_str());
    }
  }
  if (log_fd_ >= 0) close(log_fd_);
}

void server_process::read_log(std::chrono::milliseconds wait) {
  int ms = int(wait.count());
  while (read_available(log_fd_, log_, ms)) ms = 0;
}

std::string server_process::log() {
  read_log(std::chrono::milliseconds(20));
  return log_;
}

int server_process::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, stop_signal_);
  int status = 0;
  // By the clock, not by iterations: once the server closes its end of the log pipe,
  // reading returns at once, while the process may take a moment more to be reapable.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    read_log(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      read_log(std::chrono::milliseconds(10));
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  kill9();
  return -1;
}

void server_process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}


run_result run_command(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  int fd = -1;
  int pid = spawn_captured(args, fd);
  std::string out;
  auto r = wait_captured(pid, fd, out, timeout);
  close(fd);
  return r;
}

background_command::background_command(const std::vector<std::string>& argv) {
  pid_ = spawn_captured(argv, fd_);
}

background_command::~background_command() {
  if (pid_ > 0) finish(std::chrono::milliseconds(0));
  if (fd_ >= 0) close(fd_);
}

run_result background_command::finish(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return {-1, out_};
  auto r = wait_captured(pid_, fd_, out_, timeout);
  pid_ = -1;
  return r;
}

std::string background_command::output_so_far() {
  while (read_available(fd_, out_, 10)) {
  }
  return out_;
}

raw_client::raw_client(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

raw_client::~raw_client() {
  if (fd_ >= 0) close(fd_);
}

void raw_client::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may have closed on us; tests check for that
    off += size_t(n);
  }
}

std::string raw_client::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffered_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    if (!read_available(fd_, buffered_, 20)) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) break;
    }
  }
  // Hand back everything up to and including the needle; keep the rest for later reads.
  size_t pos = buffered_.find(needle);
  size_t cut = pos == std::string::npos ? buffered_.size() : pos + needle.size();
  std::string out = buffered_.substr(0, cut);
  buffered_.erase(0, cut);
  return out;
}

std::string raw_client::read_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) read_available(fd_, buffered_, 10);
  std::string out;
  out.swap(buffered_);
  return out;
}

bool raw_client::closed_by_server(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      char buf[65536];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return true;
      buffered_.append(buf, size_t(n));
    }
  }
  return false;
}

void reload_config(server_process& s, const std::string& path, const std::string& text, int nth) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  if (::kill(s.pid(), SIGHUP) != 0) throw std::runtime_error("cannot send SIGHUP to the server");
  // Wait for the nth reload's report (success or failure) in the log.
  for (int i = 0; i < 300; ++i) {
    auto log = s.log();
    size_t count = 0;
    for (size_t p = 0; (p = log.find("Reload", p)) != std::string::npos; ++p)
      if (log.compare(p, 9, "Reloaded ") == 0 || log.compare(p, 13, "Reload failed") == 0) ++count;
    if (int(count) >= nth) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("no reload reported; log:\n" + s.log());
}

}  // namespace testing_support
