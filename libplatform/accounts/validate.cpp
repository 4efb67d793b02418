// Cross-checks of an auth_config, as nats-server does when it adds exports and imports to
// its accounts (server/accounts.go: setExportAuth, checkAuth, checkStreamExportApproved,
// checkServiceExportApproved, addServiceImportWithClaim, addStreamImportWithClaim,
// serviceImportFormsCycle, streamImportFormsCycle, TrackServiceExportWithSampling) and in
// validateNoAuthUser (server/auth.go). Imports are checked one by one in config order
// against the imports accepted before them, so a cycle is reported at the import that
// closes it.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "libplatform/accounts/load_util.hpp"
#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/accounts/subject_transform.hpp"
#include "libplatform/subject.hpp"

namespace platform::accounts {

using namespace detail;

namespace {

// nats-server's MaxAccountCycleSearchDepth.
constexpr size_t max_cycle_search_depth = 1024;
constexpr std::string_view too_deep = "the cycle check gave up after following imports through 1024 accounts";

std::string kind_name(export_entry::kind k) { return k == export_entry::kind::stream ? "stream" : "service"; }
export_entry::kind export_kind(import_entry::kind k) {
  return k == import_entry::kind::stream ? export_entry::kind::stream : export_entry::kind::service;
}

std::string where(const position& p) { return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column); }

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + quoted(names[i]);
  return out;
}

std::vector<std::string_view> tokens_of(std::string_view s) {
  std::vector<std::string_view> t;
  subject::tokenize(s, t);
  return t;
}

bool has_wildcard(std::string_view s) { return !subject::is_literal(s); }

// checkAuth: public, bound to the importer's name at a token, or private to a list.
// `tokens` is null for an exact match of the export subject: a token-bound export can
// then never be imported, because the bound token is still '*'.
bool approves(const export_entry& e, std::string_view importer, const std::vector<std::string_view>* tokens) {
  if (e.approved.empty() && e.account_token_position <= 0 && !e.token_required) return true;
  if (e.account_token_position > 0) {
    auto pos = static_cast<size_t>(e.account_token_position);
    return tokens != nullptr && pos <= tokens->size() && (*tokens)[pos - 1] == importer;
  }
  return std::find(e.approved.begin(), e.approved.end(), importer) != e.approved.end();
}

// The subject account `importer` may import from a token-bound export.
std::string bound_subject(const export_entry& e, std::string_view importer) {
  std::vector<std::string_view> t = tokens_of(e.subject);
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i) out += '.';
    out += i + 1 == static_cast<size_t>(e.account_token_position) ? importer : t[i];
  }
  return out;
}

// Why find_export() returned nullptr, naming the export it considered.
std::string refusal(const account_entry& exporter, export_entry::kind type, std::string_view importer,
                    std::string_view subject) {
  const export_entry* candidate = nullptr;
  for (const export_entry& e : exporter.exports)
    if (e.type == type && e.subject == subject) {
      candidate = &e;
      break;
    }
  if (candidate == nullptr)
    for (const export_entry& e : exporter.exports)
      if (e.type == type && is_subset(subject, e.subject)) {
        candidate = &e;
        break;
      }
  if (candidate == nullptr) {
    for (const export_entry& e : exporter.exports)
      if (e.type != type && (e.subject == subject || is_subset(subject, e.subject)))
        return "account " + quoted(exporter.name) + " exports " + quoted(e.subject) + " as a " + kind_name(e.type) +
               ", not as a " + kind_name(type);
    return "account " + quoted(exporter.name) + " has no " + kind_name(type) + " export that covers it";
  }
  const export_entry& e = *candidate;
  if (e.account_token_position > 0) {
    std::string why = "the export " + quoted(e.subject) + " is bound to the importer's name at token " +
                      std::to_string(e.account_token_position);
    if (static_cast<size_t>(e.account_token_position) > tokens_of(subject).size() || e.subject == subject)
      why += ", so it cannot be imported whole";
    return why + " (account " + quoted(importer) + " may import " + quoted(bound_subject(e, importer)) + ")";
  }
  return "the export " + quoted(e.subject) + " is private to " + (e.approved.size() == 1 ? "account " : "accounts ") +
         join_names(e.approved);
}

// "foo.$1.{{wildcard(2)}}" -> "foo.*.*" (nats-server transformUntokenize), so that cycle
// checks see what a mapped subject can become.
std::string untokenize(std::string_view s) {
  std::string out;
  std::vector<std::string_view> t = tokens_of(s);
  for (size_t i = 0; i < t.size(); ++i) {
    std::string_view tok = t[i];
    bool placeholder = (tok.size() > 1 && tok[0] == '$' && tok[1] >= '1' && tok[1] <= '9') ||
                       (tok.size() > 4 && tok.substr(0, 2) == "{{" && tok.substr(tok.size() - 2) == "}}" &&
                        lower(tok).find("wildcard") != std::string::npos);
    if (i) out += '.';
    out += placeholder ? std::string_view("*") : tok;
  }
  return out;
}

