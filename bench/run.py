#!/usr/bin/env python3
"""Benchmarks dialtone-server against nats-server in one run, side by side.

Starts both servers on free loopback ports, runs every dialtone-loadgen scenario
against each (server order alternating per round), takes the median per scenario
and prints one table; optionally writes it as Markdown for BENCHMARKS.md. The
JetStream scenarios (JS_KEYS) run dialtone-jsbench, which uses the official C
client libnats, each run on a freshly started server with -js and a new store dir.
Standard library only. See bench/README.md.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
DIALTONE, NATS = "dialtone", "nats-server"
BUSY_WARN = 0.15  # warn when the machine is busier than this before the run
# Before each run, wait (at most QUIET_LIMIT s) until neither server has used more than
# QUIET_CPU of a core over QUIET_WINDOW s: a server still freeing a million subscriptions
# or 10,000 connections from the previous run would otherwise steal CPU from the next.
QUIET_CPU, QUIET_WINDOW, QUIET_LIMIT = 0.10, 0.25, 10.0


class Figure:
    """One number a 'figures' scenario reports: a JSON field of the loadgen line.

    row: shown as a table row (else only on the samples lines); compare: the ratio
    column holds dialtone / nats-server (else '—', for figures that are ratios
    themselves); short: its name on the progress lines.
    """

    def __init__(self, field, label, fmt, row=True, compare=True, short=None, of=None):
        self.field, self.label, self.fmt = field, label, fmt
        self.row, self.compare, self.short = row, compare, short
        self.of = of  # another field: shown as 'field/of' (e.g. reports/requests)

    def show(self, res):
        """The figure of one loadgen result as text, or None if it has none."""
        v = res.get(self.field)
        if v is None:
            return None
        return self.fmt(v) + (f"/{self.fmt(res[self.of])}" if self.of and res.get(self.of) is not None else "")


class ServerConfig:
    """A configuration file both servers get (-c FILE) for the scenarios that name it.

    Written into the harness's temporary directory; `about` describes it in the report.
    `dialtone_only`: more text for dialtone-server alone (a feature nats-server does not
    have, such as request_log); then each server gets its own file. "{workdir}" in it
    becomes the harness's temporary directory.
    """

    def __init__(self, name, text, about, dialtone_only=""):
        self.name, self.text, self.about, self.dialtone_only = name, text, about, dialtone_only

    def path(self, workdir, server=None):
        if self.dialtone_only and server is not None:
            return os.path.join(workdir, f"{self.name}.{server}.conf")
        return os.path.join(workdir, self.name + ".conf")

    def text_for(self, workdir, server):
        extra = self.dialtone_only if server == DIALTONE else ""
        return substitute(self.text + extra, workdir)


# Keys, certificates and credentials of the security scenarios (prepare_security()),
# by placeholder name: "{sec}" in a config text or scenario argument is the directory
# holding them, "{nkey_pub}" the user's nkey, and so on.
SEC = {}


def substitute(text, workdir):
    """Fills "{workdir}" and the SEC placeholders (plain replacement: configs have braces)."""
    text = text.replace("{workdir}", workdir)
    for k, v in SEC.items():
        text = text.replace("{" + k + "}", v)
    return text


class Scenario:
    """One loadgen invocation.

    kind is 'rate' (higher is better), 'latency', or 'figures' (the rows are
    `figures`, read from the loadgen line). msgs None: no --msgs and no scaling.
    isolated: runs on a freshly started server, which is checked and restarted again
    afterwards, so neither earlier scenarios nor the state it leaves behind (a
    garbage-collected heap of a million subscriptions, say) skew another figure.
    pass_pid: the loadgen gets --server-pid to read the server's VmRSS or CPU time.
    config: a ServerConfig both servers must run with (else none); a server running
    with another one (or none) is restarted first. 'rate' scenarios may have figures
    too; with row=False they appear on the samples lines only.
    versus: (key, label) of an earlier 'rate' scenario: adds a ↳ row with each server's
    own rate(this) / rate(key), run by run (same round, same server), median over rounds.
    jetstream: runs dialtone-jsbench instead of the loadgen, on a server started just
    for this run with `-js -sd <new empty dir>`; afterwards the server is stopped and
    the directory removed.
    scale_flag: the option that gets `msgs` times --scale (at least min_msgs); default
    --msgs (the object-store scenarios scale --size instead).
    rate_fmt: how the rate is shown (default fmt_rate: 1.23M, 45.6k).
    """

    def __init__(self, key, label, args, msgs, kind="rate", min_msgs=1000, figures=(),
                 isolated=False, pass_pid=False, repeat=1, config=None, versus=None,
                 jetstream=False, scale_flag="--msgs", rate_fmt=None, tool=None):
        self.key, self.label, self.args, self.msgs = key, label, args, msgs
        self._tool = tool
        self.scale_flag = scale_flag
        self.rate_fmt = rate_fmt
        self.kind, self.min_msgs, self.figures = kind, min_msgs, list(figures)
        self.isolated, self.pass_pid = isolated, pass_pid
        self.config, self.versus = config, versus
        self.jetstream = jetstream
        # Runs per round, alternating the servers each time: a tail percentile of one
        # run swings with whatever else the machine does in those seconds, so latency
        # is sampled in shorter, interleaved runs and the median taken over all of them.
        self.repeat = repeat

    def show_rate(self, v):
        return (self.rate_fmt or fmt_rate)(v)

    @property
    def tool(self):
        return self._tool or ("jsbench" if self.jetstream else "loadgen")

    def command(self, tools, server, scale, timeout):
        cmd = [tools[self.tool]] + [substitute(a, server.logdir) for a in self.args]
        if self.msgs is not None:
            cmd += [self.scale_flag, str(max(self.min_msgs, int(self.msgs * scale)))]
        if self.pass_pid:
            cmd += ["--server-pid", str(server.proc.pid)]
        return cmd + ["--port", str(server.port), "--host", HOST, "--timeout", str(timeout)]


# Service imports: account A imports two services of account SVC; requests on
# svc.tracked are sampled for service latency at 100 %, the reports go to
# latency.svc in SVC.
SVC_ACCOUNTS = ServerConfig("svc-accounts", """\
accounts {
  SVC {
    users = [ {user: svc, password: svc} ]
    exports = [
      {service: "svc.plain"}
      {service: "svc.tracked", latency: {sampling: 100, subject: "latency.svc"}}
    ]
  }
  A {
    users = [ {user: a, password: a} ]
    imports = [
      {service: {account: SVC, subject: "svc.plain"}}
      {service: {account: SVC, subject: "svc.tracked"}}
    ]
  }
}
""", "accounts SVC (user svc) exporting svc.plain, and svc.tracked with latency "
     "{sampling: 100, subject: latency.svc}; A (user a) importing both")

# Request logging: requester and responder in account A. Dialtone records every request
# on svc.> (its own store under the harness directory); nats-server has no request log
# and runs the same accounts without it.
RLOG_ACCOUNTS = ServerConfig("rlog-accounts", """\
accounts {
  A { users = [ {user: a, password: a} ] }
}
""", "account A (user a); dialtone-server also records requests on svc.> of A: "
     "request_log { record: [{account: A, subjects: [\"svc.>\"]}] }, store_dir under the harness directory",
    dialtone_only="""\
