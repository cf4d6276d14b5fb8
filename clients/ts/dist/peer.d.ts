import type { ParleyClient } from "./client.js";
import type { PeerId, RoomId } from "./gen/protocol.js";
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
export declare class PeerSession {
    #private;
    readonly pc: RTCPeerConnection;
    readonly roomId: RoomId;
    readonly peerId: PeerId;
    readonly polite: boolean;
    constructor(client: ParleyClient, opts: PeerSessionOptions);
    /** Calls handler with every RTCPeerConnection connectionState change, and "closed" on close(); returns the function that unsubscribes it. */
    onState(handler: (state: RTCPeerConnectionState) => void): () => void;
    /**
     * Restarts ICE with the peer: locally (pc.restartIce()) if ours is the
     * pair's current offer, else by asking the peer, the current offerer,
     * with ice.restart (the server rate-limits it: a refusal rejects).
     */
    restartIce(reason?: string): Promise<void>;
    /** Stops listening to the client and closes the RTCPeerConnection. */
    close(): void;
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
export declare class RoomPeers {
    #private;
    readonly roomId: RoomId;
    constructor(client: ParleyClient, roomId: RoomId, opts?: RoomPeersOptions);
    /** The open sessions by remote peer id. */
    get sessions(): ReadonlyMap<PeerId, PeerSession>;
    /** The session with peerId, made (and passed to onPeer) if there is none. Negotiation starts once it has something to send: add a data channel or a track. */
    connect(peerId: PeerId): PeerSession;
    /** Closes every session and stops listening; does not leave the room. */
    close(): void;
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
export declare function selectedCandidatePair(pc: RTCPeerConnection): Promise<{
    local: CandidateInfo;
    remote: CandidateInfo;
} | undefined>;
