// The real parley binary (and a real redis-server for cluster mode) for the
// integration tests: built once per test file, every process killed after.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import type { ConnectionState, Notifications, ParleyClient } from "../src/index.js";

const repo = fileURLToPath(new URL("../../..", import.meta.url));

export interface Started {
  proc: ChildProcessWithoutNullStreams;
  /** parley: its ws:// URL; redis-server: its redis:// URL. */
  url: string;
}

/** Registers the hooks that build parley before the file's tests and kill what they started after. */
export function realProcesses() {
  let dir = "";
  let bin = "";
  const procs = new Set<ChildProcessWithoutNullStreams>();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-ts-"));
    bin = join(dir, "parley");
    execFileSync("go", ["build", "-o", bin, "./cmd/parley"], { cwd: repo, stdio: "inherit" });
  });
  afterAll(() => {
    for (const proc of procs) {
      proc.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs cmd and resolves once its stdout matches ready (with ready's first group). */
  function run(cmd: string, args: string[], ready: RegExp): Promise<{ proc: ChildProcessWithoutNullStreams; match: string }> {
    const proc = spawn(cmd, args);
    procs.add(proc);
    proc.once("exit", () => procs.delete(proc));
    let stdout = "";
    let stderr = "";
    proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      proc.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const m = ready.exec(stdout);
        if (m) {
          resolve({ proc, match: m[1] ?? "" });
        }
      });
      proc.on("exit", (code) => reject(new Error(`${cmd} exited (${code}):\n${stdout}${stderr}`)));
    });
  }

  return {
    /** `parley serve --dev --no-turn --listen listen …args`, once it prints its URL. */
    async parley(listen = "127.0.0.1:0", ...args: string[]): Promise<Started> {
      const { proc, match } = await run(bin, ["serve", "--dev", "--no-turn", "--listen", listen, ...args], /listening on (ws:\/\/\S+\/rpc)/);
      return { proc, url: match };
    },
    /** A redis-server on a free loopback port, without persistence. */
    async redis(): Promise<Started> {
      const port = await freePort();
      const { proc } = await run("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], /(Ready to accept connections)/);
      return { proc, url: `redis://127.0.0.1:${port}/0` };
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Sends sig and resolves once the process exited. */
export async function signal(proc: ChildProcessWithoutNullStreams, sig: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill(sig);
  await exited;
}

export function next<N extends keyof Notifications>(client: ParleyClient, name: N): Promise<Notifications[N]> {
  return new Promise((resolve) => {
    const off = client.on(name, (params) => {
      off();
      resolve(params);
    });
  });
}

export function reach(client: ParleyClient, state: ConnectionState): Promise<void> {
  return new Promise((resolve) => {
    if (client.state === state) {
      resolve();
      return;
    }
    const off = client.onState((s) => {
      if (s === state) {
        off();
        resolve();
      }
    });
  });
}