// ---- accounts, users, top-level settings ----

void check_accounts(const auth_config& cfg) {
  std::unordered_map<std::string_view, const account_entry*> seen;
  for (const account_entry& a : cfg.accounts) {
    if (a.name.empty()) fail(a.pos, "an account needs a name");
    if (auto [it, fresh] = seen.emplace(a.name, &a); !fresh)
      fail(a.pos, "account " + quoted(a.name) + " is configured twice (also at " + where(it->second->pos) + ")");
  }
}

void check_permission_list(const user_entry& u, const std::vector<std::string>& list, bool allow_queue,
                           const std::string& what) {
  for (const std::string& s : list) {
    std::string why = permission_subject_error(s, allow_queue);
    if (!why.empty()) fail(u.pos, "user " + quoted(u.name) + " " + what + ": " + why);
  }
}

void check_users(const auth_config& cfg) {
  std::map<std::string_view, const user_entry*> seen;
  for (const user_entry& u : cfg.users) {
    if (u.name.empty()) fail(u.pos, "a user needs a user name");
    if (auto [it, fresh] = seen.emplace(u.name, &u); !fresh)
      fail(u.pos, "user " + quoted(u.name) + " is configured twice (also at " + where(it->second->pos) + ")");
    if (cfg.find_account(u.account) == nullptr)
      fail(u.pos, "user " + quoted(u.name) + " belongs to account " + quoted(u.account) + ", which is not configured");
    for (const std::string& t : u.allowed_connection_types)
      if (!known_connection_type(t))
        fail(u.pos, "user " + quoted(u.name) + " allowed_connection_types: unknown connection type " + quoted(t));
    if (!u.permissions) continue;
    if (const auto& p = u.permissions->publish) {
      check_permission_list(u, p->allow, false, "publish allow");
      check_permission_list(u, p->deny, false, "publish deny");
    }
    if (const auto& p = u.permissions->subscribe) {
      check_permission_list(u, p->allow, true, "subscribe allow");
      check_permission_list(u, p->deny, true, "subscribe deny");
    }
  }
  if (!cfg.token.empty() && !cfg.users.empty())
    fail(cfg.token_pos, "a token cannot be combined with users (user " + quoted(cfg.users.front().name) + " at " +
                            where(cfg.users.front().pos) + ")");
}

void check_settings(const auth_config& cfg) {
  if (!cfg.no_auth_user.empty()) {
    if (cfg.users.empty())
      fail(cfg.no_auth_user_pos, "no_auth_user " + quoted(cfg.no_auth_user) + " is set, but no users are configured");
    if (cfg.find_user(cfg.no_auth_user) == nullptr)
      fail(cfg.no_auth_user_pos, "no_auth_user " + quoted(cfg.no_auth_user) +
                                     " is not a user in authorization{} or in any account");
  }
  if (!cfg.system_account.empty() && cfg.find_account(cfg.system_account) == nullptr)
    fail(cfg.system_account_pos, "system_account " + quoted(cfg.system_account) + " is not a configured account");
}

// ---- exports ----

void check_exports(const auth_config& cfg, const account_entry& acc) {
  const std::string owner = "account " + quoted(acc.name);
  for (const export_entry& e : acc.exports) {
    const std::string what = owner + " " + kind_name(e.type) + " export " + quoted(e.subject);
    if (!subject::valid_subscription(e.subject))
      fail(e.pos, owner + ": the " + kind_name(e.type) + " export " + quoted(e.subject) + " is not a valid subject");
    if (e.account_token_position < 0) fail(e.pos, what + ": account_token_position must not be negative");
    if (e.account_token_position > 0) {
      std::vector<std::string_view> t = tokens_of(e.subject);
      auto pos = static_cast<size_t>(e.account_token_position);
      if (pos > t.size())
        fail(e.pos, what + ": account_token_position " + std::to_string(pos) + " is past its last token (it has " +
                        std::to_string(t.size()) + ")");
      if (t[pos - 1] != "*")
        fail(e.pos, what + ": account_token_position " + std::to_string(pos) + " must point at a '*' token, not " +
                        quoted(t[pos - 1]));
    }
    for (const std::string& name : e.approved)
      if (cfg.find_account(name) == nullptr)
        fail(e.pos, what + " names account " + quoted(name) + ", which is not configured");
    if (e.response_threshold.count() <= 0) fail(e.pos, what + ": response_threshold must be positive");
    if (!e.latency) continue;
    if (e.type != export_entry::kind::service) fail(e.pos, what + ": latency applies to service exports only");
    const latency_config& l = *e.latency;
    if (l.sampling < 0 || l.sampling > 100)
      fail(e.pos, what + ": latency sampling must be between 1 and 100 percent, or \"headers\" (got " +
                      std::to_string(l.sampling) + ")");
    if (!subject::valid_publish(l.subject))
      fail(e.pos, what + ": the latency subject " + quoted(l.subject) + " must be a valid subject without wildcards");
    // Reports published on an exported service subject would loop back into the service.
    for (const export_entry& other : acc.exports)
      if (other.type == export_entry::kind::service && (other.subject == l.subject || is_subset(l.subject, other.subject)))
        fail(e.pos, what + ": the latency subject " + quoted(l.subject) + " is itself exported as service " +
                        quoted(other.subject));
    if (e.response != response_type::singleton)
      fail(e.pos, what + ": latency can only be tracked for response_type singleton");
  }
}

