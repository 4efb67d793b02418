#pragma once
// The runtime of sharing between accounts, as internal subscriptions:
// - a stream import is a subscription in the exporter on the imported subject that
//   re-delivers into the importer under the mapped subject;
// - a service import is a subscription in the importer on its local subject that
//   re-delivers into the exporter under the exported subject, swapping the reply
//   subject for a response route (response_table.hpp);
// - every account with service exports has a response router on "_R_.<prefix>.>"
//   that carries answers back to the requester, and publishes latency reports.
// Built once at start-up by wire_imports(); read-only afterwards.
#include <map>
#include <memory>
#include <string>

#include "actors/account.hpp"
#include "libplatform/accounts/auth_config.hpp"

namespace actors {

class client_connection;
namespace io {
class event_loop;
}

using account_map = std::map<std::string, account_ptr, std::less<>>;

// Creates one account per configured account (plus $G and the system account).
account_map make_accounts(const platform::accounts::auth_config& cfg);

// Installs the internal subscriptions for every import and service export.
// The configuration was validated already (validate()); `server_name` goes into
// latency reports.
void wire_imports(const platform::accounts::auth_config& cfg, const account_map& accounts,
                  const std::string& server_name);

// Latency reports whose answers this thread delivered in the current read batch are
// published after the batch's flush, so answers are not held back by report building.
// The responder's connection calls this, on its own loop, after flushing the batch.
bool has_deferred_reports() noexcept;
void publish_deferred_reports(io::event_loop& loop);

}  // namespace actors