store_dir: "{workdir}/rlog-store"
request_log {
  record: [ { account: A, subjects: ["svc.>"] } ]
}
""")
RLOG_UNLIMITED = ServerConfig("rlog-unlimited", RLOG_ACCOUNTS.text,
                              "as rlogon, with the recorder's CPU budget lifted: request_log { max_cpu: 1 }",
                              dialtone_only=RLOG_ACCOUNTS.dialtone_only.replace(
                                  'subjects: ["svc.>"] } ]', 'subjects: ["svc.>"] } ]\n  max_cpu: 1'))
RLOG_PLAIN = ServerConfig("rlog-plain", """\
accounts {
  A { users = [ {user: a, password: a} ] }
}
""", "account A (user a), nothing recorded")

# Both runs have the same connections (requester, responder, and a subscriber to the
# record feed, which gets nothing without recording): which I/O loop each connection
# lands on changes these rates by up to 2x on two cores, so the topology must match.
RLOG_ARGS = ["req", "--responders", "1", "--window", "256", "--size", "16", "--user", "a", "--pass", "a",
             "--subject", "svc.orders", "--feed-subject", "$RLOG.EVENTS.svc.orders"]

# Requester in A, one responder in SVC; the same window and payload as req1.
SVC_ARGS = ["req", "--responders", "1", "--window", "256", "--size", "16",
            "--user", "a", "--pass", "a", "--responder-user", "svc", "--responder-pass", "svc"]

def rlog_scenario(key, label, config, kept_label, records_label):
    """Request/reply with recording on (config), against rlogoff: the rate kept, and the
    records the recorder wrote and published per second (from the feed subscriber)."""
    return Scenario(key, label, RLOG_ARGS, 200_000, config=config, versus=("rlogoff", kept_label),
                    figures=[
                        Figure("feed_msgs", "records published on $RLOG.EVENTS / requests", lambda v: f"{v:.0f}",
                               row=False, short="records", of="requests"),
                        Figure("feed_lag_seconds", "last record after last reply (s)", lambda v: f"{v:.3f}",
                               row=False),
                        Figure("feed_per_second", records_label, lambda v: fmt_rate(v), compare=False),
                    ])


SCENARIOS = [
    Scenario("pub16", "pub-only 16 B (msgs/s)", ["pub", "--size", "16"], 5_000_000),
    Scenario("pubsub16", "pub/sub 1→1 16 B (msgs/s)", ["pubsub", "--subs", "1", "--size", "16"], 2_000_000),
    Scenario("pubsub1k", "pub/sub 1→1 1 KiB (msgs/s)", ["pubsub", "--subs", "1", "--size", "1024"], 500_000),
    Scenario("fanout16", "fan-out 1→4 16 B (delivered msgs/s)", ["pubsub", "--subs", "4", "--size", "16"], 1_000_000),
    Scenario("req1", "req/reply 1 responder, window 256 (req/s)",
             ["req", "--responders", "1", "--window", "256", "--size", "16"], 200_000),
    Scenario("req4", "req/reply 4 responders (queue), window 256 (req/s)",
             ["req", "--responders", "4", "--window", "256", "--size", "16"], 200_000),
    Scenario("lat1", "req/reply latency, 1 responder", ["lat", "--responders", "1", "--size", "16"],
             10_000, kind="latency", min_msgs=2000, repeat=4),
    Scenario("lat4", "req/reply latency, 4 responders (queue)", ["lat", "--responders", "4", "--size", "16"],
             10_000, kind="latency", min_msgs=2000, repeat=4),
    Scenario("svcimp", "req/reply via service import, window 256 (req/s)",
             SVC_ARGS + ["--subject", "svc.plain"], 200_000, config=SVC_ACCOUNTS),
    Scenario("svclat", "req/reply via service import, latency tracked 100% (req/s)",
             SVC_ARGS + ["--subject", "svc.tracked", "--latency-subject", "latency.svc"], 200_000,
             config=SVC_ACCOUNTS,
             versus=("svcimp", "  ↳ tracking kept: tracked / plain, target ≥ 0.90"),
             figures=[
                 Figure("latency_reports", "latency reports received / requests", lambda v: f"{v:.0f}",
                        row=False, short="reports", of="requests"),
                 Figure("reports_lag_seconds", "last report after last reply (s)", lambda v: f"{v:.3f}",
                        row=False),
             ]),
    Scenario("rlogoff", "req/reply in an account, window 256 (req/s)", RLOG_ARGS, 200_000, config=RLOG_PLAIN),
    rlog_scenario("rlogon", "req/reply in an account, every request recorded (req/s)", RLOG_ACCOUNTS,
                  "  ↳ recording kept: recorded / plain, target ≥ 0.90 (nats-server: none)",
                  "  ↳ recorder: records written and published (records/s)"),
    rlog_scenario("rlogmax", "req/reply in an account, recorded, recorder without CPU budget (req/s)",
                  RLOG_UNLIMITED, "  ↳ kept without the budget: recorded / plain (nats-server: none)",
                  "  ↳ recorder without budget: records written and published (records/s)"),
    # The scaling scenarios: their connection and subscription counts define them and
    # are not scaled.
    Scenario("idle10k", "10k idle connections, 10 subs each",
             ["idle", "--conns", "10000", "--subs-per-conn", "10"], None, kind="figures",
             isolated=True, pass_pid=True, figures=[
                 Figure("rss_kib", "RSS, 10k idle conns + 100k subs (MiB)", lambda v: fmt_mib(v),
                        short="RSS MiB"),
                 Figure("kib_per_conn", "RSS growth over the fresh server, per connection (KiB)",
                        lambda v: f"{v:.1f}", row=False),
                 Figure("setup_seconds", "open + subscribe all 10k (s)", lambda v: f"{v:.2f}", row=False),
                 Figure("rss_after_close_kib", "RSS 1 s after closing them all (MiB)", lambda v: fmt_mib(v),
                        row=False),
             ]),
    Scenario("index1m", "pub/sub 1→1 16 B with other subs in the index",
             ["index", "--size", "16", "--noise-small", "10", "--noise", "1000000"], 5_000_000,
             kind="figures", isolated=True, pass_pid=True, figures=[
                 Figure("rate_small", "pub/sub 1→1 16 B, index +10 other subs (msgs/s)", lambda v: fmt_rate(v),
                        short="10"),
                 Figure("rate_large", "pub/sub 1→1 16 B, index +1M other subs (msgs/s)", lambda v: fmt_rate(v),
                        short="1M"),
                 Figure("kept", "  ↳ kept with 1M subs: rate(1M) / rate(10), target ≥ 0.90",
                        lambda v: f"{v:.2f}", compare=False, short="kept"),
                 Figure("server_cpu_ns_small", "server CPU per message, 10 other subs (ns)",
                        lambda v: f"{v:.0f}", row=False),
                 Figure("server_cpu_ns_large", "server CPU per message, 1M other subs (ns)",
                        lambda v: f"{v:.0f}", row=False),
                 Figure("cpu_kept", "kept by server CPU per message: cpu(10) / cpu(1M)",
                        lambda v: f"{v:.2f}", row=False, compare=False),
                 Figure("noise_subs_per_s", "1M other SUBs, pipelined (subs/s)", lambda v: fmt_rate(v), row=False),
             ]),
    Scenario("subunsub", "SUB then UNSUB distinct subjects, one connection",
             ["subunsub", "--ops-small", "10000", "--ops", "100000", "--reps", "10"], None, kind="figures",
             figures=[
                 Figure("sub_us_small", "SUB 10k distinct subjects, pipelined (µs/op)", lambda v: fmt_us_op(v),
                        short="SUB 10k"),
                 Figure("sub_us_large", "SUB 100k distinct subjects, pipelined (µs/op)", lambda v: fmt_us_op(v),
                        short="100k"),
                 Figure("sub_growth", "  ↳ SUB growth: time(100k) / time(10k), linear < 12.5",
                        lambda v: f"{v:.1f}", compare=False, short="growth"),
                 Figure("unsub_us_small", "UNSUB those 10k (µs/op)", lambda v: fmt_us_op(v), short="UNSUB 10k"),
                 Figure("unsub_us_large", "UNSUB those 100k (µs/op)", lambda v: fmt_us_op(v), short="100k"),
                 Figure("unsub_growth", "  ↳ UNSUB growth: time(100k) / time(10k), linear < 12.5",
                        lambda v: f"{v:.1f}", compare=False, short="growth"),
             ]),
]


# The JetStream rows read the server's RSS again this long after the run: what a burst
# leaves behind once the server is idle (dialtone writes its memtables out after 2 s
# without a store write and gives the memory back; see kv/README.md).
SETTLE_S = 3.0


def js_scenario(key, label, args, msgs, sync, extra=(), publish_rate=True):
    """A JetStream scenario: dialtone-jsbench through libnats, on a fresh -js server.

    Rows: the rate, then the server's VmRSS at the end of the run and SETTLE_S later. On the samples
    lines: the server's CPU time per operation, and per-call p50/p99 (sync) or the
    publishing rate (async; kvwatch: the putter's rate up to its last ack).
    """
    figures = [Figure("rss_kib", "  server RSS at the end of the run (MiB)", lambda v: fmt_mib(v),
                      short="RSS MiB"),
               Figure("rss_settled_kib", f"  server RSS {SETTLE_S:g} s after the run (MiB)", lambda v: fmt_mib(v),
                      short="settled MiB")]
    figures.append(Figure("server_cpu_us_per_op", "server CPU per operation (µs)",
                          lambda v: f"{v:.1f}", row=False))
    if sync:
        figures += [Figure("p50_us", "p50 per call (µs)", lambda v: fmt_us(v), row=False),
                    Figure("p99_us", "p99 per call (µs)", lambda v: fmt_us(v), row=False)]
    elif publish_rate:
        figures.append(Figure("publish_rate", "publishing rate, up to the last publish call (msgs/s)"
                              if key != "kvwatch" else "put rate, up to the last put's ack (ops/s)",
                              lambda v: fmt_rate(v), row=False))
    return Scenario(key, label, args, msgs, pass_pid=True, jetstream=True, figures=figures + list(extra))


# JetStream and key-value through libnats (dialtone-jsbench). KV: bucket "bench",
# history 1, file storage, keys k0..k999. Streams: "BENCH" on subject bench.js, file
# storage, no limits. Every run starts from an empty store.
JS_SCENARIOS = [
    js_scenario("kvput", "KV put, sync (kvStore_Put), 16 B over 1000 keys (ops/s)",
                ["kvput", "--size", "16", "--keys", "1000"], 20_000, sync=True),
    js_scenario("kvputa", "KV put, async (js_PublishAsync to $KV.bench.<key>), 1000 in flight, 16 B (ops/s)",
                ["kvputa", "--size", "16", "--keys", "1000", "--window", "1000"], 100_000, sync=False),
    js_scenario("kvget", "KV get, sync (kvStore_Get), 1000 keys prefilled (ops/s)",
                ["kvget", "--size", "16", "--keys", "1000"], 20_000, sync=True),
    js_scenario("kvwatch", "KV watch (kvStore_WatchAll), async puts 1000 in flight (updates/s)",
                ["kvwatch", "--size", "16", "--keys", "1000", "--window", "1000"], 100_000, sync=False,
                extra=[Figure("skipped", "revisions overwritten before the watcher got them (KV semantics)",
                              lambda v: f"{v:.0f}", row=False)]),
    js_scenario("jspub16", "JS publish, sync (js_Publish), 16 B (msgs/s)",
                ["jspub", "--size", "16"], 20_000, sync=True),
    js_scenario("jspub1k", "JS publish, sync (js_Publish), 1 KiB (msgs/s)",
                ["jspub", "--size", "1024"], 20_000, sync=True),
    js_scenario("jspuba16", "JS publish, async (js_PublishAsync), 4096 in flight, 16 B (msgs/s)",
                ["jspuba", "--size", "16", "--window", "4096"], 200_000, sync=False),
    js_scenario("jspuba1k", "JS publish, async (js_PublishAsync), 4096 in flight, 1 KiB (msgs/s)",
                ["jspuba", "--size", "1024", "--window", "4096"], 100_000, sync=False),
    # The pipelined ones again with a raw-socket publisher (PUB with a reply subject,
    # every ack checked): what the server does when libnats' own per-message work is
    # not what sets the rate.
    js_scenario("rkvputa", "KV put, raw publisher, 1000 in flight, 16 B over 1000 keys (ops/s)",
                ["rawkvputa", "--size", "16", "--keys", "1000", "--window", "1000"], 200_000, sync=False,
                publish_rate=False),
    js_scenario("rjspuba16", "JS publish, raw publisher, 4096 in flight, 16 B (msgs/s)",
                ["rawjspuba", "--size", "16", "--window", "4096"], 300_000, sync=False, publish_rate=False),
    js_scenario("rjspuba1k", "JS publish, raw publisher, 4096 in flight, 1 KiB (msgs/s)",
                ["rawjspuba", "--size", "1024", "--window", "4096"], 200_000, sync=False, publish_rate=False),
]
JS_KEYS = [sc.key for sc in JS_SCENARIOS]
SCENARIOS += JS_SCENARIOS


# Security (dialtone-secbench, libnats clients): TLS with a test CA (P-256 keys), an
# nkey user, and operator mode with a MEMORY resolver (user creds made with `dialtone
# jwt`). Both servers get the same files.
TLS_CONF = ServerConfig("tls", """\
tls { cert_file: "{sec}/server.pem", key_file: "{sec}/server-key.pem" }
""", "TLS on every client connection: server certificate {sec}/server.pem (P-256, signed by a test CA)")
NKEY_CONF = ServerConfig("nkey", """\
authorization { users = [ { nkey: {nkey_pub} } ] }
""", "one nkey user (nonce signed with Ed25519 at every login)")
JWT_CONF = ServerConfig("jwt", """\
operator: {op_jwt}
system_account: {sys}
resolver: MEMORY
resolver_preload { {sys}: {sys_jwt}, {acc}: {acc_jwt} }
""", "operator mode: operator, system account and account A as JWTs (MEMORY resolver); the user logs in "
     "with a .creds file (user JWT signed by A, nonce signed with its seed)")
TLS_CA = ["--tls-ca", "{sec}/ca.pem"]
LOGIN_RETRIES = [Figure("retries", "refused logins tried again (a libnats 3.4 slip, both servers)",
                        lambda v: f"{v:.0f}", row=False, compare=False)]
SEC_SCENARIOS = [
    # The server over TLS, with the raw load generator (OpenSSL on its side): what the
    # server does, where libnats' own per-message cost would otherwise set both rates.
    Scenario("rtlspub16", "TLS pub/sub 1→1 16 B, raw loadgen (msgs/s)", ["pubsub", "--subs", "1", "--size", "16"] + TLS_CA,
             2_000_000, config=TLS_CONF),
    Scenario("rtlspub1k", "TLS pub/sub 1→1 1 KiB, raw loadgen (msgs/s)", ["pubsub", "--subs", "1", "--size", "1024"] + TLS_CA,
             500_000, config=TLS_CONF),
    Scenario("rtlsreq", "TLS req/reply 1 responder, window 256, raw loadgen (req/s)",
             ["req", "--responders", "1", "--window", "256", "--size", "16"] + TLS_CA, 200_000, config=TLS_CONF),
    Scenario("tlspub16", "TLS pub/sub 1→1 16 B, libnats (msgs/s)", ["tlspubsub", "--size", "16"] + TLS_CA,
             1_000_000, config=TLS_CONF, tool="secbench"),
    Scenario("tlspub1k", "TLS pub/sub 1→1 1 KiB, libnats (msgs/s)", ["tlspubsub", "--size", "1024"] + TLS_CA,
             300_000, config=TLS_CONF, tool="secbench"),
    Scenario("tlsreq", "TLS req/reply, window 256, libnats (req/s)", ["tlsreq", "--window", "256", "--size", "16"] + TLS_CA,
             200_000, config=TLS_CONF, tool="secbench"),
    Scenario("logintls", "logins/s over TLS (handshake + CONNECT + PING), 4 threads",
             ["login", "--threads", "4"] + TLS_CA, 2_000, config=TLS_CONF, tool="secbench"),
    Scenario("loginnkey", "logins/s with an nkey, 4 threads",
             ["login", "--threads", "4", "--nkey-seed", "{sec}/user.nk", "--nkey-pub", "{nkey_pub}"], 10_000,
             config=NKEY_CONF, tool="secbench", figures=LOGIN_RETRIES),
    Scenario("rawnkey", "logins/s with an nkey, plain sockets, client signs with libsodium, 4 threads",
             ["rawlogin", "--threads", "4", "--nkey-seed", "{sec}/user.nk"], 20_000, config=NKEY_CONF,
             tool="secbench"),
    Scenario("rawjwt", "logins/s with JWT creds, plain sockets, client signs with libsodium, 4 threads",
             ["rawlogin", "--threads", "4", "--creds", "{sec}/user.creds"], 20_000, config=JWT_CONF,
             tool="secbench"),
    Scenario("loginjwt", "logins/s with JWT creds (operator mode), 4 threads",
             ["login", "--threads", "4", "--creds", "{sec}/user.creds"], 10_000, config=JWT_CONF, tool="secbench",
             figures=LOGIN_RETRIES),
]
SEC_KEYS = [sc.key for sc in SEC_SCENARIOS]
SCENARIOS += SEC_SCENARIOS


def prepare_security(workdir):
    """Makes the CA, server certificate, nkey and operator-mode credentials into
    <workdir>/sec with openssl and the dialtone CLI; fills SEC."""
    d = os.path.join(workdir, "sec")
    os.makedirs(d, exist_ok=True)
    cli = os.path.join(REPO, "build", "dialtone")
    if not os.access(cli, os.X_OK):
        sys.exit("run.py: the security scenarios need the dialtone CLI (build/dialtone); run make first")

    def run(*cmd):
        return subprocess.run(list(cmd), check=True, capture_output=True, text=True, cwd=d).stdout

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=Dialtone Bench CA", "-keyout", "ca-key.pem",
        "-out", "ca.pem")
    run("openssl", "req", *ec, "-subj", "/CN=localhost", "-keyout", "server-key.pem", "-out", "server.csr")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.pem")

    def key(kind, name):
        return run(cli, "nkey", "gen", kind, "-o", name).strip().splitlines()[-1]

    def jwt(*args):
        return [l for l in run(cli, "jwt", *args).splitlines() if l.startswith("eyJ")][0]

    SEC["sec"] = d
    SEC["nkey_pub"] = key("user", "user.nk")
    key("operator", "op.nk")
    SEC["sys"] = key("account", "sys.nk")
    SEC["acc"] = key("account", "acc.nk")
    key("user", "jwtuser.nk")
    SEC["op_jwt"] = jwt("operator", "--name", "bench", "--key", "op.nk", "--system-account", SEC["sys"])
    SEC["sys_jwt"] = jwt("account", "--name", "SYS", "--key", "sys.nk", "--operator-key", "op.nk")
    SEC["acc_jwt"] = jwt("account", "--name", "A", "--key", "acc.nk", "--operator-key", "op.nk")
    jwt("user", "--name", "bench", "--key", "jwtuser.nk", "--account-key", "acc.nk", "--creds", "user.creds")


def obj_scenario(key, label, args, size):
    """An object-store scenario: dialtone-jsbench objput/objget (dialtone_objclient on
    libnats), one object of `size` bytes (scaled by --scale, at least 1 MiB) in bucket
    "bench" on a fresh -js server. The rate is MB/s (10^6 bytes per second).

    Rows: MB/s, then the server's VmRSS at the end. On the samples lines: the server's
    CPU time over the transfer and the chunk count.
    """
    figures = [Figure("rss_kib", "  server RSS at the end of the run (MiB)", lambda v: fmt_mib(v), short="RSS MiB"),
               Figure("server_cpu_seconds", "server CPU over the transfer (s)", lambda v: f"{v:.2f}", row=False),
               Figure("chunks", "chunks", lambda v: f"{v:.0f}", row=False, compare=False)]
    return Scenario(key, label, args, size, pass_pid=True, jetstream=True, figures=figures,
                    scale_flag="--size", min_msgs=1 << 20, rate_fmt=lambda v: "FAIL" if v is None else f"{v:.1f}")


# Object store through dialtone_objclient: 128 KiB chunks, 8 MiB of them unacknowledged
# at a time; get reads through an ordered consumer and checks size and SHA-256. objget
# puts the object first, untimed. Every run starts from an empty store.
OBJ_SCENARIOS = [
    obj_scenario("objput64m", "Object put, one 64 MiB object, 128 KiB chunks (MB/s)", ["objput"], 64 << 20),
    obj_scenario("objget64m", "Object get, one 64 MiB object, digest checked (MB/s)", ["objget"], 64 << 20),
    obj_scenario("objput1g", "Object put, one 1 GiB object, 128 KiB chunks (MB/s)", ["objput"], 1 << 30),
    obj_scenario("objget1g", "Object get, one 1 GiB object, digest checked (MB/s)", ["objget"], 1 << 30),
]
OBJ_KEYS = [sc.key for sc in OBJ_SCENARIOS]
SCENARIOS += OBJ_SCENARIOS


# ---------------------------------------------------------------- servers

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def die_with_parent():
    """preexec_fn: the server gets SIGTERM if this harness dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """One server process on a free port; restarted on a new port if it dies."""

    def __init__(self, name, cmd, logdir):
        self.name, self.cmd, self.logdir = name, cmd, logdir
        self.config = None  # the ServerConfig the running process was started with
        self.jetstream = False  # the running process has -js -sd store_dir
        self.store_dir = None  # its JetStream store, removed when it stops
        self.retired = False  # stopped on purpose after a JetStream run
        self.idle_js_rss_kib = None  # VmRSS 0.3 s after its first start with -js
        self.proc, self.port, self.starts = None, None, 0
        self.fresh_starts = 0  # deliberate restarts around isolated scenarios
        self.runs_since_start = 0
        self.needs_restart = False  # an isolated scenario ran on this process
        self.idle_rss_kib = None
        self.start_rss_kib = None  # VmRSS 0.3 s after the latest start
        self.peak_rss_kib = None  # largest VmHWM seen over all its processes

    def argv(self):
        conf = ["-c", self.config.path(self.logdir, self.name)] if self.config else []
        js = ["-js", "-sd", self.store_dir] if self.jetstream else []
        return self.cmd + conf + js + ["-a", HOST, "-p", str(self.port)]

    def start(self, config=None, jetstream=False):
        self.config, self.jetstream, self.retired = config, jetstream, False
        if jetstream:
            self.store_dir = tempfile.mkdtemp(prefix=f"store-{self.name}-", dir=self.logdir)
        if config and not os.path.exists(config.path(self.logdir, self.name)):
            with open(config.path(self.logdir, self.name), "w") as f:
                f.write(config.text_for(self.logdir, self.name))
        self.port = free_port()
        self.starts += 1
        self.runs_since_start, self.needs_restart = 0, False
        log = open(os.path.join(self.logdir, f"{self.name}.{self.starts}.log"), "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        self._wait_ready()
        time.sleep(0.3)  # let it settle before reading its idle footprint
        rss = proc_status_kib(self.proc.pid, "VmRSS")
        self.start_rss_kib = rss
        if jetstream and self.idle_js_rss_kib is None:
            self.idle_js_rss_kib = rss
        elif not jetstream and self.idle_rss_kib is None:
            self.idle_rss_kib = rss

    def restart(self, config=None, jetstream=False):
        """A deliberate restart on a new port, so a scenario starts from a fresh server
        (or from one running `config`, or JetStream on a new store directory)."""
        self.stop()
        self.fresh_starts += 1
        self.start(config, jetstream)

    def retire(self):
        """Stops the server on purpose (after a JetStream run) and removes its store;
        the next run starts it again, which does not count as a restart after a crash."""
        self.stop()
        self.retired = True

    def answers(self, timeout=5.0):
        """True if a new client gets INFO and a PONG for its CONNECT + PING."""
        try:
            with socket.create_connection((HOST, self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
                got, end = b"", time.monotonic() + timeout
                while b"PONG\r\n" not in got and time.monotonic() < end:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    got += chunk
                return b"PONG\r\n" in got
        except OSError:
            return False

    def _wait_ready(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; "
                                   f"see {self.logdir}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(5) == b"INFO ":
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not send INFO on port {self.port} within {timeout}s")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def note_peak(self):
        if self.alive():
            hwm = proc_status_kib(self.proc.pid, "VmHWM")
            if hwm is not None:
                self.peak_rss_kib = max(self.peak_rss_kib or 0, hwm)

    def stop(self):
        if self.alive():
            self.note_peak()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.store_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)
            self.store_dir = None


def cpu_busy(seconds=1.0):
    """Fraction of all CPU time spent busy over `seconds` (from /proc/stat), or None."""
    def sample():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        return sum(vals), vals[3] + (vals[4] if len(vals) > 4 else 0)  # total, idle + iowait
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else None


def cpu_seconds(pid):
    """User + system CPU time a process has used, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def wait_quiet(servers):
    """Waits until every running server is idle; returns the names still busy at the limit."""
    end = time.monotonic() + QUIET_LIMIT
    while True:
        live = [s for s in servers if s.alive()]
        before = {s.name: cpu_seconds(s.proc.pid) for s in live}
        time.sleep(QUIET_WINDOW)
        busy = [s.name for s in live if before[s.name] is not None and
                (cpu_seconds(s.proc.pid) or before[s.name]) - before[s.name] > QUIET_CPU * QUIET_WINDOW]
        if not busy or time.monotonic() >= end:
            return busy


def version_of(cmd):
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=2,
                             stdin=subprocess.DEVNULL)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if out.returncode == 0 and text else None
    except (OSError, subprocess.TimeoutExpired):
        return None


# ---------------------------------------------------------------- running

def prepare(scenario, server):
    """Starts or restarts the server as the scenario needs it (before the quiet wait)."""
    fresh = scenario.isolated or scenario.jetstream
    if not server.alive():
        if server.retired:
            server.fresh_starts += 1  # stopped on purpose after a JetStream run
        server.start(scenario.config, scenario.jetstream)
    elif (server.needs_restart or (fresh and server.runs_since_start > 0) or
          server.config is not scenario.config or server.jetstream != scenario.jetstream):
        server.restart(scenario.config, scenario.jetstream)


def run_once(tools, scenario, server, scale, timeout):
    """Runs one scenario against one server; returns the tool's JSON dict or an error dict."""
    prepare(scenario, server)  # a no-op if main already did it
    server.runs_since_start += 1
    server.needs_restart = scenario.isolated or scenario.jetstream
    cmd = scenario.command(tools, server, scale, timeout)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        res = {"complete": False, "error": f"{scenario.tool} did not exit"}
        if scenario.jetstream:
            server.retire()
        return res
    lines = out.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        res = {"complete": False, "error": (out.stderr.strip() or f"{scenario.tool} exit {out.returncode}")[:200]}
    if (scenario.pass_pid and not scenario.jetstream and res.get("rss_kib") and server.start_rss_kib
            and res.get("target")):
        res["start_rss_kib"] = server.start_rss_kib
        res["kib_per_conn"] = (res["rss_kib"] - server.start_rss_kib) / res["target"]
    server.note_peak()
    if (any(f.field == "rss_settled_kib" for f in scenario.figures) and res.get("complete")
            and server.alive()):
        time.sleep(SETTLE_S)
        res["rss_settled_kib"] = proc_status_kib(server.proc.pid, "VmRSS")
    if scenario.isolated and server.alive() and not server.answers():
        res["complete"] = False
        res["error"] = (res.get("error") or "") + " [server stopped answering PING after the run]"
    if not server.alive():
        res["complete"] = False
        res["error"] = (res.get("error") or "") + f" [server exited with {server.proc.returncode}]"
    if scenario.jetstream:
        server.retire()
    return res


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def mark_partial(text, values):
    """A median over fewer rounds than run is flagged with '*'."""
    return text + "*" if None in values and any(v is not None for v in values) else text


def fmt_rate(v):
    if v is None:
        return "FAIL"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_us(v):
    return "FAIL" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def fmt_mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def fmt_us_op(v):
    return "FAIL" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(d, n):
    return "—" if d is None or n is None or n == 0 else f"{d / n:.2f}"


def spread(values):
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    med = statistics.median(values)
    return f" (spread {100 * (max(values) - min(values)) / med:.0f}%)" if med else ""


def build_rows(scenarios, samples, servers):
    """Returns table rows [label, dialtone, nats, ratio] plus sample detail lines and failure notes."""
    rows, details, notes = [], [], []
    for sc in scenarios:
        per = samples[sc.key]
        for name in (DIALTONE, NATS):
            for r in per[name]:
                if not r.get("complete"):
                    notes.append(f"{sc.label} / {name}: {r.get('error') or 'incomplete'}")
        if sc.kind == "rate":
            vals = {n: [r.get("rate") if r.get("complete") else None for r in per[n]] for n in per}
            med = {n: median_or_none(vals[n]) for n in vals}
            rows.append([sc.label, mark_partial(sc.show_rate(med[DIALTONE]), vals[DIALTONE]),
                         mark_partial(sc.show_rate(med[NATS]), vals[NATS]), ratio(med[DIALTONE], med[NATS])])
            for n in (DIALTONE, NATS):
                details.append(f"{sc.label} / {n}: " + " ".join(sc.show_rate(v) for v in vals[n]) + spread(vals[n]))
            if sc.versus and sc.versus[0] in samples:
                base, label = samples[sc.versus[0]], sc.versus[1]
                own = {n: [r["rate"] / b["rate"] if r.get("complete") and b.get("complete") and b.get("rate")
                           else None for r, b in zip(per[n], base[n])] for n in per}
                med = {n: median_or_none(own[n]) for n in own}
                show = lambda v: "FAIL" if v is None else f"{v:.2f}"
                rows.append([label, mark_partial(show(med[DIALTONE]), own[DIALTONE]),
                             mark_partial(show(med[NATS]), own[NATS]), "—"])
                for n in (DIALTONE, NATS):
                    details.append(f"{sc.key}: {label.strip().removeprefix('↳ ')} / {n}: " +
                                   " ".join(show(v) for v in own[n]) + spread(own[n]))
            # Shown for every run, complete or not: what a failed run got that far.
            for fig in sc.figures:
                if fig.row:  # a row of its own, the median over the runs that completed
                    fvals = {n: [r.get(fig.field) if r.get("complete") else None for r in per[n]] for n in per}
                    fmed = {n: median_or_none(fvals[n]) for n in fvals}
                    show = lambda v: "FAIL" if v is None else fig.fmt(v)
                    rows.append([fig.label, mark_partial(show(fmed[DIALTONE]), fvals[DIALTONE]),
                                 mark_partial(show(fmed[NATS]), fvals[NATS]),
                                 ratio(fmed[DIALTONE], fmed[NATS]) if fig.compare else "—"])
                for n in (DIALTONE, NATS):
                    details.append(f"{sc.key}: {fig.label.strip()} / {n}: " +
                                   " ".join(fig.show(r) or "n/a" for r in per[n]))
        elif sc.kind == "figures":
            for fig in sc.figures:
                vals = {n: [r.get(fig.field) if r.get("complete") else None for r in per[n]] for n in per}
                med = {n: median_or_none(vals[n]) for n in vals}
                show = lambda v: "FAIL" if v is None else fig.fmt(v)
                if fig.row:
                    rows.append([fig.label,
                                 mark_partial(show(med[DIALTONE]), vals[DIALTONE]),
                                 mark_partial(show(med[NATS]), vals[NATS]),
                                 ratio(med[DIALTONE], med[NATS]) if fig.compare else "—"])
                label = fig.label.strip().removeprefix("↳ ")
                for n in (DIALTONE, NATS):
                    details.append(f"{sc.key}: {label} / {n}: " + " ".join(show(v) for v in vals[n]) +
                                   spread(vals[n]))
        else:
            for pct in ("p50", "p99"):
                vals = {n: [r.get(pct + "_us") if r.get("complete") else None for r in per[n]] for n in per}
                med = {n: median_or_none(vals[n]) for n in vals}
                rows.append([f"{sc.label} {pct} (µs)", mark_partial(fmt_us(med[DIALTONE]), vals[DIALTONE]),
                             mark_partial(fmt_us(med[NATS]), vals[NATS]), ratio(med[DIALTONE], med[NATS])])
                for n in (DIALTONE, NATS):
                    details.append(f"{sc.label} {pct} / {n}: " + " ".join(fmt_us(v) for v in vals[n]) + spread(vals[n]))
    d, n = servers[DIALTONE], servers[NATS]
    if d.idle_rss_kib is not None or n.idle_rss_kib is not None:
        rows.append(["idle RSS after start (MiB)", fmt_mib(d.idle_rss_kib), fmt_mib(n.idle_rss_kib),
                     ratio(d.idle_rss_kib, n.idle_rss_kib)])
    if d.idle_js_rss_kib is not None or n.idle_js_rss_kib is not None:
        rows.append(["idle RSS after start with -js (MiB)", fmt_mib(d.idle_js_rss_kib),
                     fmt_mib(n.idle_js_rss_kib), ratio(d.idle_js_rss_kib, n.idle_js_rss_kib)])
    rows.append(["peak RSS over the run, VmHWM (MiB)", fmt_mib(d.peak_rss_kib), fmt_mib(n.peak_rss_kib),
                 ratio(d.peak_rss_kib, n.peak_rss_kib)])
    for s in (d, n):
        if s.starts - 1 - s.fresh_starts > 0:
            notes.append(f"{s.name} was restarted {s.starts - 1 - s.fresh_starts} time(s) after exiting mid-run")
    return rows, details, notes


# ---------------------------------------------------------------- output

HEADERS = ["scenario", DIALTONE, NATS, "ratio (dialtone / nats-server)"]


def text_table(rows):
    widths = [max(len(str(r[i])) for r in rows + [HEADERS]) for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    return "\n".join([line(HEADERS), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def md_table(rows):
    out = ["| " + " | ".join(HEADERS) + " |", "|---|---:|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def environment(args, servers, tools, load, scenarios):
    def git(*a):
        try:
            r = subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True, timeout=5)
            return r.stdout.strip() if r.returncode == 0 else None
        except OSError:
            return None
    commit = git("rev-parse", "--short", "HEAD") or "(no commit yet)"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (+ uncommitted changes)"
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    invoked = os.environ.get("DIALTONE_BENCH_INVOKED_AS") or sys.argv[0]
    load_text = "unknown" if load is None else f"CPU {100 * load:.0f}% busy in the second before start"
    if load is not None and load > BUSY_WARN:
        load_text += " — other work was running; expect noisy numbers"

    info = [
        ("commit", commit),
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("cpu", f"{cpu} × {os.cpu_count()} logical cores"),
        ("kernel", platform.release()),
        ("load", load_text),
        ("command", shlex.join([invoked] + sys.argv[1:])),
        ("dialtone", shlex.join(servers[DIALTONE].cmd + ["-a", HOST, "-p", "PORT"]) +
         (f"  ({v})" if (v := version_of(servers[DIALTONE].cmd)) else "")),
        ("nats-server", shlex.join(servers[NATS].cmd + ["-a", HOST, "-p", "PORT"]) +
         (f"  ({v})" if (v := version_of(servers[NATS].cmd)) else "")),
    ]
    if "loadgen" in tools:
        info.append(("loadgen", tools["loadgen"]))
    if "secbench" in tools:
        info.append(("secbench", tools["secbench"] +
                     (f"  ({v})" if (v := version_of([tools["secbench"]])) else "")))
    if "jsbench" in tools:
        info.append(("jsbench", tools["jsbench"] +
                     (f"  ({v})" if (v := version_of([tools["jsbench"]])) else "")))
        keys = ",".join(sc.key for sc in scenarios if sc.jetstream)
        info.append(("jetstream", f"{keys}: every run on a freshly started server with -js -sd <new empty "
                                  f"directory under {servers[DIALTONE].logdir}>, stopped and the directory "
                                  f"removed after the run; the client is libnats (the official C client)"))
    for conf in dict.fromkeys(sc.config for sc in scenarios if sc.config):
        keys = ", ".join(sc.key for sc in scenarios if sc.config is conf)
        info.append(("config", f"{keys}: both servers also get -c {conf.path(servers[DIALTONE].logdir, DIALTONE)} "
                               f"({conf.about})"))
    info += [
        ("rounds", f"{args.rounds}, server order alternating per round (latency: 4 shorter runs per round, "
                   f"interleaved); median per scenario over all its runs; scale {args.scale}"),
    ]
    return info


LEGEND = ("Throughput rows: higher is better, ratio > 1 means dialtone is faster. "
          "Latency, RSS and µs/op rows: lower is better, ratio < 1 means dialtone is better. "
          "↳ rows are each server's own ratio between the two rows above it (median over rounds), "
          "so the ratio column is —: 'kept' should be ≥ 0.90, and so should 'tracking kept' (the "
          "rate with service latency tracked over the rate without, the same round); 'growth' is 10 "
          "for exact linear time and 12.5 for n·log n (the next complexity class up), so below 12.5 "
          "counts as linear. "
          "JetStream rows (kv*, jspub*): libnats against a server started for that run with -js and an "
          f"empty store; the 'server RSS at the end of the run' and 'server RSS {SETTLE_S:g} s after the run' rows under each are lower-is-better. "
          "Object rows (obj*): MB/s (10^6 bytes/s) of one object through dialtone_objclient on libnats, "
          "same fresh -js server per run. "
          "FAIL: every round failed; * median of the rounds that completed (see failures).")


def progress_text(sc, res):
    """One run's result for the progress lines on stderr."""
    if not res.get("complete"):
        return "FAILED: " + str(res.get("error"))
    if sc.kind == "latency":
        return f"{res['p50_us']:.0f}/{res['p99_us']:.0f} µs p50/p99"
    if sc.kind == "figures":
        return ", ".join(f"{f.short} {f.fmt(res[f.field]) if res.get(f.field) is not None else 'n/a'}"
                         for f in sc.figures if f.short)
    return ", ".join([sc.show_rate(res.get("rate"))] +
                     [f"{f.short} {f.show(res) or 'n/a'}" for f in sc.figures if f.short])


def report_text(info, rows, details, notes):
    out = ["Dialtone benchmark: dialtone-server vs nats-server"]
    out += [f"  {k:<12} {v}" for k, v in info]
    out += ["", text_table(rows), "", LEGEND, "", "Samples per round:"]
    out += ["  " + d for d in details]
    if notes:
        out += ["", "Failures / notes:"] + ["  " + n for n in notes]
    return "\n".join(out)


def report_markdown(info, rows, details, notes):
    out = ["## dialtone-server vs nats-server", ""]
    out += [f"- **{k}**: `{v}`" if k in ("command", "dialtone", "nats-server") else f"- **{k}**: {v}"
            for k, v in info if k not in ("loadgen", "jsbench")]
    out += ["", md_table(rows), "", LEGEND, "", "<details><summary>Samples per round</summary>", ""]
    out += [f"- {d}" for d in details]
    out += ["", "</details>"]
    if notes:
        out += ["", "**Failures / notes:**", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

# Sources of dialtone-jsbench, which is a program of its own: not part of the loadgen.
JSBENCH_SOURCES = ["jsbench.cpp"]
# ... and of the object-store client it links (objectstore/client, on libnats and libcrypto).
OBJCLIENT_SOURCES = ["obj_client.cpp", "obj_transfer.cpp", "obj_wire.cpp"]


def find_loadgen(explicit, workdir):
    if explicit:
        return explicit
    for cand in (os.path.join(REPO, "build", "bench", "dialtone-loadgen"),
                 os.path.join(REPO, "build", "dialtone-loadgen")):
        if os.access(cand, os.X_OK):
            return cand
    out = os.path.join(workdir, "dialtone-loadgen")
    srcs = sorted(os.path.join(REPO, "bench", f) for f in os.listdir(os.path.join(REPO, "bench"))
                  if f.endswith(".cpp") and f not in JSBENCH_SOURCES + ["secbench.cpp"])
    cxx = os.environ.get("CXX", "c++")
    print(f"loadgen not built; compiling it with {cxx} into {out}", file=sys.stderr)
    subprocess.run([cxx, "-std=c++20", "-O2", "-pthread"] + srcs + ["-lssl", "-lcrypto", "-o", out], check=True)
    return out


def find_secbench(workdir):
    """dialtone-secbench, as built by CMake (it links libplatform's crypto)."""
    for cand in (os.path.join(REPO, "build", "bench", "dialtone-secbench"),
                 os.path.join(REPO, "build", "dialtone-secbench")):
        if os.access(cand, os.X_OK):
            return cand
    sys.exit("run.py: the security scenarios need build/bench/dialtone-secbench; run make first")


def find_jsbench(explicit, workdir):
    """dialtone-jsbench: as built by CMake, else compiled against libnats (Debian
    libnats-dev: nats/nats.h, -lnats), with objectstore/client (libcrypto, nlohmann-json
    headers), into the temporary directory."""
    if explicit:
        return explicit
    for cand in (os.path.join(REPO, "build", "bench", "dialtone-jsbench"),
                 os.path.join(REPO, "build", "dialtone-jsbench")):
        if os.access(cand, os.X_OK):
            return cand
    out = os.path.join(workdir, "dialtone-jsbench")
    srcs = [os.path.join(REPO, "bench", f) for f in JSBENCH_SOURCES]
    srcs += [os.path.join(REPO, "objectstore", "client", f) for f in OBJCLIENT_SOURCES]
    cxx = os.environ.get("CXX", "c++")
    print(f"jsbench not built; compiling it with {cxx} into {out}", file=sys.stderr)
    subprocess.run([cxx, "-std=c++20", "-O2", "-pthread", "-I", REPO] + srcs + ["-lnats", "-lcrypto", "-o", out],
                   check=True)
    return out


def resolve_cmd(text, what):
    cmd = shlex.split(text)
    if not cmd:
        sys.exit(f"run.py: empty {what} command")
    exe = cmd[0] if os.sep in cmd[0] else shutil.which(cmd[0])
    if not exe or not os.access(exe, os.X_OK):
        sys.exit(f"run.py: {what} not found: {cmd[0]} (see bench/README.md)")
    return [os.path.abspath(exe)] + cmd[1:]


def parse_args():
    default_nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
    p = argparse.ArgumentParser(description="Benchmark dialtone-server against nats-server.")
    p.add_argument("--dialtone", default=os.environ.get("DIALTONE_SERVER_CMD",
                                                         os.path.join(REPO, "build", "dialtone-server")),
                   help="dialtone-server command; '-a 127.0.0.1 -p PORT' is appended "
                        "(env DIALTONE_SERVER_CMD; default build/dialtone-server)")
    p.add_argument("--nats", default=os.environ.get("NATS_SERVER_CMD", default_nats),
                   help="nats-server command (env NATS_SERVER_CMD; default nats-server on PATH)")
    p.add_argument("--loadgen", default=os.environ.get("DIALTONE_LOADGEN"),
                   help="dialtone-loadgen binary (env DIALTONE_LOADGEN; default build/bench/, "
                        "else compiled into a temporary directory)")
    p.add_argument("--jsbench", default=os.environ.get("DIALTONE_JSBENCH"),
                   help="dialtone-jsbench binary, for the JetStream scenarios (env DIALTONE_JSBENCH; "
                        "default build/bench/, else compiled into a temporary directory with -lnats)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per server (default 3)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply message counts, and the object sizes of the obj* scenarios (default 1.0)")
    p.add_argument("--quick", action="store_true", help="same as --scale 0.1 (for trying things out)")
    p.add_argument("--only", help="comma-separated scenario keys: " + ",".join(s.key for s in SCENARIOS) +
                   "; 'js' stands for all JetStream and key-value ones (" + ",".join(JS_KEYS) + "), "
                   "'obj' for the object-store ones (" + ",".join(OBJ_KEYS) + ")")
    p.add_argument("--timeout", type=float, default=60.0, help="time budget per loadgen or jsbench run, s (default 60)")
    p.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown to FILE")
    p.add_argument("--json", metavar="FILE", help="also write every raw sample as JSON to FILE")
    args = p.parse_args()
    if args.quick:
        args.scale = 0.1
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main():
    args = parse_args()
    scenarios = SCENARIOS
    if args.only:
        groups = {"js": JS_KEYS, "obj": OBJ_KEYS, "sec": SEC_KEYS}
        keys = [k for part in args.only.split(",") for k in groups.get(part, [part])]
        unknown = [k for k in keys if k not in {s.key for s in SCENARIOS}]
        if unknown:
            sys.exit(f"run.py: unknown scenario(s): {','.join(unknown)}")
        scenarios = [s for s in SCENARIOS if s.key in keys]

    # SIGTERM/SIGHUP unwind through the finally below, like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))

    load_at_start = cpu_busy()
    if load_at_start is not None and load_at_start > BUSY_WARN:
        print(f"warning: the CPUs are {100 * load_at_start:.0f}% busy with other work; "
              "the numbers will be noisy", file=sys.stderr)
    workdir = tempfile.mkdtemp(prefix="dialtone-bench-")
    servers = {DIALTONE: Server(DIALTONE, resolve_cmd(args.dialtone, "dialtone-server"), workdir),
               NATS: Server(NATS, resolve_cmd(args.nats, "nats-server"), workdir)}
    try:
        tools = {}
        if any(sc.tool == "loadgen" for sc in scenarios):
            tools["loadgen"] = find_loadgen(args.loadgen, workdir)
        if any(sc.jetstream for sc in scenarios):
            tools["jsbench"] = find_jsbench(args.jsbench, workdir)
        if any(sc.tool == "secbench" for sc in scenarios):
            tools["secbench"] = find_secbench(workdir)
        if any(sc.key in SEC_KEYS for sc in scenarios):
            prepare_security(workdir)
        for s in servers.values():
            s.start(scenarios[0].config, scenarios[0].jetstream)
        info = environment(args, servers, tools, load_at_start, scenarios)
        print("Dialtone benchmark starting; server logs in " + workdir, file=sys.stderr)
        samples = {sc.key: {DIALTONE: [], NATS: []} for sc in scenarios}
        quiet_notes = []
        for rnd in range(args.rounds):
            order = [DIALTONE, NATS] if rnd % 2 == 0 else [NATS, DIALTONE]
            for sc in scenarios:
                for rep in range(sc.repeat):
                    for name in (order if rep % 2 == 0 else order[::-1]):
                        prepare(sc, servers[name])  # a fresh server settles in the quiet wait too
                        for busy in wait_quiet(servers.values()):
                            quiet_notes.append(f"{busy} was still busy {QUIET_LIMIT:.0f} s after the run "
                                               f"before {sc.key} round {rnd + 1} ({name})")
                        res = run_once(tools, sc, servers[name], args.scale, args.timeout)
                        samples[sc.key][name].append(res)
                        shown = progress_text(sc, res)
                        print(f"  round {rnd + 1}/{args.rounds}  {sc.key:<9} {name:<11} {shown}", file=sys.stderr)
        rows, details, notes = build_rows(scenarios, samples, servers)
        notes += quiet_notes
        print(report_text(info, rows, details, notes))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(report_markdown(info, rows, details, notes))
            print(f"\nMarkdown written to {args.markdown}", file=sys.stderr)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"info": dict(info), "samples": samples}, f, indent=1)
        failed = any(not r.get("complete") for per in samples.values() for rs in per.values() for r in rs)
        return 1 if failed else 0
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
