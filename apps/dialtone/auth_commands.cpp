#include "auth_commands.hpp"

#include <fcntl.h>
#include <nats/nats.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_util.hpp"
#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "libplatform/subject.hpp"

namespace dialtone_cli {

namespace crypto = platform::crypto;
using crypto::key_type;
using crypto::keypair;

namespace {

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + what + " \"" + path + "\"");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A seed from a file: the first line that is a seed (nk files hold just the seed).
keypair seed_file(const std::string& path, key_type want, const std::string& what) {
  auto k = read_seed_file(path, what + " seed file");
  if (k.type() != want)
    die("\"" + path + "\" holds a " + std::string(crypto::type_name(k.type())) + " seed, not a " +
        std::string(crypto::type_name(want)) + " seed");
  return k;
}

// A public key given as text, or read from a file holding it (what `nkey gen -o`
// prints) or the seed.
std::string public_key(const std::string& given, key_type want, const std::string& what) {
  if (crypto::is_public_key(given, want)) return given;
  std::string type(crypto::type_name(want));
  if (given.size() == 56) die(what + " \"" + given + "\" is not a valid " + type + " public key");
  std::istringstream in(read_text(given, what + " file"));
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (crypto::is_public_key(line, want)) return line;
    if (line.size() == 58 && line[0] == 'S') return seed_file(given, want, what).public_key();
  }
  die("no " + type + " public key or seed in \"" + given + "\"");
}

// A JWT given inline or in a file (bare, or a .creds file's first block).
std::string jwt_text(const std::string& given) {
  if (given.rfind("eyJ", 0) == 0) return given;
  std::string text = read_text(given, "JWT file");
  if (auto c = crypto::parse_creds(text)) return c->jwt;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("eyJ", 0) == 0) return line;
  }
  die("no JWT in \"" + given + "\"");
}

