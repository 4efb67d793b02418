// dialtone obj ...: JetStream object stores on dialtone_objclient. See obj_commands.hpp.
#include "obj_commands.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_util.hpp"
#include "objectstore/client/obj_client.hpp"
#include "progress_bar.hpp"

namespace dialtone_cli {

namespace objc = objectstore::client;

namespace {

constexpr uint64_t kMaxChunkSize = 64ull * 1024 * 1024;

// Ends the command for a failed library call. The library's messages are complete
// lines ("object not found: x", "digest mismatch for ..."); the bare ones (a server
// error, a sealed or full bucket) get `what` in front.
[[noreturn]] void obj_fail(const std::string& what, const objc::status& s) {
  using objc::errc;
  switch (s.code()) {
    case errc::not_enabled:
      die("JetStream is not enabled on the server (start it with -js)");
    case errc::invalid_argument:
    case errc::bucket_not_found:
    case errc::object_not_found:
    case errc::bucket_exists:
    case errc::object_exists:
    case errc::bucket_link:
    case errc::link_to_link:
    case errc::digest_mismatch:
    case errc::size_mismatch:
      die(s.message());
    default:
      break;
  }
  if (s.message().rfind("cannot ", 0) == 0 || s.message().rfind("stored ", 0) == 0) die(s.message());
  die(what + ": " + s.message());
}

// "131072", "128KiB", "128k", "1MiB", "1m": binary units. 0 when invalid.
uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  unsigned long long v = 0;
  try {
    if (text.empty() || text[0] == '-' || text[0] == '+') return 0;
    v = std::stoull(text, &used);
  } catch (...) {
    return 0;
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
  uint64_t scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") scale = 1024;
  else if (unit == "m" || unit == "mb" || unit == "mib") scale = 1024 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") scale = 1024ull * 1024 * 1024;
  if (scale == 0 || v > (uint64_t(1) << 50)) return 0;
  return v * scale;
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string size_text(uint64_t n) {
  return n < 1024 ? format_bytes(n) : format_bytes(n) + " (" + std::to_string(n) + " bytes)";
}

std::string link_text(const objc::object_link& l) {
  return l.name.empty() ? "bucket " + l.bucket : l.bucket + "/" + l.name;
}

const char* storage_name(objc::storage_type t) { return t == objc::storage_type::memory ? "memory" : "file"; }

}  // namespace

// ---------------------------------------------------------------------------------------
// The commands

struct object_commands::impl {
  const std::string& server;

  CLI::App* obj = nullptr;
  CLI::App *add, *put, *get, *info, *ls, *rm, *watch, *seal, *link;

  // Shared by the subcommands (only one runs).
  std::string bucket, name, file, output, description, ttl, storage = "file", chunk_size, target_bucket, target_name;
  int64_t max_bytes = 0;
  bool progress = false, force = false;

  explicit impl(const std::string& s) : server(s) {}

  void add_to(CLI::App& app);
  std::optional<int> run();

  int run_add();
  int run_put();
  int run_get();
  int run_info();
  int run_ls();
  int run_rm();
  int run_watch();
  int run_seal();
  int run_link();

