import { beforeEach, describe, expect, it, vi } from "vitest";
import { ParleyClient, PeerSession, RoomPeers, selectedCandidatePair, type PeerSessionOptions } from "../src/index.js";
import { FakeSocket, settle } from "./fake-socket.js";

/**
 * Just enough of RTCPeerConnection for the signaling glue: the signaling
 * state machine with implicit rollback, candidates that need a remote
 * description, and events fired by the test.
 */
class FakePC extends EventTarget {
  static last: FakePC;
  signalingState: RTCSignalingState = "stable";
  iceConnectionState: RTCIceConnectionState = "new";
  iceGatheringState: RTCIceGatheringState = "complete";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  readonly candidates: (RTCIceCandidateInit | undefined)[] = [];
  restarts = 0;
  closed = false;
  stats = new Map<string, Record<string, unknown>>();

  constructor(readonly config: RTCConfiguration) {
    super();
    FakePC.last = this;
  }

  offers = 0;

  async createOffer(): Promise<RTCSessionDescriptionInit> {
    this.offers++;
    return { type: "offer", sdp: "local offer" };
  }

  async setLocalDescription(d?: RTCSessionDescriptionInit): Promise<void> {
    const type = d?.type ?? (this.signalingState === "have-remote-offer" ? "answer" : "offer");
    if (type === "offer" && this.signalingState !== "stable") {
      throw new Error(`offer in ${this.signalingState}`);
    }
    this.localDescription = { type, sdp: d?.sdp ?? `local ${type}` };
    this.signalingState = type === "offer" ? "have-local-offer" : "stable";
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (d.type === "answer" && this.signalingState !== "have-local-offer") {
      throw new Error(`answer in ${this.signalingState}`);
    }
    this.remoteDescription = d; // an offer in have-local-offer rolls ours back
    this.signalingState = d.type === "offer" ? "have-remote-offer" : "stable";
  }

  async addIceCandidate(c?: RTCIceCandidateInit): Promise<void> {
    if (!this.remoteDescription) {
      throw new Error("InvalidStateError: no remote description");
    }
    this.candidates.push(c);
  }

  restartIce(): void {
    this.restarts++;
  }

  readonly configured: RTCConfiguration[] = [];

  getConfiguration(): RTCConfiguration {
    return this.config;
  }

  setConfiguration(c: RTCConfiguration): void {
    this.configured.push(c);
  }

  close(): void {
    this.closed = true;
  }

  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    return this.stats;
  }

  fire(type: string, props: object = {}): void {
    this.dispatchEvent(Object.assign(new Event(type), props));
  }
}

const RTCPeerConnection = FakePC as unknown as typeof globalThis.RTCPeerConnection;

/** p1 (alice) connected; every request but session.connect is answered {}. */
async function setup(): Promise<{ client: ParleyClient; ws: FakeSocket }> {
  const client = await ParleyClient.connect("ws://x/rpc", { WebSocket: FakeSocket, identity: "alice" });
  const ws = FakeSocket.last();
  ws.onRequest = (req) => ws.reply(req.id, { result: req.method === "message.send" ? { messageId: "m" } : {} });
  return { client, ws };
}

function session(client: ParleyClient, opts: Partial<PeerSessionOptions> = {}): PeerSession {
  return new PeerSession(client, { roomId: "r", peerId: "p2", RTCPeerConnection, onError: (e) => expect.fail(String(e)), ...opts });
}

const sdp = (ws: FakeSocket, method: string) => ws.requests(method).map((r) => r.params);

beforeEach(() => FakeSocket.reset());

