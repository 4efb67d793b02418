// Server memory while a 1 GiB object goes in and out through @nats-io/obj: dialtone
// must stream it (chunk by chunk to and from the store), so its RSS may grow by no more
// than 64 MiB over what it used right before the put. Both sides stream: the client
// generates the object piece by piece and hashes what it reads back without keeping it.
//
// nats-server runs the same scenario for comparison; its RSS is printed, not asserted
// (the bound is a dialtone requirement, not a protocol one).
//
// A second test reads the object slowly and stops: the server's memory stays bounded.
//
// COMPAT_ONLY=nats-server or COMPAT_ONLY=dialtone runs only one half.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { connect } from "@nats-io/transport-node";
import { Objm, setSha256Backend } from "@nats-io/obj";
import { startServer, serverBin, serversUnderTest } from "./server.js";
import { patternStream, drain } from "./objdata.js";

// Keeps the client's own digest check (on every get) from dominating the run time.
setSha256Backend("native");

const servers = serversUnderTest();

const MiB = 1024 * 1024;
// Sanitizer builds (DIALTONE_SANITIZER set) run many times slower and carry shadow
// memory (ASan maps 1/8 of the used address space plus redzones and a quarantine of
// freed blocks), so they move 128 MiB and get 4 times the bound.
const sanitizer = Boolean(process.env.DIALTONE_SANITIZER);
const SIZE = sanitizer ? 128 * MiB : 1024 * MiB;
const BOUND = sanitizer ? 4 * 64 * MiB : 64 * MiB;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;

