#!/usr/bin/env python3
"""Regenerates apps/dialtone-server/code-order.txt: the order in which lld lays out
dialtone-server's functions (see DIALTONE_CODE_ORDER in CMakeLists.txt).

The server runs under valgrind's callgrind on a fresh store: first its start (JetStream
on), then a workload of the bench tools (core publish, fan-out, requests, SUB/UNSUB,
KV puts, gets and watches, stream publishes sync and pipelined). The list names every
function of the binary that ran: those of the start first (they run once and then sit
in memory), then the rest, the most expensive first (the hot path packed together).
Functions that never ran go after all of them, so pages of code the server never
touches are not mapped: `idle RSS after start with -js` in BENCHMARKS.md.

Usage: scripts/code-order.py [--build build] [--out apps/dialtone-server/code-order.txt]
Needs valgrind (scripts/install-deps.sh --bench) and a release build with the bench
tools. Takes under a minute (the server runs 20-50x slower under callgrind).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(path, binary):
    """Functions of `binary` in a callgrind dump: {mangled name: self cost}."""
    names, objects, cost = {}, {}, {}
    current_ob, current_fn, skip_next = None, None, False
    pat = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = pat.match(line)
            if m:
                kind, ident, name = m.groups()
                table = objects if kind.endswith("ob") else names
                if name:
                    table[ident] = name
                if kind == "ob":
                    current_ob = objects.get(ident)
                elif kind == "fn":
                    current_fn = None
                    if current_ob and os.path.basename(current_ob) == binary:
                        current_fn = names[ident].split("'")[0]  # callgrind's "'2" recursion suffix
                        cost.setdefault(current_fn, 0)
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            if line and (line[0].isdigit() or line[0] in "+-*"):
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if current_fn and len(parts) >= 2 and parts[1].isdigit():
                    cost[current_fn] += int(parts[1])
    return cost


def run(cmd, check=True):
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    if check and r.returncode != 0:
        sys.exit(f"code-order: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "apps", "dialtone-server", "code-order.txt"))
    ap.add_argument("--port", type=int, default=4290)
    args = ap.parse_args()

    server = os.path.join(args.build, "dialtone-server")
    jsbench = os.path.join(args.build, "bench", "dialtone-jsbench")
    loadgen = os.path.join(args.build, "bench", "dialtone-loadgen")
    cli = os.path.join(args.build, "dialtone")
    for tool in (server, jsbench, loadgen, cli):
        if not os.access(tool, os.X_OK):
            sys.exit(f"code-order: {tool} missing: build first (make build)")
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("code-order: valgrind missing: scripts/install-deps.sh --bench")

    work = tempfile.mkdtemp(prefix="dialtone-code-order-")
    out_base = os.path.join(work, "callgrind.out")
    log = open(os.path.join(work, "server.log"), "w")
    port = str(args.port)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out_base}", server,
         "-a", "127.0.0.1", "-p", port, "-js", "-sd", os.path.join(work, "store")],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while "Server is ready" not in open(log.name).read():
            if proc.poll() is not None or time.time() > deadline:
                sys.exit(f"code-order: the server did not start (see {log.name})")
            time.sleep(0.5)
        time.sleep(2)
        run(["callgrind_control", "-d", str(proc.pid)], check=False)  # part 1: the start

        url = ["-s", f"127.0.0.1:{port}"]
        common = ["--port", port, "--timeout", "300"]
        for scenario in (["pub", "--msgs", "20000"], ["pubsub", "--msgs", "20000"],
                         ["fanout", "--msgs", "5000"], ["req", "--msgs", "2000"], ["lat", "--msgs", "300"],
                         ["subunsub", "--ops", "2000", "--ops-small", "200"]):
            run([loadgen, *scenario, *common])
        # Each jsbench scenario makes bucket "bench" or stream "BENCH" and wants it new.
        for scenario in (["kvput", "--msgs", "300"], ["kvputa", "--msgs", "3000"],
                         ["kvget", "--msgs", "300", "--keys", "100"], ["kvwatch", "--msgs", "2000"],
                         ["rawkvputa", "--msgs", "3000"], ["jspub", "--msgs", "300"],
                         ["jspuba", "--msgs", "3000", "--size", "1024"], ["rawjspuba", "--msgs", "3000"]):
            run([jsbench, *scenario, *common])
            run([cli, *url, "kv", "rm", "-f", "bench"], check=False)
            run([cli, *url, "stream", "rm", "-f", "BENCH"], check=False)
        time.sleep(3)  # the idle release (2 s without a write)
        run(["callgrind_control", "-d", str(proc.pid)], check=False)  # part 2: the workload
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    binary = os.path.basename(server)
    start = parse(out_base + ".1", binary)
    workload = parse(out_base + ".2", binary)
    order = [fn for fn, c in start.items() if c > 0]
    seen = set(order)
    order += [fn for fn, c in sorted(workload.items(), key=lambda kv: -kv[1]) if c > 0 and fn not in seen]
    with open(args.out, "w") as f:
        f.write("\n".join(order) + "\n")
    print(f"code-order: {len(start)} functions ran in the start, {len(order)} in all: {args.out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
