#include "actors/account_actor.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <unordered_map>

#include "actors/atoms.hpp"
#include "libplatform/memory.hpp"

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
  account_weak acc;  // the account holds its actor, not the other way round
  static inline const char* name = "account";
};

caf::behavior account_actor(caf::stateful_actor<account_state>* self, account_ptr acc) {
  self->state.acc = acc;
  return {
      [=](release_atom, subscription_batch& batch) {
        auto& all = *batch.subs;
        size_t end = std::min(all.size(), batch.next + release_chunk);
        std::vector<platform::subscription_ptr> chunk(all.begin() + long(batch.next), all.begin() + long(end));
        auto acc = self->state.acc.lock();
        if (!acc) return;  // the account is gone, and its index with it
        acc->subjects().remove_all(chunk);
        batch.next = end;
        if (end < all.size()) {
          // Yield: the write lock is free between chunks.
          self->send(self, release_atom::value, std::move(batch));
        } else {
          all.clear();
          all.shrink_to_fit();
          platform::memory::return_free_memory();  // a million subscriptions freed: give it back
        }
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