// ---- imports ----

// The imports accepted so far, for duplicate and cycle checks (nats-server's
// a.imports.services / a.imports.streams). Accounts are referred to by their index in
// cfg.accounts, whose names check_accounts() has made unique.
class import_checker {
 public:
  explicit import_checker(const auth_config& cfg)
      : cfg_(cfg), services_(cfg.accounts.size()), streams_(cfg.accounts.size()) {
    for (size_t i = 0; i < cfg.accounts.size(); ++i) index_.emplace(cfg.accounts[i].name, i);
  }

  void check(size_t importer, const import_entry& im) {
    const account_entry& acc = cfg_.accounts[importer];
    const std::string kind = im.type == import_entry::kind::stream ? "stream" : "service";
    const refuser refuse{"account " + quoted(acc.name) + " cannot import " + kind + " " + quoted(im.subject) +
                             " from account " + quoted(im.account),
                         im.pos};
    auto found = index_.find(im.account);
    if (found == index_.end()) refuse("there is no such account");
    const account_entry& exporter = cfg_.accounts[found->second];
    if (!subject::valid_subscription(im.subject)) refuse("the subject is not valid");
    if (find_export(exporter, export_kind(im.type), acc.name, im.subject) == nullptr)
      refuse(refusal(exporter, export_kind(im.type), acc.name, im.subject));
    if (im.type == import_entry::kind::stream) add_stream(importer, found->second, im, refuse);
    else add_service(importer, found->second, im, refuse);
  }

 private:
  struct accepted {
    size_t exporter;
    std::string local;   // the subject in the importing account
    std::string remote;  // the subject in the exporting account
  };
  // Reports why `head` (the import) is refused, at the import's position.
  struct refuser {
    std::string head;
    position pos;
    [[noreturn]] void operator()(const std::string& why) const { fail(pos, head + ": " + why); }
  };
  // One cycle search: the accounts seen so far and the path taken, for the message.
  struct search {
    std::vector<char> visited;
    size_t visited_count = 0;
    std::vector<size_t> path;
    const refuser& refuse;

    search(size_t accounts, size_t importer, size_t exporter, const refuser& r)
        : visited(accounts, 0), path{importer, exporter}, refuse(r) {
      visit(importer);
    }
    void visit(size_t account) {
      if (!visited[account]) ++visited_count;
      visited[account] = 1;
      if (visited_count >= max_cycle_search_depth) refuse(std::string(too_deep));
    }
  };

  // addMappedStreamImportWithClaim: messages on `remote` in the exporter are delivered on
  // `local` in the importer.
  void add_stream(size_t importer, size_t exporter, const import_entry& im, const refuser& refuse) {
    std::string to = im.to.empty() ? im.subject : im.to;
    if (!im.prefix.empty()) {
      if (!im.to.empty()) refuse("a stream import cannot have both a prefix and a to");
      std::string_view p = im.prefix;
      if (p.back() == '.') p.remove_suffix(1);  // nats-server adds the '.' only when missing
      if (has_wildcard(p)) refuse("the prefix " + quoted(im.prefix) + " must not contain wildcards");
      if (!subject::valid_publish(p)) refuse("the prefix " + quoted(im.prefix) + " is not a valid subject");
      to = std::string(p) + "." + im.subject;
    }
    if (to != im.subject) {
      std::string why;
      auto t = subject_transform::create(im.subject, to, &why);
      if (!t) refuse("cannot map it to " + quoted(to) + ": " + why);
      if (!t->uses_every_wildcard())
        refuse("cannot map it to " + quoted(to) + ": the destination must use every wildcard of the subject");
    }
    for (const accepted& a : streams_[importer])
      if (a.exporter == exporter && a.remote == im.subject) refuse("it is already imported");
    std::string local = untokenize(to);
    for (const std::string& s : {local, im.subject}) {
      search q(cfg_.accounts.size(), importer, exporter, refuse);
      if (stream_cycle(exporter, s, q)) refuse("the import forms a cycle (" + path_text(q.path) + ")");
    }
    streams_[importer].push_back({exporter, local, im.subject});
  }

