#include "actors/connection_actor.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "actors/client_connection.hpp"

namespace actors {

struct actor_handle {
  caf::actor self;
};

namespace {

struct connection_state {
  std::weak_ptr<client_connection> conn;
  static inline const char* name = "connection";
};

std::string describe(client_connection& c) {
  nlohmann::json j;
  j["cid"] = c.id();
  j["ip"] = c.remote_address();
  j["account"] = c.acc().name();
  j["name"] = c.options().name;
  j["lang"] = c.options().lang;
  j["version"] = c.options().version;
  j["in_msgs"] = c.msgs_in.load();
  j["in_bytes"] = c.bytes_in.load();
  j["out_msgs"] = c.msgs_out.load();
  j["out_bytes"] = c.bytes_out.load();
  j["pending_bytes"] = c.pending_bytes();
  j["subscriptions"] = c.subscription_count();
  return j.dump();
}

caf::behavior connection_actor(caf::stateful_actor<connection_state>* self, std::shared_ptr<client_connection> c) {
  self->state.conn = c;
  return {
      [=](kick_atom) {
        if (auto conn = self->state.conn.lock()) conn->close_async(close_reason::kicked);
      },
      [=](info_atom) -> std::string {
        if (auto conn = self->state.conn.lock()) return describe(*conn);
        return "{}";
      },
      [=](closed_atom) { self->quit(); },
  };
}

class actor_control_plane final : public control_plane {
 public:
  actor_control_plane(caf::actor_system& sys, caf::actor account) : sys_(sys), account_(std::move(account)) {}

  void client_connected(const std::shared_ptr<client_connection>& c) override {
    auto a = sys_.spawn(connection_actor, c);
    c->set_actor(std::make_shared<actor_handle>(actor_handle{a}));
    caf::anon_send(account_, register_atom::value, c->id(), a);
  }

  void client_closed(const std::shared_ptr<client_connection>& c, close_reason) override {
    if (auto& h = c->actor()) caf::anon_send(h->self, closed_atom::value);
  }

 private:
  caf::actor_system& sys_;
  caf::actor account_;
};

}  // namespace

std::unique_ptr<control_plane> make_actor_control_plane(caf::actor_system& sys, const caf::actor& account_actor) {
  return std::make_unique<actor_control_plane>(sys, account_actor);
}

}  // namespace actors
