#!/usr/bin/env bash
# Entry point for `make bench`: dialtone-server vs nats-server, side by side.
# All options are run.py's (bench/run.sh --help). run.py stops both servers on
# exit, Ctrl-C, SIGTERM and SIGHUP, and the servers also get SIGTERM if it dies.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DIALTONE_BENCH_INVOKED_AS="${DIALTONE_BENCH_INVOKED_AS:-$0}"
exec python3 "$here/run.py" "$@"
