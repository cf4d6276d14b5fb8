import { PROTOCOL_HASH, type SessionConnectResult } from "../src/gen/protocol.js";
import type { WebSocketLike } from "../src/index.js";

type Listener = (event: never) => void;

/** A request as the client sent it. */
export interface SentRequest {
  jsonrpc: "2.0";
  id: number;
  method: string;
  params: unknown;
}

/**
 * An in-memory WebSocket for unit tests. It opens on the next microtask and
 * answers session.connect itself (with FakeSocket.connectAnswer), so a test
 * deals only with the requests it is about.
 */
export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  /** What the next sockets answer to session.connect: a result, or an error object. */
  static connectAnswer: (n: number) => { result: SessionConnectResult } | { error: unknown } = (n) => ({ result: session(n) });
  /** Whether the next sockets open at all; false makes them close with 1006 instead. */
  static reachable = true;
  /** URLs whose sockets close with 1006 instead of opening (a node that is down). */
  static down = new Set<string>();

  static reset(): void {
    FakeSocket.all = [];
    FakeSocket.connectAnswer = (n) => ({ result: session(n) });
    FakeSocket.reachable = true;
    FakeSocket.down = new Set();
  }

  static last(): FakeSocket {
    const ws = FakeSocket.all.at(-1);
    if (!ws) {
      throw new Error("no socket yet");
    }
    return ws;
  }

  readonly sent: SentRequest[] = [];
  closed = false;
  readonly #listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    const n = FakeSocket.all.length;
    queueMicrotask(() => (FakeSocket.reachable && !FakeSocket.down.has(url) ? this.#fire("open", {}) : this.drop(1006)));
    this.onRequest = (req) => {
      if (req.method === "session.connect") {
        this.reply(req.id, FakeSocket.connectAnswer(n));
      }
    };
  }

  /** Called with each request the client sends. */
  onRequest: (req: SentRequest) => void;

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    const req = JSON.parse(data) as SentRequest;
    this.sent.push(req);
    queueMicrotask(() => this.onRequest(req));
  }

  close(code = 1000, reason = ""): void {
    this.drop(code, reason);
  }

  /** The requests of one method. */
  requests(method: string): SentRequest[] {
    return this.sent.filter((r) => r.method === method);
  }

  /** Delivers a server frame. */
  receive(msg: unknown): void {
    this.#fire("message", { data: JSON.stringify(msg) });
  }

  reply(id: number, answer: { result: unknown } | { error: unknown }): void {
    this.receive({ jsonrpc: "2.0", id, ...answer });
  }

  notify(method: string, params: unknown): void {
    this.receive({ jsonrpc: "2.0", method, params });
  }

  /** The connection ends, as the server or the network ends it. */
  drop(code = 1006, reason = ""): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    queueMicrotask(() => this.#fire("close", { code, reason }));
  }

  #fire(type: string, event: object): void {
    for (const l of this.#listeners.get(type) ?? []) {
      (l as (event: object) => void)(event);
    }
  }
}

export function session(n: number, protocol = PROTOCOL_HASH): SessionConnectResult {
  return {
    sessionId: `s${n}`,
    peerId: `p${n}`,
    identity: "alice",
    resumeToken: `r${n}`,
    resumed: false,
    iceServers: [{ urls: ["stun:127.0.0.1:3478"] }],
    iceServersExpiresAt: 0,
    protocol,
  };
}

/** The next session.connect (a resume) is answered with error; the fresh one after it, and any later, with a new session. */
export function refuseNextConnect(error: unknown): void {
  let refused = false;
  FakeSocket.connectAnswer = (n) => {
    if (refused) {
      return { result: session(n) };
    }
    refused = true;
    return { error };
  };
}

/** Lets queued microtasks (socket events, answers) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}
