// Starts the real dialtone-server binary on an ephemeral port for a test file.
import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const serverBin =
  process.env.DIALTONE_SERVER ?? join(here, "..", "..", "..", "build", "dialtone-server");

// The peer: nats-server from Debian, used to check that a configuration behaves the
// same on both servers.
export const natsServerBin = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";

export async function startServer(configText, bin = serverBin) {
  const args = ["-a", "127.0.0.1", "-p", "-1"];
  if (configText) {
    const dir = mkdtempSync(join(tmpdir(), "dialtone-node-"));
    const conf = join(dir, "server.conf");
    writeFileSync(conf, configText);
    args.push("-c", conf);
  }
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start:\n" + log)), 15000);
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
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  return {
    port,
    url: `127.0.0.1:${port}`,
    log: () => log,
    // Resolves with the exit code (dialtone-server exits 0 on SIGTERM).
    stop: () =>
      new Promise((resolve) => {
        proc.removeAllListeners("exit");
        proc.on("exit", (code) => resolve(code));
        proc.kill("SIGTERM");
      }),
  };
}
