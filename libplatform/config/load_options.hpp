#pragma once
// Gives the keys of a parsed nats-server config their meaning by filling
// server_options. Called once by main() before the server starts; no shared state.
//
// Understood (names ignore case, as in nats-server):
//   listen ("host:port", ":port", "[::1]:port" or a port number), host / net, port,
//   server_name, max_payload, max_control_line, max_connections / max_conn,
//   max_pending, ping_interval, ping_max, write_deadline, authorization.timeout,
//   debug, trace, logfile / log_file, store_dir / storedir, jetstream.store_dir.
// Durations are Go duration strings ("30s"); a bare integer means seconds and adds a
// warning, as nats-server does. A zero port, size or ping setting keeps the default
// (nats-server's baseline does the same); max_connections 0 becomes -1, which
// nats-server reads as "accept no client connections".
//
// Keys of nats-server features dialtone does not implement yet (accounts, cluster,
// tls, jetstream limits, ...) are accepted and ignored. Other keys add
// "file:line: unknown config key 'xyz'" to opts.warnings, unless a $variable
// referred to them (then they are variable definitions, as in nats-server).
// A value of the wrong type or range throws parse_error at the value, e.g.
// "test.conf:2:8: port must be an integer".
#include <string>

#include "libplatform/config/conf_parser.hpp"
#include "libplatform/config/server_options.hpp"

namespace platform::config {

void load_options(const value& root, server_options& opts);

}  // namespace platform::config
