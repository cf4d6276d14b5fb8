import type { ParleyClient } from "./client.js";
import { candidateError, diagReport } from "./diag.js";
import { GlareError } from "./gen/errors.js";
import type { DiagCandidateError, DiagTrigger, IceCandidateInit, PeerId, RoomId } from "./gen/protocol.js";

/** How long a peer connection may try (checking, or waiting for the answer to its offer) before it reports anyway. */
const DIAG_AFTER_MS = 15_000;

export interface PeerSessionOptions {
  roomId: RoomId;
  /** The remote peer. */
  peerId: PeerId;
  /** Default: the server's Peer.polite for this pair (client.polite(): the later joiner of the room is polite); in a room the client has not joined (so it knows no roster), whether our peerId sorts first. */
  polite?: boolean;
  /** Passed to RTCPeerConnection; its iceServers come first, then client.session.iceServers (STUN/TURN with credentials). */
  rtcConfig?: RTCConfiguration;
  /** The SDP of an offer from peerId that came before this session existed (RoomPeers passes the one that made it create the session). It is applied after the constructor returns, so handlers set on pc right after construction see its tracks. */
  offer?: string;
  /** Where negotiation errors go; default console.error. They are reported, not thrown: there is no caller to throw to. */
  onError?: (err: unknown) => void;
  /** Default globalThis.RTCPeerConnection. */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /**
   * Whether to tell the server what the peer connection saw (diag.report:
   * candidates per ICE server, candidate errors, pair states) when it
   * connects or fails, or after 15 s of trying, so that it can explain a
   * failure (admin.diag.explain). Default true.
   */
  diagnostics?: boolean;
}

/**
 * One RTCPeerConnection to one remote peer of one room, negotiated over
 * Parley with the W3C perfect-negotiation pattern: either side may add
 * tracks or data channels at any time, and when offers cross the polite
 * side drops its own and answers the other's while the impolite side
 * ignores the other's; the server settles the race the same way, refusing
 * the polite side's crossing offer with 491 glare. The polite side applies
 * its offer only once answered, so dropping it needs no rollback (see
 * #offerPolitely); the impolite side applies its offer at once, as it
 * never has to take it back. Candidates trickle both
 * ways; an ICE failure restarts ICE, as does the peer's ice.restart
 * (ice.restartRequested); fresh TURN credentials (ice.serversRefreshed)
 * go to setConfiguration. onState reports the connection state, without
 * the "failed" Chromium shows while ICE is still gathering (#iceFailed).
 */
export class PeerSession {
  readonly pc: RTCPeerConnection;
  readonly roomId: RoomId;
  readonly peerId: PeerId;
  readonly polite: boolean;

  readonly #client: ParleyClient;
  readonly #onError: (err: unknown) => void;
  readonly #unsubscribe: (() => void)[];
  readonly #stateHandlers = new Set<(state: RTCPeerConnectionState) => void>();
  /** The state last passed to the handlers. */
  #reported: RTCPeerConnectionState | undefined;
  #makingOffer = false;
  /** The polite side's offer: sent, not yet answered, not yet applied (see #offerPolitely). */
  #sentOffer: RTCSessionDescriptionInit | undefined;
  /** How many of the peer's offers were applied: an offer we created before one of them is stale. */
  #offersTaken = 0;
  /** Whether our offer is the pair's current one (the last description we applied as offerer). */
  #offerer = false;
  readonly #ownIceServers: RTCIceServer[];
  #ignoreOffer = false;
  /** Remote candidates that came before the remote description, which addIceCandidate needs first. */
  #early: (IceCandidateInit | null)[] = [];
  /** Remote descriptions and candidates are applied one after the other, in the order they came. */
  #inbox: Promise<void> = Promise.resolve();
  #closed = false;
  // diag.report (see #report)
  readonly #diagnostics: boolean;
  readonly #createdAt = Date.now();
  #tryingSince: number | undefined;
  #diagTimer: ReturnType<typeof setTimeout> | undefined;
  #remoteCandidates = 0;
  readonly #candidateErrors: DiagCandidateError[] = [];

