#pragma once
// The publish path after parsing: match the subject in the publisher's account (through
// the publisher's match cache), append the message to each receiver's outbound buffer,
// and mark each receiver for one flush at the end of the read batch. No parsing here,
// no allocation per message, no actor messages.
#include <cstddef>

#include "libplatform/protocol/parser.hpp"

namespace actors {
class client_connection;

namespace router {

// Delivers a message published by `from`. Returns how many subscriptions received it.
// Sends the no-responders status back to `from` when the message has a reply subject,
// nobody received it and `from` asked for no_responders.
size_t deliver(client_connection& from, const platform::protocol::message_args& m);

}  // namespace router
}  // namespace actors
