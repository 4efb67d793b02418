// Shared by the dialtone CLI's libnats commands (kv, stream, obj): formatting, tables,
// names, errors and the connection. See cli_util.hpp.
#include "cli_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <utility>

#include "libplatform/crypto/nkeys.hpp"
#include <fstream>
#include <sstream>

namespace dialtone_cli {

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop_signal(int) { stop_requested = 1; }

std::atomic<bool> connection_closed{false};

std::string redact_url(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string_view info = url.substr(start, at - start);
  size_t colon = info.find(':');
  std::string out(url.substr(0, start));
  if (colon != std::string_view::npos) out.append(info.substr(0, colon)).append(":***");
  else out.append("***");
  out.append(url.substr(at));
  return out;
}

[[noreturn]] void die(const std::string& line) {
  std::cout.flush();
  std::cerr << "dialtone: " << line << '\n' << std::flush;
  std::_Exit(1);  // skip static destructors: libnats threads may still be running
}

// ---------------------------------------------------------------------------------------
// Formatting

// "2026-12-04T17:20:37Z" from nanoseconds since the epoch (UTC).
std::string format_time(int64_t nanos) {
  if (nanos <= 0) return "-";
  std::time_t secs = std::time_t(nanos / kNanosPerSecond);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Go-style durations: "500ms", "1.5s", "1m30s", "2h", "36h".
std::string format_duration(int64_t nanos) {
  if (nanos <= 0) return "0s";
  if (nanos < kNanosPerMilli) return std::to_string(nanos) + "ns";
  int64_t ms = nanos / kNanosPerMilli;
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  std::string out;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s || frac) {
    out += std::to_string(s);
    if (frac) {
      char digits[8];
      std::snprintf(digits, sizeof digits, ".%03d", int(frac));
      std::string f = digits;
      while (f.back() == '0') f.pop_back();
      out += f;
    }
    out += "s";
  }
  return out;
}

// "0 B", "512 B", "1.5 KiB", "20 MiB".
std::string format_bytes(uint64_t n) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (v < 10 && v != double(int64_t(v)))
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  return buf;
}

std::string limit_or_unlimited(int64_t v) { return v <= 0 ? "unlimited" : std::to_string(v); }
std::string bytes_or_unlimited(int64_t v) { return v <= 0 ? "unlimited" : format_bytes(uint64_t(v)); }
std::string age_or_unlimited(int64_t v) { return v <= 0 ? "unlimited" : format_duration(v); }

// Parses "30s", "500ms", "1.5h", "1h30m", "7d"; a bare number means seconds. Returns
// nanoseconds, or -1 when invalid or not positive.
int64_t parse_duration(const std::string& text) {
  if (text.empty()) return -1;
  double total = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t number_start = at, used = 0;
    double value;
    try {
      value = std::stod(text.substr(at), &used);
    } catch (...) {
      return -1;
    }
    if (text[at] == '-' || text[at] == '+' || !(value >= 0)) return -1;
    at += used;
    size_t unit_start = at;
    while (at < text.size() && std::isalpha(static_cast<unsigned char>(text[at]))) ++at;
    std::string unit = text.substr(unit_start, at - unit_start);
    static const std::pair<const char*, double> units[] = {
        {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}};
    double scale = 0;
    if (unit.empty()) {
      if (number_start != 0 || at != text.size()) return -1;  // a bare number only alone: "30" = 30s
      scale = 1e9;
    }
    for (const auto& [name, nanos] : units)
      if (unit == name) scale = nanos;
    if (scale == 0) return -1;
    total += value * scale;
    if (total > 9e18) return -1;
  }
  if (!(total >= 1)) return -1;
  return int64_t(total + 0.5);
}

int64_t duration_or_die(const std::string& text, const char* what) {
  int64_t ns = parse_duration(text);
  if (ns <= 0) die(std::string("invalid ") + what + " \"" + text + "\", want e.g. 30s, 10m, 1h30m or 7d");
  return ns;
}

// Display width of UTF-8 text (counts code points, not bytes).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// Cuts text to at most `width` columns, ending in "..." when cut; never splits a code point.
std::string fit(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  size_t keep = width > 3 ? width - 3 : 0, cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (cols == keep) break;
      ++cols;
    }
  }
  return s.substr(0, i) + std::string(std::min<size_t>(3, width), '.');
}

// A value made safe for one table cell: control characters shown as \n, \t or '.'.
std::string printable(const char* data, int len) {
  std::string out;
  for (int i = 0; i < len; ++i) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += '.';
    else
      out += char(c);
  }
  return out;
}

