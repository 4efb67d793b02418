// Starts the real dialtone-server binary on an ephemeral port for a test file.
import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const serverBin =
  process.env.DIALTONE_SERVER ?? join(here, "..", "..", "..", "build", "dialtone-server");

// The peer: nats-server from Debian, used to check that a configuration behaves the
// same on both servers.
export const natsServerBin = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";

// The servers a compatibility suite runs against, as [label, binary] pairs: both, or
// the one COMPAT_ONLY names ("dialtone" or "nats-server").
export function serversUnderTest() {
  const all = [
    ["dialtone", serverBin],
    ["nats-server", natsServerBin],
  ];
  const only = process.env.COMPAT_ONLY;
  if (only && !all.some(([label]) => label === only)) {
    throw new Error(`COMPAT_ONLY must be one of ${all.map(([l]) => l).join(", ")}`);
  }
  return all.filter(([label]) => !only || label === only);
}

// startServer(configText, bin, opts)
//   opts.jetstream: true  -> adds `-js -sd <fresh temp dir>`
//   opts.storeDir: path   -> adds `-js -sd <path>` (reuse an existing store dir)
// The returned handle has:
//   port, url, log(), storeDir (or undefined without JetStream),
//   pid       the server process id (e.g. to sample /proc/<pid>/status),
//   stop()    SIGTERM, resolves with the exit code,
//   kill()    SIGKILL, resolves once the process is gone,
//   restart() starts a new process with the same binary, config and store dir
//             (on a new ephemeral port) and resolves with its handle; the old
//             process must have been stopped or killed first,
//   removeStore() deletes the store dir (call after the last process is gone).
export async function startServer(configText, bin = serverBin, opts = {}) {
  let confPath;
  if (configText) {
    const dir = mkdtempSync(join(tmpdir(), "dialtone-node-"));
    confPath = join(dir, "server.conf");
    writeFileSync(confPath, configText);
  }
  let storeDir = opts.storeDir;
  const fresh = !storeDir && opts.jetstream;
  if (fresh) storeDir = mkdtempSync(join(tmpdir(), "dialtone-node-js-"));
  try {
    return await launch(bin, confPath, storeDir);
  } catch (err) {
    if (fresh) rmSync(storeDir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(bin, confPath, storeDir) {
  const args = ["-a", "127.0.0.1", "-p", "-1"];
  if (confPath) args.push("-c", confPath);
  if (storeDir) args.push("-js", "-sd", storeDir);
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  let exited = null; // exit code (or signal name) once the process is gone
  const gone = new Promise((resolve) => {
    proc.on("exit", (code, signal) => {
      exited = code ?? signal;
      resolve(exited);
    });
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("server did not start:\n" + log));
    }, 15000);
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/Listening for client connections on [^ ]+:(\d+)/);
      if (m && log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on("data", onData);
    proc.stdout.on("data", onData);
    proc.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message}`));
    });
    gone.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  const signal = (sig) => {
    if (exited === null) proc.kill(sig);
    return gone;
  };
  return {
    port,
    pid: proc.pid,
    url: `127.0.0.1:${port}`,
    log: () => log,
    storeDir,
    // Resolves with the exit code (dialtone-server exits 0 on SIGTERM).
    stop: () => signal("SIGTERM"),
    // Hard crash: no chance to flush anything that was not already written.
    kill: () => signal("SIGKILL"),
    restart: () => {
      if (exited === null) throw new Error("restart() before the old process was stopped");
      return launch(bin, confPath, storeDir);
    },
    removeStore: () => {
      if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
