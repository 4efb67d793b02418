#include "actors/account_registry.hpp"

#include <nlohmann/json.hpp>

namespace actors {

namespace {

using platform::accounts::account_entry;
using platform::accounts::auth_config;

std::string exports_fingerprint(const account_entry& a) {
  nlohmann::json j = nlohmann::json::array();
  for (auto& e : a.exports) {
    nlohmann::json x = {{"t", int(e.type)},
                        {"s", e.subject},
                        {"a", e.approved},
                        {"p", e.account_token_position},
                        {"r", int(e.response)},
                        {"th", e.response_threshold.count()}};
    if (e.latency) x["l"] = {e.latency->sampling, e.latency->subject};
    j.push_back(std::move(x));
  }
  return j.dump();
}

// An account's imports, and what they depend on: each exporter's identity and exports.
std::string imports_fingerprint(const auth_config& cfg, const account_entry& a, const account_map& accounts) {
  nlohmann::json j = nlohmann::json::array();
  for (auto& i : a.imports) {
    nlohmann::json x = {{"t", int(i.type)}, {"a", i.account}, {"s", i.subject},
                        {"p", i.prefix},   {"to", i.to},      {"sh", i.share}};
    auto it = accounts.find(i.account);
    x["id"] = it == accounts.end() ? 0 : it->second->id();
    if (auto* e = cfg.find_account(i.account)) x["e"] = exports_fingerprint(*e);
    j.push_back(std::move(x));
  }
  return j.dump();
}

}  // namespace

account_registry::~account_registry() { clear(); }

account_registry::changes account_registry::apply(const auth_config& cfg, const std::string& server_name,
                                                  const loop_owners& owners,
                                                  const std::function<void(const account_ptr&)>& on_added) {
  changes out;
  account_map next;
  {
    std::shared_lock lock(mutex_);
    next = accounts_;
  }
  // Which accounts the configuration has ($G and the system account always).
  std::vector<const account_entry*> entries;
  for (auto& a : cfg.accounts) entries.push_back(&a);
  account_entry implicit_global, implicit_system;
  implicit_global.name = global_account_name;
  implicit_system.name = cfg.system_account;
  if (!cfg.find_account(global_account_name)) entries.push_back(&implicit_global);
  if (!cfg.find_account(cfg.system_account)) entries.push_back(&implicit_system);

  std::map<std::string, std::vector<std::string>, std::less<>> users;
  for (auto& u : cfg.users) users[u.account].push_back(u.name);

  account_map kept;
  for (auto* a : entries) {
    account_ptr acc;
    if (auto it = next.find(a->name); it != next.end()) {
      acc = it->second;
    } else {
      acc = std::make_shared<account>(a->name);
      out.added.push_back(acc);
    }
    acc->limits.max_connections.store(a->max_connections);
    acc->limits.max_subscriptions.store(a->max_subscriptions);
    acc->limits.max_payload.store(a->max_payload);
    acc->is_system.store(a->name == cfg.system_account);
    auto u = users.find(a->name);
    acc->set_user_names(u == users.end() ? std::vector<std::string>{} : u->second);
    kept.emplace(a->name, std::move(acc));
  }
  for (auto& [name, acc] : next)
    if (!kept.count(name)) out.removed.push_back(acc);
  for (auto& acc : out.added)
    if (on_added) on_added(acc);

  // Wire what changed: new forwarders first, then the old ones out.
  std::vector<wiring> retired;
  auto rewire = [&](std::map<std::string, wired, std::less<>>& table, const std::string& name, std::string fp,
                    auto&& build) {
    auto it = table.find(name);
    if (it != table.end() && it->second.fingerprint == fp) return;
    wired fresh{std::move(fp), build()};
    if (it != table.end()) {
      retired.push_back(std::move(it->second.w));
      it->second = std::move(fresh);
    } else {
      table.emplace(name, std::move(fresh));
    }
    out.rewired.push_back(name);
  };
  for (auto* a : entries) {
    const account_ptr& acc = kept.at(a->name);
    rewire(exports_, a->name, exports_fingerprint(*a) + "#" + std::to_string(acc->id()),
           [&] { return wire_exports(*a, acc, server_name, owners); });
    rewire(imports_, a->name, imports_fingerprint(cfg, *a, kept) + "#" + std::to_string(acc->id()),
           [&] { return wire_imports(cfg, *a, kept, server_name); });
  }
  for (auto& acc : out.removed) {
    for (auto* table : {&imports_, &exports_}) {
      auto it = table->find(acc->name());
      if (it == table->end()) continue;
      retired.push_back(std::move(it->second.w));
      table->erase(it);
    }
  }
  {
    std::unique_lock lock(mutex_);
    accounts_ = std::move(kept);
    global_ = accounts_.at(global_account_name);
    system_ = accounts_.at(cfg.system_account);
  }
  for (auto& w : retired) w.remove();
  return out;
}

account_ptr account_registry::find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = accounts_.find(name);
  return it == accounts_.end() ? nullptr : it->second;
}

std::vector<account_ptr> account_registry::all() const {
  std::shared_lock lock(mutex_);
  std::vector<account_ptr> out;
  out.reserve(accounts_.size());
  for (auto& [n, a] : accounts_) out.push_back(a);
  return out;
}

size_t account_registry::size() const {
  std::shared_lock lock(mutex_);
  return accounts_.size();
}

account_ptr account_registry::global() const {
  std::shared_lock lock(mutex_);
  return global_;
}

account_ptr account_registry::system() const {
  std::shared_lock lock(mutex_);
  return system_;
}

void account_registry::clear() {
  for (auto* table : {&imports_, &exports_}) {
    for (auto& [name, w] : *table) w.w.remove();
    table->clear();
  }
}

}  // namespace actors