// Prints aligned columns under a header row. `max_widths[i]` (0 = no limit) cuts long
// cells; the last column is not padded.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<size_t>& max_widths) {
  size_t cols = header.size();
  std::vector<std::vector<std::string>> cells;
  cells.push_back(header);
  for (const auto& r : rows) cells.push_back(r);
  for (auto& r : cells) {
    r.resize(cols);
    for (size_t i = 0; i < cols; ++i)
      if (i < max_widths.size() && max_widths[i] > 0) r[i] = fit(r[i], max_widths[i]);
  }
  std::vector<size_t> width(cols, 0);
  for (const auto& r : cells)
    for (size_t i = 0; i < cols; ++i) width[i] = std::max(width[i], display_width(r[i]));
  std::string out;
  for (const auto& r : cells) {
    std::string line;
    for (size_t i = 0; i < cols; ++i) {
      line += r[i];
      if (i + 1 < cols) line += std::string(width[i] - display_width(r[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  std::cout << out << std::flush;
}

// "  Label: value" lines with the labels right-aligned, as in `nats stream info`.
void print_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t w = 0;
  for (const auto& f : fields) w = std::max(w, f.first.size());
  for (const auto& [k, v] : fields) {
    if (k.empty()) {
      std::cout << v << '\n';
      continue;
    }
    std::cout << std::string(w - k.size() + 2, ' ') << k << ": " << v << '\n';
  }
  std::cout << std::flush;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// Bucket names: [A-Za-z0-9_-]+ (libnats and the server refuse others).
void check_bucket(const std::string& bucket) {
  bool ok = !bucket.empty();
  for (unsigned char c : bucket)
    if (!std::isalnum(c) && c != '_' && c != '-') ok = false;
  if (!ok) die("invalid bucket name \"" + bucket + "\" (use letters, digits, _ and -)");
}

// ---------------------------------------------------------------------------------------
// Errors and the connection

namespace {

// libnats prefixes where it failed, "(jsm.c:1033): insufficient ...": keep what the
// server or library said.
std::string strip_location(std::string t) {
  if (!t.empty() && t.front() == '(') {
    size_t end = t.find("): ");
    if (end != std::string::npos && t.find(".c:") < end) t.erase(0, end + 3);
  }
  return t;
}

}  // namespace

std::string last_error_text(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text && *text) return strip_location(text);
  return natsStatus_GetText(s);
}

// One line for a failed libnats call: JetStream missing, timeouts and lost connections
// named plainly, else the library's (often the server's) own text.
[[noreturn]] void fail(const std::string& what, natsStatus s, jsErrCode jerr) {
  if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr)
    die("JetStream is not enabled on the server (start it with -js)");
  if (s == NATS_TIMEOUT) die(what + ": timed out waiting for the server");
  if (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED || connection_closed)
    die(what + ": connection to the server lost");
  die(what + ": " + last_error_text(s));
}

extern "C" void on_closed(natsConnection*, void*) { connection_closed = true; }

std::atomic<bool> server_error_seen{false};

std::atomic<bool> print_async_errors{false};

extern "C" void on_async_error(natsConnection* nc, natsSubscription*, natsStatus s, void*) {
  if (s == NATS_SLOW_CONSUMER) {
    std::cerr << "dialtone: messages dropped: this client is too slow for the subscription\n";
    return;
  }
  server_error_seen = true;
  if (!print_async_errors) return;  // a command checks for errors itself (check_server_error)
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::cerr << "dialtone: server error: " << strip_location(text && *text ? text : natsStatus_GetText(s)) << '\n'
            << std::flush;
}

bool check_server_error(natsConnection* nc) {
  const char* text = nullptr;
  natsStatus s = natsConnection_GetLastError(nc, &text);
  if (s == NATS_OK && !server_error_seen) return false;
  std::string t = strip_location(text && *text ? text : natsStatus_GetText(s));
  std::cerr << "dialtone: server error: " << t << '\n' << std::flush;
  return true;
}

std::string connection_error(natsConnection* nc) {
  const char* text = nullptr;
  natsStatus s = natsConnection_GetLastError(nc, &text);
  if (s == NATS_OK) return "";
  return strip_location(text && *text ? text : natsStatus_GetText(s));
}

platform::crypto::keypair read_seed_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) die("cannot read " + what + " \"" + path + "\"");
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.size() == 58 && line[0] == 'S')
      if (auto k = platform::crypto::keypair::from_seed(line)) return *k;
  }
  die("no valid nkey seed in \"" + path + "\"");
}

login_options& login() {
  static login_options l;
  return l;
}

namespace {

bool readable(const std::string& path) { return std::ifstream(path).good(); }

// The public key of the seed in an nkey seed file (libnats needs both).
std::string nkey_public_key(const std::string& path) {
  return read_seed_file(path, "the nkey seed file").public_key();
}

}  // namespace

