#!/usr/bin/env python3
"""Regenerates apps/dialtone-server/code-order.txt: the order in which lld lays out
dialtone-server's functions (see DIALTONE_CODE_ORDER in CMakeLists.txt).

The server runs under valgrind's callgrind on a fresh store: first its start (JetStream
on), then the first stream (a KV bucket: an empty store opens then), then a workload of
the bench tools (core publish, fan-out, requests, SUB/UNSUB, KV puts, gets and watches,
stream publishes sync and pipelined). The list names every function of the binary that
ran: those of the start first (they run once and then sit in memory), then those that
opened the store, then the rest, the most expensive first (the hot path packed
together). Functions that never ran go after all of them, so pages of code the server
never touches are not mapped: `idle RSS after start with -js` in BENCHMARKS.md.

lld orders input sections, not functions. Debian's librocksdb.a is built without
per-function sections, so naming one RocksDB function moves its whole object's code.
Worse, a local function (a `.isra.0` or `.constprop.0` clone, `__tls_init`) has the same
name in every object that made one, and lld moves every object holding that name. The
link map (dialtone-server.map, written by each release link) shows which sections hold
each name, and the trace's instruction addresses which copy ran: such a name is replaced
by a name only that copy's section holds (when one of the sections is 4 KiB or more), so
only the objects whose copy ran move (BENCHMARKS.md run 28).

Usage: scripts/code-order.py [--build build] [--out apps/dialtone-server/code-order.txt]
                             [--keep] [--dumps DIR]  (keep the traces; reuse those kept in DIR,
                             with the build they were traced from: their addresses are its)
Needs valgrind (scripts/install-deps.sh --bench) and a release build with the bench
tools. Takes under a minute (the server runs 20-50x slower under callgrind).
"""
import argparse
import bisect
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
    """Functions of `binary` in a callgrind dump (--dump-instr=yes --dump-line=no):
    {mangled name: self cost} and {mangled name: addresses of instructions that ran}."""
    names, objects, cost, where = {}, {}, {}, {}
    current_ob, current_fn, skip_next, address = None, None, False, 0
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
                        where.setdefault(current_fn, set())
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            if line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                position = parts[0]  # absolute (0x...), relative (+n, -n) or the same (*)
                if position[0] == "+":
                    address += int(position[1:], 0)
                elif position[0] == "-":
                    address -= int(position[1:], 0)
                elif position != "*":
                    address = int(position, 0)
                if skip_next:
                    skip_next = False
                    continue
                if current_fn and len(parts) >= 2 and parts[1].isdigit():
                    cost[current_fn] += int(parts[1])
                    where[current_fn].add(address)
    return cost, where