  objc::bucket open(objc::object_store& store, const std::string& b);
  void print_status(const objc::bucket_status& st);
  void print_info(const objc::object_info& i);
};

void object_commands::impl::add_to(CLI::App& app) {
  obj = app.add_subcommand("obj", "Work with JetStream object stores (large objects in chunks)");
  obj->require_subcommand(1);

  add = obj->add_subcommand("add", "Create an object store bucket (or confirm an identical one exists)");
  add->add_option("bucket", bucket, "Bucket name: letters, digits, _ and -")->required();
  add->add_option("--ttl", ttl, "Expire objects after this long, e.g. 1h, 7d (default never)");
  add->add_option("--max-bytes", max_bytes, "Maximum size of the bucket in bytes (default unlimited)");
  add->add_option("--storage", storage, "file or memory")
      ->check(CLI::IsMember({"file", "memory"}))
      ->capture_default_str();
  add->add_option("--description", description, "What the bucket holds");

  put = obj->add_subcommand("put", "Store a file as an object; - reads stdin (then --name is needed)");
  put->add_option("bucket", bucket, "Bucket name")->required();
  put->add_option("file", file, "File to store, or - for stdin")->required();
  put->add_option("--name", name, "Object name (default the file's name)");
  put->add_option("--description", description, "What the object is");
  put->add_option("--chunk-size", chunk_size, "Chunk size, e.g. 128KiB (default; at most the server's max_payload)");
  put->add_flag("--progress", progress, "Show progress on stderr even when it is not a terminal");

  get = obj->add_subcommand("get", "Write an object to a file or stdout, checking its SHA-256 digest");
  get->add_option("bucket", bucket, "Bucket name")->required();
  get->add_option("name", name, "Object name")->required();
  get->add_option("-o,--output", output, "File to write (via FILE.part, renamed when complete; default stdout)");
  get->add_flag("--progress", progress, "Show progress on stderr even when it is not a terminal");

  info = obj->add_subcommand("info", "Show an object's meta, or the bucket's status without a name");
  info->add_option("bucket", bucket, "Bucket name")->required();
  info->add_option("name", name, "Object name");

  ls = obj->add_subcommand("ls", "List the objects of a bucket, or the buckets without one");
  ls->add_option("bucket", bucket, "Bucket name");

  rm = obj->add_subcommand("rm", "Delete an object, or without a name the whole bucket");
  rm->add_option("bucket", bucket, "Bucket name")->required();
  rm->add_option("name", name, "Object name");
  rm->add_flag("-f,--force", force, "Do not ask before deleting a bucket");

  watch = obj->add_subcommand("watch", "Print the current objects, then every change until Ctrl-C");
  watch->add_option("bucket", bucket, "Bucket name")->required();

  seal = obj->add_subcommand("seal", "Seal a bucket: no more puts or deletes, ever");
  seal->add_option("bucket", bucket, "Bucket name")->required();
  seal->add_flag("-f,--force", force, "Do not ask for confirmation");

  link = obj->add_subcommand("link", "Add a link to an object (or, without TARGET_NAME, to a bucket)");
  link->add_option("bucket", bucket, "Bucket to add the link to")->required();
  link->add_option("name", name, "Name of the link")->required();
  link->add_option("target_bucket", target_bucket, "Bucket the link points into")->required();
  link->add_option("target_name", target_name, "Object the link points at");
}

std::optional<int> object_commands::impl::run() {
  if (!obj->parsed()) return std::nullopt;
  if (add->parsed()) return run_add();
  if (put->parsed()) return run_put();
  if (get->parsed()) return run_get();
  if (info->parsed()) return run_info();
  if (ls->parsed()) return run_ls();
  if (rm->parsed()) return run_rm();
  if (watch->parsed()) return run_watch();
  if (seal->parsed()) return run_seal();
  if (link->parsed()) return run_link();
  return 2;
}

objc::bucket object_commands::impl::open(objc::object_store& store, const std::string& b) {
  auto r = store.open_bucket(b);
  if (!r) obj_fail("cannot open bucket \"" + b + "\"", r.error());
  return std::move(*r);
}

void object_commands::impl::print_status(const objc::bucket_status& st) {
  std::cout << "Bucket " << st.bucket << '\n';
  std::vector<std::pair<std::string, std::string>> fields;
  if (!st.description.empty()) fields.emplace_back("Description", st.description);
  fields.insert(fields.end(), {
                                  {"Size", format_bytes(st.size)},
                                  {"TTL", age_or_unlimited(st.ttl.count())},
                                  {"Max bytes", bytes_or_unlimited(st.max_bytes)},
                                  {"Storage", storage_name(st.storage)},
                                  {"Replicas", std::to_string(st.replicas)},
                                  {"Sealed", st.sealed ? "yes" : "no"},
                                  {"Created", format_time(st.created_ns)},
                                  {"Backing stream", st.backing_stream},
                              });
  print_fields(fields);
}

void object_commands::impl::print_info(const objc::object_info& i) {
  std::cout << (i.is_link() ? "Link " : "Object ") << i.name << " in bucket " << i.bucket << '\n';
  std::vector<std::pair<std::string, std::string>> fields;
  if (i.is_link()) {
    fields.emplace_back("Points to", link_text(*i.link));
  } else {
    fields.emplace_back("Size", size_text(i.size));
    fields.emplace_back("Chunks", std::to_string(i.chunks) + (i.max_chunk_size > 0
                                                                  ? " of at most " + format_bytes(i.max_chunk_size)
                                                                  : std::string()));
    fields.emplace_back("Digest", i.digest.empty() ? "-" : i.digest);
  }
  fields.emplace_back("Modified", format_time(i.mtime_ns));
  if (!i.description.empty()) fields.emplace_back("Description", i.description);
  for (const auto& [k, v] : i.metadata) fields.emplace_back("Metadata " + k, v);
  for (const auto& [k, vs] : i.headers)
    for (const auto& v : vs) fields.emplace_back("Header " + k, v);
  fields.emplace_back("NUID", i.nuid);
  fields.emplace_back("Revision", std::to_string(i.revision));
  print_fields(fields);
}

int object_commands::impl::run_add() {
  check_bucket(bucket);
  objc::bucket_config cfg;
  cfg.bucket = bucket;
  cfg.description = description;
  if (!ttl.empty()) cfg.ttl = std::chrono::nanoseconds(duration_or_die(ttl, "TTL"));
  if (add->count("--max-bytes")) {
    if (max_bytes <= 0) die("invalid --max-bytes " + std::to_string(max_bytes) + ", want a positive size");
    cfg.max_bytes = max_bytes;
  }
  cfg.storage = storage == "memory" ? objc::storage_type::memory : objc::storage_type::file;
  session s(server, "obj add");
  objc::object_store store(s.nc);
  auto b = store.create_bucket(cfg);
  if (!b) obj_fail("cannot create bucket \"" + bucket + "\"", b.error());
  auto st = b->stat();
  if (!st) obj_fail("cannot get the status of bucket \"" + bucket + "\"", st.error());
  print_status(*st);
  return 0;
}

int object_commands::impl::run_put() {
  check_bucket(bucket);
  bool from_stdin = file == "-";
  if (name.empty()) {
    if (from_stdin) die("put from stdin needs --name");
    name = base_name(file);
  }
  objc::put_options opts;
  if (!chunk_size.empty()) {
    uint64_t n = parse_size(chunk_size);
    if (n == 0 || n > kMaxChunkSize)
      die("invalid --chunk-size \"" + chunk_size + "\", want e.g. 64KiB, 128KiB or 1MiB (at most 64MiB)");
    opts.chunk_size = uint32_t(n);
  }
  int fd = STDIN_FILENO;
  if (!from_stdin) {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + file + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      if (S_ISDIR(st.st_mode)) die("cannot put " + file + ": it is a directory");
      if (S_ISREG(st.st_mode)) opts.size_hint = uint64_t(st.st_size);
    }
  }
  session s(server, "obj put");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  progress_bar bar("put " + name, progress || isatty(STDERR_FILENO));
  opts.progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
  objc::object_meta meta;
  meta.name = name;
  meta.description = description;
  auto r = b.put(meta, fd, opts);
  bar.finish();
  if (fd != STDIN_FILENO) ::close(fd);
  if (!r) obj_fail("cannot put \"" + name + "\" in bucket \"" + bucket + "\"", r.error());
  std::cerr << "put " << name << ": " << r->size << " bytes in " << r->chunks << " chunks, "
            << rate_text(r->size, bar.elapsed()) << ", " << r->digest << '\n'
            << std::flush;
  return 0;
}

int object_commands::impl::run_get() {
  check_bucket(bucket);
  bool to_stdout = output.empty() || output == "-";
  std::string part = output + ".part";
  std::ofstream file_out;
  if (!to_stdout) {
    file_out.open(part, std::ios::binary | std::ios::trunc);
    if (!file_out) die("cannot write " + part + ": " + std::strerror(errno));
  }
  std::ostream& out = to_stdout ? std::cout : file_out;
  session s(server, "obj get");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  auto fail_get = [&](const objc::status& st) {
    if (!to_stdout) {
      file_out.close();
      ::unlink(part.c_str());
    }
    obj_fail("cannot get \"" + name + "\" from bucket \"" + bucket + "\"", st);
  };
  // Before the transfer: a missing object (or a bucket link) fails without a bar.
  auto found = b.info(name);
  if (!found) fail_get(found.error());
  progress_bar bar("get " + name, progress || isatty(STDERR_FILENO));
  objc::get_options opts;
  opts.progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
  auto r = b.get(name, out, opts);
  bar.finish();
  if (!r) fail_get(r.error());
  if (!to_stdout) {
    file_out.close();
    if (!file_out) fail_get(objc::status(objc::errc::io_error, "cannot write " + part));
    if (std::rename(part.c_str(), output.c_str()) != 0)
      fail_get(objc::status(objc::errc::io_error, "cannot rename " + part + " to " + output + ": " +
                                                      std::strerror(errno)));
  }
  std::string via = found->is_link() ? " (via link " + bucket + "/" + name + ")" : "";
  std::cerr << "get " << r->name << via << ": " << r->size << " bytes in " << r->chunks << " chunks, "
            << rate_text(r->size, bar.elapsed()) << ", " << (r->digest.empty() ? "no digest" : r->digest + " verified")
            << '\n'
            << std::flush;
  return 0;
}

int object_commands::impl::run_info() {
  check_bucket(bucket);
  session s(server, "obj info");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  if (name.empty()) {
    auto st = b.stat();
    if (!st) obj_fail("cannot get the status of bucket \"" + bucket + "\"", st.error());
    print_status(*st);
    return 0;
  }
  auto i = b.info(name);
  if (!i) obj_fail("cannot get \"" + name + "\" from bucket \"" + bucket + "\"", i.error());
  print_info(*i);
  return 0;
}

int object_commands::impl::run_ls() {
  if (!bucket.empty()) check_bucket(bucket);
  session s(server, "obj ls");
  objc::object_store store(s.nc);
  std::vector<std::vector<std::string>> rows;
  if (bucket.empty()) {
    auto all = store.list_buckets();
    if (!all) obj_fail("cannot list buckets", all.error());
    for (const auto& st : *all) {
      std::string description =
          st.description.empty() ? "-" : printable(st.description.data(), int(st.description.size()));
      rows.push_back({st.bucket, description, format_bytes(st.size),
                      st.ttl.count() > 0 ? format_duration(st.ttl.count()) : "-", st.sealed ? "yes" : "no"});
    }
    if (rows.empty()) {
      std::cerr << "no object store buckets\n";
      return 0;
    }
    print_table({"Bucket", "Description", "Size", "TTL", "Sealed"}, rows, {32, 32, 0, 0, 0});
    return 0;
  }
  objc::bucket b = open(store, bucket);
  auto objects = b.list();
  if (!objects) obj_fail("cannot list bucket \"" + bucket + "\"", objects.error());
  for (const auto& o : *objects) {
    std::string shown = printable(o.name.data(), int(o.name.size()));
    if (o.is_link())
      rows.push_back({shown, "-", "-", format_time(o.mtime_ns), "link to " + link_text(*o.link)});
    else
      rows.push_back({shown, format_bytes(o.size), std::to_string(o.chunks), format_time(o.mtime_ns), o.digest});
  }
  if (rows.empty()) {
    std::cerr << "no objects in bucket \"" << bucket << "\"\n";
    return 0;
  }
  print_table({"Name", "Size", "Chunks", "Modified", "Digest"}, rows, {40, 0, 0, 0, 0});
  return 0;
}

int object_commands::impl::run_rm() {
  check_bucket(bucket);
  session s(server, "obj rm");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);  // "bucket not found" before anything else
  if (!name.empty()) {
    auto r = b.remove(name);
    if (!r) obj_fail("cannot delete \"" + name + "\" in bucket \"" + bucket + "\"", r.error());
    std::cerr << "Deleted object \"" << name << "\" in bucket \"" << bucket << "\"\n";
    return 0;
  }
  if (!force)
    confirm_or_die("Delete bucket \"" + bucket + "\" and all its objects?", "bucket \"" + bucket + "\"");
  if (auto st = store.delete_bucket(bucket); !st) obj_fail("cannot delete bucket \"" + bucket + "\"", st);
  std::cerr << "Deleted bucket \"" << bucket << "\"\n";
  return 0;
}

