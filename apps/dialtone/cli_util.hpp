#pragma once
// Shared by the dialtone CLI's libnats commands (kv and stream in kv_commands.cpp, obj
// in obj_commands.cpp): formatting, tables, names, one-line errors and the connection.
// Conventions: data to stdout, notes to stderr, every error one line "dialtone: ..."
// with exit code 1 (die). Everything runs on the CLI's main thread, except
// connection_closed, which libnats' closed callback sets.
#include <nats/nats.h>

#include "libplatform/crypto/nkeys.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dialtone_cli {

inline constexpr int64_t kNanosPerMilli = 1'000'000;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Set by SIGINT/SIGTERM once a watch installs on_stop_signal.
extern volatile std::sig_atomic_t stop_requested;
extern "C" void on_stop_signal(int);

// Set when libnats reports the session's connection closed.
extern std::atomic<bool> connection_closed;

// A server URL fit for an error message: "nats://alice:***@host", "nats://***@host".
std::string redact_url(std::string_view url);

// Prints "dialtone: <line>" on stderr and exits 1 (no static destructors: libnats
// threads may still be running).
[[noreturn]] void die(const std::string& line);

// ---- formatting

// "2026-12-04T17:20:37Z" from nanoseconds since the epoch (UTC); "-" for 0.
std::string format_time(int64_t nanos);
// Go-style durations: "500ms", "1.5s", "1m30s", "2h", "36h".
std::string format_duration(int64_t nanos);
// "0 B", "512 B", "1.5 KiB", "20 MiB".
std::string format_bytes(uint64_t n);
std::string limit_or_unlimited(int64_t v);
std::string bytes_or_unlimited(int64_t v);
std::string age_or_unlimited(int64_t v);

// Parses "30s", "500ms", "1.5h", "1h30m", "7d"; a bare number means seconds. Returns
// nanoseconds, or -1 when invalid or not positive.
int64_t parse_duration(const std::string& text);
// The same, or die("invalid <what> ...").
int64_t duration_or_die(const std::string& text, const char* what);

// Display width of UTF-8 text (counts code points, not bytes).
size_t display_width(const std::string& s);
// Cuts text to at most `width` columns, ending in "..." when cut; never splits a code point.
std::string fit(const std::string& s, size_t width);
// A value made safe for one table cell: control characters shown as \n, \t or '.'.
std::string printable(const char* data, int len);
// Prints aligned columns under a header row. `max_widths[i]` (0 = no limit) cuts long
// cells; the last column is not padded.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<size_t>& max_widths = {});
// "  Label: value" lines with the labels right-aligned, as in `nats stream info`.
void print_fields(const std::vector<std::pair<std::string, std::string>>& fields);
std::string join(const std::vector<std::string>& parts, const std::string& sep);

// ---- names

// Bucket names: [A-Za-z0-9_-]+ (libnats and the server refuse others).
void check_bucket(const std::string& bucket);

// ---- errors and the connection

// The text of libnats' last error (without its "(file.c:123): " prefix), else the
// status's own text.
std::string last_error_text(natsStatus s);

// One line for a failed libnats call: JetStream missing, timeouts and lost connections
// named plainly, else the library's (often the server's) own text.
[[noreturn]] void fail(const std::string& what, natsStatus s, jsErrCode jerr = jsErrCode(0));

// One connection (no reconnects) and its JetStream context, or die() trying.
// How the CLI logs in (global flags, the same for every command): a .creds file, an
// nkey seed file, TLS files, user/password or a token. Credentials in the server URL
// (nats://user:pass@host) work too.
struct login_options {
  std::string creds, nkey;
  std::string tls_cert, tls_key, tls_ca;
  bool tls = false;
  std::string user, password, token;
};
login_options& login();

// Set when the server reports an error on the connection, e.g. a permissions
// violation. Printed ("dialtone: server error: ...") as it happens once
// print_async_errors is set (a listening sub or reply); before that a command calls
// check_server_error() after its flush, which prints it in order and returns true.
extern std::atomic<bool> server_error_seen;
extern std::atomic<bool> print_async_errors;
bool check_server_error(natsConnection* nc);
// The connection's last error in words ("" when none): why it closed.
std::string connection_error(natsConnection* nc);

// The first nkey seed in a file (nk files hold just the seed), or die naming the file
// (`what` says which file, e.g. "the nkey seed file"); the seed is never printed.
platform::crypto::keypair read_seed_file(const std::string& path, const std::string& what);

// libnats options for `server` with the login flags applied; the caller owns them.
natsOptions* connection_options(const std::string& server, const std::string& command);
// Connects or dies with one line naming the server and the reason.
void connect_or_die(natsConnection** nc, const std::string& server, const std::string& command);

struct session {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;

  session(const std::string& server, const std::string& command);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;
};

// Asks on a terminal; refuses without one (use -f in scripts).
void confirm_or_die(const std::string& question, const std::string& what);

}  // namespace dialtone_cli