def text_sections(map_path):
    """The .text input sections of an lld link map: [(size, [symbol names])], their start
    addresses (ascending) and {symbol name: address}."""
    out_re = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+ (\S+)$")
    in_re = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ {9}\S")
    sym_re = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+ {17}(\S+)$")
    sections, starts, symbols, in_text = [], [], {}, False
    with open(map_path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = out_re.match(line)
            if m:
                in_text = m.group(1) == ".text"
                continue
            if not in_text:
                continue
            m = in_re.match(line)
            if m:
                starts.append(int(m.group(1), 16))
                sections.append((int(m.group(2), 16), []))
                continue
            m = sym_re.match(line)
            if m and sections:
                sections[-1][1].append(m.group(2))
                symbols.setdefault(m.group(2), int(m.group(1), 16))
    return sections, starts, symbols


def resolve_ambiguous(phases, sections, ran, small=4096):
    """The names of `phases` (lists of names in the order wanted, one per phase of the
    trace) as lld should get them. A name several sections hold, one of them large, is
    replaced by an unambiguous name of each section whose copy ran in that phase
    (`ran`: per phase, {name: section indexes}), so only those sections move.
    Returns the list and the number of names replaced."""
    holders = {}
    for index, (size, names) in enumerate(sections):
        for name in names:
            holders.setdefault(name, []).append(index)
    order, seen, replaced = [], set(), 0

    def add(name):
        if name not in seen:
            seen.add(name)
            order.append(name)

    for phase, names in enumerate(phases):
        for name in names:
            where = holders.get(name, [])
            if len(where) < 2 or all(sections[i][0] < small for i in where):
                add(name)
                continue
            stand_ins = []
            for i in sorted(ran[phase].get(name, ())):
                unique = [n for n in sections[i][1] if len(holders.get(n, [])) == 1]
                stand_ins.append(unique[0] if unique else None)
            if not stand_ins or None in stand_ins:
                add(name)  # no copy known to have run, or one no other name can bring
                continue
            replaced += 1
            for stand_in in stand_ins:
                add(stand_in)
    return order, replaced


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
    ap.add_argument("--keep", action="store_true", help="keep the traces (for --dumps)")
    ap.add_argument("--dumps", help="a directory with the traces of an earlier run made with --keep "
                                    "(of the same build: the link map must be the traced binary's)")
    args = ap.parse_args()

    server = os.path.join(args.build, "dialtone-server")
    jsbench = os.path.join(args.build, "bench", "dialtone-jsbench")
    loadgen = os.path.join(args.build, "bench", "dialtone-loadgen")
    cli = os.path.join(args.build, "dialtone")
    link_map = os.path.join(args.build, "dialtone-server.map")
    for tool in (server, jsbench, loadgen, cli, link_map):
        if not os.access(tool, os.R_OK):
            sys.exit(f"code-order: {tool} missing: build first (make build)")
    if args.dumps:
        out_base = os.path.join(args.dumps, "callgrind.out")
        write_order(args, out_base, os.path.basename(server), link_map)
        return
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("code-order: valgrind missing: scripts/install-deps.sh --bench")

    work = tempfile.mkdtemp(prefix="dialtone-code-order-")
    out_base = os.path.join(work, "callgrind.out")
    log = open(os.path.join(work, "server.log"), "w")
    port = str(args.port)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", "--dump-instr=yes", "--dump-line=no",
         f"--callgrind-out-file={out_base}", server,
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
        # The first stream opens the store (an empty store opens then, not at start).
        run([cli, *url, "kv", "add", "code-order"])
        time.sleep(1)
        run(["callgrind_control", "-d", str(proc.pid)], check=False)  # part 2: the store opens
        run([cli, *url, "kv", "rm", "-f", "code-order"], check=False)
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
        run(["callgrind_control", "-d", str(proc.pid)], check=False)  # part 3: the workload
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    write_order(args, out_base, os.path.basename(server), link_map)
    if args.keep:
        print(f"code-order: traces kept in {work} (--dumps {work} reuses them)")
    else:
        shutil.rmtree(work, ignore_errors=True)


def write_order(args, out_base, binary, link_map):
    sections, starts, symbols = text_sections(link_map)
    start, start_at = parse(out_base + ".1", binary)
    opening, opening_at = parse(out_base + ".2", binary)
    workload, workload_at = parse(out_base + ".3", binary)
    # Callgrind shows the position-independent executable where valgrind loaded it; the
    # first instruction of main (it ran) tells how far that is from the link address.
    if not start_at.get("main") or "main" not in symbols:
        sys.exit("code-order: main is missing from the trace or the link map")
    bias = min(start_at["main"]) - symbols["main"]
    ran = []  # per phase: {name: indexes of the sections whose copy of it ran}
    for at in (start_at, opening_at, workload_at):
        ran.append({})
        for name, addresses in at.items():
            for a in addresses:
                i = bisect.bisect_right(starts, a - bias) - 1
                if 0 <= i and a - bias < starts[i] + sections[i][0]:
                    ran[-1].setdefault(name, set()).add(i)
    first = [fn for fn, c in start.items() if c > 0]
    seen = set(first)
    opened = [fn for fn, c in opening.items() if c > 0 and fn not in seen]
    seen.update(opened)
    then = [fn for fn, c in sorted(workload.items(), key=lambda kv: -kv[1]) if c > 0 and fn not in seen]
    order, replaced = resolve_ambiguous([first, opened, then], sections, ran)
    with open(args.out, "w") as f:
        f.write("\n".join(order) + "\n")
    print(f"code-order: {len(first)} functions ran in the start, {len(opened)} more when the store opened, "
          f"{len(first) + len(opened) + len(then)} in all; "
          f"{replaced} names that several objects define stand for the copy that ran: {args.out}")


if __name__ == "__main__":
    main()
