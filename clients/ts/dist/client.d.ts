import { ParleyError } from "./errors.js";
import { type BoundMethods } from "./gen/methods.js";
import { type Methods, type Notifications, type SessionConnectResult } from "./gen/protocol.js";
import { type ConnectTarget } from "./urls.js";
/**
 * The part of the W3C WebSocket the client uses. The browser's WebSocket and
 * the ws package's both fit, so Node needs no global WebSocket.
 */
export interface WebSocketLike {
    send(data: string): void;
    close(code?: number, reason?: string): void;
    addEventListener(type: "open" | "error", listener: () => void): void;
    addEventListener(type: "message", listener: (event: {
        data: unknown;
    }) => void): void;
    addEventListener(type: "close", listener: (event: {
        code: number;
        reason: string;
    }) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;
/** Backoff between reconnect attempts: attempt n waits up to min(maxDelayMs, initialDelayMs·factorⁿ). */
export interface ReconnectOptions {
    /** Default 250. */
    initialDelayMs?: number;
    /** Default 10000. */
    maxDelayMs?: number;
    /** Default 2. */
    factor?: number;
    /** Full jitter (default true): wait a random time up to the ceiling, so clients dropped together do not return together. */
    jitter?: boolean;
}
/**
 * Returns a JWT for the next session.connect: called for the first connect
 * and again for every reconnect, so a resume carries a fresh token (the
 * server refuses to resume a session whose token has expired without one,
 * and a fresh token renews the session's grants).
 */
export type TokenSource = () => string | Promise<string>;
export interface ConnectOptions {
    /** A JWT minted by your backend or by `parley token`, or a TokenSource that mints a fresh one for every (re)connect. */
    token?: string | TokenSource;
    /** Dev mode only (a server started with --dev, from loopback): who you are, without a token. */
    identity?: string;
    /** Default globalThis.WebSocket; in Node pass the ws package's WebSocket. */
    WebSocket?: WebSocketConstructor;
    /** Default timeout of every request, session.connect included; 0 means none. Default 10000. */
    timeoutMs?: number;
    /** Reconnect when the socket drops unexpectedly (the default), or not (false). */
    reconnect?: ReconnectOptions | false;
}
export interface CallOptions {
    /** Aborting rejects the call with signal.reason and forgets it; the server may still act on it. */
    signal?: AbortSignal;
    /** Overrides ConnectOptions.timeoutMs for this call; 0 means none. */
    timeoutMs?: number;
}
/**
 * connecting: the first connect; open: session.connect succeeded;
 * reconnecting: the socket dropped and the client is trying again;
 * closed: close() was called, or the client gave up (see the cause).
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";
export type StateHandler = (state: ConnectionState, cause?: Error) => void;
/** The delay before reconnect attempt `attempt` (0-based). */
export declare function backoffDelay(attempt: number, opts: Required<ReconnectOptions>, random?: () => number): number;
export interface ParleyClient extends Omit<BoundMethods, "session"> {
}
/**
 * A connection to a Parley server: typed requests, typed notifications and
 * reconnection. Create one with ParleyClient.connect.
 */
export declare class ParleyClient {
    #private;
    private constructor();
    /**
     * Whether this client is the polite side of the pair it forms with peerId
     * in roomId (perfect negotiation, as the server decides it: the later
     * joiner is polite). A peer of a joined room that the client has not seen
     * joined after us (its room.peerJoined is still on its way), so we are
     * not the polite side; undefined for a room the client has not joined.
     */
    polite(roomId: string, peerId: string): boolean | undefined;
    /**
     * Opens a WebSocket to a URL (ws://host:port/rpc) and runs session.connect.
     * target is one URL, the URLs of a cluster's nodes (tried in turn: the
     * first connect tries each once, each reconnect attempt goes to the next,
     * so a session resumes on another node when its own dies or drains), or
     * a UrlPicker called for every attempt. Rejects if none connects: a
     * first connect tries each URL once, without backoff, so a wrong URL or
     * token shows at once.
     */
    static connect(target: ConnectTarget, opts?: ConnectOptions): Promise<ParleyClient>;
    /** The URL of the current connection (of the attempt, while connecting or reconnecting). */
    get url(): string;
    get state(): ConnectionState;
    /** The current session: peerId, identity, iceServers, iceServersExpiresAt, … A reconnect replaces it. */
    get session(): SessionConnectResult;
    /** The highest notification seq seen in this session: what a resume will ask the server to continue from. */
    get lastSeq(): number;
    /** The server's protocol document differs from the one this client was generated from: calls may fail on fields one side does not know. */
    get protocolMismatch(): boolean;
    /**
     * Sends one request; params and result are typed by the method name.
     * (Named request, not call: client.call.* are the call.* methods.)
     */
    request<M extends keyof Methods>(method: M, params: Methods[M]["params"], opts?: CallOptions): Promise<Methods[M]["result"]>;
    /** Calls handler with every notification named name; returns the function that unsubscribes it. */
    on<N extends keyof Notifications>(name: N, handler: (params: Notifications[N]) => void): () => void;
    /** Calls handler on every state change, with the error that caused a reconnecting or closed; returns the function that unsubscribes it. */
    onState(handler: StateHandler): () => void;
    /** Closes the connection for good: pending calls reject with DisconnectedError, no reconnect follows. */
    close(): void;
}
/**
 * The ParleyError for a JSON-RPC error object: the generated class of its
 * data.reason, else of its code where only one error has that code.
 * Standard JSON-RPC errors (negative codes) stay plain ParleyErrors, since
 * their data.reason is free text.
 */
export declare function errorFromWire(e: unknown): ParleyError;
