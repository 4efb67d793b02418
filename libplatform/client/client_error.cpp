#include "libplatform/client/client_error.hpp"

namespace platform::client {

std::string_view describe(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::invalid_url: return "invalid server URL";
    case errc::invalid_argument: return "invalid argument";
    case errc::not_connected: return "not connected";
    case errc::already_connected: return "connection already used";
    case errc::resolve_failed: return "cannot resolve host";
    case errc::connection_refused: return "connection refused";
    case errc::connect_failed: return "connect failed";
    case errc::timeout: return "timeout";
    case errc::tls_required: return "server requires TLS, which this client does not support";
    case errc::authorization_violation: return "authorization violation";
    case errc::server_error: return "server error";
    case errc::protocol_error: return "protocol error";
    case errc::connection_closed: return "connection closed";
    case errc::no_responders: return "no responders";
    case errc::payload_too_large: return "payload exceeds the server's max_payload";
    case errc::would_deadlock: return "blocking call from the callback thread would deadlock";
    case errc::io_error: return "i/o error";
    case errc::callback_failed: return "message callback threw";
  }
  return "unknown error";
}

}  // namespace platform::client