int object_commands::impl::run_watch() {
  check_bucket(bucket);
  session s(server, "obj watch");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  auto w = b.watch();
  if (!w) obj_fail("cannot watch bucket \"" + bucket + "\"", w.error());
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::cerr << "Watching bucket \"" << bucket << "\"\n" << std::flush;
  while (!stop_requested) {
    auto next = (*w)->next(std::chrono::milliseconds(200));
    if (!next) {
      if (next.code() == objc::errc::timeout) {
        if (connection_closed || natsConnection_IsClosed(s.nc)) die("connection to the server lost while watching");
        continue;
      }
      if (stop_requested) break;
      obj_fail("watching bucket \"" + bucket + "\" failed", next.error());
    }
    if (!next->has_value()) continue;  // the end of the current objects; changes follow
    const objc::object_info& o = **next;
    std::string line = "[" + format_time(o.mtime_ns) + "] ";
    std::string shown = printable(o.name.data(), int(o.name.size()));
    if (o.deleted)
      line += "DEL " + bucket + " > " + shown;
    else if (o.is_link())
      line += "LINK " + bucket + " > " + shown + " -> " + link_text(*o.link);
    else
      line += "PUT " + bucket + " > " + shown + ": " + std::to_string(o.size) + " bytes in " +
              std::to_string(o.chunks) + " chunks, " + o.digest;
    std::cout << line << '\n' << std::flush;
  }
  w->reset();
  return 0;
}

