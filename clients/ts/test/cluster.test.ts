// The client against a real cluster: a redis-server and three parley nodes
// in cluster mode. A client given every node's URL resumes on another node
// when its own is SIGKILLed or drains (SIGTERM: 4307), as the same peer,
// with every notification once, in order.
import { WebSocket } from "ws";
import { expect, it } from "vitest";
import { ParleyClient } from "../src/index.js";
import { next, reach, realProcesses, signal, type Started } from "./real.js";

const real = realProcesses();
let nodeIds = 0;

async function cluster(n: number): Promise<Started[]> {
  const redis = await real.redis();
  const nodes: Started[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await real.parley("127.0.0.1:0", "--redis-url", redis.url, "--node-id", `ts${++nodeIds}`, "--log-level", "warn", "--rate", "100000", "--rate-burst", "100000"),
    );
  }
  return nodes;
}

/** alice on node 0 and bob on node 1, both knowing every node, in room r; bob's numbered messages in got. */
async function pair(urls: string[]) {
  const opts = { WebSocket, reconnect: { initialDelayMs: 5, maxDelayMs: 100 } };
  const alice = await ParleyClient.connect([urls[0] as string, ...urls], { ...opts, identity: "alice" });
  const bob = await ParleyClient.connect([urls[1] as string, ...urls], { ...opts, identity: "bob" });
  const got: number[] = [];
  bob.on("message.received", (m) => got.push(m.data as number));
  await alice.room.join({ roomId: "r", create: true });
  const joined = next(alice, "room.peerJoined");
  await bob.room.join({ roomId: "r" });
  await joined;
  return { alice, bob, got };
}

/** Sends 0…total-1 from alice to bob, calling at(n) before message n; waits until bob has them all. */
async function stream(alice: ParleyClient, bob: ParleyClient, got: number[], total: number, at: (n: number) => Promise<void>) {
  const to = bob.session.peerId;
  for (let n = 0; n < total; n++) {
    await at(n);
    await alice.message.send({ roomId: "r", to, data: n });
  }
  for (let deadline = Date.now() + 10_000; got.length < total && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
}

const killTimes: number[] = [];

for (const run of [0, 1, 2]) {
  it(`SIGKILL of bob's node: he resumes on another node as the same peer, every message once, in order (run ${run})`, async () => {
    const nodes = await cluster(3);
    const urls = nodes.map((n) => n.url);
    const { alice, bob, got } = await pair(urls);
    const peerId = bob.session.peerId;
    let killed = 0;
    let resumed = 0;
    bob.onState((s) => {
      if (s === "open" && !resumed) resumed = performance.now();
    });
    const total = 100;
    const killAt = 1 + Math.floor(Math.random() * (total - 2));
    await stream(alice, bob, got, total, async (n) => {
      if (n === killAt) {
        await signal((nodes[1] as Started).proc);
        killed = performance.now();
      }
    });
    await reach(bob, "open");
    expect(bob.session).toMatchObject({ peerId, resumed: true });
    expect(bob.url).not.toBe(urls[1]);
    killTimes.push(resumed - killed);
    if (killTimes.length === 3) {
      const sorted = [...killTimes].sort((a, b) => a - b);
      console.log(`TS client, SIGKILL to resumed over 3 runs: p50 ${sorted[1]?.toFixed(1)} ms, max ${sorted[2]?.toFixed(1)} ms`);
    }
    alice.close();
    bob.close();
  }, 30_000);
}

it("SIGTERM of bob's node (drain): session.draining, 4307, and he moves at once to a node that is not draining, every message once", async () => {
  const nodes = await cluster(3);
  const urls = nodes.map((n) => n.url);
  const { alice, bob, got } = await pair(urls);
  const draining = next(bob, "session.draining");
  const closes: (number | undefined)[] = [];
  bob.onState((s, cause) => {
    if (s === "reconnecting") closes.push((cause as { closeCode?: number } | undefined)?.closeCode);
  });
  await stream(alice, bob, got, 100, async (n) => {
    if (n === 30) {
      (nodes[1] as Started).proc.kill("SIGTERM");
    }
  });
  expect(await draining).toMatchObject({ resumeElsewhere: true });
  await reach(bob, "open");
  expect(closes).toEqual([4307]);
  expect(bob.session.resumed).toBe(true);
  expect([urls[0], urls[2]]).toContain(bob.url);
  alice.close();
  bob.close();
}, 30_000);
