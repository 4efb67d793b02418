#pragma once
// One actor per account. It owns the account object (its subject index and counters,
// which the data path reads directly) and the registry of the account's connection
// actors. Messages:
//   (register_atom, uint64_t cid, caf::actor conn)  -> monitors and records a connection
//   (count_atom)                                     -> uint64_t live connections
//   (list_atom)                                      -> std::vector<uint64_t> client ids
//   (kick_atom, uint64_t cid)                        -> closes that connection
//   (info_atom)                                      -> std::string, account JSON summary
//   (release_atom, subscription_batch)               -> removes closed subscriptions from
//                                                       the index in chunks, yielding between
//                                                       them so matches on other loops go on
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
