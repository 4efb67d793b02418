#include "actors/client_info.hpp"

#include "actors/client_connection.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

nlohmann::json client_info(const client_connection* c, const account& acc, const std::string& server_name) {
  nlohmann::json j;
  j["acc"] = acc.name();
  j["server"] = server_name;
  if (!c) return j;
  j["start"] = platform::rfc3339(c->started_at());
  j["host"] = c->remote_ip();
  j["id"] = c->id();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("user", c->user_name());
  put("name", c->options().name);
  put("lang", c->options().lang);
  put("ver", c->options().version);
  return j;
}

std::shared_ptr<const std::string> client_info_json(client_connection* c, const account& acc,
                                                    const std::string& server_name) {
  if (!c) return std::make_shared<const std::string>(client_info(nullptr, acc, server_name).dump());
  auto& slot = c->info_json_cache();
  if (!slot.json || slot.acc != acc.id()) {
    slot.acc = acc.id();
    slot.json = std::make_shared<const std::string>(client_info(c, acc, server_name).dump());
  }
  return slot.json;
}

}  // namespace actors