  constructor(client: ParleyClient, opts: PeerSessionOptions) {
    const PC = opts.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.#client = client;
    this.roomId = opts.roomId;
    this.peerId = opts.peerId;
    this.polite = opts.polite ?? client.polite(opts.roomId, opts.peerId) ?? client.session.peerId < opts.peerId;
    this.#ownIceServers = opts.rtcConfig?.iceServers ?? [];
    this.#onError = opts.onError ?? ((err) => console.error("parley: negotiation with", opts.peerId, "failed:", err));
    this.#diagnostics = opts.diagnostics ?? true;
    const pc = new PC({ ...opts.rtcConfig, iceServers: [...(opts.rtcConfig?.iceServers ?? []), ...client.session.iceServers] });
    this.pc = pc;

    // addEventListener, not the on* properties, which are left to the application.
    pc.addEventListener("negotiationneeded", () => void this.#negotiate());
    pc.addEventListener("icecandidate", ({ candidate }) => this.#sendCandidate(candidate));
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc.iceConnectionState === "checking") {
        this.#trying();
      }
      if (this.#iceFailed()) {
        pc.restartIce();
      }
    });
    pc.addEventListener("icecandidateerror", (ev) => {
      if (this.#candidateErrors.length < 16) {
        this.#candidateErrors.push(candidateError(ev as RTCPeerConnectionIceErrorEvent));
      }
    });
    pc.addEventListener("connectionstatechange", () => this.#reportState());
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete" && this.#iceFailed()) {
        this.#reportState(); // a failure held back while gathering is now final
        pc.restartIce();
      }
    });

    const fromPeer = (ev: { roomId: RoomId; from: PeerId }): boolean => ev.roomId === this.roomId && ev.from === this.peerId;
    this.#unsubscribe = [
      client.on("sdp.offer", (ev) => fromPeer(ev) && this.#receiveDescription({ type: "offer", sdp: ev.sdp })),
      client.on("sdp.answer", (ev) => fromPeer(ev) && this.#receiveDescription({ type: "answer", sdp: ev.sdp })),
      client.on("ice.candidate", (ev) => fromPeer(ev) && this.#receiveCandidate(ev.candidate)),
      client.on("ice.restartRequested", (ev) => fromPeer(ev) && this.pc.restartIce()),
      client.on("ice.serversRefreshed", (ev) => {
        if (!this.#closed) {
          this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: [...this.#ownIceServers, ...ev.iceServers] });
        }
      }),
    ];
    if (opts.offer !== undefined) {
      this.#receiveDescription({ type: "offer", sdp: opts.offer });
    }
  }

  /** Calls handler with every RTCPeerConnection connectionState change, and "closed" on close(); returns the function that unsubscribes it. */
  onState(handler: (state: RTCPeerConnectionState) => void): () => void {
    this.#stateHandlers.add(handler);
    return () => this.#stateHandlers.delete(handler);
  }

  /**
   * Restarts ICE with the peer: locally (pc.restartIce()) if ours is the
   * pair's current offer, else by asking the peer, the current offerer,
   * with ice.restart (the server rate-limits it: a refusal rejects).
   */
  async restartIce(reason?: string): Promise<void> {
    if (this.#offerer || this.#sentOffer || this.pc.signalingState !== "stable") {
      this.pc.restartIce();
      return;
    }
    await this.#client.ice.restart({ roomId: this.roomId, to: this.peerId, ...(reason !== undefined && { reason }) });
  }

  /** Stops listening to the client and closes the RTCPeerConnection. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clearTimeout(this.#diagTimer);
    for (const unsubscribe of this.#unsubscribe) {
      unsubscribe();
    }
    this.pc.close();
    this.#emit("closed"); // pc.close() fires no connectionstatechange
  }

  async #negotiate(): Promise<void> {
    if (this.polite) {
      return this.#offerPolitely();
    }
    try {
      this.#makingOffer = true;
      await this.pc.setLocalDescription();
      await this.#sendLocalDescription();
    } catch (err) {
      // The server refuses only the polite side's crossing offer: a 491
      // here means the two ends disagree on who is polite.
      this.#onError(err);
    } finally {
      this.#makingOffer = false;
    }
  }

  /**
   * The polite side's offer is sent before it is applied, and applied only
   * when its answer comes (setLocalDescription, then the answer): an offer
   * that loses the glare (491 from the server, or the impolite side's offer
   * coming first) was never applied, so the polite side never rolls back.
   * Chromium, asked to roll back an offer whose ICE gathering has just
   * started and to answer at once, can leave the answer's ICE transport
   * gathering no candidates and never connecting.
   */
  async #offerPolitely(): Promise<void> {
    if (this.#sentOffer || this.pc.signalingState !== "stable") {
      return; // an exchange is under way: negotiationneeded fires again after it if still needed
    }
    let offer: RTCSessionDescriptionInit | undefined;
    const offersTaken = this.#offersTaken;
    try {
      this.#makingOffer = true;
      offer = await this.pc.createOffer();
      if (this.#closed || this.#offersTaken !== offersTaken || this.pc.signalingState !== "stable") {
        return; // an offer of the peer's got here first; this one is stale
      }
      // Kept before sending: the answer can come before the server's reply.
      this.#sentOffer = offer;
      await this.#client.sdp.offer({ roomId: this.roomId, to: this.peerId, sdp: offer.sdp ?? "" });
      this.#trying();
    } catch (err) {
      if (this.#sentOffer === offer) {
        this.#sentOffer = undefined;
      }
      // Glare, settled by the server: the peer's offer, here or on its
      // way, is ours to answer.
      if (!(err instanceof GlareError)) {
        this.#onError(err);
      }
    } finally {
      this.#makingOffer = false;
    }
  }

  #receiveDescription(description: RTCSessionDescriptionInit): void {
    this.#enqueue(async () => {
      const pc = this.pc;
      if (description.type === "answer") {
        const offer = this.#sentOffer;
        this.#sentOffer = undefined;
        if (offer) {
          await pc.setLocalDescription(offer); // the polite side's offer, applied now that it won
        }
      }
      const collision = description.type === "offer" && (this.#makingOffer || this.#sentOffer !== undefined || pc.signalingState !== "stable");
      this.#ignoreOffer = !this.polite && collision;
      if (this.#ignoreOffer) {
        return;
      }
      if (description.type === "offer") {
        this.#sentOffer = undefined; // polite: ours was never applied, so dropping it is the rollback
        this.#offersTaken++;
      }
      await pc.setRemoteDescription(description);
      this.#offerer = description.type === "answer";
      for (const candidate of this.#early.splice(0)) {
        await this.#addCandidate(candidate);
      }
      if (description.type === "offer") {
        await pc.setLocalDescription();
        // Not awaited: later candidates need not wait for the server's answer.
        this.#sendLocalDescription().catch(this.#onError);
      }
    });
  }

  #receiveCandidate(candidate: IceCandidateInit | null): void {
    if (candidate) {
      this.#remoteCandidates++;
    }
    this.#enqueue(async () => {
      if (this.pc.remoteDescription) {
        await this.#addCandidate(candidate);
      } else {
        this.#early.push(candidate);
      }
    });
  }

  async #addCandidate(candidate: IceCandidateInit | null): Promise<void> {
    try {
      // null is end of candidates, which addIceCandidate() without a candidate says.
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (err) {
      if (!this.#ignoreOffer) {
        throw err; // the candidates of an offer we ignored are expected to fail
      }
    }
  }

  async #sendLocalDescription(): Promise<void> {
    const d = this.pc.localDescription;
    if (!d || this.#closed) {
      return;
    }
    const params = { roomId: this.roomId, to: this.peerId, sdp: d.sdp };
    await (d.type === "offer" ? this.#client.sdp.offer(params) : this.#client.sdp.answer(params));
    this.#trying();
  }

  #sendCandidate(c: RTCIceCandidate | null): void {
    if (this.#closed) {
      return;
    }
    // The server wants sdpMid or sdpMLineIndex with every candidate; an
    // empty one without either is the same end-of-candidates as null.
    const candidate: IceCandidateInit | null =
      c && (c.candidate !== "" || c.sdpMid !== null || c.sdpMLineIndex !== null)
        ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment }
        : null;
    this.#client.ice.candidate({ roomId: this.roomId, to: this.peerId, candidate }).catch(this.#onError);
  }

  #enqueue(task: () => Promise<void>): void {
    this.#inbox = this.#inbox.then(() => (this.#closed ? undefined : task())).catch(this.#onError);
  }

  /**
   * Whether ICE has failed for good. Chromium reports the ICE transport
   * failed as soon as every candidate pair it has at that moment has
   * failed, even while it is still gathering local candidates, which the
   * W3C definition of "failed" does not allow (gathering must be
   * complete). The side that offers politely meets it: it applies its
   * offer, and starts gathering, only when the answer comes, by which time
   * the peer's candidates are all there, so its first relay candidate is
   * paired with every one of them at once; when those first pairs fail, the
   * transport says failed for the few tens of milliseconds until the next
   * relay candidate's pairs connect. Such a failure is neither shown nor
   * answered with an ICE restart; if it is still there when gathering
   * completes, it is.
   */
  #iceFailed(): boolean {
    return this.pc.iceConnectionState === "failed" && this.pc.iceGatheringState === "complete";
  }

  /**
   * Starts the 15 s after which a peer connection still trying reports:
   * from its first offer or answer sent or its first checking, whichever
   * comes first (an offer never answered, or a side that gathered nothing,
   * never reaches checking).
   */
  #trying(): void {
    if (this.#tryingSince !== undefined || this.#closed) {
      return;
    }
    this.#tryingSince = Date.now();
    this.#diagTimer = setTimeout(() => {
      if (this.pc.connectionState !== "connected") {
        this.#report("checking");
      }
    }, DIAG_AFTER_MS);
  }

  /**
   * Sends diag.report (unless the application turned diagnostics off):
   * what the peer connection saw, for the server to join with the other
   * side's report and its own records. Its failures are not the
   * application's concern and are dropped.
   */
  #report(trigger: DiagTrigger): void {
    const since = this.#tryingSince;
    if (trigger !== "checking") {
      clearTimeout(this.#diagTimer);
      this.#tryingSince = undefined; // an ICE restart starts another 15 s
    }
    if (!this.#diagnostics || this.#closed) {
      return;
    }
    const now = Date.now();
    diagReport(this.pc, {
      trigger,
      elapsedMs: now - this.#createdAt,
      ...(trigger === "connected" && since !== undefined && { connectMs: now - since }),
      remoteCandidates: this.#remoteCandidates,
      awaitingAnswer: this.#sentOffer !== undefined || this.pc.signalingState === "have-local-offer",
      candidateErrors: this.#candidateErrors,
    })
      .then((report) => this.#client.diag.report({ roomId: this.roomId, peerId: this.peerId, report }))
      .catch(() => undefined);
  }

  /** Passes the connection state to the handlers, holding back a premature ICE failure (see #iceFailed). */
  #reportState(): void {
    const state = this.pc.connectionState;
    if (state === "failed" && this.pc.iceConnectionState === "failed" && !this.#iceFailed()) {
      return; // still gathering: what the handlers last saw (connecting) stands
    }
    this.#emit(state);
  }

  #emit(state: RTCPeerConnectionState): void {
    if (state === this.#reported) {
      return;
    }
    this.#reported = state;
    if (state === "connected" || state === "failed") {
      this.#report(state);
    }
    for (const h of [...this.#stateHandlers]) {
      h(state);
    }
  }
}

