import { WebSocket as NodeWebSocket } from "ws";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import {
  backoffDelay,
  DisconnectedError,
  ParleyClient,
  ParleyError,
  PeerNotFoundError,
  RequestTimeoutError,
  RoomFullError,
  RoomNotFoundError,
  UnauthenticatedError,
  type ConnectionState,
  type ConnectOptions,
  type RoomJoinResult,
  type UrlPick,
  type WebSocketConstructor,
} from "../src/index.js";
import { FakeSocket, refuseNextConnect, session, settle } from "./fake-socket.js";

const URL = "ws://parley.test/rpc";

async function connect(opts: ConnectOptions = {}): Promise<{ client: ParleyClient; ws: FakeSocket; states: ConnectionState[] }> {
  const client = await ParleyClient.connect(URL, { WebSocket: FakeSocket, identity: "alice", ...opts });
  const states: ConnectionState[] = [];
  client.onState((s) => states.push(s));
  return { client, ws: FakeSocket.last(), states };
}

const joinResult: RoomJoinResult = {
  roomId: "r1",
  self: { peerId: "p1", identity: "alice", role: "owner" },
  peers: [],
};

beforeEach(() => FakeSocket.reset());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("WebSocketLike", () => {
  it("fits the browser's and the ws package's WebSocket", () => {
    expectTypeOf(globalThis.WebSocket).toExtend<WebSocketConstructor>();
    expectTypeOf(NodeWebSocket).toExtend<WebSocketConstructor>();
  });
});

describe("connect", () => {
  it("runs session.connect with the credentials and exposes the session", async () => {
    const { client, ws } = await connect({ token: "jwt" });
    expect(ws.url).toBe(URL);
    expect(ws.sent).toEqual([{ jsonrpc: "2.0", id: 1, method: "session.connect", params: { token: "jwt", identity: "alice" } }]);
    expect(client.state).toBe("open");
    expect(client.session.peerId).toBe("p1");
    expect(client.session.iceServers).toEqual([{ urls: ["stun:127.0.0.1:3478"] }]);
    expect(client.protocolMismatch).toBe(false);
  });

  it("warns, and does not fail, when the server's protocol differs", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    FakeSocket.connectAnswer = (n) => ({ result: session(n, "other") });
    const { client } = await connect();
    expect(client.protocolMismatch).toBe(true);
    expect(warn).toHaveBeenCalledOnce();
  });

  it("rejects with the server's error and closes the socket", async () => {
    FakeSocket.connectAnswer = () => ({ error: { code: 401, message: "bad token", data: { reason: "unauthenticated" } } });
    await expect(connect()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(FakeSocket.last().closed).toBe(true);
    expect(FakeSocket.all).toHaveLength(1); // a first connect is not retried
  });

  it("rejects with DisconnectedError when the server cannot be reached", async () => {
    FakeSocket.reachable = false;
    await expect(connect()).rejects.toMatchObject({ name: "DisconnectedError", closeCode: 1006 });
  });
});

