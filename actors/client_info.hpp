#pragma once
// How a client is described in $SYS events, latency reports and connection info: the
// fields of nats-server's ClientInfo ("start", "host", "id", "acc", "user", "name",
// "lang", "ver", "server"), empty ones left out. One place, so every JSON that names a
// client names it the same way.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace actors {

class account;
class client_connection;

// `c` may be null (a message the server itself published): then only the account and
// server are known.
nlohmann::json client_info(const client_connection* c, const account& acc, const std::string& server_name);

// The same, serialized, for a JSON document built by hand (latency reports, one per
// request). For a client it is made once per connection and account and then shared
// (client_connection::info_json); call it from the client's own loop thread.
std::shared_ptr<const std::string> client_info_json(client_connection* c, const account& acc,
                                                    const std::string& server_name);

}  // namespace actors
