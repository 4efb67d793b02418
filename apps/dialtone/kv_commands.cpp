// dialtone kv ... and dialtone stream ...: JetStream key-value buckets and streams on
// libnats (jsCtx, kvStore). See kv_commands.hpp.
#include "kv_commands.hpp"

#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_util.hpp"
#include "libplatform/subject.hpp"

namespace dialtone_cli {

namespace {

constexpr int kMaxHistory = 64;  // libnats' and the server's limit for a bucket

// A stream's subjects (none for a null config).
std::vector<std::string> subjects_of(const jsStreamConfig* c) {
  std::vector<std::string> out;
  for (int i = 0; c && i < c->SubjectsLen; ++i) out.emplace_back(c->Subjects[i]);
  return out;
}

// ---------------------------------------------------------------------------------------
// Names

bool key_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '-' || c == '/' || c == '=' || c == '.';
}

// Keys: [-/=.\w]+ without a leading, trailing or double dot. With `wildcards`, tokens may
// also be * or a final > (watch patterns).
bool valid_key(const std::string& key, bool wildcards) {
  if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
    return false;
  size_t start = 0;
  while (start <= key.size()) {
    size_t dot = key.find('.', start);
    std::string token = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool last = dot == std::string::npos;
    if (wildcards && (token == "*" || (token == ">" && last))) {
      // a wildcard token
    } else {
      for (unsigned char c : token)
        if (!key_char(c)) return false;
    }
    if (last) break;
    start = dot + 1;
  }
  return true;
}

void check_key(const std::string& key) {
  if (!valid_key(key, false))
    die("invalid key \"" + key +
        "\" (use letters, digits and - / _ = ., no leading, trailing or double dots)");
}

void check_key_pattern(const std::string& pattern) {
  if (!valid_key(pattern, true))
    die("invalid key pattern \"" + pattern +
        "\" (keys made of letters, digits and - / _ = ., tokens may be * or a final >)");
}

// Stream names: no whitespace, dots, wildcards or path separators.
void check_stream_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 255;
  for (unsigned char c : name)
    if (c <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\') ok = false;
  if (!ok) die("invalid stream name \"" + name + "\" (no spaces, dots, * > / or \\)");
}

// ---------------------------------------------------------------------------------------
// RAII holders for libnats objects

struct kv_handle {
  kvStore* kv = nullptr;
  ~kv_handle() { kvStore_Destroy(kv); }
};

struct entry_handle {
  kvEntry* e = nullptr;
  ~entry_handle() { kvEntry_Destroy(e); }
};

struct stream_info_handle {
  jsStreamInfo* si = nullptr;
  ~stream_info_handle() { jsStreamInfo_Destroy(si); }
};

// Opens an existing bucket, or exits with "bucket not found".
void open_bucket(session& s, kv_handle& h, const std::string& bucket) {
  check_bucket(bucket);
  natsStatus st = js_KeyValue(&h.kv, s.js, bucket.c_str());
  if (st == NATS_NOT_FOUND) die("bucket not found: " + bucket);
  if (st != NATS_OK) fail("cannot open bucket \"" + bucket + "\"", st);
}

// Gathers a watcher's current values, up to its end-of-values marker. kvStore_Keys and
// kvStore_History do the same but wait forever by default, and their Timeout option
// shrinks faster than real time on big buckets; this gives up only when the server has
// been silent for 10s.
std::vector<kvEntry*> gather(kvWatcher* w, const std::string& what) {
  std::vector<kvEntry*> out;
  for (;;) {
    kvEntry* e = nullptr;
    natsStatus st = kvWatcher_Next(&e, w, 10'000);
    if (st != NATS_OK) fail(what, st);
    if (e == nullptr) return out;
    out.push_back(e);
  }
}

const char* op_name(kvOperation op) {
  switch (op) {
    case kvOp_Put:
      return "PUT";
    case kvOp_Delete:
      return "DEL";
    case kvOp_Purge:
      return "PURGE";
    default:
      return "?";
  }
}

const char* storage_name(jsStorageType t) { return t == js_MemoryStorage ? "memory" : "file"; }
const char* retention_name(jsRetentionPolicy r) {
  return r == js_InterestPolicy ? "interest" : r == js_WorkQueuePolicy ? "workqueue" : "limits";
}
const char* discard_name(jsDiscardPolicy d) { return d == js_DiscardNew ? "new" : "old"; }

std::string read_stdin() {
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  if (std::ferror(stdin)) die("cannot read the value from stdin");
  return data;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The commands

struct jetstream_commands::impl {
  const std::string& server;

  CLI::App* kv = nullptr;
  CLI::App *kv_add, *kv_put, *kv_get, *kv_del, *kv_purge, *kv_history, *kv_watch, *kv_keys, *kv_ls, *kv_rm,
      *kv_status;
  CLI::App* stream = nullptr;
  CLI::App *st_ls, *st_info, *st_add, *st_rm, *st_view;

  // Shared by the subcommands (only one runs).
  std::string bucket, key, value, pattern, name;
  CLI::Option* value_opt = nullptr;
  int history = 1;
  std::string ttl, max_age;
  int64_t max_bytes = 0, max_msgs = 0, max_msgs_per_subject = 0;
  std::string storage = "file", retention = "limits", discard = "old";
  uint64_t revision = 0, since_seq = 0, count = 0;
  bool raw = false, force = false, all = false;
  std::vector<std::string> subjects;

  explicit impl(const std::string& s) : server(s) {}

  void add_to(CLI::App& app);
  std::optional<int> run();

  int run_kv_add();
  int run_kv_put();
  int run_kv_get();
  int run_kv_del(bool purge);
  int run_kv_history();
  int run_kv_watch();
  int run_kv_keys();
  int run_kv_ls();
  int run_kv_rm();
  int run_kv_status();
  int run_stream_ls();
  int run_stream_info();
  int run_stream_add();
  int run_stream_rm();
  int run_stream_view();

  void print_bucket_status(session& s, const std::string& bucket);
  void print_stream_info(const jsStreamInfo* si);
};

void jetstream_commands::impl::add_to(CLI::App& app) {
  kv = app.add_subcommand("kv", "Work with JetStream key-value buckets");
  kv->require_subcommand(1);

  kv_add = kv->add_subcommand("add", "Create a bucket (or confirm an identical one exists)");
  kv_add->add_option("bucket", bucket, "Bucket name: letters, digits, _ and -")->required();
  kv_add->add_option("--history", history, "How many values to keep per key (1-64)")
      ->check(CLI::Range(1, kMaxHistory))
      ->capture_default_str();
  kv_add->add_option("--ttl", ttl, "Expire values after this long, e.g. 30s, 1h, 7d (default never)");
  kv_add->add_option("--max-bytes", max_bytes, "Maximum size of the bucket in bytes (default unlimited)");
  kv_add->add_option("--storage", storage, "file or memory")
      ->check(CLI::IsMember({"file", "memory"}))
      ->capture_default_str();

  kv_put = kv->add_subcommand("put", "Set a key's value; prints the new revision");
  kv_put->add_option("bucket", bucket, "Bucket name")->required();
  kv_put->add_option("key", key, "Key")->required();
  value_opt = kv_put->add_option("value", value, "Value; - or omitted reads it from stdin");

  kv_get = kv->add_subcommand("get", "Print a key's value");
  kv_get->add_option("bucket", bucket, "Bucket name")->required();
  kv_get->add_option("key", key, "Key")->required();
  kv_get->add_option("--revision", revision, "Get this revision instead of the latest");
  kv_get->add_flag("--raw", raw, "Print only the value, byte for byte (no header, no newline added)");

  kv_del = kv->add_subcommand("del", "Delete a key (a delete marker; history is kept)");
  kv_del->add_option("bucket", bucket, "Bucket name")->required();
  kv_del->add_option("key", key, "Key")->required();

  kv_purge = kv->add_subcommand("purge", "Delete a key and all its history");
  kv_purge->add_option("bucket", bucket, "Bucket name")->required();
  kv_purge->add_option("key", key, "Key")->required();

  kv_history = kv->add_subcommand("history", "List a key's revisions");
  kv_history->add_option("bucket", bucket, "Bucket name")->required();
  kv_history->add_option("key", key, "Key")->required();

  kv_watch = kv->add_subcommand("watch", "Print current values, then every update until Ctrl-C");
  kv_watch->add_option("bucket", bucket, "Bucket name")->required();
  kv_watch->add_option("pattern", pattern, "Keys to watch; tokens may be * or a final > (default all)");

  kv_keys = kv->add_subcommand("keys", "List the keys of a bucket, one per line");
  kv_keys->add_option("bucket", bucket, "Bucket name")->required();

  kv_ls = kv->add_subcommand("ls", "List buckets");

  kv_rm = kv->add_subcommand("rm", "Delete a bucket and everything in it");
  kv_rm->add_option("bucket", bucket, "Bucket name")->required();
  kv_rm->add_flag("-f,--force", force, "Do not ask for confirmation");

  kv_status = kv->add_subcommand("status", "Show a bucket's configuration and size");
  kv_status->add_option("bucket", bucket, "Bucket name")->required();

  stream = app.add_subcommand("stream", "Work with JetStream streams");
  stream->require_subcommand(1);

  st_ls = stream->add_subcommand("ls", "List streams");
  st_ls->add_flag("-a,--all", all,
                  "Include the streams behind key-value buckets (KV_*) and object stores (OBJ_*)");

  st_info = stream->add_subcommand("info", "Show a stream's configuration and state");
  st_info->add_option("name", name, "Stream name")->required();

  st_add = stream->add_subcommand("add", "Create a stream");
  st_add->add_option("name", name, "Stream name")->required();
  st_add->add_option("--subjects", subjects, "Subjects to store, comma separated (wildcards allowed)")
      ->delimiter(',')
      ->required();
  st_add->add_option("--storage", storage, "file or memory")
      ->check(CLI::IsMember({"file", "memory"}))
      ->capture_default_str();
  st_add->add_option("--retention", retention, "limits, interest or workqueue")
      ->check(CLI::IsMember({"limits", "interest", "workqueue"}))
      ->capture_default_str();
  st_add->add_option("--max-msgs", max_msgs, "Maximum number of messages (default unlimited)");
  st_add->add_option("--max-bytes", max_bytes, "Maximum total size in bytes (default unlimited)");
  st_add->add_option("--max-age", max_age, "Maximum message age, e.g. 1h or 7d (default unlimited)");
  st_add->add_option("--max-msgs-per-subject", max_msgs_per_subject,
                     "Maximum messages kept per subject (default unlimited)");
  st_add->add_option("--discard", discard, "When full, discard old messages or refuse new ones")
      ->check(CLI::IsMember({"old", "new"}))
      ->capture_default_str();

  st_rm = stream->add_subcommand("rm", "Delete a stream and all its messages");
  st_rm->add_option("name", name, "Stream name")->required();
  st_rm->add_flag("-f,--force", force, "Do not ask for confirmation");

  st_view = stream->add_subcommand("view", "Print a stream's messages");
  st_view->add_option("name", name, "Stream name")->required();
  st_view->add_option("--since-seq", since_seq, "Start at this sequence (default the first)");
  st_view->add_option("--count", count, "Print at most this many messages (default all)");
}

std::optional<int> jetstream_commands::impl::run() {
  if (kv->parsed()) {
    if (kv_add->parsed()) return run_kv_add();
    if (kv_put->parsed()) return run_kv_put();
    if (kv_get->parsed()) return run_kv_get();
    if (kv_del->parsed()) return run_kv_del(false);
    if (kv_purge->parsed()) return run_kv_del(true);
    if (kv_history->parsed()) return run_kv_history();
    if (kv_watch->parsed()) return run_kv_watch();
    if (kv_keys->parsed()) return run_kv_keys();
    if (kv_ls->parsed()) return run_kv_ls();
    if (kv_rm->parsed()) return run_kv_rm();
    if (kv_status->parsed()) return run_kv_status();
    return 2;
  }
  if (stream->parsed()) {
    if (st_ls->parsed()) return run_stream_ls();
    if (st_info->parsed()) return run_stream_info();
    if (st_add->parsed()) return run_stream_add();
    if (st_rm->parsed()) return run_stream_rm();
    if (st_view->parsed()) return run_stream_view();
    return 2;
  }
  return std::nullopt;
}

void jetstream_commands::impl::print_bucket_status(session& s, const std::string& b) {
  {
    kv_handle h;
    open_bucket(s, h, b);  // "bucket not found", and libnats' check that it is a KV stream
  }
  // Everything kvStore_Status reports comes from the backing stream's info, which also
  // has what it does not expose (size, storage, limits): read that once.
  stream_info_handle si;
  jsErrCode jerr = jsErrCode(0);
  std::string stream_name = "KV_" + b;
  natsStatus st = js_GetStreamInfo(&si.si, s.js, stream_name.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND) die("bucket not found: " + b);
  if (st != NATS_OK || !si.si->Config) fail("cannot get the status of bucket \"" + b + "\"", st, jerr);
  const jsStreamConfig* c = si.si->Config;
  std::cout << "Bucket " << b << '\n';
  print_fields({
      {"Values", std::to_string(si.si->State.Msgs)},
      {"History", std::to_string(c->MaxMsgsPerSubject)},
      {"TTL", c->MaxAge > 0 ? format_duration(c->MaxAge) : "unlimited"},
      {"Max bytes", bytes_or_unlimited(c->MaxBytes)},
      {"Max value size", c->MaxMsgSize > 0 ? format_bytes(uint64_t(c->MaxMsgSize)) : "unlimited"},
      {"Storage", storage_name(c->Storage)},
      {"Replicas", std::to_string(c->Replicas)},
      {"Size", format_bytes(si.si->State.Bytes)},
      {"Created", format_time(si.si->Created)},
      {"Backing stream", stream_name},
  });
}

int jetstream_commands::impl::run_kv_add() {
  check_bucket(bucket);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket.c_str();
  cfg.History = uint8_t(history);
  if (!ttl.empty()) cfg.TTL = duration_or_die(ttl, "TTL");
  if (kv_add->count("--max-bytes")) {
    if (max_bytes <= 0) die("invalid --max-bytes " + std::to_string(max_bytes) + ", want a positive size");
    cfg.MaxBytes = max_bytes;
  }
  cfg.StorageType = storage == "memory" ? js_MemoryStorage : js_FileStorage;
  session s(server, "kv add");
  kv_handle h;
  natsStatus st = js_CreateKeyValue(&h.kv, s.js, &cfg);
  if (st != NATS_OK) {
    std::string text = last_error_text(st);
    if (text.find("Existing configuration is different") != std::string::npos)
      die("bucket \"" + bucket + "\" already exists with a different configuration");
    fail("cannot create bucket \"" + bucket + "\"", st);
  }
  print_bucket_status(s, bucket);
  return 0;
}

int jetstream_commands::impl::run_kv_put() {
  check_bucket(bucket);
  check_key(key);
  bool from_stdin = value_opt->count() == 0 || value == "-";
  if (from_stdin && isatty(STDIN_FILENO)) std::cerr << "Reading the value from stdin (end it with Ctrl-D)\n";
  std::string data = from_stdin ? read_stdin() : value;
  session s(server, "kv put");
  kv_handle h;
  open_bucket(s, h, bucket);
  uint64_t rev = 0;
  natsStatus st = kvStore_Put(&rev, h.kv, key.c_str(), data.data(), int(data.size()));
  if (st != NATS_OK) fail("cannot put \"" + key + "\" in bucket \"" + bucket + "\"", st);
  std::cout << rev << '\n' << std::flush;
  return 0;
}

int jetstream_commands::impl::run_kv_get() {
  check_bucket(bucket);
  check_key(key);
  if (kv_get->count("--revision") && revision == 0) die("invalid revision 0, revisions start at 1");
  session s(server, "kv get");
  kv_handle h;
  open_bucket(s, h, bucket);
  entry_handle e;
  natsStatus st = revision ? kvStore_GetRevision(&e.e, h.kv, key.c_str(), revision)
                           : kvStore_Get(&e.e, h.kv, key.c_str());
  if (st == NATS_NOT_FOUND) {
    if (revision) die("key not found: " + key + " (revision " + std::to_string(revision) + ")");
    die("key not found: " + key);
  }
  if (st != NATS_OK) fail("cannot get \"" + key + "\" from bucket \"" + bucket + "\"", st);
  const char* data = static_cast<const char*>(kvEntry_Value(e.e));
  int len = kvEntry_ValueLen(e.e);
  if (raw) {
    std::cout.write(data, len);
  } else {
    std::cout << bucket << " > " << kvEntry_Key(e.e) << " revision: " << kvEntry_Revision(e.e)
              << " created: " << format_time(kvEntry_Created(e.e)) << '\n';
    std::cout.write(data, len);
    std::cout << '\n';
  }
  std::cout << std::flush;
  return 0;
}

int jetstream_commands::impl::run_kv_del(bool purge) {
  check_bucket(bucket);
  check_key(key);
  session s(server, purge ? "kv purge" : "kv del");
  kv_handle h;
  open_bucket(s, h, bucket);
  std::string what =
      std::string("cannot ") + (purge ? "purge" : "delete") + " \"" + key + "\" in bucket \"" + bucket + "\"";
  if (!purge) {
    // Deleting a missing key would only add a marker: say it is not there instead.
    entry_handle e;
    natsStatus st = kvStore_Get(&e.e, h.kv, key.c_str());
    if (st == NATS_NOT_FOUND) die("key not found: " + key);
    if (st != NATS_OK) fail(what, st);
  }
  natsStatus st = purge ? kvStore_Purge(h.kv, key.c_str(), nullptr) : kvStore_Delete(h.kv, key.c_str());
  if (st != NATS_OK) fail(what, st);
  std::cerr << (purge ? "Purged" : "Deleted") << " key \"" << key << "\" in bucket \"" << bucket << "\"\n";
  return 0;
}

int jetstream_commands::impl::run_kv_history() {
  check_bucket(bucket);
  check_key(key);
  session s(server, "kv history");
  kv_handle h;
  open_bucket(s, h, bucket);
  // What kvStore_History does: a watcher on the key, with every revision.
  kvWatchOptions o;
  kvWatchOptions_Init(&o);
  o.IncludeHistory = true;
  kvWatcher* w = nullptr;
  natsStatus st = kvStore_Watch(&w, h.kv, key.c_str(), &o);
  if (st != NATS_OK) fail("cannot get the history of \"" + key + "\"", st);
  std::vector<kvEntry*> entries = gather(w, "cannot get the history of \"" + key + "\"");
  kvWatcher_Destroy(w);
  if (entries.empty()) die("key not found: " + key);
  std::vector<std::vector<std::string>> rows;
  for (kvEntry* e : entries) {
    int len = kvEntry_ValueLen(e);
    rows.push_back({std::to_string(kvEntry_Revision(e)), op_name(kvEntry_Operation(e)),
                    format_time(kvEntry_Created(e)), std::to_string(len),
                    printable(static_cast<const char*>(kvEntry_Value(e)), len)});
    kvEntry_Destroy(e);
  }
  print_table({"Revision", "Op", "Created", "Length", "Value"}, rows, {0, 0, 0, 0, 32});
  return 0;
}

int jetstream_commands::impl::run_kv_watch() {
  check_bucket(bucket);
  if (!pattern.empty()) check_key_pattern(pattern);
  session s(server, "kv watch");
  kv_handle h;
  open_bucket(s, h, bucket);
  kvWatcher* w = nullptr;
  natsStatus st = pattern.empty() ? kvStore_WatchAll(&w, h.kv, nullptr)
                                  : kvStore_Watch(&w, h.kv, pattern.c_str(), nullptr);
  if (st != NATS_OK) fail("cannot watch bucket \"" + bucket + "\"", st);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::cerr << "Watching bucket \"" << bucket << "\"";
  if (!pattern.empty()) std::cerr << " for \"" << pattern << "\"";
  std::cerr << '\n' << std::flush;
  while (!stop_requested) {
    kvEntry* e = nullptr;
    st = kvWatcher_Next(&e, w, 200);
    if (st == NATS_TIMEOUT) {
      if (connection_closed || natsConnection_IsClosed(s.nc))
        die("connection to the server lost while watching");
      continue;
    }
    if (st != NATS_OK) {
      if (stop_requested) break;
      fail("watching bucket \"" + bucket + "\" failed", st);
    }
    if (e == nullptr) continue;  // the end of the current values; updates follow
    kvOperation op = kvEntry_Operation(e);
    std::string line =
        "[" + format_time(kvEntry_Created(e)) + "] " + op_name(op) + " " + bucket + " > " + kvEntry_Key(e);
    if (op == kvOp_Put) {
      line += ": ";
      line.append(static_cast<const char*>(kvEntry_Value(e)), size_t(kvEntry_ValueLen(e)));
    }
    line += '\n';
    kvEntry_Destroy(e);
    std::cout << line << std::flush;
  }
  kvWatcher_Destroy(w);
  return 0;
}

int jetstream_commands::impl::run_kv_keys() {
  check_bucket(bucket);
  session s(server, "kv keys");
  kv_handle h;
  open_bucket(s, h, bucket);
  // What kvStore_Keys does: a watcher on every key, headers only, deletes skipped.
  kvWatchOptions o;
  kvWatchOptions_Init(&o);
  o.IgnoreDeletes = true;
  o.MetaOnly = true;
  kvWatcher* w = nullptr;
  natsStatus st = kvStore_WatchAll(&w, h.kv, &o);
  if (st != NATS_OK) fail("cannot list the keys of bucket \"" + bucket + "\"", st);
  std::vector<std::string> keys;
  for (kvEntry* e : gather(w, "cannot list the keys of bucket \"" + bucket + "\"")) {
    keys.emplace_back(kvEntry_Key(e));
    kvEntry_Destroy(e);
  }
  kvWatcher_Destroy(w);
  std::sort(keys.begin(), keys.end());
  if (keys.empty()) {
    std::cerr << "no keys in bucket \"" << bucket << "\"\n";
    return 0;
  }
  std::string out;
  for (const auto& k : keys) out += k + '\n';
  std::cout << out << std::flush;
  return 0;
}

namespace {

// All streams (sorted by name); empty when there are none.
std::vector<jsStreamInfo*> list_streams(session& s, jsStreamInfoList*& list) {
  jsErrCode jerr = jsErrCode(0);
  natsStatus st = js_Streams(&list, s.js, nullptr, &jerr);
  std::vector<jsStreamInfo*> out;
  if (st == NATS_NOT_FOUND) return out;
  if (st != NATS_OK) fail("cannot list streams", st, jerr);
  for (int i = 0; i < list->Count; ++i)
    if (list->List[i] && list->List[i]->Config && list->List[i]->Config->Name) out.push_back(list->List[i]);
  std::sort(out.begin(), out.end(), [](const jsStreamInfo* a, const jsStreamInfo* b) {
    return std::string(a->Config->Name) < std::string(b->Config->Name);
  });
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

int jetstream_commands::impl::run_kv_ls() {
  session s(server, "kv ls");
  jsStreamInfoList* list = nullptr;
  std::vector<std::vector<std::string>> rows;
  for (const jsStreamInfo* si : list_streams(s, list)) {
    std::string n = si->Config->Name;
    if (!starts_with(n, "KV_") || n.size() == 3) continue;
    const jsStreamConfig* c = si->Config;
    rows.push_back({n.substr(3), std::to_string(si->State.Msgs), std::to_string(c->MaxMsgsPerSubject),
                    c->MaxAge > 0 ? format_duration(c->MaxAge) : "-", format_bytes(si->State.Bytes)});
  }
  jsStreamInfoList_Destroy(list);
  if (rows.empty()) {
    std::cerr << "no key-value buckets\n";
    return 0;
  }
  print_table({"Bucket", "Values", "History", "TTL", "Size"}, rows, {32, 0, 0, 0, 0});
  return 0;
}

int jetstream_commands::impl::run_kv_rm() {
  check_bucket(bucket);
  session s(server, "kv rm");
  {
    kv_handle h;
    open_bucket(s, h, bucket);  // "bucket not found" before asking anything
  }
  if (!force)
    confirm_or_die("Delete bucket \"" + bucket + "\" and all its values?", "bucket \"" + bucket + "\"");
  natsStatus st = js_DeleteKeyValue(s.js, bucket.c_str());
  if (st == NATS_NOT_FOUND) die("bucket not found: " + bucket);
  if (st != NATS_OK) fail("cannot delete bucket \"" + bucket + "\"", st);
  std::cerr << "Deleted bucket \"" << bucket << "\"\n";
  return 0;
}

int jetstream_commands::impl::run_kv_status() {
  check_bucket(bucket);
  session s(server, "kv status");
  print_bucket_status(s, bucket);
  return 0;
}

void jetstream_commands::impl::print_stream_info(const jsStreamInfo* si) {
  const jsStreamConfig* c = si->Config;
  const jsStreamState& st = si->State;
  std::vector<std::string> subj = subjects_of(c);
  std::cout << "Stream " << (c && c->Name ? c->Name : "?") << " created " << format_time(si->Created)
            << "\n\n";
  std::cout << "Configuration:\n";
  if (c) {
    print_fields({
        {"Subjects", subj.empty() ? "-" : join(subj, ", ")},
        {"Storage", storage_name(c->Storage)},
        {"Retention", retention_name(c->Retention)},
        {"Discard", discard_name(c->Discard)},
        {"Max messages", limit_or_unlimited(c->MaxMsgs)},
        {"Max bytes", bytes_or_unlimited(c->MaxBytes)},
        {"Max age", age_or_unlimited(c->MaxAge)},
        {"Max msgs per subject", limit_or_unlimited(c->MaxMsgsPerSubject)},
        {"Max message size", c->MaxMsgSize > 0 ? format_bytes(uint64_t(c->MaxMsgSize)) : "unlimited"},
        {"Duplicate window", c->Duplicates > 0 ? format_duration(c->Duplicates) : "-"},
        {"Replicas", std::to_string(c->Replicas)},
    });
  }
  std::cout << "\nState:\n";
  print_fields({
      {"Messages", std::to_string(st.Msgs)},
      {"Bytes", format_bytes(st.Bytes)},
      {"First sequence",
       std::to_string(st.FirstSeq) + (st.FirstTime > 0 ? " @ " + format_time(st.FirstTime) : "")},
      {"Last sequence",
       std::to_string(st.LastSeq) + (st.LastTime > 0 ? " @ " + format_time(st.LastTime) : "")},
      {"Deleted messages", std::to_string(st.NumDeleted)},
      {"Number of subjects", std::to_string(st.NumSubjects)},
      {"Consumers", std::to_string(st.Consumers)},
  });
}

int jetstream_commands::impl::run_stream_ls() {
  session s(server, "stream ls");
  jsStreamInfoList* list = nullptr;
  std::vector<std::vector<std::string>> rows;
  size_t hidden = 0;
  for (const jsStreamInfo* si : list_streams(s, list)) {
    const jsStreamConfig* c = si->Config;
    std::string n = c->Name;
    if (!all && (starts_with(n, "KV_") || starts_with(n, "OBJ_"))) {
      ++hidden;
      continue;
    }
    auto subj = subjects_of(c);
    rows.push_back({n, join(subj, ","), std::to_string(si->State.Msgs), format_bytes(si->State.Bytes),
                    std::to_string(si->State.LastSeq)});
  }
  jsStreamInfoList_Destroy(list);
  if (rows.empty()) {
    std::cerr << "no streams";
    if (hidden) std::cerr << " (" << hidden << " behind key-value buckets or object stores; see --all)";
    std::cerr << '\n';
    return 0;
  }
  print_table({"Stream", "Subjects", "Messages", "Bytes", "Last seq"}, rows, {20, 24, 0, 0, 0});
  return 0;
}

int jetstream_commands::impl::run_stream_info() {
  check_stream_name(name);
  session s(server, "stream info");
  stream_info_handle si;
  jsErrCode jerr = jsErrCode(0);
  natsStatus st = js_GetStreamInfo(&si.si, s.js, name.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND) die("stream not found: " + name);
  if (st != NATS_OK) fail("cannot get stream \"" + name + "\"", st, jerr);
  print_stream_info(si.si);
  return 0;
}

int jetstream_commands::impl::run_stream_add() {
  check_stream_name(name);
  std::vector<const char*> subj;
  for (const auto& x : subjects) {
    if (!platform::subject::valid_subscription(x)) die("invalid subject \"" + x + "\"");
    subj.push_back(x.c_str());
  }
  if (subj.empty()) die("a stream needs at least one subject (--subjects a,b)");
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = subj.data();
  cfg.SubjectsLen = int(subj.size());
  cfg.Storage = storage == "memory" ? js_MemoryStorage : js_FileStorage;
  cfg.Retention = retention == "interest"    ? js_InterestPolicy
                  : retention == "workqueue" ? js_WorkQueuePolicy
                                             : js_LimitsPolicy;
  cfg.Discard = discard == "new" ? js_DiscardNew : js_DiscardOld;
  auto positive = [&](const char* flag, int64_t v) {
    if (st_add->count(flag) && v <= 0)
      die(std::string("invalid ") + flag + " " + std::to_string(v) + ", want a positive number");
    return st_add->count(flag) ? v : int64_t(-1);
  };
  cfg.MaxMsgs = positive("--max-msgs", max_msgs);
  cfg.MaxBytes = positive("--max-bytes", max_bytes);
  cfg.MaxMsgsPerSubject = positive("--max-msgs-per-subject", max_msgs_per_subject);
  if (!max_age.empty()) cfg.MaxAge = duration_or_die(max_age, "--max-age");
  session s(server, "stream add");
  stream_info_handle si;
  jsErrCode jerr = jsErrCode(0);
  natsStatus st = js_AddStream(&si.si, s.js, &cfg, nullptr, &jerr);
  if (st != NATS_OK) {
    if (jerr == JSStreamNameExistErr)
      die("stream \"" + name + "\" already exists with a different configuration");
    if (jerr == JSStreamSubjectOverlapErr)
      die("cannot create stream \"" + name + "\": its subjects overlap another stream's");
    fail("cannot create stream \"" + name + "\"", st, jerr);
  }
  print_stream_info(si.si);
  return 0;
}

int jetstream_commands::impl::run_stream_rm() {
  check_stream_name(name);
  session s(server, "stream rm");
  jsErrCode jerr = jsErrCode(0);
  natsStatus st;
  {
    // "stream not found" before asking anything, and the question says what goes.
    stream_info_handle si;
    st = js_GetStreamInfo(&si.si, s.js, name.c_str(), nullptr, &jerr);
    if (st == NATS_NOT_FOUND) die("stream not found: " + name);
    if (st != NATS_OK) fail("cannot read stream \"" + name + "\"", st, jerr);
    if (!force)
      confirm_or_die("Delete stream \"" + name + "\" and its " + std::to_string(si.si->State.Msgs) + " messages?",
                     "stream \"" + name + "\"");
  }
  st = js_DeleteStream(s.js, name.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND) die("stream not found: " + name);
  if (st != NATS_OK) fail("cannot delete stream \"" + name + "\"", st, jerr);
  std::cerr << "Deleted stream \"" << name << "\"\n";
  return 0;
}

int jetstream_commands::impl::run_stream_view() {
  check_stream_name(name);
  session s(server, "stream view");
  stream_info_handle si;
  jsErrCode jerr = jsErrCode(0);
  natsStatus st = js_GetStreamInfo(&si.si, s.js, name.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND) die("stream not found: " + name);
  if (st != NATS_OK) fail("cannot get stream \"" + name + "\"", st, jerr);
  uint64_t first = std::max<uint64_t>(si.si->State.FirstSeq, since_seq), last = si.si->State.LastSeq;
  uint64_t shown = 0;
  // One STREAM.MSG.GET per sequence: gaps (deleted messages) answer "not found".
  for (uint64_t seq = std::max<uint64_t>(first, 1); seq <= last && (count == 0 || shown < count); ++seq) {
    natsMsg* m = nullptr;
    jerr = jsErrCode(0);
    st = js_GetMsg(&m, s.js, name.c_str(), seq, nullptr, &jerr);
    if (st == NATS_NOT_FOUND) continue;
    if (st != NATS_OK)
      fail("cannot get message " + std::to_string(seq) + " of stream \"" + name + "\"", st, jerr);
    std::string out = "[" + std::to_string(natsMsg_GetSequence(m)) + "] Subject: " + natsMsg_GetSubject(m) +
                      " Received: " + format_time(natsMsg_GetTime(m)) + '\n';
    const char** keys = nullptr;
    int nkeys = 0;
    if (natsMsgHeader_Keys(m, &keys, &nkeys) == NATS_OK) {
      for (int i = 0; i < nkeys; ++i) {
        const char** values = nullptr;
        int nvalues = 0;
        if (natsMsgHeader_Values(m, keys[i], &values, &nvalues) != NATS_OK) continue;
        for (int j = 0; j < nvalues; ++j) out += std::string(keys[i]) + ": " + values[j] + '\n';
        free(values);
      }
      free(keys);
      if (nkeys > 0) out += '\n';
    }
    out.append(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m)));
    out += "\n\n";
    natsMsg_Destroy(m);
    std::cout << out << std::flush;
    ++shown;
  }
  if (shown == 0)
    std::cerr << "no messages in stream \"" << name << "\"" << (since_seq ? " from that sequence" : "")
              << '\n';
  return 0;
}

jetstream_commands::jetstream_commands(CLI::App& app, const std::string& server)
    : impl_(std::make_unique<impl>(server)) {
  impl_->add_to(app);
}

jetstream_commands::~jetstream_commands() = default;

bool jetstream_commands::is_command(const std::string& word) { return word == "kv" || word == "stream"; }

std::string jetstream_commands::check_subcommand(const std::string& command, const std::string& word) {
  static const std::vector<std::string> kv_words = {"add",   "put",  "get", "del", "purge", "history",
                                                    "watch", "keys", "ls",  "rm",  "status"};
  static const std::vector<std::string> stream_words = {"ls", "info", "add", "rm", "view"};
  const auto& words = command == "kv" ? kv_words : stream_words;
  if (std::find(words.begin(), words.end(), word) != words.end()) return "";
  return "unknown " + command + " command \"" + word + "\" (want " + join(words, ", ") + ")";
}

std::optional<int> jetstream_commands::run() { return impl_->run(); }

}  // namespace dialtone_cli
