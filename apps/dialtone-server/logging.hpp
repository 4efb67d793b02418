#pragma once
// Log set-up in nats-server's format: "[pid] 2026/12/01 05:54:10.123456 [INF] text".
#include <string>

namespace server_app {

// Returns an error text when the log file cannot be opened.
std::string setup_logging(bool debug, bool trace, const std::string& logfile);

}  // namespace server_app