natsOptions* connection_options(const std::string& server, const std::string& command) {
  std::string url = server.find("://") == std::string::npos ? "nats://" + server : server;
  natsOptions* o = nullptr;
  if (natsOptions_Create(&o) != NATS_OK) die("cannot initialise the NATS client library");
  if (natsOptions_SetURL(o, url.c_str()) != NATS_OK)
    die("invalid server URL \"" + redact_url(server) + "\"");
  natsOptions_SetName(o, ("dialtone " + command).c_str());
  natsOptions_SetAllowReconnect(o, false);
  natsOptions_SetClosedCB(o, on_closed, nullptr);
  natsOptions_SetErrorHandler(o, on_async_error, nullptr);
  auto& l = login();
  if (!l.creds.empty()) {
    if (!readable(l.creds)) die("cannot read the credentials file \"" + l.creds + "\"");
    if (natsOptions_SetUserCredentialsFromFiles(o, l.creds.c_str(), nullptr) != NATS_OK)
      die("cannot use the credentials file \"" + l.creds + "\": " + last_error_text(NATS_ERR));
  }
  if (!l.nkey.empty()) {
    std::string pub = nkey_public_key(l.nkey);
    if (natsOptions_SetNKeyFromSeed(o, pub.c_str(), l.nkey.c_str()) != NATS_OK)
      die("cannot use the nkey seed file \"" + l.nkey + "\"");
  }
  if (l.tls || !l.tls_ca.empty() || !l.tls_cert.empty() || url.rfind("tls://", 0) == 0) {
    if (natsOptions_SetSecure(o, true) != NATS_OK) die("this libnats was built without TLS");
    if (!l.tls_ca.empty() && natsOptions_LoadCATrustedCertificates(o, l.tls_ca.c_str()) != NATS_OK)
      die("cannot load the CA certificates \"" + l.tls_ca + "\": " + last_error_text(NATS_SSL_ERROR));
    if (!l.tls_cert.empty() || !l.tls_key.empty()) {
      if (l.tls_cert.empty() || l.tls_key.empty()) die("--tls-cert and --tls-key go together");
      if (natsOptions_LoadCertificatesChain(o, l.tls_cert.c_str(), l.tls_key.c_str()) != NATS_OK)
        die("cannot load the client certificate \"" + l.tls_cert + "\": " + last_error_text(NATS_SSL_ERROR));
    }
  }
  if (!l.user.empty()) natsOptions_SetUserInfo(o, l.user.c_str(), l.password.c_str());
  if (!l.token.empty()) natsOptions_SetToken(o, l.token.c_str());
  return o;
}

// Why a connect failed, in words a user can act on.
std::string connect_failure(natsStatus s) {
  switch (s) {
    case NATS_NO_SERVER: return "server unreachable";
    case NATS_CONNECTION_AUTH_FAILED: return "authorization violation (check the credentials)";
    case NATS_SECURE_CONNECTION_REQUIRED: return "the server requires TLS (use --tls and --tls-ca)";
    case NATS_SECURE_CONNECTION_WANTED: return "TLS was asked for but the server does not offer it";
    case NATS_SSL_ERROR: return "TLS handshake failed: " + last_error_text(s);
    default: return last_error_text(s);
  }
}

void connect_or_die(natsConnection** nc, const std::string& server, const std::string& command) {
  natsOptions* o = connection_options(server, command);
  natsStatus s = natsConnection_Connect(nc, o);
  // libnats 3.4 drops the nonce's signature from CONNECT when its first byte is 0 (one
  // login in 256, against any server), and the server refuses the login. A new
  // connection gets a new nonce: try again, twice at most.
  bool signs = !login().creds.empty() || !login().nkey.empty();
  for (int retry = 0; retry < 2 && signs && s == NATS_CONNECTION_AUTH_FAILED; ++retry)
    s = natsConnection_Connect(nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    std::string url = server.find("://") == std::string::npos ? "nats://" + server : server;
    die("cannot connect to " + redact_url(url) + ": " + connect_failure(s));
  }
}

session::session(const std::string& server, const std::string& command) {
  connect_or_die(&nc, server, command);
  natsStatus s = NATS_OK;
  if ((s = natsConnection_JetStream(&js, nc, nullptr)) != NATS_OK) fail("cannot use JetStream", s);
}

session::~session() {
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// Asks on a terminal; refuses without one (use -f in scripts).
void confirm_or_die(const std::string& question, const std::string& what) {
  if (!isatty(STDIN_FILENO)) die("refusing to delete " + what + " without confirmation; use -f");
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes") die("not deleted");
}

}  // namespace dialtone_cli
