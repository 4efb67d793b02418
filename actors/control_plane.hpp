#pragma once
// What the I/O layer tells the actor world about connection lifecycles. Implemented
// with CAF in connection_actor.cpp; kept free of CAF headers so the data-path files
// compile without them.
#include <memory>

#include "actors/close_reason.hpp"

namespace actors {

class client_connection;

class control_plane {
 public:
  virtual ~control_plane() = default;
  // Called on the connection's loop after CONNECT was accepted.
  virtual void client_connected(const std::shared_ptr<client_connection>& c) = 0;
  // Called on the connection's loop once it is closed.
  virtual void client_closed(const std::shared_ptr<client_connection>& c, close_reason why) = 0;
};

}  // namespace actors
