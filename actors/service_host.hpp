#pragma once
// Services the server actor starts and stops with the server but does not know by name
// (JetStream today): the binary plugs them in, so actors/ never depends on services/.
// Every call comes from the server actor's thread.
#include <string>

#include "actors/account_registry.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/server_options.hpp"

namespace actors {

class server_core;
class control_plane;

class service_host {
 public:
  virtual ~service_host() = default;
  // After the accounts are configured and before the listener opens. Returns an error
  // text (the server does not start) or empty.
  virtual std::string start(server_core& core, control_plane& cp, const platform::accounts::auth_config& auth) = 0;
  // After a reload changed the accounts.
  virtual void accounts_changed(const account_registry::changes& ch, const platform::accounts::auth_config& auth) = 0;
  // After a reload read `opts` from the configuration file (the services' own blocks
  // may have changed; the listener and JetStream settings only change on restart).
  virtual void options_changed(const platform::config::server_options& opts) { (void)opts; }
  // Before the core stops: finish writes, close internal clients.
  virtual void stop() = 0;
};

}  // namespace actors
