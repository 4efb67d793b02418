#pragma once
// A user's publish/subscribe permissions, compiled once per user and shared by all its
// connections (immutable, so thread-safe). Semantics follow nats-server: publish needs
// an allow match (when there is an allow list) and no deny match; a SUB is checked
// against the allow entries as patterns ("subject queue" entries allow only that queue)
// and then the deny entries; a deny that a broader wildcard SUB slips past is enforced
// on delivery instead.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libplatform/accounts/auth_config.hpp"

namespace actors {

class permission_set {
 public:
  explicit permission_set(const platform::accounts::user_permissions& p);

  bool restricts_publish() const noexcept { return pub_.active; }
  bool can_publish(std::string_view subject) const;
  bool can_subscribe(std::string_view subject, std::string_view queue) const;
  // Delivery-time filter for subscriptions that are broader than a deny entry.
  bool has_sub_deny() const noexcept { return !sub_.deny.empty(); }
  bool delivery_denied(std::string_view subject) const;

  std::optional<int> responses_max;  // allow_responses
  std::chrono::milliseconds responses_expires{0};

 private:
  struct entry {
    std::string subject;
    std::string queue;
  };
  struct rules {
    bool active = false;
    bool has_allow = false;
    std::vector<entry> allow, deny;
  };
  static rules compile(const std::optional<platform::accounts::subject_permission>& p);
  rules pub_, sub_;
};

}  // namespace actors