  // addServiceImportWithClaim: requests on `local` in the importer go to `remote` in the
  // exporter.
  void add_service(size_t importer, size_t exporter, const import_entry& im, const refuser& refuse) {
    if (!im.prefix.empty()) refuse("a prefix applies to stream imports only");
    std::string local = im.to.empty() ? im.subject : im.to;
    if (!subject::valid_subscription(local)) refuse("the local subject " + quoted(local) + " is not valid");
    if (has_wildcard(im.subject) && local != im.subject) {
      // The mapping must be reversible: every wildcard of the service subject has to be
      // placed in the local subject (nats-server NewSubjectTransformStrict).
      std::string why;
      auto t = subject_transform::create(im.subject, local, &why);
      if (!t) refuse("the local subject " + quoted(local) + " cannot map it: " + why);
      if (!t->uses_every_wildcard())
        refuse("the local subject " + quoted(local) + " cannot map it: it must use every wildcard of " +
               quoted(im.subject));
      local = untokenize(local);
    }
    for (const accepted& a : services_[importer])
      if (a.exporter == exporter && a.local == local)
        refuse("it already imports " + quoted(a.remote) + " from that account on the local subject " + quoted(local));
    search q(cfg_.accounts.size(), importer, exporter, refuse);
    if (service_cycle(exporter, local, q)) refuse("the import forms a cycle (" + path_text(q.path) + ")");
    services_[importer].push_back({exporter, local, im.subject});
  }

  // checkServiceImportsForCycles: follow the service imports of `account` that requests on
  // `from` could reach; reaching an account already visited is a cycle.
  bool service_cycle(size_t account, const std::string& from, search& q) {
    for (const accepted& si : services_[account]) {
      if (!subjects_collide(from, si.remote)) continue;
      q.path.push_back(si.exporter);
      if (q.visited[si.exporter]) return true;
      q.visit(account);
      const std::string& next = is_subset(si.local, from) ? si.local : from;
      if (service_cycle(si.exporter, next, q)) return true;
      q.path.pop_back();
    }
    return false;
  }

  // checkStreamImportsForCycles: only an account that exports `to` can pass it on.
  bool stream_cycle(size_t account, const std::string& to, search& q) {
    const auto& exports = cfg_.accounts[account].exports;
    if (std::none_of(exports.begin(), exports.end(), [&](const export_entry& e) {
          return e.type == export_entry::kind::stream && is_subset(to, e.subject);
        }))
      return false;
    for (const accepted& si : streams_[account]) {
      if (!subjects_collide(to, si.local)) continue;
      q.path.push_back(si.exporter);
      if (q.visited[si.exporter]) return true;
      q.visit(account);
      const std::string& next = is_subset(si.local, to) ? si.local : to;
      if (stream_cycle(si.exporter, next, q)) return true;
      q.path.pop_back();
    }
    return false;
  }

  std::string path_text(const std::vector<size_t>& path) const {
    std::string out;
    for (size_t i = 0; i < path.size(); ++i) out += (i ? " -> " : "") + cfg_.accounts[path[i]].name;
    return out;
  }

  const auth_config& cfg_;
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<std::vector<accepted>> services_, streams_;  // by importer
};

}  // namespace

const export_entry* find_export(const account_entry& exporter, export_entry::kind type, std::string_view importer,
                                std::string_view subject) {
  // An export with exactly this subject decides alone (checkStreamExportApproved).
  bool exact = false;
  for (const export_entry& e : exporter.exports) {
    if (e.type != type || e.subject != subject) continue;
    exact = true;
    if (approves(e, importer, nullptr)) return &e;
  }
  if (exact) return nullptr;
  // Otherwise the import must lie inside a wider export. nats-server takes whichever
  // covering export its map yields first; we take the first, in config order, that
  // admits the importer.
  std::vector<std::string_view> tokens = tokens_of(subject);
  for (const export_entry& e : exporter.exports)
    if (e.type == type && is_subset(subject, e.subject) && approves(e, importer, &tokens)) return &e;
  return nullptr;
}

void validate(const auth_config& cfg) {
  check_accounts(cfg);
  check_users(cfg);
  for (const account_entry& a : cfg.accounts) check_exports(cfg, a);
  import_checker imports(cfg);
  for (size_t i = 0; i < cfg.accounts.size(); ++i)
    for (const import_entry& im : cfg.accounts[i].imports) imports.check(i, im);
  check_settings(cfg);
}

}  // namespace platform::accounts
