// The object store seen through the unmodified nats.js client (@nats-io/obj): objects
// from 0 B to 256 MiB, info/list/delete/overwrite/watch/links/seal/status/TTL/destroy,
// and a kill -9 in the middle of a put. Every test runs against dialtone-server and
// against the reference peer nats-server (-js); the behaviour users see must match.
// Object-store layout: /work/shared/reference/nats-wire.md section 4.7 (ADR-20).
//
// COMPAT_ONLY=nats-server or COMPAT_ONLY=dialtone runs only one half.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, nanos } from "@nats-io/transport-node";
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Objm, StorageType, setSha256Backend } from "@nats-io/obj";
import { startServer, serverBin, serversUnderTest } from "./server.js";
import { patternBytes, patternStream, drain, digestOf } from "./objdata.js";

// The client checks the digest of everything it reads; node:crypto instead of the
// default pure-JS SHA-256 keeps that from dominating the large tests. The digests the
// tests compare are computed independently (objdata.js).
setSha256Backend("native");

const servers = serversUnderTest();

// Small tests; this only protects the run from a hang.
const T = { timeout: 60_000 };
const MiB = 1024 * 1024;
const CHUNK = 128 * 1024; // the client's default chunk size (max_payload is 1 MiB)
const chunksOf = (size) => Math.ceil(size / CHUNK);
const streamOf = (bucket) => `OBJ_${bucket}`;
// Meta subjects carry the object name as URL-safe base64 with padding.
const metaSubject = (bucket, name) =>
  `$O.${bucket}.M.${Buffer.from(name, "latin1").toString("base64").replace(/\+/g, "-").replace(/\//g, "_")}`;
