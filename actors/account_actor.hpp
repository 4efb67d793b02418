#pragma once
// One actor per account, spawned when the account registry creates the account and
// stopped when it is removed. It does the account's background work:
//   (release_atom, subscription_batch) -> removes a closed client's subscriptions from
//                                         the index in chunks, yielding between them so
//                                         matches on other loops go on
#include <caf/actor.hpp>

#include "actors/account.hpp"

namespace actors {

// account::actor: the account's actor, for the control plane.
struct account_actor_ref {
  caf::actor self;
};

caf::actor spawn_account_actor(caf::actor_system& sys, account_ptr acc);

// Sends a batch of closed subscriptions to an account actor for removal.
void release_subscriptions(const caf::actor& account_actor, std::vector<platform::subscription_ptr> subs);

}  // namespace actors
