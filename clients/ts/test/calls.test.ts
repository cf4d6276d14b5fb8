// Calls (SIP flavour) and presence (XMPP flavour) from the TS client against
// the real server: go build ./cmd/parley, run it in dev mode on a free port.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CallNotFoundError, ConflictError, ParleyClient, UnavailableError, type Notifications } from "../src/index.js";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
let dir: string;
let proc: ChildProcessWithoutNullStreams;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "parley-ts-calls-"));
  const bin = join(dir, "parley");
  execFileSync("go", ["build", "-o", bin, "./cmd/parley"], { cwd: repo, stdio: "inherit" });
  proc = spawn(bin, ["serve", "--dev", "--no-turn", "--listen", "127.0.0.1:0"]);
  let stdout = "";
  url = await new Promise((resolve, reject) => {
    proc.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /listening on (ws:\/\/\S+\/rpc)/.exec(stdout)?.[1];
      if (found) {
        resolve(found);
      }
    });
    proc.on("exit", (code) => reject(new Error(`parley serve exited (${code})`)));
  });
}, 120_000);

afterAll(() => {
  proc?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function next<N extends keyof Notifications>(client: ParleyClient, name: N): Promise<Notifications[N]> {
  return new Promise((resolve) => {
    const off = client.on(name, (params) => {
      off();
      resolve(params);
    });
  });
}

const connect = (identity: string) => ParleyClient.connect(url, { WebSocket, identity, reconnect: false });

const SDP =
  "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n" +
  "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
  "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";

it("calls an identity with two devices: forking, ringing, accept, answered elsewhere, signaling in the call room, hangup", async () => {
  const alice = await connect("ts-alice");
  const phone = await connect("ts-bob");
  const laptop = await connect("ts-bob");

  await expect(alice.call.invite({ to: "ts-nobody" })).rejects.toBeInstanceOf(UnavailableError);

  const incoming = Promise.all([next(phone, "call.incoming"), next(laptop, "call.incoming")]);
  const { callId, expiresAt } = await alice.call.invite({ to: "ts-bob", metadata: { video: false } });
  const [onPhone, onLaptop] = await incoming;
  expect(onPhone).toMatchObject({ callId, from: "ts-alice", metadata: { video: false }, expiresAt });
  expect(onLaptop.callId).toBe(callId);

  const ringing = next(alice, "call.ringing");
  await phone.call.ringing({ callId });
  expect(await ringing).toMatchObject({ callId, by: "ts-bob" });
  await expect(alice.call.hangup({ callId })).rejects.toBeInstanceOf(ConflictError);

  const accepted = next(alice, "call.accepted");
  const elsewhere = next(phone, "call.ended");
  const room = await laptop.call.accept({ callId });
  expect(room.roomId).toBe(callId);
  expect(room.peers.map((p) => p.peerId)).toEqual([alice.session.peerId]);
  expect((await accepted).peer.peerId).toBe(laptop.session.peerId);
  expect(await elsewhere).toMatchObject({ callId, code: 200, reason: "answered_elsewhere" });

  // The call is a room of two: sdp.* route as in any room.
  const offer = next(laptop, "sdp.offer");
  await alice.sdp.offer({ roomId: callId, to: laptop.session.peerId, sdp: SDP });
  expect(await offer).toMatchObject({ roomId: callId, from: alice.session.peerId });

  const ended = next(alice, "call.ended");
  await laptop.call.hangup({ callId });
  expect(await ended).toMatchObject({ callId, code: 200, reason: "hangup", by: "ts-bob" });
  await expect(laptop.call.hangup({ callId })).rejects.toBeInstanceOf(CallNotFoundError);

  // Reject and cancel.
  const incoming2 = next(phone, "call.incoming");
  const second = await alice.call.invite({ to: "ts-bob", lifetimeSec: 30 });
  await incoming2;
  const declined = next(alice, "call.ended");
  await phone.call.reject({ callId: second.callId, code: 603 });
  expect(await declined).toMatchObject({ code: 603, reason: "declined" });

  const incoming3 = next(laptop, "call.incoming");
  const third = await alice.call.invite({ to: "ts-bob" });
  await incoming3;
  const canceled = next(laptop, "call.ended");
  await alice.call.cancel({ callId: third.callId });
  expect(await canceled).toMatchObject({ code: 487, reason: "canceled" });

  alice.close();
  phone.close();
  laptop.close();
}, 30_000);

it("follows presence: subscribe, set, devices aggregated, offline", async () => {
  const alice = await connect("ts-carol");
  const [before] = (await alice.presence.subscribe({ identities: ["ts-dave"] })).presences;
  expect(before).toMatchObject({ identity: "ts-dave", status: "offline", devices: 0 });

  const online = next(alice, "presence.changed");
  const dave = await connect("ts-dave");
  expect(await online).toMatchObject({ identity: "ts-dave", status: "available", devices: 1 });

  const away = next(alice, "presence.changed");
  await dave.presence.set({ status: "away", note: "coffee" });
  expect(await away).toMatchObject({ status: "away", note: "coffee", devices: 1 });

  const second = next(alice, "presence.changed");
  const dave2 = await connect("ts-dave");
  expect(await second).toMatchObject({ status: "available", devices: 2 });
  const got = await alice.presence.get({ identities: ["ts-dave"] });
  expect(got.presences[0]).toMatchObject({ status: "available", devices: 2 });

  const one = next(alice, "presence.changed");
  dave2.close();
  expect(await one).toMatchObject({ status: "away", note: "coffee", devices: 1 });
  const offline = next(alice, "presence.changed");
  dave.close();
  expect(await offline).toMatchObject({ identity: "ts-dave", status: "offline", devices: 0 });

  await alice.presence.unsubscribe({ identities: ["ts-dave"] });
  alice.close();
}, 30_000);