describe("PeerSession", () => {
  it("is polite when its own peer id sorts first, and adds the session's ICE servers", async () => {
    const { client } = await setup();
    const turn = { urls: ["turn:example.org"], username: "u", credential: "c" };
    expect(session(client, { rtcConfig: { iceServers: [turn], iceTransportPolicy: "relay" } }).polite).toBe(true); // p1 < p2
    expect(FakePC.last.config).toEqual({ iceTransportPolicy: "relay", iceServers: [turn, ...client.session.iceServers] });
    expect(session(client, { peerId: "p0" }).polite).toBe(false);
    expect(session(client, { peerId: "p0", polite: true }).polite).toBe(true);
  });

  it("sends an offer on negotiationneeded and applies the answer", async () => {
    const { client, ws } = await setup();
    const ps = session(client);
    FakePC.last.fire("negotiationneeded");
    await settle();
    expect(sdp(ws, "sdp.offer")).toEqual([{ roomId: "r", to: "p2", sdp: "local offer" }]);
    ws.notify("sdp.answer", { seq: 1, roomId: "other", from: "p2", sdp: "not for us" });
    ws.notify("sdp.answer", { seq: 2, roomId: "r", from: "p2", sdp: "remote answer" });
    await settle();
    expect(ps.pc.remoteDescription).toEqual({ type: "answer", sdp: "remote answer" });
    expect(ps.pc.signalingState).toBe("stable");
  });

  it("answers an offer, and holds candidates that come before it", async () => {
    const { client, ws } = await setup();
    const ps = session(client);
    const cand = { candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host", sdpMid: "0" };
    ws.notify("ice.candidate", { seq: 1, roomId: "r", from: "p2", candidate: cand });
    ws.notify("ice.candidate", { seq: 2, roomId: "r", from: "p3", candidate: cand }); // another peer's
    await settle();
    expect(FakePC.last.candidates).toEqual([]);
    ws.notify("sdp.offer", { seq: 3, roomId: "r", from: "p2", sdp: "remote offer" });
    ws.notify("ice.candidate", { seq: 4, roomId: "r", from: "p2", candidate: null });
    await settle();
    expect(ps.pc.remoteDescription).toEqual({ type: "offer", sdp: "remote offer" });
    expect(FakePC.last.candidates).toEqual([cand, undefined]); // null: addIceCandidate() = end of candidates
    expect(sdp(ws, "sdp.answer")).toEqual([{ roomId: "r", to: "p2", sdp: "local answer" }]);
  });

  it("on glare, the impolite side ignores the offer and the polite side takes it", async () => {
    const { client, ws } = await setup();
    const impolite = session(client, { peerId: "p0" });
    const impolitePC = FakePC.last;
    const polite = session(client, { peerId: "p9" });
    const politePC = FakePC.last;
    for (const pc of [impolitePC, politePC]) {
      pc.fire("negotiationneeded");
    }
    await settle();
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p0", sdp: "crossing offer" });
    ws.notify("sdp.offer", { seq: 2, roomId: "r", from: "p9", sdp: "crossing offer" });
    // a candidate of the ignored offer is held, and must not surface as an error
    ws.notify("ice.candidate", { seq: 3, roomId: "r", from: "p0", candidate: { candidate: "", sdpMid: "0" } });
    await settle();
    expect(impolite.pc.signalingState).toBe("have-local-offer");
    expect(polite.pc.signalingState).toBe("stable"); // its offer never applied; answered
    expect(sdp(ws, "sdp.answer")).toEqual([{ roomId: "r", to: "p9", sdp: "local answer" }]);
  });

  it("glare, 491: the polite side's refused offer was never applied; it answers the peer's offer, reports no error, and offers again when still needed", async () => {
    const { client, ws } = await setup();
    const errors: unknown[] = [];
    const ps = session(client, { onError: (e) => errors.push(e) }); // p1 < p2: polite
    expect(ps.polite).toBe(true);
    const pc = FakePC.last;
    ws.onRequest = (req) =>
      ws.reply(req.id, req.method === "sdp.offer" ? { error: { code: 491, message: "glare", data: { reason: "glare" } } } : { result: {} });
    pc.fire("negotiationneeded");
    await settle();
    expect(sdp(ws, "sdp.offer")).toEqual([{ roomId: "r", to: "p2", sdp: "local offer" }]);
    expect(pc.signalingState).toBe("stable"); // refused, and nothing to roll back
    expect(pc.localDescription).toBeNull();
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p2", sdp: "their offer" });
    await settle();
    expect(pc.remoteDescription).toEqual({ type: "offer", sdp: "their offer" });
    expect(pc.signalingState).toBe("stable");
    expect(sdp(ws, "sdp.answer")).toEqual([{ roomId: "r", to: "p2", sdp: "local answer" }]);
    expect(errors).toEqual([]);
    // A late answer to the refused offer is not applied as one.
    ws.onRequest = (req) => ws.reply(req.id, { result: {} });
    pc.fire("negotiationneeded"); // the browser: negotiation still needed after the exchange
    await settle();
    expect(sdp(ws, "sdp.offer")).toHaveLength(2);
    ws.notify("sdp.answer", { seq: 2, roomId: "r", from: "p2", sdp: "their answer" });
    await settle();
    expect(pc.localDescription).toEqual({ type: "offer", sdp: "local offer" }); // applied when its answer came
    expect(pc.remoteDescription).toEqual({ type: "answer", sdp: "their answer" });
    expect(pc.signalingState).toBe("stable");
    expect(errors).toEqual([]);
  });

  it("glare, superseded: the polite side's delivered offer is dropped when the impolite side's comes; a late answer to it is not applied", async () => {
    const { client, ws } = await setup();
    const errors: unknown[] = [];
    const ps = session(client, { onError: (e) => errors.push(e) }); // polite
    const pc = FakePC.last;
    pc.fire("negotiationneeded");
    await settle();
    expect(sdp(ws, "sdp.offer")).toHaveLength(1);
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p2", sdp: "impolite offer" });
    await settle();
    expect(ps.pc.remoteDescription).toEqual({ type: "offer", sdp: "impolite offer" });
    expect(sdp(ws, "sdp.answer")).toHaveLength(1);
    expect(pc.localDescription).toEqual({ type: "answer", sdp: "local answer" }); // our offer never applied
    expect(errors).toEqual([]);
    ws.notify("sdp.answer", { seq: 2, roomId: "r", from: "p2", sdp: "stray" });
    await settle();
    expect(pc.remoteDescription).toEqual({ type: "offer", sdp: "impolite offer" });
    expect(errors).toHaveLength(1); // the browser refuses an answer in stable, as the fake does
  });

  it("the impolite side applies its offer at once and reports a 491 (the ends disagree on who is polite)", async () => {
    const { client, ws } = await setup();
    const errors: unknown[] = [];
    session(client, { peerId: "p0", onError: (e) => errors.push(e) }); // p1 > p0: impolite
    const pc = FakePC.last;
    ws.onRequest = (req) =>
      ws.reply(req.id, req.method === "sdp.offer" ? { error: { code: 491, message: "glare", data: { reason: "glare" } } } : { result: {} });
    pc.fire("negotiationneeded");
    await settle();
    expect(pc.signalingState).toBe("have-local-offer");
    expect(errors.map((e) => (e as Error).constructor.name)).toEqual(["GlareError"]);
  });

  it("takes its polite flag from the server's Peer.polite (room.join, room.peerJoined), over the peer-id order", async () => {
    const { client, ws } = await setup();
    ws.onRequest = (req) =>
      ws.reply(req.id, {
        result:
          req.method === "room.join"
            ? { roomId: "r", peers: [{ peerId: "p2", identity: "bob", polite: false }], created: false }
            : {},
      });
    await client.room.join({ roomId: "r" });
    // p1 sorts before p2, yet the server says we are not the polite side of the pair (p2 joined first).
    expect(client.polite("r", "p2")).toBe(false);
    expect(session(client).polite).toBe(false);
    ws.notify("room.peerJoined", { seq: 1, roomId: "r", peer: { peerId: "p0", identity: "carol", polite: true } });
    await settle();
    expect(client.polite("r", "p0")).toBe(true);
    expect(session(client, { peerId: "p0" }).polite).toBe(true); // the id order alone would say impolite
    expect(session(client, { peerId: "p0", polite: false }).polite).toBe(false); // the option still wins
    // A peer whose room.peerJoined has not arrived yet joined after us: we
    // are not the polite side, whatever the id order says (p1 < p9).
    expect(client.polite("r", "p9")).toBe(false);
    expect(session(client, { peerId: "p9" }).polite).toBe(false);
    expect(client.polite("not-joined", "p9")).toBeUndefined();
  });

  it("ice.restartRequested from its peer restarts ICE; another peer's or room's does not", async () => {
    const { client, ws } = await setup();
    session(client);
    const pc = FakePC.last;
    ws.notify("ice.restartRequested", { seq: 1, roomId: "r", from: "p3", reason: "x" });
    ws.notify("ice.restartRequested", { seq: 2, roomId: "other", from: "p2", reason: "x" });
    await settle();
    expect(pc.restarts).toBe(0);
    ws.notify("ice.restartRequested", { seq: 3, roomId: "r", from: "p2", reason: "network changed" });
    await settle();
    expect(pc.restarts).toBe(1);
  });

  it("restartIce asks the current offerer with ice.restart, or restarts locally when ours is the current offer", async () => {
    const { client, ws } = await setup();
    const ps = session(client);
    const pc = FakePC.last;
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p2", sdp: "their offer" });
    await settle();
    await ps.restartIce("network changed");
    expect(ws.requests("ice.restart").map((r) => r.params)).toEqual([{ roomId: "r", to: "p2", reason: "network changed" }]);
    expect(pc.restarts).toBe(0);
    pc.fire("negotiationneeded");
    await settle();
    ws.notify("sdp.answer", { seq: 2, roomId: "r", from: "p2", sdp: "their answer" });
    await settle();
    await ps.restartIce();
    expect(pc.restarts).toBe(1); // ours is the current offer now
    expect(ws.requests("ice.restart")).toHaveLength(1);
  });

  it("ice.serversRefreshed goes to setConfiguration, after the application's own ICE servers", async () => {
    const { client, ws } = await setup();
    const own = { urls: ["stun:own.example"] };
    const ps = session(client, { rtcConfig: { iceServers: [own], iceTransportPolicy: "relay" } });
    const pc = FakePC.last;
    const fresh = [{ urls: ["turn:127.0.0.1:3478"], username: "u2", credential: "c2" }];
    ws.notify("ice.serversRefreshed", { seq: 1, iceServers: fresh, expiresAt: 1234 });
    await settle();
    expect(pc.configured).toEqual([{ iceTransportPolicy: "relay", iceServers: [own, ...fresh] }]);
    expect(client.session.iceServers).toEqual(fresh);
    ps.close();
    ws.notify("ice.serversRefreshed", { seq: 2, iceServers: [], expiresAt: 2345 });
    await settle();
    expect(pc.configured).toHaveLength(1); // a closed session is left alone
  });

  it("trickles local candidates, null and an m-section-less empty one meaning end of candidates", async () => {
    const { client, ws } = await setup();
    session(client);
    const c = { candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "u" };
    FakePC.last.fire("icecandidate", { candidate: c });
    FakePC.last.fire("icecandidate", { candidate: { candidate: "", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: null } });
    FakePC.last.fire("icecandidate", { candidate: { candidate: "", sdpMid: null, sdpMLineIndex: null, usernameFragment: null } });
    FakePC.last.fire("icecandidate", { candidate: null });
    await settle();
    expect(sdp(ws, "ice.candidate").map((p) => (p as { candidate: unknown }).candidate)).toEqual([
      c,
      { candidate: "", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: null },
      null,
      null,
    ]);
  });

  it("restarts ICE when it fails, reports state, and stops listening on close", async () => {
    const { client, ws } = await setup();
    const ps = session(client);
    const states: RTCPeerConnectionState[] = [];
    ps.onState((s) => states.push(s));
    FakePC.last.iceConnectionState = "failed";
    FakePC.last.fire("iceconnectionstatechange");
    expect(FakePC.last.restarts).toBe(1);
    FakePC.last.connectionState = "connected";
    FakePC.last.fire("connectionstatechange");
    ps.close();
    expect(FakePC.last.closed).toBe(true);
    expect(states).toEqual(["connected", "closed"]);
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p2", sdp: "late" });
    await settle();
    expect(ps.pc.remoteDescription).toBeNull();
  });

  // Chromium says failed when the pairs it has so far have failed, while it
  // is still gathering (the polite caller, gathering relay candidates after
  // the answer came): connecting → failed → connecting → connected. Only a
  // failure that outlasts gathering is shown, and restarts ICE.
  it("holds back an ICE failure while gathering, and shows (and restarts on) one that outlasts it", async () => {
    const { client } = await setup();
    const ps = session(client);
    const pc = FakePC.last;
    const states: RTCPeerConnectionState[] = [];
    ps.onState((s) => states.push(s));
    const set = (ice: RTCIceConnectionState, conn: RTCPeerConnectionState, gathering = pc.iceGatheringState) => {
      Object.assign(pc, { iceConnectionState: ice, connectionState: conn, iceGatheringState: gathering });
      pc.fire("iceconnectionstatechange");
      pc.fire("connectionstatechange");
    };
    set("checking", "connecting", "gathering");
    set("failed", "failed");
    set("checking", "connecting");
    set("connected", "connected");
    pc.iceGatheringState = "complete";
    pc.fire("icegatheringstatechange");
    expect(states).toEqual(["connecting", "connected"]);
    expect(pc.restarts).toBe(0);

    // A failure while gathering that is still there when gathering completes.
    set("disconnected", "disconnected", "gathering");
    set("failed", "failed");
    expect(states.at(-1)).toBe("disconnected");
    pc.iceGatheringState = "complete";
    pc.fire("icegatheringstatechange");
    expect(states.at(-1)).toBe("failed");
    expect(pc.restarts).toBe(1);

    // DTLS failing is not ICE's: shown at once.
    set("connected", "failed", "gathering");
    expect(states.at(-1)).toBe("failed");
  });
});

describe("PeerSession diag.report", () => {
  const reports = (ws: FakeSocket) => ws.requests("diag.report").map((r) => r.params as { roomId: string; peerId: string; report: Record<string, unknown> });

  it("reports what the peer connection saw when it connects", async () => {
    const { client, ws } = await setup();
    session(client, { rtcConfig: { iceServers: [{ urls: ["stun:s.example:3478", "turn:t.example:3478?transport=udp"] }] } });
    const pc = FakePC.last;
    pc.stats.set("l1", { id: "l1", type: "local-candidate", candidateType: "host", protocol: "udp" });
    pc.stats.set("l2", { id: "l2", type: "local-candidate", candidateType: "relay", protocol: "udp", url: "turn:t.example:3478?transport=udp" });
    pc.stats.set("r1", { id: "r1", type: "remote-candidate", candidateType: "prflx", protocol: "udp" });
    pc.stats.set("p1", { id: "p1", type: "candidate-pair", state: "succeeded", localCandidateId: "l2", remoteCandidateId: "r1" });
    pc.stats.set("p2", { id: "p2", type: "candidate-pair", state: "in-progress" });
    pc.stats.set("t", { id: "t", type: "transport", selectedCandidatePairId: "p1" });
    ws.notify("ice.candidate", { seq: 1, roomId: "r", from: "p2", candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 1 typ host", sdpMid: "0" } });
    pc.fire("icecandidateerror", { url: "stun:s.example:3478", errorCode: 701, errorText: "STUN binding request timed out." });
    pc.connectionState = "connected";
    pc.fire("connectionstatechange");
    await vi.waitFor(() => expect(reports(ws)).toHaveLength(1));
    const { roomId, peerId, report } = reports(ws)[0]!;
    expect([roomId, peerId]).toEqual(["r", "p2"]);
    expect(report).toMatchObject({
      trigger: "connected",
      connectionState: "connected",
      agent: "parley-ts",
      iceTransportPolicy: "all",
      local: { host: 1, relay: 1 },
      remote: { prflx: 1 },
      remoteCandidates: 1,
      awaitingAnswer: false,
      pairs: { succeeded: 1, inProgress: 1 },
      selectedPair: { local: { type: "relay", protocol: "udp" }, remote: { type: "prflx", protocol: "udp" } },
      candidateErrors: [{ url: "stun:s.example:3478", errorCode: 701, errorText: "STUN binding request timed out." }],
    });
    expect(report.iceServers).toEqual(expect.arrayContaining([{ url: "stun:s.example:3478" }, { url: "turn:t.example:3478?transport=udp", relay: 1 }]));
  });

  it("reports after 15 s of waiting for an answer, and not at all when the app says so", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const { client, ws } = await setup();
      session(client);
      FakePC.last.fire("negotiationneeded"); // p1 < p2: the polite side, which applies its offer only when answered
      await settle();
      expect(ws.requests("sdp.offer")).toHaveLength(1);
      session(client, { peerId: "p3", diagnostics: false });
      FakePC.last.fire("negotiationneeded");
      await settle();
      vi.advanceTimersByTime(14_000);
      expect(reports(ws)).toHaveLength(0);
      vi.advanceTimersByTime(1_000);
      await vi.waitFor(() => expect(reports(ws)).toHaveLength(1));
      expect(reports(ws)[0]).toMatchObject({ peerId: "p2", report: { trigger: "checking", awaitingAnswer: true, signalingState: "stable", elapsedMs: 15_000 } });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("RoomPeers", () => {
  it("makes a session for a peer's offer, hands it to onPeer and closes it when the peer leaves", async () => {
    const { client, ws } = await setup();
    const onPeer = vi.fn((ps: PeerSession) => expect(ps.pc.remoteDescription).toBeNull()); // before the offer is applied
    const room = new RoomPeers(client, "r", { onPeer, RTCPeerConnection });
    ws.notify("sdp.offer", { seq: 1, roomId: "r", from: "p2", sdp: "remote offer" });
    ws.notify("sdp.offer", { seq: 2, roomId: "elsewhere", from: "p3", sdp: "remote offer" });
    await settle();
    expect(onPeer).toHaveBeenCalledOnce();
    const ps = room.sessions.get("p2")!;
    expect(ps.pc.remoteDescription).toEqual({ type: "offer", sdp: "remote offer" });
    expect(sdp(ws, "sdp.answer")).toEqual([{ roomId: "r", to: "p2", sdp: "local answer" }]);
    expect(room.connect("p2")).toBe(ps);

    ws.notify("room.peerLeft", { seq: 3, roomId: "r", peerId: "p2", reason: "left" });
    expect(room.sessions.size).toBe(0);
    expect((ps.pc as unknown as FakePC).closed).toBe(true);
  });

  it("closes everything when we are kicked", async () => {
    const { client, ws } = await setup();
    const room = new RoomPeers(client, "r", { RTCPeerConnection });
    const a = room.connect("p2");
    const b = room.connect("p3");
    expect(room.sessions.size).toBe(2);
    ws.notify("room.peerLeft", { seq: 1, roomId: "r", peerId: client.session.peerId, reason: "kicked" });
    expect(room.sessions.size).toBe(0);
    for (const ps of [a, b]) {
      expect((ps.pc as unknown as FakePC).closed).toBe(true);
    }
    ws.notify("sdp.offer", { seq: 2, roomId: "r", from: "p4", sdp: "after" });
    expect(room.sessions.size).toBe(0);
  });
});

describe("selectedCandidatePair", () => {
  const candidates = {
    L: { id: "L", type: "local-candidate", candidateType: "relay", address: "198.51.100.1", port: 50000, protocol: "udp" },
    R: { id: "R", type: "remote-candidate", candidateType: "srflx", address: "203.0.113.9", port: 40000, protocol: "udp" },
  };

  it("follows the transport's selectedCandidatePairId (Chrome, Safari)", async () => {
    const pc = new FakePC({});
    pc.stats = new Map<string, Record<string, unknown>>(
      Object.entries({
        ...candidates,
        T: { id: "T", type: "transport", selectedCandidatePairId: "P" },
        Q: { id: "Q", type: "candidate-pair", localCandidateId: "R", remoteCandidateId: "L" },
        P: { id: "P", type: "candidate-pair", localCandidateId: "L", remoteCandidateId: "R" },
      }),
    );
    expect(await selectedCandidatePair(pc as unknown as RTCPeerConnection)).toEqual({
      local: { type: "relay", address: "198.51.100.1", port: 50000, protocol: "udp" },
      remote: { type: "srflx", address: "203.0.113.9", port: 40000, protocol: "udp" },
    });
  });

  it("takes the pair marked selected (Firefox), and is undefined before ICE picks one", async () => {
    const pc = new FakePC({});
    pc.stats = new Map(Object.entries({ ...candidates, P: { id: "P", type: "candidate-pair", localCandidateId: "L", remoteCandidateId: "R" } }));
    expect(await selectedCandidatePair(pc as unknown as RTCPeerConnection)).toBeUndefined();
    pc.stats.set("P", { ...pc.stats.get("P"), selected: true });
    expect((await selectedCandidatePair(pc as unknown as RTCPeerConnection))?.local.type).toBe("relay");
  });
});