export interface RoomPeersOptions extends Pick<PeerSessionOptions, "rtcConfig" | "onError" | "RTCPeerConnection" | "diagnostics"> {
  /**
   * Called with every PeerSession created, by connect() or for a peer's
   * offer, before it negotiates: add tracks and data channels, or set
   * pc.ondatachannel / pc.ontrack, here.
   */
  onPeer?: (ps: PeerSession) => void;
}

/**
 * The PeerSessions of one room the client has joined: one is made when a
 * peer sends an offer (so the answering side needs no glue) or when you
 * connect() to a peer, and closed when that peer leaves. Everything closes
 * when you leave, are kicked, or the room closes.
 */
export class RoomPeers {
  readonly roomId: RoomId;
  readonly #client: ParleyClient;
  readonly #opts: RoomPeersOptions;
  readonly #sessions = new Map<PeerId, PeerSession>();
  readonly #unsubscribe: (() => void)[];

  constructor(client: ParleyClient, roomId: RoomId, opts: RoomPeersOptions = {}) {
    this.#client = client;
    this.roomId = roomId;
    this.#opts = opts;
    this.#unsubscribe = [
      client.on("sdp.offer", (ev) => {
        if (ev.roomId === roomId && !this.#sessions.has(ev.from)) {
          this.#create(ev.from, ev.sdp);
        }
      }),
      client.on("room.peerLeft", (ev) => {
        if (ev.roomId !== roomId) {
          return;
        }
        if (ev.peerId === client.session.peerId) {
          this.close(); // kicked, or the room closed under us
        } else {
          this.#sessions.get(ev.peerId)?.close();
        }
      }),
      client.on("room.closed", (ev) => ev.roomId === roomId && this.close()),
    ];
  }

  /** The open sessions by remote peer id. */
  get sessions(): ReadonlyMap<PeerId, PeerSession> {
    return this.#sessions;
  }

  /** The session with peerId, made (and passed to onPeer) if there is none. Negotiation starts once it has something to send: add a data channel or a track. */
  connect(peerId: PeerId): PeerSession {
    return this.#sessions.get(peerId) ?? this.#create(peerId);
  }

  /** Closes every session and stops listening; does not leave the room. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe) {
      unsubscribe();
    }
    for (const ps of [...this.#sessions.values()]) {
      ps.close();
    }
  }

  #create(peerId: PeerId, offer?: string): PeerSession {
    const { onPeer, ...peerOpts } = this.#opts;
    const ps = new PeerSession(this.#client, { ...peerOpts, roomId: this.roomId, peerId, ...(offer !== undefined && { offer }) });
    this.#sessions.set(peerId, ps);
    ps.onState((state) => {
      if (state === "closed" && this.#sessions.get(peerId) === ps) {
        this.#sessions.delete(peerId);
      }
    });
    onPeer?.(ps);
    return ps;
  }
}

/** One end of the candidate pair ICE selected. */
export interface CandidateInfo {
  /** host, srflx, prflx or relay: relay means the media goes through TURN. */
  type: RTCIceCandidateType;
  address: string | undefined;
  port: number | undefined;
  /** udp or tcp. */
  protocol: string | undefined;
}

