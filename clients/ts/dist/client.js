import { DisconnectedError, ParleyError, RequestTimeoutError } from "./errors.js";
import { DrainingError, ERROR_CLASSES_BY_CODE, ERROR_CLASSES_BY_REASON, RateLimitedError, ResumeGapError, SessionNotFoundError, } from "./gen/errors.js";
import { bindMethods } from "./gen/methods.js";
import { PROTOCOL_HASH, } from "./gen/protocol.js";
import { CLOSE_RESUME_ELSEWHERE, Endpoints } from "./urls.js";
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RECONNECT = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: true };
/**
 * session.ack goes out ACK_DELAY_MS after the first notification not yet
 * acknowledged: at most one a second, a small share of the request rate
 * limit however busy the session is.
 */
const ACK_DELAY_MS = 1000;
/** Close codes after which trying again cannot help: 4001 credentials refused, 4008 the session connected elsewhere. */
const FINAL_CLOSE_CODES = new Set([4001, 4008]);
/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(attempt, opts, random = Math.random) {
    const ceiling = Math.min(opts.maxDelayMs, opts.initialDelayMs * opts.factor ** attempt);
    return opts.jitter ? random() * ceiling : ceiling;
}
/**
 * A connection to a Parley server: typed requests, typed notifications and
 * reconnection. Create one with ParleyClient.connect.
 */
