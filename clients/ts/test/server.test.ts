// The client against the real server: go build ./cmd/parley, run it in dev
// mode on a free port, and talk to it with the ws package as the WebSocket.
import { WebSocket } from "ws";
import { expect, it } from "vitest";
import { ParleyClient, ParleyError, RoomNotFoundError, type Notifications } from "../src/index.js";
import { next, reach, realProcesses, signal } from "./real.js";

const real = realProcesses();
const startServer = (listen?: string) => real.parley(listen);
const kill = (proc: Parameters<typeof signal>[0]) => signal(proc);

const SDP =
  "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n" +
  "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
  "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";

it("signals between two clients, answers typed errors, and reconnects after the server restarts", async () => {
  let server = await startServer();
  const opts = { WebSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } };
  const alice = await ParleyClient.connect(server.url, { ...opts, identity: "alice" });
  const bob = await ParleyClient.connect(server.url, { ...opts, identity: "bob" });
  expect(alice.protocolMismatch).toBe(false);
  const a = alice.session.peerId;
  const b = bob.session.peerId;

  const roomId = "ts-integration";
  await alice.room.join({ roomId, create: true });
  const joined = next(alice, "room.peerJoined");
  const bobJoin = await bob.room.join({ roomId, displayName: "Bob", create: true });
  expect(bobJoin.peers.map((p) => p.peerId)).toEqual([a]);
  expect((await joined).peer).toMatchObject({ peerId: b, identity: "bob", displayName: "Bob" });

  const offer = next(alice, "sdp.offer");
  await bob.sdp.offer({ roomId, to: a, sdp: SDP });
  expect(await offer).toMatchObject({ roomId, from: b, sdp: SDP });

  const candidates: Notifications["ice.candidate"]["candidate"][] = [];
  const allThree = new Promise<void>((resolve) => {
    const off = bob.on("ice.candidate", (ev) => {
      if (candidates.push(ev.candidate) === 3) {
        off();
        resolve();
      }
    });
  });
  const line = "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host";
  await alice.ice.candidate({ roomId, to: b, candidate: { candidate: line, sdpMid: "0", sdpMLineIndex: 0 } });
  await alice.ice.candidate({ roomId, to: b, candidate: { candidate: "", sdpMid: "0" } }); // end of this m-section's candidates
  await alice.ice.candidate({ roomId, to: b, candidate: null }); // end of all candidates
  await allThree;
  expect(candidates).toEqual([{ candidate: line, sdpMid: "0", sdpMLineIndex: 0 }, { candidate: "", sdpMid: "0" }, null]);

  const message = next(bob, "message.received");
  const { messageId } = await alice.message.send({ roomId, data: { hello: "bob" } });
  expect(await message).toMatchObject({ roomId, from: a, messageId, private: false, data: { hello: "bob" } });
  expect(bob.lastSeq).toBeGreaterThan(0);

  const invalid = await bob.room.join({ roomId: "not a room id" }).catch((e: unknown) => e);
  expect(invalid).toBeInstanceOf(ParleyError);
  expect(invalid).toMatchObject({ code: -32602, field: "roomId" });
  await expect(bob.room.leave({ roomId: "no-such-room" })).rejects.toBeInstanceOf(RoomNotFoundError);

  // The server dies; both clients retry until it is back on the same port.
  const before = alice.session.sessionId;
  const port = new URL(server.url).port;
  await kill(server.proc);
  await Promise.all([reach(alice, "reconnecting"), reach(bob, "reconnecting")]);
  server = await startServer(`127.0.0.1:${port}`);
  await Promise.all([reach(alice, "open"), reach(bob, "open")]);
  expect(alice.session.sessionId).not.toBe(before);
  // The new server knows neither session (resume: 404): each client opened a
  // new one and rejoined the room before reporting open.
  expect(alice.session.resumed).toBe(false);
  const again = await alice.room.get({ roomId });
  expect(again.peers.map((p) => p.peerId).sort()).toEqual([alice.session.peerId, bob.session.peerId].sort());

  alice.close();
  bob.close();
  await kill(server.proc);
}, 30_000);
