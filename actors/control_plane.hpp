#pragma once
// What the I/O layer asks of, and tells, the actor world. Implemented with CAF in
// control_plane_actors.cpp; kept free of CAF headers so the data-path files compile
// without them.
#include <functional>
#include <memory>
#include <string>

#include "actors/close_reason.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

class client_connection;
class account;
class internal_client;

class control_plane {
 public:
  virtual ~control_plane() = default;
  // Called on the connection's loop once CONNECT was accepted and the client bound to
  // its account.
  virtual void client_connected(const std::shared_ptr<client_connection>& c) = 0;
  // Called on the connection's loop once it is closed.
  virtual void client_closed(const std::shared_ptr<client_connection>& c, close_reason why) = 0;
  // Checks a password against a bcrypt hash off the I/O threads; `done` runs on some
  // other thread with the answer.
  virtual void verify_password(std::string stored, std::string given, std::function<void(bool)> done) = 0;
  // Removes many subscriptions of a closed connection from an account's index in the
  // background (they are already marked closed, so nothing is delivered to them), so
  // the closing connection's loop does not stall on a huge removal.
  virtual void release_subscriptions(account& acc, std::vector<platform::subscription_ptr> subs) = 0;
  // Gives an internal client an actor of its own that drains its inbox when woken
  // (internal_client_actor.cpp). The actor quits once the client is closed and gone.
  virtual void start_internal_client(const std::shared_ptr<internal_client>& c) = 0;
};

}  // namespace actors