describe("call", () => {
  it("matches answers to requests by id, in any order", async () => {
    const { client, ws } = await connect();
    const join = client.room.join({ roomId: "r1" });
    const servers = client.request("ice.servers", {});
    await settle();
    const [joinReq] = ws.requests("room.join");
    const [serversReq] = ws.requests("ice.servers");
    expect(joinReq?.params).toEqual({ roomId: "r1" });
    ws.reply(serversReq!.id, { result: { iceServers: [], expiresAt: 7 } });
    ws.reply(joinReq!.id, { result: joinResult });
    expectTypeOf(join).resolves.toEqualTypeOf<RoomJoinResult>();
    await expect(servers).resolves.toEqual({ iceServers: [], expiresAt: 7 });
    await expect(join).resolves.toEqual(joinResult);
  });

  it("gives methods without required params a default", async () => {
    const { client, ws } = await connect();
    void client.ice.servers();
    await settle();
    expect(ws.requests("ice.servers")[0]?.params).toEqual({});
  });

  it("times out, forgets the request and drops its late answer", async () => {
    const { client, ws } = await connect({ timeoutMs: 1000 });
    vi.useFakeTimers();
    const slow = client.room.join({ roomId: "r1" }, { timeoutMs: 50 });
    const normal = client.room.leave({ roomId: "r1" });
    const slowFailed = expect(slow).rejects.toThrow(new RequestTimeoutError("room.join", 50));
    vi.advanceTimersByTime(50);
    await slowFailed;
    ws.reply(ws.requests("room.join")[0]!.id, { result: joinResult }); // too late: ignored
    vi.advanceTimersByTime(950);
    await expect(normal).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it("rejects with the signal's reason when aborted, and sends nothing if aborted already", async () => {
    const { client, ws } = await connect();
    const ac = new AbortController();
    const join = client.room.join({ roomId: "r1" }, { signal: ac.signal });
    ac.abort(new Error("user gave up"));
    await expect(join).rejects.toThrow("user gave up");
    await expect(client.room.join({ roomId: "r2" }, { signal: ac.signal })).rejects.toThrow("user gave up");
    expect(ws.requests("room.join")).toHaveLength(1);
  });

  it("turns error answers into the generated error classes", async () => {
    const { client, ws } = await connect();
    const answers: [unknown, (new (...a: never[]) => ParleyError) | null][] = [
      [{ code: 404, message: "no room", data: { reason: "room_not_found" } }, RoomNotFoundError],
      [{ code: 404, message: "no peer", data: { reason: "peer_not_found" } }, PeerNotFoundError],
      [{ code: 486, message: "full" }, RoomFullError], // by code: only room_full has 486
      [{ code: 404, message: "what" }, null], // 404 is shared: no guess
      [{ code: 404, message: "what", data: { reason: "constructor" } }, null],
      [{ code: -32602, message: "invalid params", data: { reason: "conflict", field: "roomId" } }, null],
    ];
    for (const [error, cls] of answers) {
      const p = client.room.get({ roomId: "r1" });
      await settle();
      ws.reply(ws.sent.at(-1)!.id, { error });
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ParleyError);
      expect(err).toMatchObject(error as object);
      if (cls) {
        expect(err).toBeInstanceOf(cls);
      } else {
        expect(Object.getPrototypeOf(err)).toBe(ParleyError.prototype);
      }
    }
  });

  it("exposes field, reason and retryAfterMs", async () => {
    const { client, ws } = await connect();
    const p = client.room.join({ roomId: "r1" });
    await settle();
    ws.reply(ws.sent.at(-1)!.id, { error: { code: 429, message: "slow down", data: { reason: "rate_limited", retryAfterMs: 300 } } });
    await expect(p).rejects.toMatchObject({ name: "RateLimitedError", code: 429, reason: "rate_limited", retryAfterMs: 300, field: undefined });
  });
});

describe("notifications", () => {
  it("dispatches typed params by name, tracks seq and unsubscribes", async () => {
    const { client, ws } = await connect();
    const joined: string[] = [];
    const off = client.on("room.peerJoined", (ev) => {
      expectTypeOf(ev.peer.role).toEqualTypeOf<"owner" | "moderator" | "participant">();
      joined.push(ev.peer.peerId);
    });
    const left = vi.fn();
    client.on("room.peerLeft", left);
    ws.notify("room.peerJoined", { seq: 1, roomId: "r1", peer: { peerId: "p2", identity: "bob", role: "participant" } });
    ws.notify("room.peerLeft", { seq: 2, roomId: "r1", peerId: "p2", reason: "left" });
    off();
    ws.notify("room.peerJoined", { seq: 3, roomId: "r1", peer: { peerId: "p3", identity: "eve", role: "participant" } });
    expect(joined).toEqual(["p2"]);
    expect(left).toHaveBeenCalledWith({ seq: 2, roomId: "r1", peerId: "p2", reason: "left" });
    expect(client.lastSeq).toBe(3);
  });

  it("keeps dispatching when a handler throws", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { client, ws } = await connect();
    const after = vi.fn();
    client.on("message.received", () => {
      throw new Error("app bug");
    });
    client.on("message.received", after);
    ws.notify("message.received", { seq: 1, roomId: "r1", from: "p2", messageId: "m1", private: false, data: 1 });
    expect(after).toHaveBeenCalledOnce();
    expect(error).toHaveBeenCalledOnce();
  });

  it("takes a batch apart", async () => {
    const { client, ws } = await connect();
    const seen = vi.fn();
    client.on("room.closed", seen);
    ws.receive([
      { jsonrpc: "2.0", method: "room.closed", params: { seq: 1, roomId: "a", reason: "x" } },
      { jsonrpc: "2.0", method: "room.closed", params: { seq: 2, roomId: "b", reason: "x" } },
    ]);
    expect(seen).toHaveBeenCalledTimes(2);
  });
});

