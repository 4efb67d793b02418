#pragma once
// Why a connection ended, as nats-server names it in logs and monitoring.
#include <string_view>

namespace actors {

enum class close_reason {
  client_closed,
  protocol_violation,
  auth_violation,
  auth_timeout,
  max_payload,
  max_control_line,
  max_connections,
  slow_consumer_pending,
  slow_consumer_deadline,
  stale_connection,
  read_error,
  write_error,
  server_shutdown,
  kicked,
  tls_handshake_error,
};

constexpr std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::client_closed: return "Client Closed";
    case close_reason::protocol_violation: return "Protocol Violation";
    case close_reason::auth_violation: return "Authentication Failure";
    case close_reason::auth_timeout: return "Authentication Timeout";
    case close_reason::max_payload: return "Maximum Payload Exceeded";
    case close_reason::max_control_line: return "Maximum Control Line Exceeded";
    case close_reason::max_connections: return "Maximum Connections Exceeded";
    case close_reason::slow_consumer_pending: return "Slow Consumer (Pending Bytes)";
    case close_reason::slow_consumer_deadline: return "Slow Consumer (Write Deadline)";
    case close_reason::stale_connection: return "Stale Connection";
    case close_reason::read_error: return "Read Error";
    case close_reason::write_error: return "Write Error";
    case close_reason::server_shutdown: return "Server Shutdown";
    case close_reason::kicked: return "Kicked";
    case close_reason::tls_handshake_error: return "TLS Handshake Failure";
  }
  return "Unknown";
}

}  // namespace actors
