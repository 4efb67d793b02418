#include "actors/account_actor.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <malloc.h>

#include <unordered_map>

#include "actors/atoms.hpp"

namespace actors {
struct subscription_batch {
  std::shared_ptr<std::vector<platform::subscription_ptr>> subs;
  size_t next = 0;
};
}  // namespace actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actors::subscription_batch)

namespace actors {

namespace {

constexpr size_t release_chunk = 16384;

struct account_state {
  account_ptr acc;
  std::unordered_map<uint64_t, caf::actor> connections;
  static inline const char* name = "account";
};

caf::behavior account_actor(caf::stateful_actor<account_state>* self, account_ptr acc) {
  self->state.acc = std::move(acc);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& conns = self->state.connections;
    for (auto it = conns.begin(); it != conns.end(); ++it) {
      if (it->second.address() == dm.source) {
        conns.erase(it);
        break;
      }
    }
  });
  return {
      [=](register_atom, uint64_t cid, caf::actor conn) {
        self->monitor(conn);
        self->state.connections.emplace(cid, std::move(conn));
      },
      [=](count_atom) -> uint64_t { return self->state.connections.size(); },
      [=](list_atom) -> std::vector<uint64_t> {
        std::vector<uint64_t> ids;
        for (auto& [cid, a] : self->state.connections) ids.push_back(cid);
        std::sort(ids.begin(), ids.end());
        return ids;
      },
      [=](kick_atom, uint64_t cid) {
        auto it = self->state.connections.find(cid);
        if (it != self->state.connections.end()) self->send(it->second, kick_atom::value);
      },
      [=](release_atom, subscription_batch& batch) {
        auto& all = *batch.subs;
        size_t end = std::min(all.size(), batch.next + release_chunk);
        std::vector<platform::subscription_ptr> chunk(all.begin() + long(batch.next), all.begin() + long(end));
        self->state.acc->subjects().remove_all(chunk);
        batch.next = end;
        if (end < all.size()) {
          // Yield: the write lock is free between chunks.
          self->send(self, release_atom::value, std::move(batch));
        } else {
          all.clear();
          all.shrink_to_fit();
          malloc_trim(0);  // a million subscriptions freed: give the memory back
        }
      },
      [=](info_atom) -> std::string {
        auto& a = *self->state.acc;
        nlohmann::json j;
        j["account"] = a.name();
        j["connections"] = self->state.connections.size();
        j["subscriptions"] = a.subjects().count();
        j["users"] = a.user_names();
        j["system_account"] = a.is_system.load();
        return j.dump();
      },
  };
}

}  // namespace

caf::actor spawn_account_actor(caf::actor_system& sys, account_ptr acc) {
  return sys.spawn(account_actor, std::move(acc));
}

void release_subscriptions(const caf::actor& account_actor, std::vector<platform::subscription_ptr> subs) {
  subscription_batch batch{std::make_shared<std::vector<platform::subscription_ptr>>(std::move(subs)), 0};
  caf::anon_send(account_actor, release_atom::value, std::move(batch));
}

}  // namespace actors