describe("reconnect", () => {
  const backoff = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: false };

  it("rejects pending calls, backs off and runs session.connect again with the same credentials", async () => {
    const { client, ws, states } = await connect({ token: "jwt", reconnect: backoff });
    vi.useFakeTimers();
    const pending = client.room.join({ roomId: "r1" });
    ws.drop(1006);
    await expect(pending).rejects.toMatchObject({ name: "DisconnectedError", closeCode: 1006, inFlight: true });
    expect(states).toEqual(["reconnecting"]);
    await expect(client.room.join({ roomId: "r1" })).rejects.toMatchObject({ inFlight: false, message: expect.stringMatching(/not connected \(reconnecting\)/) });

    FakeSocket.reachable = false; // the first two attempts fail: 100 ms, then 200 ms
    await vi.advanceTimersByTimeAsync(99);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.reachable = true;
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);

    expect(states).toEqual(["reconnecting", "open"]);
    // It asked to resume s1; the fake server knew it no more (a fresh s3), so lastSeq starts over.
    expect(FakeSocket.last().requests("session.connect")[0]?.params).toEqual({
      token: "jwt",
      identity: "alice",
      resume: { sessionId: "s1", resumeToken: "r1", lastSeq: 0 },
    });
    expect(client.session.sessionId).toBe("s3");
    FakeSocket.last().notify("room.closed", { seq: 1, roomId: "r1", reason: "x" });
    expect(client.lastSeq).toBe(1);
  });

  it("asks a TokenSource for a fresh token on every connect, so the resume carries one", async () => {
    let minted = 0;
    const client = await ParleyClient.connect(URL, { WebSocket: FakeSocket, token: async () => `jwt-${++minted}`, reconnect: backoff });
    const states: ConnectionState[] = [];
    client.onState((s) => states.push(s));
    const ws = FakeSocket.last();
    expect(ws.requests("session.connect")[0]?.params).toEqual({ token: "jwt-1" });
    FakeSocket.connectAnswer = (n) => ({ result: { ...session(1), resumeToken: `r${n}`, resumed: true } });
    vi.useFakeTimers();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().requests("session.connect")[0]?.params).toEqual({
      token: "jwt-2",
      resume: { sessionId: "s1", resumeToken: "r1", lastSeq: 0 },
    });
    expect(states).toEqual(["reconnecting", "open"]);
  });

  it("resumes: replayed notifications are delivered once, in order, and the rooms stay", async () => {
    const { client, ws, states } = await connect({ reconnect: backoff });
    const seen: number[] = [];
    client.on("message.received", (m) => seen.push(m.seq));
    ws.notify("message.received", { seq: 1, roomId: "r1", from: "p2", messageId: "m1", private: true, data: 1 });
    ws.notify("message.received", { seq: 2, roomId: "r1", from: "p2", messageId: "m2", private: true, data: 2 });
    FakeSocket.connectAnswer = (n) => ({ result: { ...session(1), resumeToken: `r${n}`, resumed: true } });
    vi.useFakeTimers();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    const next = FakeSocket.last();
    expect(next.requests("session.connect")[0]?.params).toEqual({ identity: "alice", resume: { sessionId: "s1", resumeToken: "r1", lastSeq: 2 } });
    // The server replays from where the client was; one it already had is dropped.
    next.notify("message.received", { seq: 2, roomId: "r1", from: "p2", messageId: "m2", private: true, data: 2 });
    next.notify("message.received", { seq: 3, roomId: "r1", from: "p2", messageId: "m3", private: true, data: 3 });
    expect(seen).toEqual([1, 2, 3]);
    expect(states).toEqual(["reconnecting", "open"]);
    expect(client.session).toMatchObject({ sessionId: "s1", peerId: "p1", resumed: true, resumeToken: "r2" });
    expect(next.requests("room.join")).toEqual([]);
  });

  it("acknowledges processed notifications a second after the first unacknowledged one, again from 0 in a new session", async () => {
    vi.useFakeTimers();
    const { client, ws } = await connect({ reconnect: backoff });
    const acks = (s: FakeSocket): unknown[] => s.requests("session.ack").map((r) => [r.id, r.params]);
    const message = (s: FakeSocket, seq: number): void =>
      s.notify("message.received", { seq, roomId: "r1", from: "p2", messageId: `m${seq}`, private: true, data: seq });
    for (let seq = 1; seq <= 40; seq++) {
      message(ws, seq);
    }
    await vi.advanceTimersByTimeAsync(999);
    expect(acks(ws)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(acks(ws)).toEqual([[undefined, { seq: 40 }]]); // a notification: no id, nothing answered
    message(ws, 41);
    await vi.advanceTimersByTimeAsync(1000);
    expect(acks(ws)).toEqual([[undefined, { seq: 40 }], [undefined, { seq: 41 }]]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(acks(ws)).toHaveLength(2); // nothing new, nothing sent

    // The session cannot be resumed: the new one counts from 0 again.
    refuseNextConnect({ code: 404, message: "gone", data: { reason: "session_not_found" } });
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    const next = FakeSocket.last();
    expect(client.session.sessionId).toBe("s2");
    message(next, 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(acks(next)).toEqual([[undefined, { seq: 1 }]]);
  });

  it("after a resume gap opens a new session and rejoins its rooms with rejoin: true", async () => {
    const { client, ws } = await connect({ reconnect: backoff });
    ws.onRequest = (req) => ws.reply(req.id, { result: joinResult });
    await client.room.join({ roomId: "r1", create: true });
    refuseNextConnect({ code: 410, message: "resume gap", data: { reason: "resume_gap" } });
    vi.useFakeTimers();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    const next = FakeSocket.last();
    const connects = next.requests("session.connect");
    expect(connects.map((r) => (r.params as { resume?: unknown }).resume !== undefined)).toEqual([true, false]);
    const joins = next.requests("room.join");
    expect(joins.map((r) => r.params)).toEqual([{ roomId: "r1", create: true, rejoin: true }]);
  });

  it("does not rejoin a room whose seat it lost (kicked, replaced by another device) or that was closed", async () => {
    const { client, ws } = await connect({ reconnect: backoff });
    ws.onRequest = (req) => ws.reply(req.id, { result: { ...joinResult, roomId: (req.params as { roomId: string }).roomId } });
    // Rejoins go one at a time and the new socket answers none, so only the first shows: kept comes last.
    for (const roomId of ["replaced", "kicked", "closed", "kept"]) {
      await client.room.join({ roomId, create: true });
    }
    ws.notify("room.peerLeft", { seq: 1, roomId: "replaced", peerId: "p1", reason: "replaced" });
    ws.notify("room.peerLeft", { seq: 2, roomId: "kicked", peerId: "p1", reason: "kicked" });
    ws.notify("room.peerLeft", { seq: 3, roomId: "kept", peerId: "p9", reason: "left" }); // someone else's seat
    ws.notify("room.closed", { seq: 4, roomId: "closed", reason: "closed_by_admin" });
    refuseNextConnect({ code: 404, message: "gone", data: { reason: "session_not_found" } });
    vi.useFakeTimers();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().requests("room.join").map((r) => r.params)).toEqual([{ roomId: "kept", create: true, rejoin: true }]);
  });

  it("starts the backoff over after a successful reconnect", async () => {
    const { ws } = await connect({ reconnect: backoff });
    vi.useFakeTimers();
    ws.drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.last().drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it("waits at least a draining server's retryAfterMs", async () => {
    const { ws } = await connect({ reconnect: backoff });
    vi.useFakeTimers();
    FakeSocket.connectAnswer = () => ({ error: { code: 503, message: "draining", data: { reason: "draining", retryAfterMs: 5000 } } });
    ws.drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.connectAnswer = (n) => ({ result: session(n) });
    await vi.advanceTimersByTimeAsync(4999);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it("gives up when the server refuses the credentials", async () => {
    const { client, ws, states } = await connect({ reconnect: backoff });
    const causes: (Error | undefined)[] = [];
    client.onState((_, cause) => causes.push(cause));
    vi.useFakeTimers();
    FakeSocket.connectAnswer = () => ({ error: { code: 401, message: "expired", data: { reason: "unauthenticated" } } });
    ws.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(states).toEqual(["reconnecting", "closed"]);
    expect(causes[1]).toBeInstanceOf(UnauthenticatedError);
  });

  it("does not reconnect after close code 4001, or with reconnect: false", async () => {
    const a = await connect();
    a.ws.drop(4001, "unauthenticated");
    await settle();
    expect(a.states).toEqual(["closed"]);

    const b = await connect({ reconnect: false });
    b.ws.drop(1001);
    await settle();
    expect(b.states).toEqual(["closed"]);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("close() rejects pending calls and stops reconnecting", async () => {
    const { client, ws, states } = await connect({ reconnect: backoff });
    vi.useFakeTimers();
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    client.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states).toEqual(["reconnecting", "closed"]);
    expect(vi.getTimerCount()).toBe(0);
    await expect(client.room.join({ roomId: "r1" })).rejects.toBeInstanceOf(DisconnectedError);
  });

  it("close() while open closes the socket with 1000", async () => {
    const { client, ws, states } = await connect();
    const pending = client.room.join({ roomId: "r1" });
    client.close();
    await expect(pending).rejects.toThrow("client closed");
    expect(ws.closed).toBe(true);
    await settle();
    expect(states).toEqual(["closed"]);
  });
});

describe("several URLs (the nodes of a cluster)", () => {
  const backoff = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: false };
  const [A, B, C] = ["ws://a.test/rpc", "ws://b.test/rpc", "ws://c.test/rpc"] as const;
  const urls = [A, B, C];
  const resumed = (n: number) => ({ result: { ...session(1), resumeToken: `r${n}`, resumed: true } });

  async function connectTo(target: Parameters<typeof ParleyClient.connect>[0]) {
    const client = await ParleyClient.connect(target, { WebSocket: FakeSocket, identity: "alice", reconnect: backoff });
    const states: ConnectionState[] = [];
    client.onState((s) => states.push(s));
    return { client, states };
  }

  it("each reconnect attempt goes to the next URL and resumes there; replays are delivered once", async () => {
    const { client, states } = await connectTo(urls);
    const seen: number[] = [];
    client.on("message.received", (m) => seen.push(m.seq));
    expect(client.url).toBe(A);
    FakeSocket.last().notify("message.received", { seq: 1, roomId: "r", from: "p2", data: 1 });
    FakeSocket.connectAnswer = resumed;
    vi.useFakeTimers();
    FakeSocket.down.add(B); // B is down too: the attempt after it goes to C
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(B);
    await vi.advanceTimersByTimeAsync(200);
    expect(FakeSocket.last().url).toBe(C);
    expect(client.url).toBe(C);
    expect(FakeSocket.last().requests("session.connect")[0]?.params).toEqual({
      identity: "alice",
      resume: { sessionId: "s1", resumeToken: "r1", lastSeq: 1 },
    });
    // The new node replays from lastSeq; a frame seen twice is dropped.
    FakeSocket.last().notify("message.received", { seq: 1, roomId: "r", from: "p2", data: 1 });
    FakeSocket.last().notify("message.received", { seq: 2, roomId: "r", from: "p2", data: 2 });
    expect(seen).toEqual([1, 2]);
    expect(client.session.peerId).toBe("p1");
    expect(states).toEqual(["reconnecting", "open"]);
    FakeSocket.last().drop(1006); // round the ring: back to A
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(A);
  });

  it("a first connect tries each URL once until one opens; refused credentials are not tried elsewhere", async () => {
    FakeSocket.down.add(A);
    const { client } = await connectTo(urls);
    expect(client.url).toBe(B);
    expect(FakeSocket.all.map((ws) => ws.url)).toEqual([A, B]);

    FakeSocket.reset();
    FakeSocket.down = new Set(urls);
    await expect(connectTo(urls)).rejects.toBeInstanceOf(DisconnectedError);
    expect(FakeSocket.all.map((ws) => ws.url)).toEqual(urls);

    FakeSocket.reset();
    FakeSocket.connectAnswer = () => ({ error: { code: 401, message: "bad token", data: { reason: "unauthenticated" } } });
    await expect(connectTo(urls)).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("close code 4307 (resume elsewhere): moves at once to another URL and passes over the leaving one for 30 s", async () => {
    const { client, states } = await connectTo(urls);
    FakeSocket.connectAnswer = resumed;
    vi.useFakeTimers();
    FakeSocket.last().drop(4307, "this node is draining: resume on another node");
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.last().url).toBe(B);
    expect(states).toEqual(["reconnecting", "open"]);
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(C);
    FakeSocket.last().drop(1006); // A is avoided: B again
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(B);
    await vi.advanceTimersByTimeAsync(30_000); // A's time is up
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(C);
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(A);
    expect(client.session.resumed).toBe(true);
  });

  it("session.draining with resumeElsewhere: leaves at once even if the close comes without 4307; without it, waits the backoff", async () => {
    await connectTo(urls);
    FakeSocket.connectAnswer = resumed;
    vi.useFakeTimers();
    FakeSocket.last().notify("session.draining", { seq: 1, deadline: 0, retryAfterMs: 30000, resumeElsewhere: true });
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.last().url).toBe(B);
    FakeSocket.last().notify("session.draining", { seq: 2, deadline: 0, retryAfterMs: 30000 }); // a single node's drain
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(99);
    expect(FakeSocket.last().url).toBe(B);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.last().url).toBe(C);
  });

  it("a node that refuses a reconnect as draining (503) is passed over without waiting its retryAfterMs", async () => {
    await connectTo(urls);
    vi.useFakeTimers();
    FakeSocket.connectAnswer = (n) =>
      FakeSocket.all[n - 1]?.url === B
        ? { error: { code: 503, message: "draining", data: { reason: "draining", retryAfterMs: 60000 } } }
        : resumed(n);
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(B);
    await vi.advanceTimersByTimeAsync(200);
    expect(FakeSocket.last().url).toBe(C);
    FakeSocket.last().drop(1006); // A, not B
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.last().url).toBe(A);
  });

  it("a picker chooses the URL of every attempt and is told the last and the ones to avoid", async () => {
    const picks: UrlPick[] = [];
    const { client } = await connectTo((pick) => {
      picks.push(pick);
      return pick.attempt === 0 && pick.last === undefined ? A : pick.avoid.includes(A) ? C : B;
    });
    expect(client.url).toBe(A);
    FakeSocket.connectAnswer = resumed;
    vi.useFakeTimers();
    FakeSocket.last().drop(4307);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.last().url).toBe(C);
    expect(picks).toEqual([
      { attempt: 0, last: undefined, avoid: [] },
      { attempt: 0, last: A, avoid: [A] },
    ]);
  });

  it("a connect with no URL is a TypeError", async () => {
    await expect(ParleyClient.connect([], { WebSocket: FakeSocket })).rejects.toBeInstanceOf(TypeError);
  });
});

describe("backoffDelay", () => {
  const opts = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: false };
  it("grows by factor up to maxDelayMs", () => {
    expect([0, 1, 2, 5, 6, 20].map((n) => backoffDelay(n, opts))).toEqual([250, 500, 1000, 8000, 10_000, 10_000]);
  });
  it("with jitter, picks uniformly below the ceiling", () => {
    expect(backoffDelay(2, { ...opts, jitter: true }, () => 0.5)).toBe(500);
  });
});
