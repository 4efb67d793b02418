// Multi-tenant accounts seen through nats.js: isolation, a service import bound to the
// importer, a prefixed stream import and wrong credentials.
import { describe, test, before, after } from "node:test";
import { existsSync } from "node:fs";
import assert from "node:assert/strict";
import { connect, errors } from "@nats-io/transport-node";
import { startServer, serverBin, natsServerBin } from "./server.js";

const conf = `
accounts {
  SVC {
    users = [ {user: svc, password: svcpass} ]
    exports = [
      {service: "svc.usage.*", account_token_position: 3}
      {stream: "events.>"}
    ]
  }
  A {
    users = [ {user: a, password: apass} ]
    imports = [
      {service: {account: SVC, subject: "svc.usage.A"}, to: "usage"}
      {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
    ]
  }
  B {
    users = [ {user: b, password: bpass} ]
    imports = [ {service: {account: SVC, subject: "svc.usage.B"}, to: "usage"} ]
  }
}
`;

// The same configuration and the same client code against dialtone-server and
// nats-server: the behaviour must match.
const servers = [["dialtone-server", serverBin]];
if (existsSync(natsServerBin)) servers.push(["nats-server", natsServerBin]);

for (const [label, bin] of servers) {
  describe(label, () => {
    let server;
    before(async () => {
      server = await startServer(conf, bin);
    });
    after(async () => {
      const code = await server.stop();
      if (bin === serverBin) assert.equal(code, 0, server.log());
    });

    const as = (user, pass) => connect({ servers: server.url, user, pass });

    test("each customer reaches the usage service as itself", async () => {
      const svc = await as("svc", "svcpass");
      svc.subscribe("svc.usage.*", {
        callback: (err, m) => {
          if (!err) m.respond(`usage of ${m.subject.split(".")[2]}`);
        },
      });
      await svc.flush();
      const a = await as("a", "apass");
      const b = await as("b", "bpass");
      assert.equal((await a.request("usage", "", { timeout: 2000 })).string(), "usage of A");
      assert.equal((await b.request("usage", "", { timeout: 2000 })).string(), "usage of B");
      // The exporter's own subject is not reachable from an importing account.
      await assert.rejects(a.request("svc.usage.B", "", { timeout: 2000 }), (err) => {
        assert.ok(err instanceof errors.RequestError && err.isNoResponders(), `unexpected ${err}`);
        return true;
      });
      await Promise.all([svc, a, b].map((c) => c.close()));
    });

    test("accounts are isolated and stream imports arrive under the prefix", async () => {
      const svc = await as("svc", "svcpass");
      const a = await as("a", "apass");
      const b = await as("b", "bpass");
      const gotA = [];
      const gotB = [];
      a.subscribe(">", { callback: (_, m) => gotA.push(m.subject) });
      b.subscribe(">", { callback: (_, m) => gotB.push(m.subject) });
      await Promise.all([a.flush(), b.flush()]);
      svc.publish("events.signup", "x");
      a.publish("chatter", "a only");
      await svc.flush();
      await a.flush();
      await Promise.all([a.flush(), b.flush()]);
      assert.deepEqual(gotA.sort(), ["chatter", "svc.events.signup"]);
      assert.deepEqual(gotB, []);
      await Promise.all([svc, a, b].map((c) => c.close()));
    });

    test("a wrong password is refused", async () => {
      await assert.rejects(as("a", "wrong"), (err) => {
        assert.match(String(err.message ?? err), /authorization violation/i);
        return true;
      });
    });
  });
}
