#include "actors/control_plane_actors.hpp"

#include <caf/all.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "actors/account.hpp"
#include "actors/account_actor.hpp"
#include "actors/atoms.hpp"
#include "actors/client_connection.hpp"
#include "actors/client_info.hpp"
#include "actors/internal_client.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

// A bcrypt check handed to a verifier actor.
struct password_job {
  std::string stored, given;
  std::function<void(bool)> done;
};

}  // namespace actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actors::password_job)

namespace actors {

namespace {

// Takes an id only because CAF 0.17's spawn of an argument-less function actor binds a
// reference to a null empty tuple (undefined behaviour that UBSan reports).
caf::behavior password_verifier(caf::event_based_actor*, int /*id*/) {
  return {
      [](verify_atom, const password_job& job) {
        job.done(platform::accounts::password_matches(job.stored, job.given));
      },
  };
}

// The actor of one internal client (internal_client.hpp): drains its inbox when woken.
// Holds the client weakly; the client's waker holds the actor, and close() stops it.
caf::behavior internal_client_actor(caf::event_based_actor* self, std::weak_ptr<internal_client> c) {
  return {
      [=](drain_atom) {
        if (auto client = c.lock()) client->drain();
      },
  };
}

class actor_control_plane final : public control_plane {
 public:
  actor_control_plane(caf::actor_system& sys, caf::actor server, std::string server_name, std::string server_id,
                      std::function<account_ptr()> system_account)
      : sys_(sys),
        server_(std::move(server)),
        server_name_(std::move(server_name)),
        server_id_(std::move(server_id)),
        system_account_(std::move(system_account)) {
    // Two verifiers, each on its own thread: bcrypt never blocks an I/O loop or the
    // cooperative scheduler, and two logins can be checked at once on two cores.
    for (int i = 0; i < 2; ++i) verifiers_.push_back(sys_.spawn<caf::detached>(password_verifier, i));
  }

  ~actor_control_plane() override {
    for (auto& v : verifiers_) caf::anon_send_exit(v, caf::exit_reason::user_shutdown);
  }

  void client_connected(const std::shared_ptr<client_connection>& c) override {
    publish_event(*c, "CONNECT", "io.nats.server.advisory.v1.client_connect", nullptr);
  }

  void client_closed(const std::shared_ptr<client_connection>& c, close_reason why) override {
    publish_event(*c, "DISCONNECT", "io.nats.server.advisory.v1.client_disconnect", &why);
  }

  void release_subscriptions(account& acc, std::vector<platform::subscription_ptr> subs) override {
    if (!acc.actor) {
      acc.subjects().remove_all(subs);
      return;
    }
    actors::release_subscriptions(acc.actor->self, std::move(subs));
  }

  void start_internal_client(const std::shared_ptr<internal_client>& c) override {
    auto a = sys_.spawn(internal_client_actor, std::weak_ptr<internal_client>(c));
    c->set_waker([a] { caf::anon_send(a, drain_atom::value); });
    c->set_stopper([a] { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); });
  }

  void verify_password(std::string stored, std::string given, std::function<void(bool)> done) override {
    auto& v = verifiers_[next_++ % verifiers_.size()];
    caf::anon_send(v, verify_atom::value, password_job{std::move(stored), std::move(given), std::move(done)});
  }

 private:
  // $SYS.ACCOUNT.<acc>.CONNECT|DISCONNECT, built here (on the I/O thread, where the
  // connection's details are at hand) and published by the server actor.
  void publish_event(client_connection& c, const char* what, const char* type, const close_reason* why) {
    std::string subject = "$SYS.ACCOUNT." + c.acc().name() + "." + what;
    // Most servers have no subscriber for these: then a login or a close costs no JSON,
    // no random id and no message to the server actor. (The subject index is matched
    // from any thread, as every publish does.)
    auto sys = system_account_ ? system_account_() : nullptr;
    if (!sys || sys->subjects().match(subject)->empty()) return;
    auto now = std::chrono::system_clock::now();
    nlohmann::json j;
    j["type"] = type;
    j["id"] = platform::random_token(22);
    j["timestamp"] = platform::rfc3339(now);
    j["server"] = {{"name", server_name_}, {"id", server_id_}, {"ver", DIALTONE_VERSION},
                   {"seq", ++event_seq_}, {"time", platform::rfc3339(now)}};
    j["client"] = client_info(&c, c.acc(), server_name_);
    if (why) {
      j["sent"] = {{"msgs", c.msgs_out.load()}, {"bytes", c.bytes_out.load()}};
      j["received"] = {{"msgs", c.msgs_in.load()}, {"bytes", c.bytes_in.load()}};
      j["reason"] = std::string(to_string(*why));
    }
    caf::anon_send(server_, event_atom::value, std::move(subject), j.dump());
  }

  caf::actor_system& sys_;
  caf::actor server_;
  std::string server_name_, server_id_;
  std::function<account_ptr()> system_account_;
  std::vector<caf::actor> verifiers_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> event_seq_{0};
};

}  // namespace

std::unique_ptr<control_plane> make_actor_control_plane(caf::actor_system& sys, caf::actor server,
                                                        std::string server_name, std::string server_id,
                                                        std::function<account_ptr()> system_account) {
  return std::make_unique<actor_control_plane>(sys, std::move(server), std::move(server_name), std::move(server_id),
                                               std::move(system_account));
}

}  // namespace actors
