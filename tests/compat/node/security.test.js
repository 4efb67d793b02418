// Security seen through nats.js: nkey logins, operator mode with JWTs and creds made
// by @nats-io/jwt and @nats-io/nkeys (permissions, an expired user), a service import
// that needs an activation token, and a live account update through the full
// directory resolver that revokes a connected user. Same tests, both servers.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, credsAuthenticator, nkeyAuthenticator, errors } from "@nats-io/transport-node";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { encodeAccount, encodeActivation, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { startServer, serverBin, serversUnderTest } from "./server.js";

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with `p`, or rejects after `ms` with `what` in the message.
function within(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// The first "error" status of a connection (e.g. a permissions violation, which
// nats.js reports asynchronously). Call before the action that causes it.
function nextErrorStatus(nc) {
  const it = nc.status();
  return (async () => {
    for await (const s of it) {
      if (s.type === "error") return s.error;
    }
    throw new Error("status stream ended without an error");
  })();
}

// Runs fn(server) against a fresh server for `conf`; stops it afterwards and, for
// dialtone-server, checks the clean exit. A failure carries the server log.
async function withServer(conf, bin, fn) {
  const server = await startServer(conf, bin);
  try {
    await fn(server);
  } catch (err) {
    err.message += `\n--- server log ---\n${server.log()}`;
    throw err;
  } finally {
    const code = await server.stop();
    if (bin === serverBin) assert.equal(code, 0, server.log());
  }
}

// Account limits as nsc writes them. @nats-io/jwt's encodeAccount adds none, and
// nats-server reads a missing account limit as 0 (no connections, no imports, ...).
const unlimited = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true };

// An operator whose system account is SYS, and the config text for it: either every
// account JWT preloaded into a MEMORY resolver, or a full directory resolver with only
// SYS preloaded.
async function newOperator() {
  const op = createOperator();
  const sys = createAccount();
  const operatorJwt = await encodeOperator("O", op, { system_account: sys.getPublicKey() });
  const account = (name, akp, claims = {}) => encodeAccount(name, akp, { limits: unlimited, ...claims }, { signer: op });
  const sysJwt = await account("SYS", sys);
  return {
    op,
    sys,
    account,
    memoryConfig: (accountJwts) => {
      const preload = { [sys.getPublicKey()]: sysJwt, ...accountJwts };
      return `operator: ${operatorJwt}
system_account: ${sys.getPublicKey()}
resolver: MEMORY
resolver_preload {
${Object.entries(preload).map(([k, v]) => `  ${k}: ${v}`).join("\n")}
}
`;
    },
    dirConfig: (dir) => `operator: ${operatorJwt}
system_account: ${sys.getPublicKey()}
resolver { type: full, dir: "${dir}", allow_delete: true }
resolver_preload {
  ${sys.getPublicKey()}: ${sysJwt}
}
`,
  };
}

// Creds for a new user of account `akp` (library defaults: subs/data/payload -1).
async function newCreds(akp, name, user = {}, opts = {}) {
  const ukp = createUser();
  const jwt = await encodeUser(name, ukp, akp, user, opts);
  return { ukp, jwt, creds: fmtCreds(jwt, ukp) };
}

const connectCreds = (server, creds, extra = {}) =>
  connect({ servers: server.url, authenticator: credsAuthenticator(creds), ...extra });

const isAuthViolation = (err) => {
  assert.ok(err instanceof errors.AuthorizationError, `unexpected ${err?.name}: ${err?.message}`);
  assert.match(err.message, /authorization violation/i);
  return true;
};