// Writes a secret file (0600), refusing to overwrite.
void write_secret(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) die("cannot create \"" + path + "\": " + std::strerror(errno) + (errno == EEXIST ? " (not overwritten)" : ""));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) die("cannot write \"" + path + "\": " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

key_type type_from_word(const std::string& w) {
  if (w == "user") return key_type::user;
  if (w == "account") return key_type::account;
  if (w == "operator") return key_type::operator_;
  if (w == "server") return key_type::server;
  die("unknown key type \"" + w + "\" (want user, account, operator or server)");
}

int64_t expiry(const std::string& text) {
  if (text.empty()) return 0;
  int64_t ns = parse_duration(text);
  if (ns <= 0) die("invalid --expires \"" + text + "\", want e.g. 1h, 30d");
  return crypto::unix_now() + ns / kNanosPerSecond;
}

void check_subject_arg(const std::string& s, const std::string& what) {
  if (!platform::subject::valid_subscription(s)) die("invalid " + what + " subject \"" + s + "\"");
}

// "ACCOUNT:subject[:extra]"
std::vector<std::string> split3(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (int i = 0; i < 2; ++i) {
    size_t c = s.find(':', start);
    if (c == std::string::npos) break;
    out.push_back(s.substr(start, c - start));
    start = c + 1;
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

struct auth_commands::impl {
  const std::string& server;
  CLI::App *nkey_gen = nullptr, *nkey_pub = nullptr;
  CLI::App *op = nullptr, *acc = nullptr, *user = nullptr, *activation = nullptr, *decode = nullptr, *push = nullptr;
  CLI::App* creds = nullptr;

  std::string type_word, output, name, key, signer, system_account, from, expires, issuer_account, target, subject,
      kind = "service", jwt_file, seed_path, creds_out;
  std::vector<std::string> signing_keys, export_services, export_streams, import_services, import_streams, revokes,
      pub_allow, pub_deny, sub_allow, sub_deny, src;
  bool token_req = false, jetstream = false, bearer = false, strict = false, allow_responses = false;
  int64_t max_conn = -1, max_subs = -1, max_payload = -1;

  impl(CLI::App& app, const std::string& s) : server(s) {
    auto* nk = app.add_subcommand("nkey", "Make and read nkeys (ed25519 keys in NATS text form)");
    nk->require_subcommand(1);
    nkey_gen = nk->add_subcommand("gen", "Generate a key pair: prints the seed, then the public key");
    nkey_gen->add_option("type", type_word, "user, account, operator or server")->required();
    nkey_gen->add_option("-o,--output", output, "Write the seed to this file (0600) instead of stdout");
    nkey_pub = nk->add_subcommand("pub", "Print the public key of a seed file");
    nkey_pub->add_option("seed-file", seed_path, "File holding the seed")->required();

    auto* j = app.add_subcommand("jwt", "Issue, inspect and push JWTs for operator mode");
    j->require_subcommand(1);
    op = j->add_subcommand("operator", "Issue a self-signed operator JWT");
    op->add_option("--name", name, "Operator name")->required();
    op->add_option("--key", key, "Operator seed file")->required();
    op->add_option("--signing-key", signing_keys, "Operator signing public key (repeatable)");
    op->add_option("--system-account", system_account, "System account public key or seed file");
    op->add_flag("--strict", strict, "Only signing keys may sign accounts");

    acc = j->add_subcommand("account", "Issue an account JWT, signed by the operator (or one of its signing keys)");
    acc->add_option("--name", name, "Account name");
    acc->add_option("--key", key, "Account public key or seed file (taken from --from when re-issuing)");
    acc->add_option("--operator-key", signer, "Seed file of the operator or an operator signing key")->required();
    acc->add_option("--from", from, "Start from this account JWT (re-issue with changes)");
    acc->add_option("--signing-key", signing_keys, "Account signing public key (repeatable)");
    acc->add_option("--export-service", export_services, "Export a service subject (repeatable)");
    acc->add_option("--export-stream", export_streams, "Export a stream subject (repeatable)");
    acc->add_flag("--token-required", token_req, "Exports added here need activation tokens");
    acc->add_option("--import-service", import_services, "ACCOUNT:subject[:local subject] (repeatable)");
    acc->add_option("--import-stream", import_streams, "ACCOUNT:subject[:local subject] (repeatable)");
    acc->add_option("--activation", target, "Activation token for the imports added here (JWT or file)");
    acc->add_option("--revoke", revokes, "Revoke a user public key, or * for every user issued until now (repeatable)");
    acc->add_flag("--jetstream", jetstream, "Enable JetStream (unlimited storage)");
    acc->add_option("--max-connections", max_conn, "Connection limit (-1 unlimited)");
    acc->add_option("--max-subscriptions", max_subs, "Subscriptions per connection (-1 unlimited)");
    acc->add_option("--max-payload", max_payload, "Largest message (-1 unlimited)");
    acc->add_option("--expires", expires, "Valid for this long, e.g. 30d");

    user = j->add_subcommand("user", "Issue a user JWT, signed by the account (or one of its signing keys)");
    user->add_option("--name", name, "User name")->required();
    user->add_option("--key", key, "User public key or seed file")->required();
    user->add_option("--account-key", signer, "Seed file of the account or an account signing key")->required();
    user->add_option("--issuer-account", issuer_account, "The account, when --account-key is a signing key");
    user->add_option("--pub-allow", pub_allow, "Subjects the user may publish to (repeatable)");
    user->add_option("--pub-deny", pub_deny, "Subjects the user may not publish to (repeatable)");
    user->add_option("--sub-allow", sub_allow, "Subjects the user may subscribe to (repeatable)");
    user->add_option("--sub-deny", sub_deny, "Subjects the user may not subscribe to (repeatable)");
    user->add_flag("--allow-responses", allow_responses, "May answer requests it receives");
    user->add_option("--src", src, "Allowed client network, CIDR (repeatable)");
    user->add_flag("--bearer", bearer, "A bearer token: no signature of the nonce needed");
    user->add_option("--expires", expires, "Valid for this long, e.g. 1h");
    user->add_option("--creds", creds_out, "Also write a .creds file (needs --key to be a seed file)");

    activation = j->add_subcommand("activation", "Issue an activation token for an export that requires one");
    activation->add_option("--account-key", signer, "Seed file of the exporting account")->required();
    activation->add_option("--target", target, "Importing account public key")->required();
    activation->add_option("--subject", subject, "Exported subject the token covers")->required();
    activation->add_option("--kind", kind, "service or stream")->capture_default_str();
    activation->add_option("--expires", expires, "Valid for this long");

    decode = j->add_subcommand("decode", "Verify a JWT's signature and print its claims");
    decode->add_option("jwt", jwt_file, "The JWT, a file holding it, or a .creds file")->required();

    push = j->add_subcommand("push", "Send an account JWT to a server's resolver ($SYS.REQ.CLAIMS.UPDATE)");
    push->add_option("jwt", jwt_file, "The account JWT or a file holding it")->required();

    creds = app.add_subcommand("creds", "Write a .creds file from a user JWT and the user's seed");
    creds->add_option("--jwt", jwt_file, "User JWT or file")->required();
    creds->add_option("--key", seed_path, "User seed file")->required();
    creds->add_option("-o,--output", creds_out, "Write here (0600) instead of stdout");
  }

  int run_nkey_gen() {
    auto k = keypair::generate(type_from_word(type_word));
    if (!output.empty()) {
      write_secret(output, k.seed() + "\n");
      std::cout << k.public_key() << '\n';
      std::cerr << "Wrote the " << type_word << " seed to \"" << output << "\"\n";
    } else {
      std::cout << k.seed() << '\n' << k.public_key() << '\n';
    }
    return 0;
  }

  int run_nkey_pub() {
    std::cout << read_seed_file(seed_path, "seed file").public_key() << '\n';
    return 0;
  }

  int run_operator() {
    auto k = seed_file(key, key_type::operator_, "operator");
    nlohmann::json n = {{"type", "operator"}, {"version", 2}};
    for (auto& s : signing_keys) n["signing_keys"].push_back(public_key(s, key_type::operator_, "--signing-key"));
    if (!system_account.empty()) n["system_account"] = public_key(system_account, key_type::account, "--system-account");
    if (strict) n["strict_signing_key_usage"] = true;
    std::cout << crypto::encode_jwt({{"sub", k.public_key()}, {"name", name}, {"nats", n}}, k) << '\n';
    return 0;
  }

  int run_account() {
    auto issuer = seed_file(signer, key_type::operator_, "--operator-key");
    nlohmann::json c;
    if (!from.empty()) {
      std::string why;
      auto t = crypto::decode_jwt(jwt_text(from), &why);
      if (!t) die("--from: " + why);
      if (t->type != "account") die("--from is a " + t->type + " JWT, not an account JWT");
      c = t->claims;
      for (const char* k : {"iat", "jti", "iss"}) c.erase(k);
    } else {
      if (key.empty()) die("give the account's --key (or --from an earlier account JWT)");
      c = {{"nats", {{"type", "account"}, {"version", 2},
                     {"limits", {{"subs", -1}, {"conn", -1}, {"leaf", -1}, {"imports", -1}, {"exports", -1},
                                 {"data", -1}, {"payload", -1}, {"wildcards", true}}}}}};
    }
    if (!key.empty()) c["sub"] = public_key(key, key_type::account, "--key");
    if (!name.empty()) c["name"] = name;
    if (!c.contains("name")) c["name"] = c["sub"];
    auto& n = c["nats"];
    for (auto& s : signing_keys) n["signing_keys"].push_back(public_key(s, key_type::account, "--signing-key"));
    auto add_export = [&](const std::string& subj, const char* type) {
      check_subject_arg(subj, "export");
      nlohmann::json e = {{"name", subj}, {"subject", subj}, {"type", type}};
      if (token_req) e["token_req"] = true;
      n["exports"].push_back(e);
    };
    for (auto& s : export_services) add_export(s, "service");
    for (auto& s : export_streams) add_export(s, "stream");
    std::string token = target.empty() ? "" : jwt_text(target);
    auto add_import = [&](const std::string& spec, const char* type) {
      auto parts = split3(spec);
      if (parts.size() < 2) die("invalid import \"" + spec + "\", want ACCOUNT:subject[:local subject]");
      std::string exporter = public_key(parts[0], key_type::account, "import account");
      check_subject_arg(parts[1], "import");
      nlohmann::json i = {{"name", parts[1]}, {"account", exporter}, {"subject", parts[1]}, {"type", type}};
      if (parts.size() == 3 && !parts[2].empty()) {
        check_subject_arg(parts[2], "local");
        i["local_subject"] = parts[2];
      }
      if (!token.empty()) i["token"] = token;
      n["imports"].push_back(i);
    };
    for (auto& s : import_services) add_import(s, "service");
    for (auto& s : import_streams) add_import(s, "stream");
    for (auto& r : revokes) {
      std::string who = r == "*" ? r : public_key(r, key_type::user, "--revoke");
      n["revocations"][who] = crypto::unix_now();
    }
    if (jetstream) {
      n["limits"]["mem_storage"] = -1;
      n["limits"]["disk_storage"] = -1;
      n["limits"]["streams"] = -1;
      n["limits"]["consumer"] = -1;
    }
    if (max_conn != -1 || acc->count("--max-connections")) n["limits"]["conn"] = max_conn;
    if (acc->count("--max-subscriptions")) n["limits"]["subs"] = max_subs;
    if (acc->count("--max-payload")) n["limits"]["payload"] = max_payload;
    if (int64_t e = expiry(expires)) c["exp"] = e;
    std::cout << crypto::encode_jwt(c, issuer) << '\n';
    return 0;
  }

  int run_user() {
    auto issuer = seed_file(signer, key_type::account, "--account-key");
    std::string user_key = public_key(key, key_type::user, "--key");
    nlohmann::json n = {{"type", "user"}, {"version", 2}, {"subs", -1}, {"data", -1}, {"payload", -1}};
    if (!issuer_account.empty()) n["issuer_account"] = public_key(issuer_account, key_type::account, "--issuer-account");
    auto perm = [&](const char* dir, const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
      for (auto& s : allow) check_subject_arg(s, dir);
      for (auto& s : deny) check_subject_arg(s, dir);
      if (!allow.empty()) n[dir]["allow"] = allow;
      if (!deny.empty()) n[dir]["deny"] = deny;
    };
    perm("pub", pub_allow, pub_deny);
    perm("sub", sub_allow, sub_deny);
    if (allow_responses) n["resp"] = {{"max", 1}, {"ttl", 0}};
    if (!src.empty()) n["src"] = src;
    if (bearer) n["bearer_token"] = true;
    nlohmann::json c = {{"sub", user_key}, {"name", name}, {"nats", n}};
    if (int64_t e = expiry(expires)) c["exp"] = e;
    std::string token = crypto::encode_jwt(c, issuer);
    std::cout << token << '\n';
    if (!creds_out.empty()) {
      auto k = seed_file(key, key_type::user, "--key");
      write_secret(creds_out, crypto::format_creds(token, k.seed()));
      std::cerr << "Wrote the credentials to \"" << creds_out << "\"\n";
    }
    return 0;
  }

  int run_activation() {
    auto issuer = seed_file(signer, key_type::account, "--account-key");
    check_subject_arg(subject, "--subject");
    if (kind != "service" && kind != "stream") die("--kind must be service or stream");
    nlohmann::json c = {{"sub", public_key(target, key_type::account, "--target")},
                        {"name", subject},
                        {"nats", {{"type", "activation"}, {"version", 2}, {"subject", subject}, {"kind", kind}}}};
    if (int64_t e = expiry(expires)) c["exp"] = e;
    std::cout << crypto::encode_jwt(c, issuer) << '\n';
    return 0;
  }

  int run_decode() {
    std::string why;
    auto t = crypto::decode_jwt(jwt_text(jwt_file), &why);
    if (!t) die(why);
    std::cout << t->claims.dump(2) << '\n';
    std::string times;
    if (!crypto::check_times(*t, crypto::unix_now(), &times)) std::cerr << "Note: " << times << '\n';
    std::cerr << "Signature verified: issued by " << t->issuer << '\n';
    return 0;
  }

  int run_push() {
    std::string token = jwt_text(jwt_file);
    std::string why;
    auto t = crypto::decode_jwt(token, &why);
    if (!t) die(why);
    if (t->type != "account") die("only account JWTs are pushed (this is a " + t->type + " JWT)");
    natsConnection* nc = nullptr;
    connect_or_die(&nc, server, "jwt push");
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_RequestString(&reply, nc, "$SYS.REQ.CLAIMS.UPDATE", token.c_str(), 5000);
    if (s == NATS_NO_RESPONDERS) die("no resolver answered: log in as a system account user (--creds)");
    if (s != NATS_OK) die("push failed: " + last_error_text(s));
    auto r = nlohmann::json::parse(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)), nullptr, false);
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    if (r.is_object() && r.contains("data")) {
      std::cerr << "Account " << t->subject << " (" << t->name << "): " << r["data"].value("message", "updated") << '\n';
      return 0;
    }
    std::string desc = r.is_object() && r.contains("error") ? r["error"].value("description", "refused") : "unexpected reply";
    die("the server refused the JWT: " + desc);
  }

  int run_creds() {
    std::string token = jwt_text(jwt_file);
    auto t = crypto::decode_jwt(token);
    if (!t || t->type != "user") die("--jwt is not a valid user JWT");
    auto k = seed_file(seed_path, key_type::user, "--key");
    if (k.public_key() != t->subject) die("the seed does not belong to the JWT's user " + t->subject);
    std::string text = crypto::format_creds(token, k.seed());
    if (creds_out.empty()) std::cout << text;
    else write_secret(creds_out, text);
    return 0;
  }

  std::optional<int> run() {
    if (nkey_gen->parsed()) return run_nkey_gen();
    if (nkey_pub->parsed()) return run_nkey_pub();
    if (op->parsed()) return run_operator();
    if (acc->parsed()) return run_account();
    if (user->parsed()) return run_user();
    if (activation->parsed()) return run_activation();
    if (decode->parsed()) return run_decode();
    if (push->parsed()) return run_push();
    if (creds->parsed()) return run_creds();
    return std::nullopt;
  }
};

auth_commands::auth_commands(CLI::App& app, const std::string& server) : impl_(std::make_unique<impl>(app, server)) {}
auth_commands::~auth_commands() = default;

bool auth_commands::is_command(const std::string& word) { return word == "nkey" || word == "jwt" || word == "creds"; }

std::string auth_commands::check_subcommand(const std::string& command, const std::string& word) {
  std::vector<std::string> words;
  if (command == "nkey") words = {"gen", "pub"};
  else if (command == "jwt") words = {"operator", "account", "user", "activation", "decode", "push"};
  else return "";
  if (std::find(words.begin(), words.end(), word) != words.end()) return "";
  std::string list;
  for (auto& w : words) list += (list.empty() ? "" : ", ") + w;
  return "unknown " + command + " command \"" + word + "\" (want " + list + ")";
}

std::optional<int> auth_commands::run() { return impl_->run(); }

}  // namespace dialtone_cli
