// nats.js (@nats-io/transport-node, unmodified) against the real dialtone-server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, errors } from "@nats-io/transport-node";
import { startServer } from "./server.js";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0, server.log());
});

async function collect(sub, n, timeoutMs = 3000) {
  const out = [];
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  for await (const m of sub) {
    out.push(m);
    if (out.length === n) break;
  }
  clearTimeout(timer);
  return out;
}

test("publish and subscribe with wildcards", async () => {
  const nc = await connect({ servers: server.url });
  const star = nc.subscribe("sensors.*.temp");
  const tail = nc.subscribe("sensors.>");
  await nc.flush();
  nc.publish("sensors.kitchen.temp", "21.5");
  nc.publish("sensors.garage.door.open", "yes");
  const a = await collect(star, 1);
  const b = await collect(tail, 2);
  assert.equal(a[0].subject, "sensors.kitchen.temp");
  assert.equal(a[0].string(), "21.5");
  assert.deepEqual(b.map((m) => m.string()), ["21.5", "yes"]);
  await nc.close();
});

test("request and reply", async () => {
  const svc = await connect({ servers: server.url });
  svc.subscribe("echo.upper", {
    callback: (err, m) => {
      if (!err) m.respond(m.string().toUpperCase());
    },
  });
  await svc.flush();
  const nc = await connect({ servers: server.url });
  for (const word of ["dial", "tone"]) {
    const r = await nc.request("echo.upper", word, { timeout: 2000 });
    assert.equal(r.string(), word.toUpperCase());
  }
  await nc.close();
  await svc.close();
});

test("no responders is reported", async () => {
  const nc = await connect({ servers: server.url });
  await assert.rejects(nc.request("nobody.here", "x", { timeout: 2000 }), (err) => {
    assert.ok(err instanceof errors.RequestError, `unexpected ${err}`);
    assert.ok(err.isNoResponders());
    return true;
  });
  await nc.close();
});

test("queue group shares the work", async () => {
  const pub = await connect({ servers: server.url });
  const workers = await Promise.all([1, 2].map(() => connect({ servers: server.url })));
  const counts = [0, 0];
  workers.forEach((w, i) => w.subscribe("tasks", { queue: "workers", callback: () => counts[i]++ }));
  await Promise.all(workers.map((w) => w.flush()));
  for (let i = 0; i < 200; i++) pub.publish("tasks", String(i));
  await pub.flush();
  await Promise.all(workers.map((w) => w.flush()));
  assert.equal(counts[0] + counts[1], 200);
  assert.ok(counts[0] > 0 && counts[1] > 0, `counts ${counts}`);
  await Promise.all([pub, ...workers].map((c) => c.close()));
});

test("headers round-trip and auto-unsubscribe", async () => {
  const nc = await connect({ servers: server.url });
  const sub = nc.subscribe("hdr", { max: 2 });
  await nc.flush();
  const h = headers();
  h.set("Order-Id", "42");
  h.append("Tag", "a");
  h.append("Tag", "b");
  for (let i = 0; i < 5; i++) nc.publish("hdr", `m${i}`, { headers: h });
  const got = await collect(sub, 5, 1000);
  assert.equal(got.length, 2);
  assert.equal(got[0].headers.get("Order-Id"), "42");
  assert.deepEqual(got[0].headers.values("Tag"), ["a", "b"]);
  assert.equal(got[1].string(), "m1");
  await nc.close();
});

test("server info is sane", async () => {
  const nc = await connect({ servers: server.url });
  assert.equal(nc.info.headers, true);
  assert.equal(nc.info.max_payload, 1048576);
  assert.equal(nc.info.proto, 1);
  const rtt = await nc.rtt();
  assert.ok(rtt >= 0);
  await nc.close();
});
