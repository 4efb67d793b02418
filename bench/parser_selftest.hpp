// Self-check of the load generator's inbound parser (no server needed).
#pragma once

namespace dialtone::bench {

// Prints failures to stderr; returns 0 when every check passed.
int run_parser_selftest();

} // namespace dialtone::bench
