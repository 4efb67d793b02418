#pragma once
// Every client-facing -ERR text, in one table. The texts are nats-server's, byte for
// byte, because clients match on them (see shared/reference/nats-wire.md §1.5).
#include <string>
#include <string_view>

namespace platform::protocol {

enum class err {
  // Close the connection.
  unknown_protocol_operation,
  authorization_violation,
  authentication_timeout,
  maximum_payload_violation,
  maximum_control_line_exceeded,
  invalid_client_protocol,
  no_responders_requires_headers,
  stale_connection,
  maximum_connections_exceeded,
  maximum_account_connections_exceeded,
  user_authentication_expired,
  account_authentication_expired,
  user_authentication_revoked,
  // Dialtone's own (nats-server closes silently in these cases; we say why).
  invalid_connect_json,
  headers_not_supported,
  // Keep the connection open.
  invalid_subject,
  invalid_publish_subject,
  maximum_subscriptions_exceeded,
};

constexpr std::string_view text(err e) noexcept {
  switch (e) {
    case err::unknown_protocol_operation: return "Unknown Protocol Operation";
    case err::authorization_violation: return "Authorization Violation";
    case err::authentication_timeout: return "Authentication Timeout";
    case err::maximum_payload_violation: return "Maximum Payload Violation";
    case err::maximum_control_line_exceeded: return "maximum control line exceeded";
    case err::invalid_client_protocol: return "invalid client protocol";
    case err::no_responders_requires_headers: return "no responders requires headers support";
    case err::stale_connection: return "Stale Connection";
    case err::maximum_connections_exceeded: return "maximum connections exceeded";
    case err::maximum_account_connections_exceeded:
      return "maximum account active connections exceeded";
    case err::user_authentication_expired: return "User Authentication Expired";
    case err::account_authentication_expired: return "Account Authentication Expired";
    case err::user_authentication_revoked: return "User Authentication Revoked";
    case err::invalid_connect_json: return "Invalid CONNECT JSON";
    case err::headers_not_supported: return "message headers not supported";
    case err::invalid_subject: return "Invalid Subject";
    case err::invalid_publish_subject: return "Invalid Publish Subject";
    case err::maximum_subscriptions_exceeded: return "maximum subscriptions exceeded";
  }
  return "Unknown Protocol Operation";
}

// "-ERR '<text>'\r\n"
inline std::string err_line(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 9);
  s.append("-ERR '").append(text).append("'\r\n");
  return s;
}

// Permission errors carry a subject and keep the connection open.
inline std::string permissions_publish(std::string_view subj) {
  return "Permissions Violation for Publish to \"" + std::string(subj) + "\"";
}
inline std::string permissions_reply(std::string_view reply) {
  return "Permissions Violation for Publish with Reply of \"" + std::string(reply) + "\"";
}
inline std::string permissions_subscribe(std::string_view subj) {  // NOLINT
  return "Permissions Violation for Subscription to \"" + std::string(subj) + "\"";
}
inline std::string permissions_subscribe_queue(std::string_view subj, std::string_view queue) {
  return "Permissions Violation for Subscription to \"" + std::string(subj) + "\" using queue \"" +
         std::string(queue) + "\"";
}

}  // namespace platform::protocol