function rssOf(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

// Samples VmRSS of `pid` every 100 ms on a worker thread, so that a busy main thread
// (generating, hashing) cannot delay the samples. peak() is the highest sample since
// the last reset() (taken at least once: reset() and peak() also sample themselves).
function rssSampler(pid) {
  const shared = new Int32Array(new SharedArrayBuffer(16)); // [peak kB, samples, stop]
  const worker = new Worker(
    `
    const { workerData } = require("node:worker_threads");
    const { readFileSync } = require("node:fs");
    const { pid, shared } = workerData;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (Atomics.load(shared, 2) === 0) {
      let kb = -1;
      try {
        kb = Number(readFileSync("/proc/" + pid + "/status", "utf8").match(/^VmRSS:\\s+(\\d+) kB/m)[1]);
      } catch {}
      if (kb >= 0) {
        let cur = Atomics.load(shared, 0);
        while (kb > cur) {
          const seen = Atomics.compareExchange(shared, 0, cur, kb);
          if (seen === cur) break;
          cur = seen;
        }
        Atomics.add(shared, 1, 1);
      }
      Atomics.wait(nap, 0, 0, 100);
    }
    `,
    { eval: true, workerData: { pid, shared } },
  );
  const bump = () => {
    const kb = rssOf(pid) / 1024;
    let cur = Atomics.load(shared, 0);
    while (kb > cur) {
      const seen = Atomics.compareExchange(shared, 0, cur, kb);
      if (seen === cur) break;
      cur = seen;
    }
  };
  return {
    reset() {
      Atomics.store(shared, 0, 0);
      Atomics.store(shared, 1, 0);
      bump();
    },
    peak() {
      bump();
      return { peak: Atomics.load(shared, 0) * 1024, samples: Atomics.load(shared, 1) };
    },
    stop() {
      Atomics.store(shared, 2, 1);
      return worker.terminate();
    },
  };
}

for (const [label, bin] of servers) {
  const isDialtone = bin === serverBin;

  describe(label, () => {
    let server;
    let nc;
    let sampler;

    before(async () => {
      // ASan keeps freed memory in a quarantine (256 MiB by default) that RSS would
      // count: off for this server (harmless for builds without ASan).
      const saved = process.env.ASAN_OPTIONS;
      process.env.ASAN_OPTIONS = `${saved ? saved + ":" : ""}quarantine_size_mb=0:thread_local_quarantine_size_kb=0`;
      try {
        server = await startServer(undefined, bin, { jetstream: true });
      } finally {
        if (saved === undefined) delete process.env.ASAN_OPTIONS;
        else process.env.ASAN_OPTIONS = saved;
      }
      nc = await connect({ servers: server.url, maxReconnectAttempts: 0 });
    });
    after(async () => {
      if (sampler) await sampler.stop();
      if (nc && !nc.isClosed()) await nc.close();
      if (server) {
        await server.stop();
        server.removeStore();
      }
    });

    test(`put and get of ${mib(SIZE)} stay within ${mib(BOUND)} of server RSS`, { timeout: 1_800_000 }, async (t) => {
      const os = await new Objm(nc).create("memory");
      await sleep(500); // let the bucket creation settle
      const baseline = rssOf(server.pid);
      sampler = rssSampler(server.pid);
      sampler.reset();
      const client = { peak: process.memoryUsage().rss };
      const clientTimer = setInterval(() => {
        client.peak = Math.max(client.peak, process.memoryUsage().rss);
      }, 100);

      try {
        let t0 = Date.now();
        const src = patternStream(1, SIZE, { piece: 1_000_000 });
        const info = await os.put({ name: "big.bin" }, src.stream);
        const putMs = Date.now() - t0;
        const put = sampler.peak();
        assert.equal(src.sent.bytes, SIZE);
        assert.equal(info.size, SIZE);
        assert.equal(info.chunks, SIZE / (128 * 1024));
        assert.equal(info.digest, src.sent.digest);

        sampler.reset();
        t0 = Date.now();
        const r = await os.get("big.bin");
        assert.ok(r, "get returned null");
        const got = await drain(r.data);
        assert.equal((await r.error) ?? null, null, "get reported an error");
        const getMs = Date.now() - t0;
        const get = sampler.peak();
        assert.equal(got.size, SIZE);
        assert.equal(got.digest, src.sent.digest, "digest of the data read back");

        const report =
          `${label}: RSS before the put ${mib(baseline)}; ` +
          `peak during put ${mib(put.peak)} (+${mib(put.peak - baseline)}, ${put.samples} samples, ${putMs} ms); ` +
          `peak during get ${mib(get.peak)} (+${mib(get.peak - baseline)}, ${get.samples} samples, ${getMs} ms); ` +
          `client peak RSS ${mib(client.peak)}`;
        t.diagnostic(report);

        if (isDialtone) {
          assert.ok(put.peak - baseline <= BOUND, `put: RSS rose by ${mib(put.peak - baseline)} (bound ${mib(BOUND)})`);
          assert.ok(get.peak - baseline <= BOUND, `get: RSS rose by ${mib(get.peak - baseline)} (bound ${mib(BOUND)})`);
        }
      } finally {
        clearInterval(clientTimer);
      }
    });

    // A reader that takes its time (20 ms per 128 KiB chunk, for 48 MiB) and then stops
    // reading: the server paces its delivery to the client's flow-control answers and
    // never holds the object for it. Runs after the test above (same bucket, same object).
    test(`a slow reader does not make the server hold the object`, { timeout: 600_000 }, async (t) => {
      const os = await new Objm(nc).open("memory");
      const baseline = rssOf(server.pid);
      sampler.reset();
      const r = await os.get("big.bin");
      assert.ok(r, "get returned null");
      const reader = r.data.getReader();
      let read = 0;
      const slowPart = Math.min(48 * MiB, SIZE / 2);
      while (read < slowPart) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the object ended early");
        read += value.length;
        await sleep(20);
      }
      await reader.cancel();
      await sleep(1000); // whatever the server still had queued for the reader
      const slow = sampler.peak();
      t.diagnostic(`${label}: slow reader: RSS ${mib(baseline)} before, peak ${mib(slow.peak)} ` +
                   `(+${mib(slow.peak - baseline)}, ${slow.samples} samples) over ${mib(read)} read`);
      if (isDialtone)
        assert.ok(slow.peak - baseline <= BOUND, `slow reader: RSS rose by ${mib(slow.peak - baseline)} (bound ${mib(BOUND)})`);
      // The server serves everyone else meanwhile and afterwards.
      const info = await os.info("big.bin");
      assert.equal(info.size, SIZE);
    });
  });
}