for (const [label, bin] of serversUnderTest()) {
  describe(label, () => {
    test("nkey users log in by signing the nonce; other keys are refused", async () => {
      const alice = createUser();
      const conf = `authorization { users = [ {nkey: ${alice.getPublicKey()}} ] }\n`;
      await withServer(conf, bin, async (server) => {
        const svc = await connect({ servers: server.url, authenticator: nkeyAuthenticator(alice.getSeed()) });
        svc.subscribe("echo", { callback: (err, m) => !err && m.respond(`echo ${m.string()}`) });
        await svc.flush();
        const nc = await connect({ servers: server.url, authenticator: nkeyAuthenticator(alice.getSeed()) });
        const r = await nc.request("echo", "hi", { timeout: 2000 });
        assert.equal(r.string(), "echo hi");
        await Promise.all([svc.close(), nc.close()]);

        const mallory = createUser();
        await assert.rejects(
          connect({ servers: server.url, authenticator: nkeyAuthenticator(mallory.getSeed()) }),
          isAuthViolation,
        );
        // No credentials at all is refused too.
        await assert.rejects(connect({ servers: server.url }), isAuthViolation);
      });
    });

    test("operator mode: creds logins, JWT permissions, an expired user is refused", async () => {
      const o = await newOperator();
      const a = createAccount();
      const conf = o.memoryConfig({ [a.getPublicKey()]: await o.account("A", a) });
      const limited = await newCreds(a, "limited", {
        pub: { allow: ["a.>", "_INBOX.>"] },
        sub: { allow: ["a.>", "_INBOX.>"] },
      });
      const open = await newCreds(a, "open");
      const expired = await newCreds(a, "expired", {}, { exp: nowSeconds() - 60 });
      await withServer(conf, bin, async (server) => {
        const nc = await connectCreds(server, limited.creds);
        const watcher = await connectCreds(server, open.creds);
        const seenB = [];
        watcher.subscribe("b.>", { callback: (_, m) => seenB.push(m.subject) });
        await watcher.flush();

        // Allowed subjects work, including a request through _INBOX.
        const sub = nc.subscribe("a.x", { max: 1 });
        await nc.flush();
        nc.publish("a.x", "hello");
        const got = await within((async () => { for await (const m of sub) return m.string(); })(), 3000, "a.x");
        assert.equal(got, "hello");
        watcher.subscribe("a.svc", { callback: (err, m) => !err && m.respond("served") });
        await watcher.flush();
        assert.equal((await nc.request("a.svc", "", { timeout: 2000 })).string(), "served");

        // A publish outside the permissions is reported and not delivered.
        const errStatus = nextErrorStatus(nc);
        nc.publish("b.x", "nope");
        await nc.flush();
        const err = await within(errStatus, 3000, "permissions violation status");
        assert.ok(err instanceof errors.PermissionViolationError, `unexpected ${err?.name}: ${err?.message}`);
        assert.equal(err.operation, "publish");
        assert.equal(err.subject, "b.x");
        // A subscription outside the permissions is refused as well.
        const subErr = nextErrorStatus(nc);
        const denied = nc.subscribe("b.y");
        await nc.flush();
        const se = await within(subErr, 3000, "subscription violation status");
        assert.ok(se instanceof errors.PermissionViolationError, `unexpected ${se?.name}: ${se?.message}`);
        assert.equal(se.operation, "subscription");
        assert.equal(se.subject, "b.y");
        await within(denied.closed, 3000, "denied subscription closed");
        // The connection survives permission errors.
        await nc.flush();
        await watcher.flush();
        assert.deepEqual(seenB, []);
        assert.equal(nc.isClosed(), false);
        await Promise.all([nc.close(), watcher.close()]);

        // A user JWT that expired a minute ago never logs in.
        await assert.rejects(connectCreds(server, expired.creds), isAuthViolation);
      });
    });

    test("a token_req export is imported only with an activation token", async () => {
      const o = await newOperator();
      const a = createAccount();
      const b = createAccount();
      const c = createAccount();
      const token = await encodeActivation("help", b.getPublicKey(), a, "service", { subject: "help.>" });
      const imp = { name: "help", subject: "help.me", account: a.getPublicKey(), type: "service" };
      const conf = o.memoryConfig({
        [a.getPublicKey()]: await o.account("A", a, {
          exports: [{ name: "help", subject: "help.>", type: "service", token_req: true }],
        }),
        [b.getPublicKey()]: await o.account("B", b, { imports: [{ ...imp, token }] }),
        // C imports the same service without a token: the import is not granted.
        [c.getPublicKey()]: await o.account("C", c, { imports: [imp] }),
      });
      const ua = await newCreds(a, "svc");
      const ub = await newCreds(b, "customer");
      const uc = await newCreds(c, "stranger");
      await withServer(conf, bin, async (server) => {
        const svc = await connectCreds(server, ua.creds);
        svc.subscribe("help.>", { callback: (err, m) => !err && m.respond(`helped on ${m.subject}`) });
        await svc.flush();
        const nb = await connectCreds(server, ub.creds);
        const r = await nb.request("help.me", "please", { timeout: 2000 });
        assert.equal(r.string(), "helped on help.me");
        const nc = await connectCreds(server, uc.creds);
        await assert.rejects(nc.request("help.me", "please", { timeout: 2000 }), (err) => {
          assert.ok(err instanceof errors.RequestError && err.isNoResponders(), `unexpected ${err}`);
          return true;
        });
        await Promise.all([svc.close(), nb.close(), nc.close()]);
      });
    });

    test("a claims update revoking a connected user closes its connection", async () => {
      const o = await newOperator();
      const a = createAccount();
      const dir = mkdtempSync(join(tmpdir(), "dialtone-node-resolver-"));
      try {
        // The directory resolver knows A from its file; only SYS is preloaded.
        writeFileSync(join(dir, `${a.getPublicKey()}.jwt`), await o.account("A", a));
        const sysUser = await newCreds(o.sys, "sys");
        const alice = await newCreds(a, "alice");
        await withServer(o.dirConfig(dir), bin, async (server) => {
          const sys = await connectCreds(server, sysUser.creds);
          const nc = await connectCreds(server, alice.creds, { reconnect: false });
          const errStatus = nextErrorStatus(nc);
          let closedAt = null;
          const closed = nc.closed().then((e) => {
            closedAt = Date.now();
            return e;
          });
          // The connection works before the update.
          const sub = nc.subscribe("ping", { callback: (err, m) => !err && m.respond("pong") });
          await nc.flush();
          assert.equal((await nc.request("ping", "", { timeout: 2000 })).string(), "pong");
          assert.equal(sub.isClosed(), false);

          // Revocations cover users issued up to the given second: let alice's iat pass.
          await sleep(1100);
          const updated = await o.account("A", a, { revocations: { [alice.ukp.getPublicKey()]: nowSeconds() } });
          const sent = Date.now();
          const reply = await sys.request("$SYS.REQ.CLAIMS.UPDATE", updated, { timeout: 3000 });
          const body = reply.json();
          assert.equal(body?.data?.code, 200, `reply ${reply.string()}`);

          await within(closed, 5000, "revoked client closed");
          assert.equal(nc.isClosed(), true);
          assert.ok(closedAt - sent < 5000);
          const err = await within(errStatus, 1000, "error status before close");
          assert.match(err.message, /user authentication revoked/i);
          // The revoked user cannot come back.
          await assert.rejects(connectCreds(server, alice.creds), isAuthViolation);
          await sys.close();
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
