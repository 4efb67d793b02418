// JetStream and the KV API seen through unmodified nats.js clients (@nats-io/kv,
// @nats-io/jetstream). Every test runs against dialtone-server and against the reference
// peer nats-server (-js); the behaviour users see must match.
//
// COMPAT_ONLY=nats-server or COMPAT_ONLY=dialtone runs only one half.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, nanos } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import {
  jetstream,
  jetstreamManager,
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { startServer, serverBin, serversUnderTest } from "./server.js";

const servers = serversUnderTest();

// No single test should take long; this only protects the run from a hang.
const T = { timeout: 30_000 };

const enc = (s) => new TextEncoder().encode(s);

// Collects everything an iterator yields until it ends on its own, `n` items were
// seen, or `ms` passed (then the iterator is stopped).
async function collect(iter, { n = Infinity, ms = 5000 } = {}) {
  const out = [];
  if (n === 0) return out;
  const timer = setTimeout(() => iter.stop(), ms);
  try {
    for await (const v of iter) {
      out.push(v);
      if (out.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

// A nats.js QueuedIterator cannot be iterated again after breaking out of a
// for-await, so a watcher that is read in several steps is drained in the
// background into `items`.
function tap(iter) {
  const items = [];
  const done = (async () => {
    for await (const v of iter) items.push(v);
  })();
  return {
    items,
    // Resolves with the items once at least n arrived (or ms passed).
    async until(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (items.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return items.slice();
    },
    stop() {
      iter.stop();
      return done;
    },
  };
}

// Byte-for-byte comparison that ignores Buffer vs Uint8Array.
function assertBytes(actual, expected, msg) {
  assert.ok(actual instanceof Uint8Array, `not bytes: ${actual}`);
  assert.equal(actual.length, expected.length, msg);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), msg ?? "bytes differ");
}

async function listAll(lister) {
  const out = [];
  for await (const v of lister) out.push(v);
  return out;
}

// Asserts that `promise` rejects with a JetStream API error carrying `code`
// (the server's err_code) and returns the error for further checks.
async function rejectsWithApiCode(promise, code, re) {
  let caught;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof JetStreamApiError, `expected a JetStreamApiError, got ${caught}`);
  assert.equal(caught.code, code, `err_code of ${caught.message}`);
  if (re) assert.match(caught.message, re);
  return caught;
}

// Publishing to a subject no stream listens on gets "no responders"; the client
// surfaces it as JetStreamNotEnabled with the RequestError as cause.
async function rejectsNoResponders(promise) {
  await assert.rejects(promise, (err) => {
    assert.ok(err.cause?.isNoResponders?.(), `expected no responders, got ${err} (${err.cause})`);
    return true;
  });
}

for (const [label, bin] of servers) {
  describe(label, () => {
    let server;
    let nc;
    let kvm;
    let js;
    let jsm;
    // Everything a test opens is closed in after(), even when the test failed.
    const conns = [];
    const extraServers = [];

    const conn = async (url = server.url) => {
      const c = await connect({ servers: url, maxReconnectAttempts: 0 });
      conns.push(c);
      return c;
    };
    const startExtra = async () => {
      const s = await startServer(undefined, bin, { jetstream: true });
      extraServers.push(s);
      return s;
    };
    const restartExtra = async (s) => {
      const s2 = await s.restart();
      extraServers.push(s2);
      return s2;
    };

    before(async () => {
      server = await startServer(undefined, bin, { jetstream: true });
      nc = await conn();
      kvm = new Kvm(nc);
      js = jetstream(nc);
      jsm = await jetstreamManager(nc);
    });
    after(async () => {
      await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.close())));
      for (const s of extraServers) {
        await s.kill();
        s.removeStore();
      }
      if (server) {
        const code = await server.stop();
        server.removeStore();
        if (bin === serverBin) assert.equal(code, 0, server.log());
      }
    });

    // ---------------------------------------------------------------- KV

    describe("kv", () => {
      test("create a bucket, put and get", T, async () => {
        const kv = await kvm.create("profiles", { history: 5 });
        const st = await kv.status();
        assert.equal(st.bucket, "profiles");
        assert.equal(st.history, 5);
        assert.equal(st.values, 0);
        assert.equal(st.streamInfo.config.name, "KV_profiles");

        const r1 = await kv.put("alice", "v1");
        const r2 = await kv.put("bob", enc("b1"));
        const r3 = await kv.put("alice", "v2");
        assert.deepEqual([r1, r2, r3], [1, 2, 3]);

        const e = await kv.get("alice");
        assert.equal(e.bucket, "profiles");
        assert.equal(e.key, "alice");
        assert.equal(e.string(), "v2");
        assertBytes(e.value, enc("v2"));
        assert.equal(e.revision, 3);
        assert.equal(e.operation, "PUT");
        assert.equal(e.length, 2);
        assert.ok(e.created instanceof Date && Math.abs(e.created - Date.now()) < 60_000);

        const old = await kv.get("alice", { revision: r1 });
        assert.equal(old.string(), "v1");
        assert.equal(old.revision, 1);
        assert.equal((await kv.get("bob")).string(), "b1");

        // Creating an existing bucket opens it, keeping its contents.
        const again = await kvm.create("profiles", { history: 5 });
        assert.equal((await again.get("alice")).revision, 3);
      });

      test("get of a missing key returns null", T, async () => {
        const kv = await kvm.create("missing");
        assert.equal(await kv.get("nobody"), null);
        await kv.put("somebody", "x");
        assert.equal(await kv.get("nobody"), null);
        assert.equal(await kv.get("some"), null);
      });

      test("create() fails on an existing key and succeeds after delete", T, async () => {
        const kv = await kvm.create("creates", { history: 5 });
        assert.equal(await kv.create("lock", "owner-1"), 1);
        await rejectsWithApiCode(
          kv.create("lock", "owner-2"),
          JetStreamApiCodes.StreamWrongLastSequence,
          /wrong last sequence: 1/,
        );
        assert.equal((await kv.get("lock")).string(), "owner-1");

        await kv.delete("lock");
        const rev = await kv.create("lock", "owner-2");
        assert.equal(rev, 3);
        const e = await kv.get("lock");
        assert.equal(e.string(), "owner-2");
        assert.equal(e.operation, "PUT");

        // Also after a purge.
        await kv.purge("lock");
        assert.equal(await kv.create("lock", "owner-3"), 5);
        assert.equal((await kv.get("lock")).string(), "owner-3");
      });

      test("update() with the right revision succeeds, with a wrong one fails", T, async () => {
        const kv = await kvm.create("updates", { history: 5 });
        const r1 = await kv.put("counter", "1");
        await kv.put("other", "x"); // bumps the stream sequence, not counter's
        const r2 = await kv.update("counter", "2", r1);
        assert.equal(r2, 3);
        await rejectsWithApiCode(
          kv.update("counter", "stale", r1),
          JetStreamApiCodes.StreamWrongLastSequence,
          /wrong last sequence: 3/,
        );
        // The revision of another key is not this key's revision.
        await rejectsWithApiCode(kv.update("counter", "stale", 2), JetStreamApiCodes.StreamWrongLastSequence);
        const e = await kv.get("counter");
        assert.equal(e.string(), "2");
        assert.equal(e.revision, r2);
        assert.equal(await kv.update("counter", "3", r2), 4);
      });

      test("delete leaves a DEL entry that get() returns", T, async () => {
        const kv = await kvm.create("deletes", { history: 5 });
        await kv.put("k", "v");
        await kv.delete("k");
        // nats.js returns the delete marker, not null.
        const e = await kv.get("k");
        assert.notEqual(e, null);
        assert.equal(e.operation, "DEL");
        assert.equal(e.revision, 2);
        assert.equal(e.length, 0);
        assert.equal(e.value.length, 0);
        // The previous revision is still readable.
        assert.equal((await kv.get("k", { revision: 1 })).string(), "v");
        // Deleting a key that was never written also writes a marker.
        await kv.delete("never");
        assert.equal((await kv.get("never")).operation, "DEL");
      });

      test("purge removes the history of a key", T, async () => {
        const kv = await kvm.create("purges", { history: 5 });
        for (const v of ["a", "b", "c"]) await kv.put("k", v);
        await kv.put("keep", "me");
        await kv.purge("k");
        const e = await kv.get("k");
        assert.equal(e.operation, "PURGE");
        assert.equal(e.revision, 5);
        const hist = await collect(await kv.history({ key: "k" }));
        assert.deepEqual(
          hist.map((h) => [h.revision, h.operation]),
          [[5, "PURGE"]],
        );
        // Only the purge marker and the other key remain.
        assert.equal((await kv.status()).values, 2);
        assert.equal(await kv.get("k", { revision: 1 }), null);
        assert.equal((await kv.get("keep")).string(), "me");
      });

      test("history lists every revision in order with its operation", T, async () => {
        const kv = await kvm.create("histories", { history: 5 });
        await kv.put("k", "v1");
        await kv.put("noise", "n");
        await kv.put("k", "v2");
        await kv.delete("k");
        await kv.put("k", "v3");
        const hist = await collect(await kv.history({ key: "k" }));
        assert.deepEqual(
          hist.map((e) => [e.key, e.revision, e.operation, e.string()]),
          [
            ["k", 1, "PUT", "v1"],
            ["k", 3, "PUT", "v2"],
            ["k", 4, "DEL", ""],
            ["k", 5, "PUT", "v3"],
          ],
        );
        // history 5: older revisions fall off.
        for (let i = 4; i <= 8; i++) await kv.put("k", `v${i}`);
        const trimmed = await collect(await kv.history({ key: "k" }));
        assert.deepEqual(
          trimmed.map((e) => e.string()),
          ["v4", "v5", "v6", "v7", "v8"],
        );
        assert.deepEqual(
          trimmed.map((e) => e.revision),
          [6, 7, 8, 9, 10],
        );
        assert.equal(await kv.get("k", { revision: 1 }), null);
      });

      test("keys() lists live keys only", T, async () => {
        const kv = await kvm.create("keyset", { history: 5 });
        for (const k of ["a", "b", "c", "d", "e.f"]) await kv.put(k, "x");
        await kv.put("a", "y"); // several revisions, listed once
        await kv.delete("b");
        await kv.purge("c");
        const keys = await collect(await kv.keys());
        assert.deepEqual(keys.sort(), ["a", "d", "e.f"]);
        const filtered = await collect(await kv.keys("e.*"));
        assert.deepEqual(filtered, ["e.f"]);

        const empty = await kvm.create("keyset-empty");
        assert.deepEqual(await collect(await empty.keys()), []);
      });

      test("watch delivers current values, then live updates", T, async () => {
        const kv = await kvm.create("watched", { history: 5 });
        await kv.put("a", "1");
        await kv.put("b", "1");
        await kv.put("a", "2");
        const w = tap(await kv.watch());
        const initial = await w.until(2);
        // The latest value per key, in stream order.
        assert.deepEqual(
          initial.map((e) => [e.key, e.string(), e.revision, e.operation]),
          [
            ["b", "1", 2, "PUT"],
            ["a", "2", 3, "PUT"],
          ],
        );
        assert.equal(initial[0].isUpdate, false);

        await kv.put("c", "new");
        await kv.put("a", "3");
        await kv.delete("b");
        const all = await w.until(5);
        await w.stop();
        assert.deepEqual(
          all.slice(2).map((e) => [e.key, e.string(), e.revision, e.operation, e.isUpdate]),
          [
            ["c", "new", 4, "PUT", true],
            ["a", "3", 5, "PUT", true],
            ["b", "", 6, "DEL", true],
          ],
        );
        assert.equal(w.items.length, 5);
      });

      test("watch with a wildcard key filter", T, async () => {
        const kv = await kvm.create("filtered");
        await kv.put("orders.eu.1", "e1");
        await kv.put("users.1", "u1");
        await kv.put("orders.us.1", "o1");
        await kv.put("orders.eu.deep.1", "d1");
        const w = tap(await kv.watch({ key: "orders.*.1" }));
        const initial = await w.until(2);
        assert.deepEqual(
          initial.map((e) => [e.key, e.string()]),
          [
            ["orders.eu.1", "e1"],
            ["orders.us.1", "o1"],
          ],
        );
        await kv.put("users.2", "u2");
        await kv.put("orders.eu.deep.2", "d2");
        await kv.put("orders.asia.1", "a1");
        await kv.put("orders.eu.2", "x");
        const live = (await w.until(3)).slice(2);
        assert.deepEqual(
          live.map((e) => [e.key, e.string(), e.revision]),
          [["orders.asia.1", "a1", 7]],
        );
        // Nothing else arrives.
        await new Promise((r) => setTimeout(r, 300));
        await w.stop();
        assert.equal(w.items.length, 3, w.items.map((e) => e.key).join());

        const tail = await kv.watch({ key: "orders.>" });
        const all = await collect(tail, { n: 6 });
        tail.stop();
        assert.deepEqual(
          all.map((e) => e.key),
          ["orders.eu.1", "orders.us.1", "orders.eu.deep.1", "orders.eu.deep.2", "orders.asia.1", "orders.eu.2"],
        );
      });

      test("bucket status", T, async () => {
        const kv = await kvm.create("stats", { history: 3, description: "for status" });
        for (let i = 0; i < 5; i++) await kv.put("k", `v${i}`);
        await kv.put("j", "x");
        await kv.delete("j");
        const st = await kv.status();
        assert.equal(st.bucket, "stats");
        assert.equal(st.history, 3);
        // 3 kept revisions of k, plus j's put and its delete marker.
        assert.equal(st.values, 5);
        assert.equal(st.description, "for status");
        assert.ok(st.size > 0);
        assert.equal(st.streamInfo.state.last_seq, 7);
        assert.deepEqual(st.streamInfo.config.subjects, ["$KV.stats.>"]);
        assert.equal(st.streamInfo.config.max_msgs_per_subject, 3);
        assert.equal(st.streamInfo.config.allow_rollup_hdrs, true);
      });

      test("list buckets", T, async () => {
        await kvm.create("listed-one");
        await kvm.create("listed-two");
        await jsm.streams.add({ name: "NOT_A_BUCKET", subjects: ["not.a.bucket"] });
        const all = await listAll(kvm.list());
        const names = all.map((s) => s.bucket);
        assert.ok(names.includes("listed-one"), names.join());
        assert.ok(names.includes("listed-two"), names.join());
        assert.ok(!names.includes("NOT_A_BUCKET"));
        assert.ok(!names.some((n) => n.startsWith("KV_")), names.join());
        await jsm.streams.delete("NOT_A_BUCKET");
      });

      test("destroy a bucket", T, async () => {
        const kv = await kvm.create("doomed");
        await kv.put("k", "v");
        assert.equal(await kv.destroy(), true);
        const names = (await listAll(kvm.list())).map((s) => s.bucket);
        assert.ok(!names.includes("doomed"), names.join());

        // open() binds lazily; the first access reports the missing stream.
        const reopened = await kvm.open("doomed");
        await rejectsWithApiCode(reopened.get("k"), JetStreamApiCodes.StreamNotFound, /stream not found/);
        await rejectsWithApiCode(kv.status(), JetStreamApiCodes.StreamNotFound);
        // Nothing listens on the bucket's subjects any more.
        await rejectsNoResponders(kv.put("k", "again"));
        // The name can be reused, starting empty.
        const fresh = await kvm.create("doomed");
        assert.equal(await fresh.get("k"), null);
        assert.equal(await fresh.put("k", "new"), 1);
      });

      test("binary values round-trip", T, async () => {
        const kv = await kvm.create("binary");
        const bytes = new Uint8Array(512);
        for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
        await kv.put("all-bytes", bytes);
        const crlf = enc("line1\r\nPUB x 5\r\n\r\n\u0000end");
        await kv.put("crlf", crlf);
        await kv.put("empty", new Uint8Array(0));
        assertBytes((await kv.get("all-bytes")).value, bytes);
        assertBytes((await kv.get("crlf")).value, crlf);
        const empty = await kv.get("empty");
        assert.equal(empty.operation, "PUT");
        assert.equal(empty.value.length, 0);
        const big = new Uint8Array(200 * 1024).map((_, i) => (i * 7) & 0xff);
        await kv.put("big", big);
        assertBytes((await kv.get("big")).value, big);
      });

      test("1000 distinct keys are all listed", T, async () => {
        const kv = await kvm.create("thousand");
        const want = [];
        for (let i = 0; i < 1000; i++) want.push(`key.${String(i).padStart(4, "0")}`);
        for (let i = 0; i < want.length; i += 100) {
          await Promise.all(want.slice(i, i + 100).map((k) => kv.put(k, k)));
        }
        const keys = await collect(await kv.keys(), { ms: 15_000 });
        assert.equal(keys.length, 1000);
        assert.deepEqual([...new Set(keys)].sort(), want);
        const st = await kv.status();
        assert.equal(st.values, 1000);
        assert.equal((await kv.get("key.0999")).string(), "key.0999");
      });
    });

    // --------------------------------------------------------- JetStream

    describe("jetstream", () => {
      test("add a stream and publish", T, async () => {
        const si = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.*", "returns.>"] });
        assert.equal(si.config.name, "ORDERS");
        assert.deepEqual(si.config.subjects, ["orders.*", "returns.>"]);
        assert.equal(si.state.messages, 0);

        const acks = [];
        for (const s of ["orders.new", "orders.paid", "returns.eu.1"]) acks.push(await js.publish(s, s));
        assert.deepEqual(
          acks.map((a) => [a.stream, a.seq, a.duplicate]),
          [
            ["ORDERS", 1, false],
            ["ORDERS", 2, false],
            ["ORDERS", 3, false],
          ],
        );
        // Not captured: orders.* is one token only.
        await rejectsNoResponders(js.publish("orders.new.extra", "x"));
        assert.equal((await jsm.streams.info("ORDERS")).state.messages, 3);

        // Adding the same stream again with the same config is fine; overlapping
        // subjects on another stream are not.
        await jsm.streams.add({ name: "ORDERS", subjects: ["orders.*", "returns.>"] });
        await rejectsWithApiCode(
          jsm.streams.add({ name: "OVERLAP", subjects: ["orders.new"] }),
          10065,
          /subjects overlap with an existing stream/,
        );
        await jsm.streams.delete("ORDERS");
      });

      test("duplicate Nats-Msg-Id within the window", T, async () => {
        await jsm.streams.add({ name: "DEDUP", subjects: ["dedup"], duplicate_window: nanos(60_000) });
        const a = await js.publish("dedup", "first", { msgID: "order-1" });
        const b = await js.publish("dedup", "second", { msgID: "order-1" });
        const c = await js.publish("dedup", "third", { msgID: "order-2" });
        assert.deepEqual([a.seq, a.duplicate], [1, false]);
        assert.deepEqual([b.seq, b.duplicate], [1, true]);
        assert.deepEqual([c.seq, c.duplicate], [2, false]);
        const si = await jsm.streams.info("DEDUP");
        assert.equal(si.state.messages, 2);
        assert.equal((await jsm.streams.getMessage("DEDUP", { seq: 1 })).string(), "first");
        const h = headers();
        h.set("Nats-Msg-Id", "order-2");
        const d = await js.publish("dedup", "via header", { headers: h });
        assert.deepEqual([d.seq, d.duplicate], [2, true]);
        await jsm.streams.delete("DEDUP");
      });

      test("expected last sequence mismatch", T, async () => {
        await jsm.streams.add({ name: "EXPECT", subjects: ["expect.>"] });
        await js.publish("expect.a", "1");
        await js.publish("expect.b", "2");
        await rejectsWithApiCode(
          js.publish("expect.a", "x", { expect: { lastSequence: 1 } }),
          JetStreamApiCodes.StreamWrongLastSequence,
          /wrong last sequence: 2/,
        );
        const ok = await js.publish("expect.a", "3", { expect: { lastSequence: 2 } });
        assert.equal(ok.seq, 3);
        await rejectsWithApiCode(
          js.publish("expect.b", "x", { expect: { lastSubjectSequence: 3 } }),
          JetStreamApiCodes.StreamWrongLastSequence,
          /wrong last sequence: 2/,
        );
        assert.equal((await js.publish("expect.b", "4", { expect: { lastSubjectSequence: 2 } })).seq, 4);
        await rejectsWithApiCode(
          js.publish("expect.a", "x", { expect: { streamName: "OTHER" } }),
          10060,
          /expected stream does not match/,
        );
        assert.equal((await jsm.streams.info("EXPECT")).state.messages, 4);
        await jsm.streams.delete("EXPECT");
      });

      test("stream info, purge, get and delete messages", T, async () => {
        await jsm.streams.add({ name: "EVENTS", subjects: ["events.>"] });
        const h = headers();
        h.set("Trace-Id", "abc");
        await js.publish("events.a", "a1", { headers: h });
        await js.publish("events.b", "b1");
        await js.publish("events.a", "a2");
        await js.publish("events.c", "c1");

        let si = await jsm.streams.info("EVENTS");
        assert.equal(si.state.messages, 4);
        assert.equal(si.state.first_seq, 1);
        assert.equal(si.state.last_seq, 4);
        assert.ok(si.state.bytes > 0);
        assert.equal(si.state.consumer_count, 0);
        assert.equal(si.state.num_subjects, 3);

        const bySeq = await jsm.streams.getMessage("EVENTS", { seq: 1 });
        assert.equal(bySeq.subject, "events.a");
        assert.equal(bySeq.seq, 1);
        assert.equal(bySeq.string(), "a1");
        assert.equal(bySeq.header.get("Trace-Id"), "abc");
        const last = await jsm.streams.getMessage("EVENTS", { last_by_subj: "events.a" });
        assert.equal(last.seq, 3);
        assert.equal(last.string(), "a2");
        assert.equal(await jsm.streams.getMessage("EVENTS", { seq: 99 }), null);
        assert.equal(await jsm.streams.getMessage("EVENTS", { last_by_subj: "events.none" }), null);

        assert.equal(await jsm.streams.deleteMessage("EVENTS", 2), true);
        assert.equal(await jsm.streams.getMessage("EVENTS", { seq: 2 }), null);
        si = await jsm.streams.info("EVENTS");
        assert.equal(si.state.messages, 3);
        assert.equal(si.state.num_deleted, 1);
        assert.equal(si.state.last_seq, 4);
        // Deleting it again fails. nats-server 2.9.10 answers 10043 "sequence 2 not found"
        // here (and 10057 "no message found", status 500, for the first message).
        await assert.rejects(jsm.streams.deleteMessage("EVENTS", 2), (err) => {
          assert.ok(err instanceof JetStreamApiError, `${err}`);
          assert.match(err.message, /not found/);
          return true;
        });

        // Purge one subject, then everything.
        const p1 = await jsm.streams.purge("EVENTS", { filter: "events.a" });
        assert.deepEqual([p1.success, p1.purged], [true, 2]);
        assert.equal((await jsm.streams.info("EVENTS")).state.messages, 1);
        const p2 = await jsm.streams.purge("EVENTS");
        assert.deepEqual([p2.success, p2.purged], [true, 1]);
        si = await jsm.streams.info("EVENTS");
        assert.equal(si.state.messages, 0);
        assert.equal(si.state.bytes, 0);
        assert.equal(si.state.last_seq, 4);
        assert.equal(si.state.first_seq, 5);
        // Sequences continue after a purge.
        assert.equal((await js.publish("events.a", "a3")).seq, 5);
        await jsm.streams.delete("EVENTS");
      });

      test("max_msgs_per_subject keeps the newest per subject", T, async () => {
        await jsm.streams.add({ name: "LATEST", subjects: ["latest.*"], max_msgs_per_subject: 2 });
        for (let i = 1; i <= 5; i++) await js.publish("latest.a", `a${i}`);
        await js.publish("latest.b", "b1");
        const si = await jsm.streams.info("LATEST");
        assert.equal(si.state.messages, 3);
        assert.equal(si.state.first_seq, 4);
        assert.equal(si.state.last_seq, 6);
        assert.equal(await jsm.streams.getMessage("LATEST", { seq: 3 }), null);
        assert.equal((await jsm.streams.getMessage("LATEST", { seq: 4 })).string(), "a4");
        assert.equal((await jsm.streams.getMessage("LATEST", { last_by_subj: "latest.a" })).string(), "a5");
        await jsm.streams.delete("LATEST");
      });

      test("list stream names and delete a stream", T, async () => {
        await jsm.streams.add({ name: "NAMES_1", subjects: ["names.1"] });
        await jsm.streams.add({ name: "NAMES_2", subjects: ["names.2"] });
        const names = await listAll(jsm.streams.names());
        assert.ok(names.includes("NAMES_1") && names.includes("NAMES_2"), names.join());
        const infos = await listAll(jsm.streams.list());
        assert.ok(infos.some((i) => i.config.name === "NAMES_1"));
        assert.deepEqual(await listAll(jsm.streams.names("names.2")), ["NAMES_2"]);

        await js.publish("names.1", "x");
        assert.equal(await jsm.streams.delete("NAMES_1"), true);
        await rejectsWithApiCode(jsm.streams.info("NAMES_1"), JetStreamApiCodes.StreamNotFound, /stream not found/);
        await rejectsWithApiCode(jsm.streams.delete("NAMES_1"), JetStreamApiCodes.StreamNotFound);
        await rejectsNoResponders(js.publish("names.1", "x"));
        const after = await listAll(jsm.streams.names());
        assert.ok(!after.includes("NAMES_1") && after.includes("NAMES_2"), after.join());
        await jsm.streams.delete("NAMES_2");
      });

      test("pull consumer work queue: ack, nak, ack_wait, term, max_deliver", T, async () => {
        await jsm.streams.add({
          name: "JOBS",
          subjects: ["jobs.>"],
          retention: RetentionPolicy.Workqueue,
        });
        await jsm.consumers.add("JOBS", {
          durable_name: "workers",
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(1000),
          max_deliver: 3,
        });
        for (let i = 1; i <= 6; i++) await js.publish(`jobs.j${i}`, `job ${i}`);
        assert.equal((await jsm.streams.info("JOBS")).state.messages, 6);

        const c = await js.consumers.get("JOBS", "workers");
        const round1 = await collect(await c.fetch({ max_messages: 6, expires: 5000 }), { n: 6 });
        assert.deepEqual(
          round1.map((m) => [m.string(), m.seq, m.info.deliveryCount, m.redelivered]),
          [1, 2, 3, 4, 5, 6].map((i) => [`job ${i}`, i, 1, false]),
        );
        const byName = Object.fromEntries(round1.map((m) => [m.string(), m]));
        for (const i of [1, 2, 3]) assert.equal(await byName[`job ${i}`].ackAck(), true);
        // jobs 4 and 5 are left alone: redelivered once ack_wait (1 s) runs out
        byName["job 6"].term(); // never redelivered
        await nc.flush();

        // Acked (and terminated) work is removed from a work queue stream. A +TERM is
        // fire-and-forget and nats-server handles it on its consumer's own goroutine, so
        // the removal may trail the flush by a moment: wait up to 2 s for it.
        let si = await jsm.streams.info("JOBS");
        for (let i = 0; i < 40 && si.state.messages !== 2; i++) {
          await new Promise((r) => setTimeout(r, 50));
          si = await jsm.streams.info("JOBS");
        }
        assert.equal(si.state.messages, 2, JSON.stringify(si.state));
        assert.equal((await jsm.streams.getMessage("JOBS", { seq: 1 })), null);
        assert.equal((await jsm.streams.getMessage("JOBS", { seq: 6 })), null);
        assert.equal((await jsm.streams.getMessage("JOBS", { seq: 4 })).string(), "job 4");

        // Both unacknowledged jobs come back after ack_wait, delivered a second time (in
        // either order: their deadlines are a moment apart).
        const t0 = Date.now();
        const round2 = await collect(await c.fetch({ max_messages: 2, expires: 4000 }), { n: 2 });
        assert.deepEqual(
          round2.map((m) => [m.string(), m.info.deliveryCount, m.redelivered]).sort(),
          [
            ["job 4", 2, true],
            ["job 5", 2, true],
          ],
        );
        assert.ok(Date.now() - t0 >= 500, "jobs came back before ack_wait");
        const again = Object.fromEntries(round2.map((m) => [m.string(), m]));
        assert.equal(await again["job 5"].ackAck(), true);
        again["job 4"].nak(); // redelivered right away

        const third = await c.next({ expires: 3000 });
        assert.equal(third.string(), "job 4");
        assert.equal(third.info.deliveryCount, 3);
        third.nak();
        // max_deliver 3 reached and job 6 was terminated: nothing more.
        const none = await c.next({ expires: 1500 });
        assert.equal(none, null, none && `${none.string()} #${none.info.deliveryCount}`);

        const ci = await c.info();
        assert.equal(ci.num_pending, 0);
        assert.equal(ci.num_ack_pending, 0);
        // job 4 was never acked, so it stays in the stream.
        const left = await jsm.streams.info("JOBS");
        assert.equal(left.state.messages, 1);
        assert.equal(left.state.first_seq, 4);
        await jsm.streams.delete("JOBS");
      });

      test("next() on an empty consumer returns null after expires", T, async () => {
        await jsm.streams.add({ name: "IDLE", subjects: ["idle"] });
        await jsm.consumers.add("IDLE", { durable_name: "idler", ack_policy: AckPolicy.Explicit });
        const c = await js.consumers.get("IDLE", "idler");
        const t0 = Date.now();
        assert.equal(await c.next({ expires: 1000 }), null);
        const took = Date.now() - t0;
        assert.ok(took >= 900 && took < 5000, `next() took ${took} ms`);
        const fetched = await collect(await c.fetch({ max_messages: 5, expires: 1000 }));
        assert.deepEqual(fetched, []);
        // A message published afterwards is picked up by the next pull.
        await js.publish("idle", "wake");
        const m = await c.next({ expires: 2000 });
        assert.equal(m.string(), "wake");
        m.ack();
        await jsm.streams.delete("IDLE");
      });

      test("ordered consumer receives everything in order", T, async () => {
        await jsm.streams.add({ name: "FEED", subjects: ["feed.*"] });
        for (let i = 1; i <= 50; i++) await js.publish(`feed.${i % 3}`, `m${i}`);
        const oc = await js.consumers.get("FEED"); // no name: ordered consumer
        const iter = await oc.consume({ max_messages: 20 });
        const pub = (async () => {
          for (let i = 51; i <= 100; i++) await js.publish(`feed.${i % 3}`, `m${i}`);
        })();
        const got = await collect(iter, { n: 100, ms: 10_000 });
        await pub;
        iter.stop();
        assert.equal(got.length, 100);
        assert.deepEqual(
          got.map((m) => m.seq),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.deepEqual(
          got.map((m) => m.string()),
          Array.from({ length: 100 }, (_, i) => `m${i + 1}`),
        );
        assert.equal(got[0].subject, "feed.1");
        await jsm.streams.delete("FEED");
      });
    });

    // ------------------------------------------------------------ restart

    describe("restart", () => {
      test("a KV bucket survives SIGTERM and restart", T, async () => {
        let s = await startExtra();
        let c = await conn(s.url);
        let kv = await new Kvm(c).create("durable", { history: 3 });
        const revs = {};
        for (const [k, v] of [
          ["a", "1"],
          ["b", "1"],
          ["a", "2"],
          ["c", "1"],
          ["a", "3"],
        ]) {
          revs[k] = await kv.put(k, v);
        }
        await kv.delete("c");
        await c.close();
        const code = await s.stop();
        // dialtone-server exits 0 on SIGTERM (nats-server 2.9.10 exits 1).
        if (bin === serverBin) assert.equal(code, 0, s.log());

        s = await restartExtra(s);
        c = await conn(s.url);
        kv = await new Kvm(c).open("durable");
        const a = await kv.get("a");
        assert.deepEqual([a.string(), a.revision], ["3", revs.a]);
        const b = await kv.get("b");
        assert.deepEqual([b.string(), b.revision], ["1", revs.b]);
        assert.equal((await kv.get("c")).operation, "DEL");
        const hist = await collect(await kv.history({ key: "a" }));
        assert.deepEqual(
          hist.map((e) => [e.revision, e.string()]),
          [
            [1, "1"],
            [3, "2"],
            [5, "3"],
          ],
        );
        const st = await kv.status();
        assert.equal(st.history, 3);
        assert.equal(st.values, 6);
        assert.deepEqual((await collect(await kv.keys())).sort(), ["a", "b"]);
        assert.equal(await kv.put("a", "4"), 7);
        await rejectsWithApiCode(kv.create("b", "x"), JetStreamApiCodes.StreamWrongLastSequence);
        await c.close();
        await s.stop();
      });

      test("acked puts survive SIGKILL", T, async () => {
        let s = await startExtra();
        const clients = await Promise.all([0, 1, 2].map(() => conn(s.url)));
        await new Kvm(clients[0]).create("crash", { history: 1 });
        const acked = new Map(); // key -> [value, revision]
        await Promise.all(
          clients.map(async (cl, ci) => {
            const kv = await new Kvm(cl).open("crash");
            for (let i = 0; i < 300; i++) {
              const key = `c${ci}.k${i}`;
              const value = `value ${ci}/${i}`;
              acked.set(key, [value, await kv.put(key, value)]);
            }
          }),
        );
        await s.kill();
        await Promise.all(clients.map((cl) => cl.close().catch(() => {})));

        assert.equal(acked.size, 900);
        const revisions = [...acked.values()].map(([, r]) => r).sort((x, y) => x - y);
        assert.deepEqual(
          revisions,
          Array.from({ length: 900 }, (_, i) => i + 1),
        );

        s = await restartExtra(s);
        const c = await conn(s.url);
        const kv = await new Kvm(c).open("crash");
        const entries = [...acked.entries()];
        for (let i = 0; i < entries.length; i += 100) {
          await Promise.all(
            entries.slice(i, i + 100).map(async ([key, [value, rev]]) => {
              const e = await kv.get(key);
              assert.notEqual(e, null, `${key} (revision ${rev}) lost`);
              assert.deepEqual([e.string(), e.revision, e.operation], [value, rev, "PUT"], key);
            }),
          );
        }
        const st = await kv.status();
        assert.equal(st.values, 900);
        assert.equal(st.streamInfo.state.last_seq, 900);
        assert.equal(await kv.put("after.crash", "x"), 901);
        assert.equal(await kv.update("c0.k0", "y", acked.get("c0.k0")[1]), 902);
        await c.close();
        await s.stop();
      });
    });
  });
}