const chunkSubject = (bucket, nuid) => `$O.${bucket}.C.${nuid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value or `ms` passed; returns the last value.
async function waitFor(fn, { ms = 10_000, every = 100 } = {}) {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!v && Date.now() < deadline) {
    await sleep(every);
    v = await fn();
  }
  return v;
}

// Byte-for-byte comparison that ignores Buffer vs Uint8Array.
function assertBytes(actual, expected, msg) {
  assert.ok(actual instanceof Uint8Array, `not bytes: ${actual}`);
  assert.equal(actual.length, expected.length, msg);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), msg ?? "bytes differ");
}

// A nats.js QueuedIterator cannot be iterated again after breaking out of a for-await,
// so a watcher that is read in several steps is drained in the background into `items`.
function tap(iter) {
  const items = [];
  const done = (async () => {
    for await (const v of iter) items.push(v);
  })();
  return {
    items,
    async until(n, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (items.length < n && Date.now() < deadline) await sleep(10);
      return items.slice();
    },
    stop() {
      iter.stop();
      return done;
    },
  };
}

async function listAll(lister) {
  const out = [];
  for await (const v of lister) out.push(v);
  return out;
}

// Asserts the ObjectInfo of a live object of `size` bytes whose content has `digest`.
function assertInfo(info, { bucket, name, size, digest }, where = name) {
  assert.ok(info, `${where}: no info`);
  assert.equal(info.bucket, bucket, `${where}: bucket`);
  assert.equal(info.name, name, `${where}: name`);
  assert.equal(info.size, size, `${where}: size`);
  assert.equal(info.chunks, chunksOf(size), `${where}: chunks`);
  assert.equal(info.digest, digest, `${where}: digest`);
  assert.equal(info.deleted, false, `${where}: deleted`);
  assert.match(info.nuid, /^[0-9A-Za-z]{22}$/, `${where}: nuid`);
}

// Reads an object back through get() (streaming) and checks it against pattern `seed`.
async function assertGetPattern(os, name, { seed, size, digest }) {
  const r = await os.get(name);
  assert.ok(r, `get(${name}) returned null`);
  assert.equal(r.info.size, size);
  assert.equal(r.info.digest, digest);
  const got = await drain(r.data, { seed });
  // r.error resolves with null or undefined once the data was read without error.
  assert.equal((await r.error) ?? null, null, `get(${name}) reported an error`);
  assert.equal(got.mismatchAt, -1, `${name}: first differing byte at offset ${got.mismatchAt}`);
  assert.equal(got.size, size, `${name}: bytes read back`);
  assert.equal(got.digest, digest, `${name}: digest of the bytes read back`);
  return got;
}

for (const [label, bin] of servers) {
  const isDialtone = bin === serverBin;

  describe(label, () => {
    let server;
    let nc;
    let objm;
    let jsm;
    // Everything a test opens is closed in after(), even when the test failed.
    const conns = [];
    const extraServers = [];

    const conn = async (url = server.url) => {
      const c = await connect({ servers: url, maxReconnectAttempts: 0 });
      conns.push(c);
      return c;
    };
    const state = async (bucket, m = jsm) => (await m.streams.info(streamOf(bucket))).state;

    before(async () => {
      server = await startServer(undefined, bin, { jetstream: true });
      nc = await conn();
      objm = new Objm(nc);
      jsm = await jetstreamManager(nc);
    });
    after(async () => {
      await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.close().catch(() => {}))));
      for (const s of extraServers) {
        await s.kill();
        s.removeStore();
      }
      if (server) {
        const code = await server.stop();
        server.removeStore();
        if (isDialtone) assert.equal(code, 0, server.log());
      }
    });

    // ------------------------------------------------------------ put/get

    describe("put and get", () => {
      const sizes = [0, 1, CHUNK, CHUNK + 1, 5 * MiB];

      for (const size of sizes) {
        test(`${size} B with putBlob/getBlob and put/get streams`, T, async () => {
          const bucket = `sizes-${size}`;
          const os = await objm.create(bucket);
          const seed = 1000 + size;
          const data = patternBytes(seed, 0, size);
          const digest = digestOf(data);

          const name = `blob-${size}`;
          const put = await os.putBlob({ name }, data);
          assertInfo(put, { bucket, name, size, digest }, "putBlob result");
          assertInfo(await os.info(name), { bucket, name, size, digest }, "info()");
          assertBytes(await os.getBlob(name), data, `getBlob(${name})`);

          // The same content from a ReadableStream cut in pieces that are not chunk
          // aligned, read back as a stream.
          const sname = `stream-${size}`;
          const src = patternStream(seed, size, { piece: 50_000 });
          const sput = await os.put({ name: sname }, src.stream);
          assert.equal(src.sent.bytes, size);
          assert.equal(src.sent.digest, digest);
          assertInfo(sput, { bucket, name: sname, size, digest }, "put result");
          await assertGetPattern(os, sname, { seed, size, digest });
          assertBytes(await os.getBlob(sname), data, `getBlob(${sname})`);

          // Both objects are in the stream as their chunks plus one meta each.
          const st = await state(bucket);
          assert.equal(st.messages, 2 * (chunksOf(size) + 1), JSON.stringify(st));
          assert.equal(await os.destroy(), true);
        });
      }

      test("256 MiB streamed in and out", { timeout: 900_000 }, async (t) => {
        const os = await objm.create("big");
        const size = 256 * MiB;
        const seed = 256;
        const src = patternStream(seed, size, { piece: 1_000_000 });
        let t0 = Date.now();
        const info = await os.put({ name: "huge.bin", description: "256 MiB" }, src.stream);
        const putMs = Date.now() - t0;
        assert.equal(src.sent.bytes, size);
        assertInfo(info, { bucket: "big", name: "huge.bin", size, digest: src.sent.digest });
        assert.equal(info.chunks, 2048);
        assertInfo(await os.info("huge.bin"), { bucket: "big", name: "huge.bin", size, digest: src.sent.digest });

        t0 = Date.now();
        const got = await assertGetPattern(os, "huge.bin", { seed, size, digest: src.sent.digest });
        const getMs = Date.now() - t0;
        t.diagnostic(`put ${putMs} ms, get ${getMs} ms (${got.pieces} pieces)`);
        const st = await state("big");
        assert.equal(st.messages, 2049);
        assert.equal(await os.destroy(), true); // frees the disk space
      });
    });

    // ------------------------------------------------------ info & layout

    describe("objects", () => {
      test("info round-trips name, size, chunks, digest, mtime, description, headers, metadata", T, async () => {
        const bucket = "infos";
        const os = await objm.create(bucket);
        const name = "dir/quarterly report 1.txt";
        const data = patternBytes(7, 0, 300_000);
        const h = headers();
        h.set("Content-Type", "text/plain");
        h.append("X-Multi", "a");
        h.append("X-Multi", "b");
        const t0 = Date.now();
        const put = await os.putBlob(
          { name, description: "Q1 numbers", headers: h, metadata: { owner: "ops", "x-k": "v" } },
          data,
        );
        const t1 = Date.now();
        const digest = digestOf(data);
        assertInfo(put, { bucket, name, size: 300_000, digest });

        const info = await os.info(name);
        assertInfo(info, { bucket, name, size: 300_000, digest });
        assert.equal(info.chunks, 3);
        assert.equal(info.nuid, put.nuid);
        assert.equal(info.revision, put.revision);
        assert.equal(info.description, "Q1 numbers");
        assert.equal(info.headers.get("Content-Type"), "text/plain");
        assert.deepEqual(info.headers.values("X-Multi"), ["a", "b"]);
        assert.deepEqual(info.metadata, { owner: "ops", "x-k": "v" });
        assert.equal(info.options.max_chunk_size, CHUNK);
        assert.equal(info.isLink(), false);
        assert.match(info.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
        const mtime = Date.parse(info.mtime);
        assert.ok(mtime >= t0 - 1000 && mtime <= t1 + 1000, `mtime ${info.mtime}`);
        assert.equal(await os.info("no such object"), null);
        assert.equal(await os.get("no such object"), null);
        assert.equal(await os.getBlob("no such object"), null);

        // The layout on the wire (ADR-20): chunks on $O.<b>.C.<nuid>, then the meta on
        // $O.<b>.M.<base64url(name)> with a subject rollup header.
        const stream = streamOf(bucket);
        const meta = await jsm.streams.getMessage(stream, { last_by_subj: metaSubject(bucket, name) });
        assert.ok(meta, "no meta message");
        assert.equal(meta.seq, put.revision);
        assert.equal(meta.header.get("Nats-Rollup"), "sub");
        const mj = meta.json();
        assert.deepEqual(
          [mj.name, mj.bucket, mj.nuid, mj.size, mj.chunks, mj.digest, mj.deleted, mj.description],
          [name, bucket, put.nuid, 300_000, 3, digest, false, "Q1 numbers"],
        );
        const sizes = [];
        for (let seq = meta.seq - 3; seq < meta.seq; seq++) {
          const m = await jsm.streams.getMessage(stream, { seq });
          assert.equal(m.subject, chunkSubject(bucket, put.nuid));
          sizes.push(m.data.length);
        }
        assert.deepEqual(sizes, [CHUNK, CHUNK, 300_000 - 2 * CHUNK]);
        const si = await jsm.streams.info(stream);
        assert.deepEqual([si.state.messages, si.state.num_subjects], [4, 2]);
      });

      test("list shows live objects only", T, async () => {
        const os = await objm.create("listing");
        assert.deepEqual(await os.list(), []);
        for (const n of ["a", "b", "c.d"]) await os.putBlob({ name: n, description: `obj ${n}` }, patternBytes(1, 0, 10));
        await os.putBlob({ name: "a" }, patternBytes(2, 0, 200_000)); // a second version, listed once
        await os.delete("b");
        const list = await os.list();
        assert.deepEqual(list.map((i) => i.name).sort(), ["a", "c.d"]);
        const a = list.find((i) => i.name === "a");
        assert.deepEqual([a.size, a.chunks, a.digest], [200_000, 2, digestOf(patternBytes(2, 0, 200_000))]);
        assert.equal(list.find((i) => i.name === "c.d").description, "obj c.d");
      });

      test("delete marks the object deleted and purges its chunks", T, async () => {
        const bucket = "deletes";
        const stream = streamOf(bucket);
        const os = await objm.create(bucket);
        const victim = patternBytes(11, 0, 300_000);
        const vinfo = await os.putBlob({ name: "victim" }, victim);
        const bystander = patternBytes(12, 0, 1000);
        await os.putBlob({ name: "bystander" }, bystander);
        const before = await state(bucket);
        assert.equal(before.messages, 3 + 1 + 1 + 1);
        assert.ok(await jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, vinfo.nuid) }));

        const pr = await os.delete("victim");
        assert.deepEqual([pr.success, pr.purged], [true, 3]);
        assert.equal(await os.get("victim"), null);
        assert.equal(await os.getBlob("victim"), null);
        const info = await os.info("victim");
        assert.ok(info, "info() of a deleted object returns its tombstone");
        assert.deepEqual(
          [info.name, info.deleted, info.size, info.chunks, info.digest],
          ["victim", true, 0, 0, ""],
        );
        assert.ok(info.revision > vinfo.revision);
        // The chunks are really gone: only the tombstone and the bystander remain.
        const after = await state(bucket);
        assert.equal(after.messages, 1 + 2, JSON.stringify(after));
        assert.ok(after.bytes < before.bytes - 300_000, `${after.bytes} vs ${before.bytes}`);
        assert.equal(await jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, vinfo.nuid) }), null);
        assertBytes(await os.getBlob("bystander"), bystander);
        assert.deepEqual((await os.list()).map((i) => i.name), ["bystander"]);

        // Deleting something that does not exist reports nothing purged.
        const none = await os.delete("never-was");
        assert.deepEqual([none.success, none.purged], [false, 0]);
        // The name can be used again.
        await os.putBlob({ name: "victim" }, victim.subarray(0, 10));
        assertBytes(await os.getBlob("victim"), victim.subarray(0, 10));
      });

      test("overwrite purges the old version's chunks", T, async () => {
        const bucket = "overwrites";
        const stream = streamOf(bucket);
        const os = await objm.create(bucket);
        const v1 = patternBytes(21, 0, 300_000);
        const i1 = await os.putBlob({ name: "doc" }, v1);
        const s1 = await state(bucket);
        assert.deepEqual([s1.messages, s1.num_subjects], [4, 2]);

        // Same size, other content: the stream holds exactly as many messages and bytes
        // as before (the meta JSON has the same length too).
        const v2 = patternBytes(22, 0, 300_000);
        const i2 = await os.putBlob({ name: "doc" }, v2);
        assert.notEqual(i2.nuid, i1.nuid);
        const s2 = await state(bucket);
        assert.deepEqual(
          [s2.messages, s2.bytes, s2.num_subjects],
          [s1.messages, s1.bytes, 2],
          `after the overwrite: ${JSON.stringify(s2)}, before: ${JSON.stringify(s1)}`,
        );
        assert.equal(await jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, i1.nuid) }), null);
        assertBytes(await os.getBlob("doc"), v2);

        // Smaller: 1 chunk + the meta.
        const v3 = patternBytes(23, 0, 5000);
        const i3 = await os.putBlob({ name: "doc" }, v3);
        const s3 = await state(bucket);
        assert.deepEqual([s3.messages, s3.num_subjects], [2, 2], JSON.stringify(s3));
        assert.equal(await jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, i2.nuid) }), null);
        assert.ok(await jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, i3.nuid) }));
        const info = await os.info("doc");
        assertInfo(info, { bucket, name: "doc", size: 5000, digest: digestOf(v3) });
        assert.equal(info.revision, s3.last_seq);
        assertBytes(await os.getBlob("doc"), v3);

        // Overwrite with an empty object: only the meta remains.
        await os.putBlob({ name: "doc" }, new Uint8Array(0));
        const s4 = await state(bucket);
        assert.deepEqual([s4.messages, s4.num_subjects], [1, 1], JSON.stringify(s4));
        assert.equal((await os.getBlob("doc")).length, 0);
      });

      test("watch delivers the current objects, then puts and deletes", T, async () => {
        const os = await objm.create("watched");
        await os.putBlob({ name: "a" }, patternBytes(31, 0, 10));
        await os.putBlob({ name: "b" }, patternBytes(32, 0, 200_000));
        await os.putBlob({ name: "a" }, patternBytes(33, 0, 20));

        const w = tap(await os.watch({ includeHistory: true }));
        const initial = await w.until(2);
        // The latest meta per object, in stream order.
        assert.deepEqual(
          initial.map((i) => [i.name, i.size, i.chunks, i.deleted]),
          [
            ["b", 200_000, 2, false],
            ["a", 20, 1, false],
          ],
        );
        assert.equal(initial[1].digest, digestOf(patternBytes(33, 0, 20)));
        // nats.js flags the last initial value as an update already (i >= num_pending).
        assert.deepEqual(
          initial.map((i) => i.isUpdate),
          [false, true],
        );

        // A watcher without history only sees what happens from now on.
        const live = tap(await os.watch());
        await sleep(200);
        assert.equal(live.items.length, 0);

        await os.putBlob({ name: "c" }, patternBytes(34, 0, 5));
        await os.delete("a");
        await os.putBlob({ name: "b" }, patternBytes(35, 0, 7));
        const all = await w.until(5);
        const fromLive = await live.until(3);
        await w.stop();
        await live.stop();
        for (const got of [all.slice(2), fromLive]) {
          assert.deepEqual(
            got.map((i) => [i.name, i.size, i.deleted, i.isUpdate]),
            [
              ["c", 5, false, true],
              ["a", 0, true, true],
              ["b", 7, false, true],
            ],
          );
        }
        assert.equal(w.items.length, 5);
        assert.equal(live.items.length, 3);

        // ignoreDeletes drops the tombstone of "a".
        const nd = tap(await os.watch({ includeHistory: true, ignoreDeletes: true }));
        const names = await nd.until(2);
        await sleep(200);
        await nd.stop();
        assert.deepEqual(nd.items.map((i) => i.name), ["c", "b"]);
        assert.deepEqual(names.map((i) => i.name), ["c", "b"]);
      });

      test("links to an object, to another bucket's object and to a bucket", T, async () => {
        const src = await objm.create("links-src");
        const dst = await objm.create("links-dst");
        const data = patternBytes(41, 0, 250_000);
        await src.putBlob({ name: "target" }, data);
        const target = await src.info("target");

        const alias = await src.link("alias", target);
        assert.equal(alias.name, "alias");
        assert.equal(alias.isLink(), true);
        assert.deepEqual(alias.options.link, { bucket: "links-src", name: "target" });
        const ai = await src.info("alias");
        assert.deepEqual(ai.options.link, { bucket: "links-src", name: "target" });
        assert.equal(ai.size ?? 0, 0);
        assert.equal(ai.chunks ?? 0, 0);
        // A link has no chunks of its own: the stream holds target's 2 chunks and 2 metas.
        assert.equal((await state("links-src")).messages, 4);
        assertBytes(await src.getBlob("alias"), data, "get through a link");
        const r = await src.get("alias");
        assert.equal(r.info.name, "target");
        assert.equal(r.info.digest, digestOf(data));
        const got = await drain(r.data, { seed: 41 });
        assert.equal((await r.error) ?? null, null);
        assert.deepEqual([got.size, got.mismatchAt], [250_000, -1]);

        // Into another bucket.
        const remote = await dst.link("remote", target);
        assert.deepEqual(remote.options.link, { bucket: "links-src", name: "target" });
        assertBytes(await dst.getBlob("remote"), data, "get through a link to another bucket");

        // Links to links and links over existing objects are refused (client side).
        await assert.rejects(src.link("alias2", ai), /src object is a link/);
        await assert.rejects(src.link("target", target), /already exists/);

        // A link to a whole bucket.
        const whole = await dst.linkStore("everything", src);
        assert.equal(whole.isLink(), true);
        const wi = await dst.info("everything");
        assert.deepEqual(wi.options.link, { bucket: "links-src" });
        await assert.rejects(dst.get("everything"), /link is a bucket/);
        assert.deepEqual((await dst.list()).map((i) => i.name).sort(), ["everything", "remote"]);

        // Once the target is deleted, the links lead nowhere.
        await src.delete("target");
        assert.equal(await src.get("alias"), null);
        assert.equal(await dst.getBlob("remote"), null);
      });
    });

    // ------------------------------------------------------------- buckets

    describe("buckets", () => {
      test("bucket status fields", T, async () => {
        const os = await objm.create("stat", {
          description: "for status",
          ttl: nanos(3_600_000),
          max_bytes: 10 * MiB,
          storage: StorageType.File,
        });
        await os.putBlob({ name: "x" }, patternBytes(51, 0, 200_000));
        const st = await os.status();
        assert.equal(st.bucket, "stat");
        assert.equal(st.description, "for status");
        assert.equal(st.ttl, nanos(3_600_000));
        assert.equal(st.storage, StorageType.File);
        assert.equal(st.replicas, 1);
        assert.equal(st.sealed, false);
        assert.equal(st.backingStore, "JetStream");
        assert.equal(st.compression, false);
        assert.equal(st.size, st.streamInfo.state.bytes);
        assert.ok(st.size > 200_000, `${st.size}`);
        const c = st.streamInfo.config;
        assert.equal(c.name, "OBJ_stat");
        assert.deepEqual(c.subjects, ["$O.stat.C.>", "$O.stat.M.>"]);
        assert.equal(c.allow_rollup_hdrs, true);
        assert.equal(c.allow_direct, true);
        assert.equal(c.discard, "new");
        assert.equal(c.max_age, nanos(3_600_000));
        assert.equal(c.max_bytes, 10 * MiB);
        assert.equal(c.num_replicas, 1);
        assert.equal(st.streamInfo.state.messages, 3);

        // Creating it again opens it as it is.
        const again = await objm.create("stat");
        assert.equal((await again.status()).description, "for status");
        assert.equal((await again.info("x")).size, 200_000);

        // max_bytes with discard new: a put that does not fit fails, and the client
        // purges the chunks it managed to store.
        await assert.rejects(again.putBlob({ name: "too-big" }, patternBytes(52, 0, 11 * MiB)));
        assert.equal(await again.info("too-big"), null);
        assert.equal((await state("stat")).messages, 3);

        const mem = await objm.create("stat-mem", { storage: StorageType.Memory });
        const ms = await mem.status();
        assert.equal(ms.storage, StorageType.Memory);
        assert.equal(ms.ttl, 0);
        await mem.putBlob({ name: "m" }, patternBytes(53, 0, 140_000));
        assertBytes(await mem.getBlob("m"), patternBytes(53, 0, 140_000));

        const buckets = (await listAll(objm.list())).map((s) => s.bucket);
        assert.ok(buckets.includes("stat") && buckets.includes("stat-mem"), buckets.join());
        assert.ok(!buckets.some((b) => b.startsWith("OBJ_") || b.startsWith("KV_")), buckets.join());
      });

      test("seal: status().sealed, reads work, writes fail", T, async () => {
        const os = await objm.create("sealed");
        const data = patternBytes(61, 0, 150_000);
        await os.putBlob({ name: "kept" }, data);
        const sealed = await os.seal();
        assert.equal(sealed.sealed, true);
        assert.equal(sealed.streamInfo.config.sealed, true);
        assert.equal((await os.status()).sealed, true);
        assertBytes(await os.getBlob("kept"), data);

        await assert.rejects(os.putBlob({ name: "new" }, patternBytes(62, 0, 10)), (err) => {
          assert.ok(err instanceof JetStreamApiError, `${err}`);
          return true;
        });
        await assert.rejects(os.putBlob({ name: "kept" }, patternBytes(63, 0, 10)));
        await assert.rejects(os.delete("kept"));
        assert.equal(await os.info("new"), null);
        assertBytes(await os.getBlob("kept"), data);
        assert.equal((await state("sealed")).messages, 3);
      });

      test("TTL: objects disappear after the bucket's ttl", T, async () => {
        const os = await objm.create("ttl", { ttl: nanos(1000) });
        assert.equal((await os.status()).ttl, nanos(1000));
        const data = patternBytes(71, 0, 200_000);
        const t0 = Date.now();
        await os.putBlob({ name: "short" }, data);
        assert.ok(await os.info("short"), "the object is there right after the put");
        const gone = await waitFor(async () => (await os.info("short")) === null, { ms: 15_000, every: 100 });
        const took = Date.now() - t0;
        assert.ok(gone, "the object did not expire within 15 s");
        assert.ok(took >= 900, `expired after ${took} ms, before the 1 s ttl`);
        assert.equal(await os.get("short"), null);
        assert.deepEqual(await os.list(), []);
        const emptied = await waitFor(async () => (await state("ttl")).messages === 0, { ms: 5000 });
        assert.ok(emptied, JSON.stringify(await state("ttl")));
      });

      test("destroy", T, async () => {
        const os = await objm.create("doomed");
        await os.putBlob({ name: "x" }, patternBytes(81, 0, 1000));
        assert.equal(await os.destroy(), true);
        await assert.rejects(jsm.streams.info("OBJ_doomed"), (err) => {
          assert.ok(err instanceof JetStreamApiError, `${err}`);
          assert.equal(err.code, JetStreamApiCodes.StreamNotFound);
          return true;
        });
        await assert.rejects(objm.open("doomed"), /object store not found/);
        await assert.rejects(os.status(), /object store not found/);
        const buckets = (await listAll(objm.list())).map((s) => s.bucket);
        assert.ok(!buckets.includes("doomed"), buckets.join());
        // The name can be reused, starting empty.
        const fresh = await objm.create("doomed");
        assert.equal(await fresh.get("x"), null);
        assert.deepEqual(await fresh.list(), []);
      });
    });

    // --------------------------------------------------------------- crash

    describe("crash", () => {
      const bucket = "crash";
      const stream = streamOf(bucket);
      // Handed from the kill -9 test to the orphan test.
      const crash = {};

      test("kill -9 during a put leaves the previous version intact", { timeout: 300_000 }, async (t) => {
        // dialtone gets orphan_chunk_age (checked by the next test). nats-server refuses
        // the key ("unknown field"), so it never sees it.
        let s;
        if (isDialtone) {
          try {
            s = await startServer(`jetstream { orphan_chunk_age: "2s" }\n`, bin, { jetstream: true });
            crash.orphanConfig = true;
          } catch (err) {
            crash.orphanConfigError = err.message.trim();
            t.diagnostic(`dialtone refused orphan_chunk_age, running without it: ${crash.orphanConfigError}`);
          }
        }
        s ??= await startServer(undefined, bin, { jetstream: true });
        extraServers.push(s);
        const c = await conn(s.url);
        const mon = await jetstreamManager(await conn(s.url)); // a second connection
        const os = await new Objm(c).create(bucket);

        const v1size = 2 * MiB;
        const v1 = patternStream(101, v1size);
        const i1 = await os.put({ name: "doc", description: "v1" }, v1.stream);
        assertInfo(i1, { bucket, name: "doc", size: v1size, digest: v1.sent.digest });
        const s1 = await state(bucket, mon);
        assert.equal(s1.messages, chunksOf(v1size) + 1);
        crash.v1 = { info: i1, digest: v1.sent.digest, size: v1size, state: s1 };

        // v2 (64 MiB): once 6 MB were handed to the client (so ~45 chunks were
        // published and acknowledged), look at the stream from the other connection,
        // let the put go on, and SIGKILL the server 5 ms later, with chunk publishes in
        // flight.
        let killed = null;
        let onKilled;
        const killedP = new Promise((resolve) => (onKilled = resolve));
        const v2 = patternStream(102, 64 * MiB, {
          onPiece: async (sent) => {
            if (killed || sent < 6_000_000) return;
            const st = await state(bucket, mon);
            const first = await mon.streams.getMessage(stream, { seq: s1.last_seq + 1 });
            killed = { state: st, nuid: first.subject.split(".").pop(), sent };
            killed.done = sleep(5).then(() => {
              killed.at = Date.now();
              return s.kill();
            });
            onKilled();
          },
        });
        const put2 = os.put({ name: "doc", description: "v2" }, v2.stream);
        // nats.js notices the dead connection only ~2 s later; the server is restarted
        // right away, so that the orphan test below really waits for orphan_chunk_age.
        const put2failed = assert.rejects(put2, (err) => {
          t.diagnostic(`the interrupted put failed with: ${err.message}`);
          return true;
        });
        await Promise.race([killedP, put2.catch(() => {})]);
        assert.ok(killed, "the put ended before the server was killed");
        await killed.done;
        crash.v2nuid = killed.nuid;
        crash.killAt = killed.at;
        const v2bytes = killed.state.bytes - s1.bytes;
        t.diagnostic(
          `killed 5 ms after ${killed.sent} B were handed out; stream before the kill: ` +
            `${killed.state.messages} msgs, ${killed.state.bytes} B (v1 alone: ${s1.messages} msgs, ${s1.bytes} B)`,
        );
        // "A few MiB" of v2 were really in the stream when the server died.
        assert.ok(v2bytes >= 4 * MiB, `only ${v2bytes} B of v2 stored before the kill`);
        assert.ok(killed.state.messages >= s1.messages + 32, JSON.stringify(killed.state));

        // Restart on the same store: "doc" is exactly v1.
        const s2 = await s.restart();
        extraServers.push(s2);
        const c2 = await conn(s2.url);
        const jsm2 = await jetstreamManager(c2);
        // Stream states seen after the restart, with the time they were seen (for the
        // orphan test).
        crash.samples = [];
        const sample = async () => {
          const st = await state(bucket, jsm2);
          crash.samples.push({ t: Date.now(), messages: st.messages, bytes: st.bytes });
          return st;
        };
        const after = await sample();
        t.diagnostic(
          `${crash.samples[0].t - killed.at} ms after the kill: ${after.messages} msgs, ${after.bytes} B ` +
            `(${after.messages - s1.messages} orphan chunks of v2)`,
        );
        const os2 = await new Objm(c2).open(bucket);
        const info = await os2.info("doc");
        assertInfo(info, { bucket, name: "doc", size: v1size, digest: v1.sent.digest });
        assert.deepEqual([info.nuid, info.revision, info.description], [i1.nuid, i1.revision, "v1"]);
        await assertGetPattern(os2, "doc", { seed: 101, size: v1size, digest: v1.sent.digest });
        assert.deepEqual((await os2.list()).map((i) => [i.name, i.nuid]), [["doc", i1.nuid]]);
        assert.ok(await jsm2.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, i1.nuid) }));
        await sample();
        await put2failed;
        t.diagnostic(`the put failed ${Date.now() - killed.at} ms after the kill`);
        // Nothing of v1 was lost.
        assert.ok(after.messages >= s1.messages, JSON.stringify(after));

        // The restarted server takes new objects (in another bucket, so that the
        // orphan test below sees this bucket untouched).
        const other = await new Objm(c2).create("crash-after");
        const d = patternBytes(103, 0, 300_000);
        await other.putBlob({ name: "x" }, d);
        assertBytes(await other.getBlob("x"), d);

        crash.server = s2;
        crash.jsm = jsm2;
        crash.os = os2;
      });

      test(
        "chunks of the interrupted put are purged after orphan_chunk_age (dialtone only)",
        {
          timeout: 60_000,
          // nats-server does not clean orphan chunks of an interrupted put: they stay
          // until the bucket is purged/destroyed. This is a documented difference.
          skip: !isDialtone && "nats-server does not remove orphan chunks (documented difference)",
        },
        async (t) => {
          assert.ok(crash.jsm, "the kill -9 test did not get as far as the restart");
          const { state: s1 } = crash.v1;
          const want = { messages: s1.messages, bytes: s1.bytes };
          if (!crash.orphanConfig) {
            const st = await state(bucket, crash.jsm);
            assert.fail(
              `dialtone refused the config 'jetstream { orphan_chunk_age: "2s" }' ` +
                `(${crash.orphanConfigError}); stream now ${st.messages} msgs, ${st.bytes} B, ` +
                `v1 alone ${want.messages} msgs, ${want.bytes} B`,
            );
          }
          // Poll for up to 20 s: the orphan age is 2 s, counted from the newest orphan chunk.
          let st;
          await waitFor(
            async () => {
              st = await state(bucket, crash.jsm);
              crash.samples.push({ t: Date.now(), messages: st.messages, bytes: st.bytes });
              return st.messages === want.messages && st.bytes === want.bytes;
            },
            { ms: 20_000, every: 100 },
          );
          const clean = crash.samples.find((x) => x.messages === want.messages && x.bytes === want.bytes);
          t.diagnostic(
            `stream ${Date.now() - crash.killAt} ms after the kill: ${st.messages} msgs, ${st.bytes} B` +
              (clean ? ` (first seen clean ${clean.t - crash.killAt} ms after the kill)` : ""),
          );
          assert.deepEqual(
            { messages: st.messages, bytes: st.bytes },
            want,
            `stream ${stream} should hold exactly v1's ${s1.messages - 1} chunks and its meta`,
          );
          assert.equal(
            await crash.jsm.streams.getMessage(stream, { last_by_subj: chunkSubject(bucket, crash.v2nuid) }),
            null,
          );
          // Not too early either: the newest orphan chunk was stored at most a few ms
          // before the kill, so they must still be there up to 1.5 s after it (0.5 s of
          // slack). Only samples that reached the test in that window say anything.
          for (const x of crash.samples.filter((x) => x.t < crash.killAt + 1500)) {
            assert.ok(
              x.messages > want.messages,
              `orphan chunks already gone ${x.t - crash.killAt} ms after the kill, before orphan_chunk_age (2 s)`,
            );
          }
          // v1 is untouched.
          await assertGetPattern(crash.os, "doc", { seed: 101, size: crash.v1.size, digest: crash.v1.digest });
        },
      );
    });
  });
}
