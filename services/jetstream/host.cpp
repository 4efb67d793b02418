// JetStream as a service of the server actor (actors/service_host.hpp).
#include <spdlog/spdlog.h>

#include "actors/server_core.hpp"
#include "libplatform/memory.hpp"
#include "services/jetstream/internal.hpp"

namespace jetstream {

namespace {

class host final : public actors::service_host {
 public:
  explicit host(options o) : opts_(std::move(o)) {}

  std::string start(actors::server_core& core, actors::control_plane& cp,
                    const platform::accounts::auth_config& auth) override {
    spdlog::info("Starting JetStream");
    std::string error;
    core_ = &core;
    svc_ = jetstream::start(opts_, cp, error);
    if (!svc_) return "JetStream: " + error;
    spdlog::info("  Storage directory: {}/jetstream (RocksDB{})", opts_.store_dir,
                 opts_.sync_always ? ", fsync before every ack" : "");
    spdlog::info("  Max memory: {}  Max storage: {}", limit_text(opts_.max_memory), limit_text(opts_.max_file));
    for (auto& acc : core.accounts().all()) add(acc, auth);
    // Opening the store (RocksDB writes and re-reads its options file for each column
    // family it creates) leaves freed heap behind: back to the kernel once.
    platform::memory::return_free_memory();
    return {};
  }

  void accounts_changed(const actors::account_registry::changes& ch,
                        const platform::accounts::auth_config& auth) override {
    if (!svc_) return;
    for (auto& acc : ch.removed) svc_->disable(acc);
    // Every account: new ones get their API, kept ones whose jetstream setting changed
    // are restarted with it (service::enable does nothing when it did not change).
    for (auto& acc : core_->accounts().all()) add(acc, auth);
  }

  void stop() override {
    if (svc_) svc_->shutdown();
  }

 private:
  static std::string limit_text(int64_t v) { return v < 0 ? "unlimited" : std::to_string(v) + " bytes"; }

  // Which accounts have JetStream: with no accounts configured, the global account;
  // otherwise those configured with `jetstream`. The others (and the system account)
  // answer every API request with "JetStream not enabled for account".
  void add(const actors::account_ptr& acc, const platform::accounts::auth_config& auth) {
    bool configured_accounts = false;
    for (auto& a : auth.accounts)
      if (a.name != "$G" && a.name != auth.system_account) configured_accounts = true;
    account_limits limits;
    bool enabled = false;
    if (acc->name() == auth.system_account) {
      enabled = false;
    } else if (auto* e = auth.find_account(acc->name()); e && e->jetstream) {
      enabled = true;
      limits.max_memory = e->js_max_memory;
      limits.max_store = e->js_max_store;
      limits.max_streams = e->js_max_streams;
      limits.max_consumers = e->js_max_consumers;
    } else if (!configured_accounts && acc->name() == "$G") {
      enabled = true;
    }
    svc_->enable(acc, limits, enabled);
  }

  options opts_;
  actors::server_core* core_ = nullptr;
  std::shared_ptr<service> svc_;
};

}  // namespace

std::shared_ptr<actors::service_host> make_host(const options& opts) { return std::make_shared<host>(opts); }

}  // namespace jetstream