export class ParleyClient {
    #endpoints;
    #opts;
    #WebSocket;
    #timeoutMs;
    #reconnect;
    #ws;
    #state = "connecting";
    #session;
    #lastSeq = 0;
    /** The seq last acknowledged with session.ack, and the timer of the next ack. */
    #acked = 0;
    #ackTimer;
    /** room.join params of the rooms joined, for a rejoin when a session cannot be resumed. */
    #rooms = new Map();
    /** Peer.polite of each room's peers (room.join, room.peerJoined, room.snapshot): room id → peer id → polite. */
    #polite = new Map();
    #nextId = 1;
    #pending = new Map();
    #handlers = new Map();
    #stateHandlers = new Set();
    /** Ends the current reconnect delay early (close() uses it). */
    #wake;
    /** Set by session.draining with resumeElsewhere: this socket's node is handing its sessions to other nodes. */
    #leaving = false;
    constructor(endpoints, opts) {
        const WebSocketImpl = opts.WebSocket ?? globalThis.WebSocket;
        if (!WebSocketImpl) {
            throw new TypeError("no WebSocket: pass ConnectOptions.WebSocket (in Node, the ws package's)");
        }
        this.#endpoints = endpoints;
        this.#opts = opts;
        this.#WebSocket = WebSocketImpl;
        this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        this.#reconnect = opts.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...opts.reconnect };
        const { session: _runtimeOwned, ...namespaces } = bindMethods((method, params, callOpts) => this.request(method, params, callOpts));
        Object.assign(this, namespaces);
        this.#trackNegotiation();
    }
    /**
     * Whether this client is the polite side of the pair it forms with peerId
     * in roomId (perfect negotiation, as the server decides it: the later
     * joiner is polite). A peer of a joined room that the client has not seen
     * joined after us (its room.peerJoined is still on its way), so we are
     * not the polite side; undefined for a room the client has not joined.
     */
    polite(roomId, peerId) {
        const roster = this.#polite.get(roomId);
        return roster && (roster.get(peerId) ?? false);
    }
    /** Keeps the polite flags and the session's ICE servers current. */
    #trackNegotiation() {
        const set = (roomId, peers) => {
            const m = this.#polite.get(roomId) ?? new Map();
            this.#polite.set(roomId, m);
            for (const p of peers) {
                m.set(p.peerId, p.polite === true);
            }
        };
        this.on("room.peerJoined", (ev) => set(ev.roomId, [ev.peer]));
        this.on("room.snapshot", (ev) => {
            this.#polite.delete(ev.roomId);
            set(ev.roomId, ev.peers);
        });
        // Our own seat gone (kicked, replaced by another device) or the room
        // closed: the room is no longer ours to rejoin after a lost session.
        this.on("room.peerLeft", (ev) => {
            if (ev.peerId === this.#session?.peerId) {
                this.#forgetRoom(ev.roomId);
            }
            else {
                this.#polite.get(ev.roomId)?.delete(ev.peerId);
            }
        });
        this.on("room.closed", (ev) => this.#forgetRoom(ev.roomId));
        this.on("session.draining", (ev) => {
            if (ev.resumeElsewhere) {
                this.#leaving = true;
            }
        });
        this.on("ice.serversRefreshed", (ev) => {
            if (this.#session) {
                this.#session = { ...this.#session, iceServers: ev.iceServers, iceServersExpiresAt: ev.expiresAt };
            }
        });
        this.#trackJoin = (method, result) => {
            if (method === "room.join" && isObject(result) && typeof result.roomId === "string" && Array.isArray(result.peers)) {
                set(result.roomId, result.peers);
            }
        };
    }
    /** Records the polite flags of a room.join result (set by #trackNegotiation). */
    #trackJoin = () => { };
    /**
     * Opens a WebSocket to a URL (ws://host:port/rpc) and runs session.connect.
     * target is one URL, the URLs of a cluster's nodes (tried in turn: the
     * first connect tries each once, each reconnect attempt goes to the next,
     * so a session resumes on another node when its own dies or drains), or
     * a UrlPicker called for every attempt. Rejects if none connects: a
     * first connect tries each URL once, without backoff, so a wrong URL or
     * token shows at once.
     */
    static async connect(target, opts = {}) {
        const client = new ParleyClient(new Endpoints(target), opts);
        try {
            await client.#firstOpen();
        }
        catch (err) {
            client.#setState("closed", asError(err));
            throw err;
        }
        return client;
    }
    /** The first connect: each URL once, until one opens; refused credentials are not tried elsewhere. */
    async #firstOpen() {
        let last;
        for (let attempt = 0; attempt < this.#endpoints.firstTries; attempt++) {
            try {
                await this.#open(await this.#endpoints.pick(attempt));
                return;
            }
            catch (err) {
                if (!retryable(err)) {
                    throw err;
                }
                last = err;
            }
        }
        throw last;
    }
    /** The URL of the current connection (of the attempt, while connecting or reconnecting). */
    get url() {
        return this.#endpoints.current ?? "";
    }
    get state() {
        return this.#state;
    }
    /** The current session: peerId, identity, iceServers, iceServersExpiresAt, … A reconnect replaces it. */
    get session() {
        return this.#session; // set before connect() resolves
    }
    /** The highest notification seq seen in this session: what a resume will ask the server to continue from. */
    get lastSeq() {
        return this.#lastSeq;
    }
    /** The server's protocol document differs from the one this client was generated from: calls may fail on fields one side does not know. */
    get protocolMismatch() {
        return this.#session?.protocol !== PROTOCOL_HASH;
    }
    /**
     * Sends one request; params and result are typed by the method name.
     * (Named request, not call: client.call.* are the call.* methods.)
     */
    async request(method, params, opts = {}) {
        if (this.#state !== "open") {
            throw new DisconnectedError(`${method}: not connected (${this.#state})`);
        }
        const result = await this.#request(method, params, opts);
        this.#trackRooms(method, params);
        this.#trackJoin(method, result);
        return result;
    }
    /** Remembers the rooms joined, to rejoin them if a session cannot be resumed. */
    #trackRooms(method, params) {
        if (!isObject(params) || typeof params.roomId !== "string") {
            return;
        }
        if (method === "room.join") {
            this.#rooms.set(params.roomId, params);
        }
        else if (method === "room.leave") {
            this.#forgetRoom(params.roomId);
        }
    }
    #forgetRoom(roomId) {
        this.#rooms.delete(roomId);
        this.#polite.delete(roomId);
    }
    /** Calls handler with every notification named name; returns the function that unsubscribes it. */
    on(name, handler) {
        let set = this.#handlers.get(name);
        if (!set) {
            set = new Set();
            this.#handlers.set(name, set);
        }
        const h = handler;
        set.add(h);
        return () => set.delete(h);
    }
    /** Calls handler on every state change, with the error that caused a reconnecting or closed; returns the function that unsubscribes it. */
    onState(handler) {
        this.#stateHandlers.add(handler);
        return () => this.#stateHandlers.delete(handler);
    }
    /** Closes the connection for good: pending calls reject with DisconnectedError, no reconnect follows. */
    close() {
        if (this.#state === "closed") {
            return;
        }
        const ws = this.#ws;
        this.#ws = undefined;
        clearTimeout(this.#ackTimer);
        this.#setState("closed");
        this.#rejectPending(new DisconnectedError("client closed", undefined, true));
        this.#wake?.();
        ws?.close(1000, "client closed");
    }
    /**
     * The params of every session.connect, the first and each reconnect's:
     * with resume, a reconnect asks for the same session and everything after
     * the last seq this client processed. token is this attempt's (#token).
     */
    #connectParams(resume, token) {
        const params = {};
        if (resume && this.#session) {
            params.resume = { sessionId: this.#session.sessionId, resumeToken: this.#session.resumeToken, lastSeq: this.#lastSeq };
        }
        if (token !== undefined) {
            params.token = token;
        }
        if (this.#opts.identity !== undefined) {
            params.identity = this.#opts.identity;
        }
        return params;
    }
    /** The token for the next session.connect: the TokenSource's fresh one, else the static one. */
    async #token() {
        const token = this.#opts.token;
        return typeof token === "function" ? await token() : token;
    }
    /** Opens a socket to url and runs session.connect on it; on failure closes the socket and rejects. */
    async #open(url) {
        const token = await this.#token(); // before the socket, which must authenticate in time
        const ws = new this.#WebSocket(url);
        this.#ws = ws;
        this.#leaving = false;
        try {
            await this.#attach(ws);
            let session;
            try {
                // Replayed notifications may arrive before the result; #notify keeps them in order and once.
                session = await this.#request("session.connect", this.#connectParams(true, token), {});
            }
            catch (err) {
                // The window passed (404) or too much was missed (410): a new session, then a rejoin.
                if (!this.#session || !(err instanceof SessionNotFoundError || err instanceof ResumeGapError)) {
                    throw err;
                }
                this.#newSession();
                session = await this.#request("session.connect", this.#connectParams(false, token), {});
            }
            if (this.#state === "closed") {
                throw new DisconnectedError("client closed");
            }
            const rejoin = this.#session !== undefined && !session.resumed;
            if (!session.resumed) {
                this.#newSession();
            }
            this.#session = session;
            if (rejoin) {
                await this.#rejoin();
            }
            if (this.protocolMismatch) {
                console.warn(`parley: server protocol ${session.protocol} differs from this client's ${PROTOCOL_HASH}; regenerate the client`);
            }
        }
        catch (err) {
            if (this.#ws === ws) {
                this.#ws = undefined;
            }
            ws.close();
            throw err;
        }
        this.#setState("open");
    }
    /** Rejoins the rooms of a session that could not be resumed; each answer is followed by room.snapshot. */
    async #rejoin() {
        for (const [roomId, params] of [...this.#rooms]) {
            try {
                await this.#request("room.join", { ...params, rejoin: true }, {});
            }
            catch (err) {
                this.#rooms.delete(roomId);
                console.warn(`parley: could not rejoin room ${roomId}`, err);
            }
        }
    }
    /** Wires ws's events to the client; resolves when it opens, rejects if it closes first. */
    #attach(ws) {
        return new Promise((resolve, reject) => {
            ws.addEventListener("open", () => resolve());
            ws.addEventListener("message", (event) => this.#onFrame(event.data));
            // The close event that follows every error says all; ws throws on an error nobody listens to.
            ws.addEventListener("error", () => { });
            ws.addEventListener("close", ({ code, reason }) => {
                const err = new DisconnectedError(`connection closed (${code}${reason ? ` ${reason}` : ""})`, code);
                reject(err);
                this.#dropped(ws, err);
            });
        });
    }
    #dropped(ws, err) {
        if (ws !== this.#ws) {
            return; // an old socket, or one close() already let go
        }
        this.#ws = undefined;
        this.#rejectPending(new DisconnectedError(err.message, err.closeCode, true));
        if (this.#state !== "open") {
            return; // a connect attempt: #open rejects and its caller decides
        }
        if (this.#reconnect === false || FINAL_CLOSE_CODES.has(err.closeCode ?? 0)) {
            this.#setState("closed", err);
            return;
        }
        // A node handing its sessions over (draining, or reaped) is left at once for another, and passed over for a while.
        const leave = this.#leaving || err.closeCode === CLOSE_RESUME_ELSEWHERE;
        this.#leaving = false;
        if (leave) {
            this.#endpoints.shun(this.#endpoints.current);
        }
        void this.#reconnectLoop(this.#reconnect, err, leave);
    }
    /** Each attempt goes to the next URL, after the backoff; the first at once when the node said to resume elsewhere (leave). */
    async #reconnectLoop(backoff, cause, leave) {
        this.#setState("reconnecting", cause);
        let retryAfterMs = 0;
        // A method, not this.#state inline: TypeScript would keep the narrowing across the awaits, in which close() may run.
        const closed = () => this.#state === "closed";
        for (let attempt = 0;; attempt++) {
            const now = attempt === 0 && leave && this.#endpoints.several;
            await this.#sleep(now ? 0 : Math.max(retryAfterMs, backoffDelay(attempt, backoff)));
            if (closed()) {
                return;
            }
            let url;
            try {
                url = await this.#endpoints.pick(attempt);
            }
            catch (err) {
                console.warn("parley: the URL picker failed; trying again after the backoff", err);
                retryAfterMs = 0;
                continue;
            }
            if (closed()) {
                return;
            }
            try {
                await this.#open(url);
                return;
            }
            catch (err) {
                if (closed()) {
                    return;
                }
                if (!retryable(err)) {
                    this.#setState("closed", asError(err));
                    return;
                }
                retryAfterMs = err instanceof ParleyError ? (err.retryAfterMs ?? 0) : 0;
                if (err instanceof DrainingError && this.#endpoints.several) {
                    // A draining node: another may take us now.
                    this.#endpoints.shun(url);
                    retryAfterMs = 0;
                }
            }
        }
    }
    #sleep(ms) {
        return new Promise((resolve) => {
            const timer = setTimeout(() => this.#wake?.(), ms);
            this.#wake = () => {
                clearTimeout(timer);
                this.#wake = undefined;
                resolve();
            };
        });
    }
    #request(method, params, opts) {
        const { signal, timeoutMs = this.#timeoutMs } = opts;
        const ws = this.#ws;
        if (signal?.aborted) {
            return Promise.reject(signal.reason);
        }
        if (!ws) {
            return Promise.reject(new DisconnectedError(`${method}: not connected`));
        }
        const id = this.#nextId++;
        return new Promise((resolve, reject) => {
            // settle forgets the id, so a late answer to a timed-out or aborted call is dropped.
            const settle = (finish) => {
                this.#pending.delete(id);
                clearTimeout(timer);
                signal?.removeEventListener("abort", onAbort);
                finish();
            };
            const onAbort = () => settle(() => reject(signal?.reason));
            const timer = timeoutMs > 0 ? setTimeout(() => settle(() => reject(new RequestTimeoutError(method, timeoutMs))), timeoutMs) : undefined;
            this.#pending.set(id, {
                resolve: (result) => settle(() => resolve(result)),
                reject: (err) => settle(() => reject(err)),
            });
            signal?.addEventListener("abort", onAbort, { once: true });
            try {
                ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
            }
            catch (err) {
                settle(() => reject(err));
            }
        });
    }
    #rejectPending(err) {
        for (const p of [...this.#pending.values()]) {
            p.reject(err);
        }
    }
    #onFrame(data) {
        let msg;
        try {
            msg = typeof data === "string" ? JSON.parse(data) : undefined;
        }
        catch {
            msg = undefined;
        }
        // The server answers a request with one object; an array (a batch) is taken apart all the same.
        for (const m of Array.isArray(msg) ? msg : [msg]) {
            if (!isObject(m)) {
                console.warn("parley: dropped a frame that is not a JSON-RPC message");
            }
            else if (typeof m.method === "string" && m.id === undefined) {
                this.#notify(m.method, m.params);
            }
            else if (typeof m.id === "number") {
                const p = this.#pending.get(m.id);
                if ("error" in m) {
                    p?.reject(errorFromWire(m.error));
                }
                else {
                    p?.resolve(m.result);
                }
            }
        }
    }
    #notify(method, params) {
        const seq = isObject(params) ? params.seq : undefined;
        if (typeof seq === "number") {
            if (seq <= this.#lastSeq) {
                return; // a replay of one this client already processed: exactly once
            }
            this.#lastSeq = seq;
        }
        for (const h of [...(this.#handlers.get(method) ?? [])]) {
            guarded(h, params);
        }
        if (typeof seq === "number") {
            this.#scheduleAck();
        }
    }
    /** seq counts per session: a new one starts from 0, with nothing acknowledged. */
    #newSession() {
        this.#lastSeq = 0;
        this.#acked = 0;
        clearTimeout(this.#ackTimer);
        this.#ackTimer = undefined;
    }
    /**
     * Acknowledges processed notifications (session.ack), so the server can
     * let them go of the session's replay buffer (see ACK_DELAY_MS).
     */
    #scheduleAck() {
        this.#ackTimer ??= setTimeout(() => this.#ack(), ACK_DELAY_MS);
    }
    #ack() {
        clearTimeout(this.#ackTimer);
        this.#ackTimer = undefined;
        const ws = this.#ws;
        if (this.#state !== "open" || !ws || this.#lastSeq <= this.#acked) {
            return; // the next notification schedules another
        }
        try {
            // A notification (no id): the server answers nothing.
            ws.send(JSON.stringify({ jsonrpc: "2.0", method: "session.ack", params: { seq: this.#lastSeq } }));
            this.#acked = this.#lastSeq;
        }
        catch {
            // The socket is closing; the resume carries lastSeq anyway.
        }
    }
    #setState(state, cause) {
        if (this.#state === state) {
            return;
        }
        this.#state = state;
        for (const h of [...this.#stateHandlers]) {
            guarded(h, state, cause);
        }
    }
}
/**
 * The ParleyError for a JSON-RPC error object: the generated class of its
 * data.reason, else of its code where only one error has that code.
 * Standard JSON-RPC errors (negative codes) stay plain ParleyErrors, since
 * their data.reason is free text.
 */
export function errorFromWire(e) {
    if (!isObject(e) || typeof e.code !== "number") {
        return new ParleyError(-32603, "malformed error in the server's answer");
    }
    const message = typeof e.message === "string" ? e.message : "";
    const data = errorData(e.data);
    let cls = ParleyError;
    if (e.code > 0) {
        cls = (data && lookup(ERROR_CLASSES_BY_REASON, data.reason)) ?? lookup(ERROR_CLASSES_BY_CODE, e.code) ?? ParleyError;
    }
    return new cls(e.code, message, data);
}
function errorData(d) {
    if (!isObject(d) || typeof d.reason !== "string") {
        return undefined;
    }
    const data = { reason: d.reason };
    if (typeof d.field === "string") {
        data.field = d.field;
    }
    if (typeof d.retryAfterMs === "number") {
        data.retryAfterMs = d.retryAfterMs;
    }
    return data;
}
/** table[key] for own keys only, so a reason like "constructor" finds nothing. */
function lookup(table, key) {
    return Object.hasOwn(table, key) ? table[key] : undefined;
}
/** Whether a failed reconnect attempt is worth another: the network or a busy server, not refused credentials. */
function retryable(err) {
    if (err instanceof DisconnectedError) {
        return !FINAL_CLOSE_CODES.has(err.closeCode ?? 0);
    }
    return err instanceof RequestTimeoutError || err instanceof DrainingError || err instanceof RateLimitedError;
}
function isObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}
function asError(err) {
    return err instanceof Error ? err : new Error(String(err));
}
/** Calls a user handler; one that throws is reported and does not stop the others. */
function guarded(handler, ...args) {
    try {
        handler(...args);
    }
    catch (err) {
        console.error("parley: a handler threw", err);
    }
}
