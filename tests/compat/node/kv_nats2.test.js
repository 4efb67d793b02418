// The same KV operations through the older Node client, `nats` 2.x (its JetStream code
// is nats.deno's: other consumer-create subjects and flows than @nats-io/kv 3.x). Runs
// against dialtone-server and nats-server -js; both must answer alike.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, StringCodec } from "nats";
import { startServer, serversUnderTest } from "./server.js";

const sc = StringCodec();
const servers = serversUnderTest();
const T = { timeout: 30_000 };

for (const [label, bin] of servers) {
  describe(`nats 2.x KV against ${label}`, () => {
    let srv, nc;
    before(async () => {
      srv = await startServer("", bin, { jetstream: true });
      nc = await connect({ servers: srv.url });
    });
    after(async () => {
      await nc?.close();
      await srv?.stop();
      srv?.removeStore?.();
    });

    test("put, get, create conflict, update, delete, keys, history, watch, status", T, async () => {
      const kv = await nc.jetstream().views.kv("N2", { history: 3 });
      const revs = [await kv.put("a.b", sc.encode("one")), await kv.put("a.c", sc.encode("two")),
                    await kv.put("a.b", sc.encode("three"))];
      assert.deepEqual(revs, [1, 2, 3]);
      const e = await kv.get("a.b");
      assert.equal(sc.decode(e.value), "three");
      assert.equal(e.revision, 3);
      await assert.rejects(kv.create("a.b", sc.encode("x")), /wrong last sequence: 3/);
      assert.equal(await kv.update("a.b", sc.encode("four"), 3), 4);
      await assert.rejects(kv.update("a.b", sc.encode("five"), 3), /wrong last sequence: 4/);
      await kv.delete("a.c");

      const keys = [];
      for await (const k of await kv.keys()) keys.push(k);
      assert.deepEqual(keys, ["a.b"]);

      const hist = [];
      for await (const h of await kv.history({ key: "a.b" })) hist.push(`${h.revision}:${h.operation}:${sc.decode(h.value)}`);
      assert.deepEqual(hist, ["1:PUT:one", "3:PUT:three", "4:PUT:four"]);

      const w = await kv.watch({ key: "a.>" });
      const seen = [];
      const done = (async () => {
        for await (const x of w) {
          seen.push(`${x.key}=${sc.decode(x.value)}@${x.revision}:${x.operation}`);
          if (x.key === "a.d") break;
        }
      })();
      await kv.put("a.d", sc.encode("live"));
      await done;
      assert.deepEqual(seen, ["a.b=four@4:PUT", "a.c=@5:DEL", "a.d=live@6:PUT"]);

      const st = await kv.status();
      assert.equal(st.values, 6);
      assert.equal(st.history, 3);
      assert.equal(st.bucket, "N2");
    });
  });
}