/** The candidate pair in use, from pc.getStats(); undefined before ICE has selected one. */
export async function selectedCandidatePair(pc: RTCPeerConnection): Promise<{ local: CandidateInfo; remote: CandidateInfo } | undefined> {
  const stats: Record<string, unknown>[] = [];
  (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.push(s));
  const byId = (id: unknown): Record<string, unknown> | undefined => (id === undefined ? undefined : stats.find((s) => s.id === id));
  // Chrome and Safari name the pair on the transport; Firefox has no
  // transport stats and marks the pair selected instead.
  const pair =
    byId(stats.find((s) => s.type === "transport" && s.selectedCandidatePairId)?.selectedCandidatePairId) ??
    stats.find((s) => s.type === "candidate-pair" && s.selected === true);
  const local = candidateInfo(byId(pair?.localCandidateId));
  const remote = candidateInfo(byId(pair?.remoteCandidateId));
  return local && remote ? { local, remote } : undefined;
}

const CANDIDATE_TYPES: ReadonlySet<string> = new Set<RTCIceCandidateType>(["host", "srflx", "prflx", "relay"]);

function candidateInfo(s: Record<string, unknown> | undefined): CandidateInfo | undefined {
  if (!s || typeof s.candidateType !== "string" || !CANDIDATE_TYPES.has(s.candidateType)) {
    return undefined;
  }
  return {
    type: s.candidateType as RTCIceCandidateType,
    address: typeof s.address === "string" ? s.address : undefined,
    port: typeof s.port === "number" ? s.port : undefined,
    protocol: typeof s.protocol === "string" ? s.protocol : undefined,
  };
}
