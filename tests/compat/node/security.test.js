// Security seen through nats.js: nkey logins, operator mode with JWTs and creds made
// by @nats-io/jwt and @nats-io/nkeys (permissions, an expired user), a service import
// that needs an activation token, a live account update through the full directory
// resolver that revokes a connected user, and TLS with certificates made by the openssl
// command line (server authentication, client certificates, verify_and_map). Same
// tests, both servers.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
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

// A test PKI in a fresh temp dir, made with the openssl command line: a CA (EC P-256),
// a server certificate for localhost (DNS:localhost, IP:127.0.0.1), and client
// certificates for alice (e-mail SAN), bob (subject /CN=bob/O=Acme, no SAN) and carol
// (CN=carol, no SAN: valid, but names no user). Removed after the file's tests.
function makePki() {
  const dir = mkdtempSync(join(tmpdir(), "dialtone-node-tls-"));
  const file = (name) => join(dir, name);
  const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ecKey, "-keyout", file("ca-key.pem"), "-out", file("ca.pem"),
    "-subj", "/CN=Dialtone Test CA", "-days", "2",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  let serial = 1000;
  // A key and a certificate signed by the CA, with the extensions in `ext` (lines).
  const issue = (name, subject, ext) => {
    writeFileSync(file(`${name}.ext`), ["basicConstraints=CA:FALSE", ...ext].join("\n") + "\n");
    openssl("req", "-new", ...ecKey, "-keyout", file(`${name}-key.pem`), "-out", file(`${name}.csr`), "-subj", subject);
    openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca-key.pem"),
      "-set_serial", String(serial++), "-days", "2", "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`));
    return { certFile: file(`${name}.pem`), keyFile: file(`${name}-key.pem`) };
  };
  const client = ["keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"];
  return {
    dir,
    caFile: file("ca.pem"),
    server: issue("server", "/CN=localhost", [
      "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]),
    alice: issue("alice", "/CN=alice", [...client, "subjectAltName=email:alice@example.com"]),
    bob: issue("bob", "/CN=bob/O=Acme", client),
    carol: issue("carol", "/CN=carol", client),
  };
}

let pkiCache;
const pki = () => (pkiCache ??= makePki());
after(() => {
  if (pkiCache) rmSync(pkiCache.dir, { recursive: true, force: true });
});

// The tls block of a server config: the server's certificate and key, with `extra`
// settings after them.
const tlsBlock = (extra = "") => {
  const p = pki();
  return `tls {
  cert_file: "${p.server.certFile}"
  key_file: "${p.server.keyFile}"
  timeout: 5
${extra}}
`;
};
// ... that also asks for client certificates from the test CA (`mode`: "verify" or
// "verify_and_map").
const tlsVerifyBlock = (mode) => tlsBlock(`  ca_file: "${pki().caFile}"\n  ${mode}: true\n`);

// A TLS connection by host name, so that the server certificate's DNS:localhost is
// what the client checks.
const connectTls = (server, tls, extra = {}) =>
  connect({ servers: `localhost:${server.port}`, tls, reconnect: false, ...extra });

// The first message of `sub`, within `ms`.
const firstMessage = (sub, ms, what) =>
  within((async () => { for await (const m of sub) return m; })(), ms, what);

// A connection attempt that must fail: asserts the rejection (any error class) and
// records the client's message in the test output.
async function assertConnectFails(t, attempt, what, pattern) {
  let err;
  await assert.rejects(attempt, (e) => {
    err = e;
    return true;
  });
  const text = `${err?.name}: ${err?.message}${err?.code ? ` (${err.code})` : ""}`;
  t.diagnostic(`${what}: ${text}`);
  assert.ok(err instanceof Error, `${what}: rejected with a non-error ${text}`);
  if (pattern) assert.match(`${err.message} ${err.code ?? ""}`, pattern, `${what}: ${text}`);
  return err;
}

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

    test("TLS: a client that trusts the CA connects; request/reply and a 1 MiB message round trip", async () => {
      const { caFile } = pki();
      await withServer(tlsBlock(), bin, async (server) => {
        const svc = await connectTls(server, { caFile });
        svc.subscribe("echo", { callback: (err, m) => !err && m.respond(`echo ${m.string()}`) });
        await svc.flush();
        const nc = await connectTls(server, { caFile });
        assert.equal(nc.info?.tls_required, true, `INFO ${JSON.stringify(nc.info)}`);
        const r = await nc.request("echo", "over tls", { timeout: 3000 });
        assert.equal(r.string(), "echo over tls");

        // 1 MiB (the default max_payload) through the server and back, byte for byte.
        const payload = randomBytes(1024 * 1024);
        const sub = svc.subscribe("big", { max: 1 });
        await svc.flush();
        nc.publish("big", payload);
        await nc.flush();
        const m = await firstMessage(sub, 10000, "1 MiB message");
        assert.equal(m.data.length, payload.length);
        assert.ok(Buffer.from(m.data).equals(payload), "1 MiB payload differs");
        await Promise.all([svc.close(), nc.close()]);
      });
    });

    test("TLS: a client without the CA does not connect", async (t) => {
      await withServer(tlsBlock(), bin, async (server) => {
        const untrusted = /certificate|self.signed|issuer|verify/i;
        await assertConnectFails(t, connectTls(server, {}), "tls: {}", untrusted);
        // No tls option: INFO says tls_required, nats.js upgrades with default trust.
        await assertConnectFails(t, connectTls(server, undefined), "no tls option", untrusted);
      });
    });

    test("TLS verify: a client certificate from the CA is required", async (t) => {
      const { caFile, alice } = pki();
      await withServer(tlsVerifyBlock("verify"), bin, async (server) => {
        const nc = await connectTls(server, { caFile, ...alice });
        assert.equal(nc.info?.tls_verify, true, `INFO ${JSON.stringify(nc.info)}`);
        const sub = nc.subscribe("v.x", { max: 1 });
        await nc.flush();
        nc.publish("v.x", "verified");
        assert.equal((await firstMessage(sub, 3000, "v.x")).string(), "verified");
        await nc.close();

        await assertConnectFails(t, connectTls(server, { caFile }), "no client certificate");
      });
    });

    test("TLS verify_and_map: the certificate names the user; an unknown one is refused", async (t) => {
      const { caFile, alice, bob, carol } = pki();
      const conf = tlsVerifyBlock("verify_and_map") + `authorization {
  users = [
    { user: "alice@example.com", permissions: { publish: "alice.>" } }
    { user: "O=Acme,CN=bob" }
  ]
}
`;
      await withServer(conf, bin, async (server) => {
        // alice (e-mail SAN) logs in with her permissions: alice.> only.
        const na = await connectTls(server, { caFile, ...alice });
        // bob (subject "O=Acme,CN=bob") logs in without restrictions.
        const nb = await connectTls(server, { caFile, ...bob });
        const sub = nb.subscribe("alice.hello", { max: 1 });
        const seenB = [];
        nb.subscribe("bob.>", { callback: (_, m) => seenB.push(m.subject) });
        await nb.flush();
        na.publish("alice.hello", "from alice");
        assert.equal((await firstMessage(sub, 3000, "alice.hello")).string(), "from alice");

        const errStatus = nextErrorStatus(na);
        na.publish("bob.x", "not allowed");
        await na.flush();
        const err = await within(errStatus, 3000, "permissions violation status");
        assert.ok(err instanceof errors.PermissionViolationError, `unexpected ${err?.name}: ${err?.message}`);
        assert.equal(err.operation, "publish");
        assert.equal(err.subject, "bob.x");
        await na.flush();
        await nb.flush();
        assert.deepEqual(seenB, []);
        assert.equal(na.isClosed(), false);
        // bob may publish anywhere (he is not alice).
        const sb = nb.subscribe("bob.y", { max: 1 });
        await nb.flush();
        nb.publish("bob.y", "from bob");
        assert.equal((await firstMessage(sb, 3000, "bob.y")).string(), "from bob");
        await Promise.all([na.close(), nb.close()]);

        // carol's certificate is valid, but names no user.
        const e = await assertConnectFails(t, connectTls(server, { caFile, ...carol }), "carol");
        isAuthViolation(e);
      });
    });
  });
}
