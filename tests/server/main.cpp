// The integration test runner: Catch2, plus a check that every server the tests started
// also stopped cleanly (exit 0 on SIGTERM; a sanitizer report at exit is a failure).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>

#include "server_process.hpp"

int main(int argc, char* argv[]) {
  int failed = Catch::Session().run(argc, argv);
  if (int bad = testing_support::bad_server_exits()) {
    std::fprintf(stderr, "%d dialtone-server process(es) did not exit cleanly\n", bad);
    return failed ? failed : 1;
  }
  return failed;
}