int object_commands::impl::run_seal() {
  check_bucket(bucket);
  session s(server, "obj seal");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  if (!force) {
    if (!isatty(STDIN_FILENO)) die("refusing to seal bucket \"" + bucket + "\" without confirmation; use -f");
    std::cerr << "Seal bucket \"" << bucket << "\"? A sealed bucket can never be changed again. [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") die("not sealed");
  }
  if (auto st = b.seal(); !st) obj_fail("cannot seal bucket \"" + bucket + "\"", st);
  auto st = b.stat();
  if (!st) obj_fail("cannot get the status of bucket \"" + bucket + "\"", st.error());
  print_status(*st);
  return 0;
}

int object_commands::impl::run_link() {
  check_bucket(bucket);
  check_bucket(target_bucket);
  session s(server, "obj link");
  objc::object_store store(s.nc);
  objc::bucket b = open(store, bucket);
  objc::bucket target = open(store, target_bucket);
  auto r = [&]() -> objc::result<objc::object_info> {
    if (target_name.empty()) return b.add_bucket_link(name, target_bucket);
    auto t = target.info(target_name);
    if (!t) obj_fail("cannot link to \"" + target_name + "\"", t.error());
    return b.add_link(name, *t);
  }();
  if (!r) obj_fail("cannot add link \"" + name + "\" to bucket \"" + bucket + "\"", r.error());
  print_info(*r);
  return 0;
}

object_commands::object_commands(CLI::App& app, const std::string& server) : impl_(std::make_unique<impl>(server)) {
  impl_->add_to(app);
}

object_commands::~object_commands() = default;

bool object_commands::is_command(const std::string& word) { return word == "obj"; }

std::string object_commands::check_subcommand(const std::string& command, const std::string& word) {
  static const std::vector<std::string> words = {"add", "put", "get", "info", "ls", "rm", "watch", "seal", "link"};
  if (std::find(words.begin(), words.end(), word) != words.end()) return "";
  return "unknown " + command + " command \"" + word + "\" (want " + join(words, ", ") + ")";
}

std::optional<int> object_commands::run() { return impl_->run(); }

}  // namespace dialtone_cli
