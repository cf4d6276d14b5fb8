/** What a client needs to resume a dropped session: session.connect's sessionId and latest resumeToken, and the highest seq it has processed. */
export interface ResumeParams {
    sessionId: string;
    resumeToken: string;
    /** The highest notification seq processed (0: none). */
    lastSeq: number;
}
/** connected, or reconnecting: its connection dropped and it has the resume window to come back; messages to it are queued meanwhile. */
export type PeerState = "connected" | "reconnecting";
/** Any JSON value chosen by the application; the server forwards it unchanged, bounded by the frame size. */
export type Data = unknown;
/** An empty result, {}. */
export interface Empty {
}
/** The data member of every Parley error. */
export interface ErrorData {
    /** A stable machine-readable token, e.g. room_full. */
    reason: string;
    /** For -32602: the JSON path of the offending param, e.g. candidate.sdpMid. */
    field?: string;
    /** For 429 and 503: when to try again. */
    retryAfterMs?: number;
}
/** W3C RTCIceCandidateInit, as RTCIceCandidate.toJSON() gives it. candidate is an a=candidate line value (with or without the 'candidate:' prefix); the empty string means end of candidates for that media section. The anyOf is RTCPeerConnection.addIceCandidate's rule: without sdpMid or sdpMLineIndex the receiver cannot place the candidate. Required: sdpMid or sdpMLineIndex (present and not null). */
export interface IceCandidateInit {
    candidate: string;
    sdpMid?: string | null;
    sdpMLineIndex?: number | null;
    usernameFragment?: string | null;
}
/** W3C RTCIceServer: pass it to new RTCPeerConnection({iceServers}). */
export interface IceServer {
    /** stun:, turn: or turns: URLs. */
    urls: string[];
    username?: string;
    credential?: string;
}
/** ICE servers. */
export interface IceServersResult {
    iceServers: IceServer[];
    /** Unix seconds after which the credentials stop working; 0 if they do not expire. */
    expiresAt: number;
}
/** Who a session is: granted by the token's subject (or the bare identity in dev mode). No ':' so it fits a TURN REST username. */
export type Identity = string;
/** The id the recipients see. */
export interface MessageSendResult {
    messageId: string;
}
/** Free-form JSON object chosen by the application; the server stores and forwards it, bounded in size. */
export type Metadata = Record<string, unknown>;
/** A member of a room. */
export interface Peer {
    peerId: PeerId;
    identity: Identity;
    displayName?: string;
    role: Role;
    metadata?: Metadata;
    /** Perfect negotiation: whether YOU are the polite side towards this peer. The later joiner of a pair is polite: in room.join's peers[] (and room.snapshot) every peer has polite true, in room.peerJoined false. The server settles glare with the same rule: when offers cross, the polite side's offer is refused with 491 GLARE and it answers the other's (see sdp.offer). */
    polite?: boolean;
    state?: PeerState;
}
/** A peer id, assigned by the server at session.connect; the same in every room the session joins. */
export type PeerId = string;
/** Why a peer left a room: left (room.leave), disconnected (its session ended), kicked, closed (the room was closed), timeout (it dropped and did not resume within the resume window), replaced (a newer session of its identity took over). */
export type PeerLeftReason = "left" | "disconnected" | "kicked" | "closed" | "timeout" | "replaced";
/** What a room does when an identity that already has a seat in it joins again (another device or tab): multi (both seats), takeover (the older seat leaves with room.peerLeft {reason: replaced}, sent to its own session too, which stays connected; the new seat takes the owner role if the old one had it), reject (409 CONFLICT). The server's --duplicate-identity governs sessions; this governs seats in one room. */
export type DuplicatePolicy = "multi" | "takeover" | "reject";
/** A peer's role in a room (XMPP MUC flavour). The first peer to join, and any peer whose token's owner grant names the room, is an owner; owners and moderators may kick; only owners may update the room. */
export type Role = "owner" | "moderator" | "participant";
/** The created room. */
export interface RoomCreateResult {
    roomId: RoomId;
}
/** A room id: 1 to 64 letters, digits, '_' or '-'. For a call, the call id. */
export type RoomId = string;
/** A room as its members (or an admin) see it. */
export interface RoomInfo {
    roomId: RoomId;
    maxPeers: number;
    /** A locked room admits no new peers. */
    locked: boolean;
    duplicateIdentity: DuplicatePolicy;
    metadata?: Metadata;
    peers: Peer[];
}
/** The room as the caller now sees it. */
export interface RoomJoinResult {
    roomId: RoomId;
    self: Peer;
    /** The other peers, in join order. */
    peers: Peer[];
}
/** The rooms, sorted by id. */
export interface RoomListResult {
    rooms: RoomSummary[];
}
export interface RoomSummary {
    roomId: RoomId;
    peerCount: number;
    maxPeers: number;
    locked: boolean;
}
/** Per-session sequence number of a server notification: 1, 2, 3, ... without gaps, so a client can tell what it missed. */
export type Seq = number;
/** The new session. */
export interface SessionConnectResult {
    sessionId: string;
    peerId: PeerId;
    identity: Identity;
    /** Secret for resuming this session after a dropped connection. */
    resumeToken: string;
    resumed: boolean;
    iceServers: IceServer[];
    /** Unix seconds after which the iceServers credentials stop working (call ice.servers before then for fresh ones); 0 if they do not expire. */
    iceServersExpiresAt: number;
    /** sha256 of the server's OpenRPC document, to compare with a generated client's. */
    protocol: string;
}
/** A session as an admin sees it. */
export interface SessionInfo {
    sessionId: string;
    peerId: PeerId;
    identity: Identity;
    state: SessionState;
    rooms: RoomId[];
    /** The seq of the last notification sent. */
    lastSeq: number;
    /** The highest seq the client acknowledged with session.ack (0: none). */
    ackedSeq: number;
    /** Frames waiting to be written to the client. */
    queueMessages: number;
    queueBytes: number;
    /** Notifications kept for a resume: those after ackedSeq, up to the replay bounds. */
    replayMessages: number;
    replayBytes: number;
    /** The client's IP address, while connected. */
    remote?: string;
}
export interface SessionListResult {
    sessions: SessionInfo[];
    /** More sessions follow the last one: ask again with after. */
    more: boolean;
}
export interface NodeStatus {
    version: string;
    /** Unix milliseconds. */
    startedAt: number;
    draining: boolean;
    /** Unix milliseconds when a draining node exits. */
    drainDeadline?: number;
    /** This node's sessions: attached to it, or dropped from it and within their resume window. */
    sessions: number;
    connections: number;
    rooms: number;
    /** Live TURN allocations (0 without TURN). */
    turnAllocations: number;
    /** Cluster mode: this node's id (--node-id). */
    nodeId?: string;
    /** Cluster mode: every node with a live lease, and those whose lease lapsed but whose sessions are not yet reaped, by id. */
    nodes?: ClusterNode[];
}
export interface ClusterNode {
    nodeId: string;
    /** Its lease is live (renewed within the last 3 s). */
    alive: boolean;
    draining?: boolean;
    version?: string;
    /** Unix milliseconds. */
    startedAt?: number;
    /** Sessions attached to it, or dropped from it and within their resume window. */
    sessions: number;
}
export interface TurnAllocation {
    identity: Identity;
    client: string;
    transport: TurnTransport;
    relay: string;
    /** Unix milliseconds. */
    createdAt: number;
}
export interface TurnAllocationList {
    allocations: TurnAllocation[];
}
/** connected, or reconnecting: the connection dropped and the session waits for a resume. */
export type SessionState = "connected" | "reconnecting";
/** How a client reaches the TURN server. */
export type TurnTransport = "udp" | "tcp" | "tls";
/** The call's id (also the id of its room once answered) and when it stops ringing. */
export interface CallInviteResult {
    callId: RoomId;
    /** Unix seconds when an unanswered invite ends with 408. */
    expiresAt: number;
}
/** Where a call stands: calling (invited, no device has rung yet), ringing (a callee device sent call.ringing), active (answered: the two parties share the call's room). An ended call is gone: requests about it answer 404 call_not_found. */
export type CallState = "calling" | "ringing" | "active";
/** Why a call ended, with its SIP-like code: hangup (200, call.hangup, or a party's session ended during the call), answered_elsewhere (200, another device of the callee accepted), canceled (487, the caller canceled or its session ended before an answer), busy (486, every callee device rejected with 486), declined (603, a callee device rejected with 603), timeout (408, nobody answered within the lifetime), unavailable (480, every ringing callee device's session ended). Clients should accept values not listed here. */
export type CallEndReason = string;
/** A status a device sets (XMPP show values): available, away, dnd (do not disturb), xa (extended away). */
export type PresenceSetStatus = "available" | "away" | "dnd" | "xa";
/** An identity's aggregate status: the most available of its devices' statuses (available, then away, then xa, then dnd), or offline when it has no session. */
export type PresenceStatus = "available" | "away" | "dnd" | "xa" | "offline";
/** Free text shown with a status (XMPP status message). */
export type PresenceNote = string;
/** An identity's presence, aggregated over its devices; note is the note of the device whose status won. */
export interface Presence {
    identity: Identity;
    status: PresenceStatus;
    note?: PresenceNote;
    /** Live sessions of the identity (reconnecting ones included). */
    devices: number;
}
/** Presences. */
export interface PresenceListResult {
    /** One per identity asked for, in the order asked. */
    presences: Presence[];
}
/** What happened: session.started, session.ended, room.started, room.finished, peer.joined, peer.left, call.started, call.answered, call.ended, peer.connectionFailed. A receiver ignores types it does not know. */
export type EventType = string;
/** The global position of an event: every event of this server gets the next one, so cursors order all events. They keep growing across restarts (a node starts counting at its start time in microseconds; a cluster counts on in Redis), so a backend's saved cursor stays meaningful. 0 is before every event. */
export type EventCursor = number;
/** Why a connection between two peers failed (or none when it connected), as a stable code: see diag.report for the list. New codes may be added. */
export type DiagCause = string;
/** An event's data: cursor always; the room, session, peer, identity and times that apply to its type. Call events carry roomId = callId. */
export interface EventData {
    cursor: EventCursor;
    roomId?: RoomId;
    /** The event's place among its room's events: 1, 2, 3, ... Webhooks deliver a room's events in this order. */
    roomSeq?: number;
    sessionId?: string;
    peerId?: PeerId;
    identity?: Identity;
    /** Why it ended or left: session.ended (the connection's close reason such as normal, or timeout when its resume window passed, replaced), room.finished (empty, expired, creator_ended, call_ended, or admin.rooms.close's reason), peer.left (room.peerLeft's reason; closed when its room was closed), call.ended. */
    reason?: string;
    callId?: string;
    caller?: Identity;
    callee?: Identity;
    /** call.ended: the SIP-like code (200 hung up, 486 busy, 487 canceled, 408 no answer, 603 declined). */
    code?: number;
    /** How long it lasted (session.ended, peer.left, call.ended: from answer to end). */
    durationMs?: number;
    remotePeerId?: PeerId;
    remoteIdentity?: Identity;
    cause?: DiagCause;
    /** peer.connectionFailed: the cause in a sentence (see admin.diag.explain). */
    explanation?: string;
}
/** One event, exactly as a webhook delivers it (the Standard Webhooks body). */
export interface Event {
    type: EventType;
    /** When it happened, RFC 3339 in UTC with milliseconds. */
    timestamp: string;
    data: EventData;
}
/** Events in cursor order. */
export interface EventList {
    events: Event[];
    /** The cursor of the oldest event still kept (0 if none): a backend whose saved cursor is below oldest - 1 has missed events beyond the retained log. */
    oldest: number;
    /** More events follow the last one: ask again with its cursor as after. */
    more: boolean;
}
/** What made the client report: the peer connection reached connected or failed, or it had been checking for 15 s. */
export type DiagTrigger = "connected" | "failed" | "checking";
/** Where a pair stands: connected, failed, checking (still trying after 15 s), unknown (no report yet). */
export type DiagResult = "connected" | "failed" | "checking" | "unknown";
/** An ICE candidate type. */
export type DiagCandidateType = "host" | "srflx" | "prflx" | "relay";
/** A transport: a candidate's protocol, or how a relay candidate reached its TURN server. */
export type DiagProtocol = "udp" | "tcp" | "tls";
/** Candidates by type. */
export interface DiagCandidateCounts {
    host?: number;
    srflx?: number;
    prflx?: number;
    relay?: number;
}
/** What one configured ICE server gave: server-reflexive and relay candidates gathered from it (none: it never answered usefully). */
export interface DiagIceServer {
    /** The ICE server URL as configured (credentials are never reported). */
    url: string;
    srflx?: number;
    relay?: number;
}
/** An icecandidateerror event. */
export interface DiagCandidateError {
    url: string;
    /** icecandidateerror's errorCode: a STUN error code (401, 403, 437, 486, 508...) or 701 (no response: the server was unreachable). */
    errorCode: number;
    errorText?: string;
}
/** One end of a candidate pair. */
export interface DiagCandidate {
    type: DiagCandidateType;
    protocol?: DiagProtocol;
    relayProtocol?: DiagProtocol;
}
/** The candidate pair ICE selected. */
export interface DiagSelectedPair {
    local: DiagCandidate;
    remote: DiagCandidate;
}
/** Candidate pairs by state. */
export interface DiagPairCounts {
    frozen?: number;
    waiting?: number;
    inProgress?: number;
    succeeded?: number;
    failed?: number;
}
/** What one side of a peer connection saw (see diag.report). Bounded: 16 ICE servers, 16 candidate errors, short strings. */
export interface DiagReport {
    trigger: DiagTrigger;
    /** RTCPeerConnection.connectionState. */
    connectionState?: string;
    /** RTCPeerConnection.iceConnectionState. */
    iceConnectionState?: string;
    /** RTCPeerConnection.signalingState: an offerer still in have-local-offer never got an answer. */
    signalingState?: string;
    /** all, or relay (TURN only). */
    iceTransportPolicy?: string;
    local?: DiagCandidateCounts;
    remote?: DiagCandidateCounts;
    /** An offer of this side's was sent and its answer never came (whether or not the offer was applied: both clients apply theirs only when answered). */
    awaitingAnswer?: boolean;
    /** Remote candidates that arrived over signaling (ice.candidate, end-of-candidates not counted). */
    remoteCandidates?: number;
    iceServers?: DiagIceServer[];
    candidateErrors?: DiagCandidateError[];
    selectedPair?: DiagSelectedPair;
    pairs?: DiagPairCounts;
    /** Time from the first checking to connected, if it connected. */
    connectMs?: number;
    /** Time since the peer connection was made. */
    elapsedMs?: number;
    /** The client: e.g. parley-ts, parley-go. */
    agent?: string;
}
/** A pair's diagnosis: result, cause code and its sentence; peerId names the peer whose side the cause is about (whose TURN credentials expired, whose candidates never crossed, that never answered), when it is about one. */
export interface DiagVerdict {
    result: DiagResult;
    peerId?: PeerId;
    cause: DiagCause;
    /** The cause in a sentence an operator can act on. */
    explanation: string;
    /** What the verdict rests on, one fact a line. */
    evidence: string[];
}
/** What the co-hosted TURN server did for an identity: allocated a relay; refused credentials that had expired (authExpired) or did not verify (authWrong: wrong password or secret); refused a permission to a peer address by relay policy (peerDenied); refused an allocation (allocationQuota, 486) or a permission (permissionQuota, 508) by quota. */
export type TurnEventKind = "allocated" | "authExpired" | "authWrong" | "peerDenied" | "allocationQuota" | "permissionQuota";
/** One entry of the TURN server's record for an identity. */
export interface TurnEvent {
    /** Unix milliseconds. */
    at: number;
    kind: TurnEventKind;
    /** allocated: the relay address; peerDenied: the peer address refused. */
    address?: string;
    /** How many times in a row (repeats are folded). */
    count: number;
}
/** One side of a pair: its latest report and the TURN record of its identity. */
export interface DiagSide {
    peerId: PeerId;
    identity?: Identity;
    /** Unix milliseconds of its latest report; absent: it never reported. */
    reportedAt?: number;
    report?: DiagReport;
    /** The co-hosted TURN server's latest record for this side's identity. */
    turn?: TurnEvent[];
}
/** Two peers of a room, what each reported and the diagnosis. */
export interface DiagPair {
    a: DiagSide;
    b: DiagSide;
    verdict: DiagVerdict;
}
/** Every pair of the room with a report, failed ones first. */
export interface DiagExplanation {
    roomId: RoomId;
    pairs: DiagPair[];
}
/** A signaling request the server relays between two peers: sdp.offer, sdp.answer, ice.candidate or ice.restart. */
export type SignalMethod = string;
/** What the server did with a signaling message: delivered to its peer; held (a candidate before the pair's first offer); released (a held candidate, delivered with that offer); dropped (held candidates that expired); refused (with its code). */
export type SignalOutcome = "delivered" | "held" | "released" | "dropped" | "refused";
/** Params of session.connect. */
export interface SessionConnectParams {
    /** A JWT (HS256) minted by your backend or by `parley token`: sub (the identity), exp (required), nbf, iat (at most 60 s ahead of the server's clock) and the grants rooms, create, moderator, admin. Claim names are case-sensitive: one that differs from these only by case (Admin, EXP) makes the token invalid (401), as does a name given twice; other claims are ignored. */
    token?: string;
    /** Dev mode only: who you are, without a token. */
    identity?: Identity;
    /** Resume a session whose connection dropped, instead of opening a new one. token and identity may be left out while the session's token is valid; if given they must name the session's identity (403 otherwise). A token given here replaces the session's grants and their expiry with its own; after the session's token has expired, a resume without a fresh one is refused (401). Clients with a token source send a fresh token on every resume. */
    resume?: ResumeParams;
}
/** Params of session.ack. */
export interface SessionAckParams {
    /** The seq of the last notification the client has processed. */
    seq: number;
}
/** Params of room.create. */
export interface RoomCreateParams {
    roomId?: RoomId;
    /** Defaults to the server's --max-peers. */
    maxPeers?: number;
    metadata?: Metadata;
    /** Defaults to multi. */
    duplicateIdentity?: DuplicatePolicy;
}
/** Params of room.join. */
export interface RoomJoinParams {
    roomId: RoomId;
    /** Create the room if it does not exist. */
    create?: boolean;
    /** Set by a client rejoining after a resume gap (410): the result is followed by room.snapshot, seq-stamped, to reconcile its roster with. */
    rejoin?: boolean;
    displayName?: string;
    metadata?: Metadata;
}
/** Params of room.leave. */
export interface RoomLeaveParams {
    roomId: RoomId;
}
/** Params of room.get. */
export interface RoomGetParams {
    roomId: RoomId;
}
/** Params of room.update. */
export interface RoomUpdateParams {
    roomId: RoomId;
    metadata?: Metadata;
    maxPeers?: number;
    /** true locks, false unlocks, absent or null leaves it. */
    locked?: boolean | null;
    /** For joins from now on; seats already taken stay. */
    duplicateIdentity?: DuplicatePolicy;
}
/** Params of room.kick. */
export interface RoomKickParams {
    roomId: RoomId;
    peerId: PeerId;
}
/** Params of sdp.offer. */
export interface SdpOfferParams {
    roomId: RoomId;
    to: PeerId;
    /** The SDP text (RTCSessionDescription.sdp). */
    sdp: string;
}
/** Params of sdp.answer. */
export interface SdpAnswerParams {
    roomId: RoomId;
    to: PeerId;
    /** The SDP text (RTCSessionDescription.sdp). */
    sdp: string;
}
/** Params of ice.candidate. */
export interface IceCandidateParams {
    roomId: RoomId;
    to: PeerId;
    candidate: IceCandidateInit | null;
}
/** Params of ice.servers. */
export interface IceServersParams {
}
/** Params of ice.restart. */
export interface IceRestartParams {
    roomId: RoomId;
    /** The peer you negotiate with; it must be the current offerer of the pair. */
    to: PeerId;
    /** Why (e.g. "network changed", "ice failed"); passed on in ice.restartRequested. */
    reason?: string;
}
/** Params of message.send. */
export interface MessageSendParams {
    roomId: RoomId;
    /** A peer of the room; absent means everyone else in the room. */
    to?: PeerId;
    data: Data;
}
/** Params of call.invite. */
export interface CallInviteParams {
    /** The callee. */
    to: Identity;
    /** Passed to the callee in call.incoming (e.g. the media wanted). */
    metadata?: Metadata;
    /** How long the call may ring; default 60. */
    lifetimeSec?: number;
}
/** Params of call.ringing. */
export interface CallRingingParams {
    callId: RoomId;
}
/** Params of call.accept. */
export interface CallAcceptParams {
    callId: RoomId;
}
/** Params of call.reject. */
export interface CallRejectParams {
    callId: RoomId;
    /** 486 or 603; default 603. */
    code?: number;
}
/** Params of call.cancel. */
export interface CallCancelParams {
    callId: RoomId;
}
/** Params of call.hangup. */
export interface CallHangupParams {
    callId: RoomId;
}
/** Params of presence.set. */
export interface PresenceSetParams {
    status: PresenceSetStatus;
    note?: PresenceNote;
}
/** Params of presence.subscribe. */
export interface PresenceSubscribeParams {
    /** Up to 100 identities. */
    identities: Identity[];
}
/** Params of presence.unsubscribe. */
export interface PresenceUnsubscribeParams {
    /** Up to 100 identities. */
    identities: Identity[];
}
/** Params of presence.get. */
export interface PresenceGetParams {
    /** Up to 100 identities. */
    identities: Identity[];
}
/** Params of admin.rooms.list. */
export interface AdminRoomsListParams {
}
/** Params of admin.rooms.get. */
export interface AdminRoomsGetParams {
    roomId: RoomId;
}
/** Params of admin.rooms.close. */
export interface AdminRoomsCloseParams {
    roomId: RoomId;
    /** Sent in room.closed; default closed_by_admin. */
    reason?: string;
}
/** Params of admin.sessions.list. */
export interface AdminSessionsListParams {
    /** Only this identity's sessions. */
    identity?: Identity;
    /** Page: sessions with a greater id. */
    after?: string;
    limit?: number;
}
/** Params of admin.sessions.get. */
export interface AdminSessionsGetParams {
    sessionId: string;
}
/** Params of admin.peers.kick. */
export interface AdminPeersKickParams {
    roomId: RoomId;
    peerId: PeerId;
}
/** Params of admin.node.status. */
export interface AdminNodeStatusParams {
}
/** Params of admin.node.drain. */
export interface AdminNodeDrainParams {
    /** Seconds until the node exits; default --drain-timeout. */
    timeoutSec?: number;
}
/** Params of admin.turn.allocations.list. */
export interface AdminTurnAllocationsListParams {
}
/** Params of admin.turn.allocations.close. */
export interface AdminTurnAllocationsCloseParams {
    /** The relayed address, ip:port, as listed. */
    relay: string;
}
/** Params of diag.report. */
export interface DiagReportParams {
    roomId: RoomId;
    /** The remote peer of this peer connection. */
    peerId: PeerId;
    report: DiagReport;
}
/** Params of admin.diag.explain. */
export interface AdminDiagExplainParams {
    roomId: RoomId;
    /** Only the pairs this peer is in. */
    peerId?: PeerId;
}
/** Params of admin.events.list. */
export interface AdminEventsListParams {
    /** Events after this cursor (default 0: from the oldest kept). */
    after?: EventCursor;
    limit?: number;
}
/** Params of admin.rooms.watch. */
export interface AdminRoomsWatchParams {
    roomId: RoomId;
    /** Also send each message's payload (SDP, candidate, restart reason): they carry IP addresses. Default false: metadata only. */
    frames?: boolean;
}
/** Params of admin.rooms.unwatch. */
export interface AdminRoomsUnwatchParams {
    roomId: RoomId;
}
/** Params of the room.peerJoined notification. */
export interface RoomPeerJoinedEvent {
    seq: Seq;
    roomId: RoomId;
    peer: Peer;
}
/** Params of the room.peerLeft notification. */
export interface RoomPeerLeftEvent {
    seq: Seq;
    roomId: RoomId;
    peerId: PeerId;
    reason: PeerLeftReason;
}
/** Params of the room.updated notification. */
export interface RoomUpdatedEvent {
    seq: Seq;
    roomId: RoomId;
    room: RoomInfo;
}
/** Params of the room.closed notification. */
export interface RoomClosedEvent {
    seq: Seq;
    roomId: RoomId;
    reason: string;
}
/** Params of the sdp.offer notification. */
export interface SdpOfferEvent {
    seq: Seq;
    roomId: RoomId;
    from: PeerId;
    sdp: string;
}
/** Params of the sdp.answer notification. */
export interface SdpAnswerEvent {
    seq: Seq;
    roomId: RoomId;
    from: PeerId;
    sdp: string;
}
/** Params of the ice.candidate notification. */
export interface IceCandidateEvent {
    seq: Seq;
    roomId: RoomId;
    from: PeerId;
    candidate: IceCandidateInit | null;
}
/** Params of the ice.restartRequested notification. */
export interface IceRestartRequestedEvent {
    seq: Seq;
    roomId: RoomId;
    /** The peer asking. */
    from: PeerId;
    /** The asker's reason, or "requested" if it gave none. */
    reason: string;
}
/** Params of the ice.serversRefreshed notification. */
export interface IceServersRefreshedEvent {
    seq: Seq;
    iceServers: IceServer[];
    /** Unix seconds after which the new credentials stop working. */
    expiresAt: number;
}
/** Params of the message.received notification. */
export interface MessageReceivedEvent {
    seq: Seq;
    roomId: RoomId;
    from: PeerId;
    messageId: string;
    private: boolean;
    data: Data;
}
/** Params of the room.peerState notification. */
export interface RoomPeerStateEvent {
    seq: Seq;
    roomId: RoomId;
    peerId: PeerId;
    state: PeerState;
}
/** Params of the room.snapshot notification. */
export interface RoomSnapshotEvent {
    seq: Seq;
    roomId: RoomId;
    peers: Peer[];
}
/** Params of the session.replaced notification. */
export interface SessionReplacedEvent {
    seq: Seq;
    reason: string;
}
/** Params of the session.draining notification. */
export interface SessionDrainingEvent {
    seq: Seq;
    /** Unix milliseconds when the node closes its connections. */
    deadline: number;
    /** When to reconnect: until the deadline this node refuses new sessions. */
    retryAfterMs: number;
    /** Cluster mode: resume this session on another node now (the connection closes with 4307 next); absent on a single node. */
    resumeElsewhere?: boolean;
}
/** Params of the call.incoming notification. */
export interface CallIncomingEvent {
    seq: Seq;
    callId: RoomId;
    /** The caller. */
    from: Identity;
    metadata?: Metadata;
    /** Unix seconds when it stops ringing (408). */
    expiresAt: number;
}
/** Params of the call.ringing notification. */
export interface CallRingingEvent {
    seq: Seq;
    callId: RoomId;
    /** The callee. */
    by: Identity;
}
/** Params of the call.accepted notification. */
export interface CallAcceptedEvent {
    seq: Seq;
    callId: RoomId;
    /** The callee. */
    by: Identity;
    peer: Peer;
}
/** Params of the call.ended notification. */
export interface CallEndedEvent {
    seq: Seq;
    callId: RoomId;
    code: number;
    reason: CallEndReason;
    by?: Identity;
}
/** Params of the presence.changed notification. */
export interface PresenceChangedEvent {
    seq: Seq;
    identity: Identity;
    status: PresenceStatus;
    note?: PresenceNote;
    devices: number;
}
/** Params of the admin.signal notification. */
export interface AdminSignalEvent {
    seq: Seq;
    roomId: RoomId;
    method: SignalMethod;
    from: PeerId;
    to: PeerId;
    /** When the server handled it (Unix ms). */
    at: number;
    outcome: SignalOutcome;
    /** The error code it was refused with (491 glare, 413 too large). */
    code?: number;
    /** How many candidates, for dropped (held ones that expired unheld); 1 otherwise. */
    count?: number;
    /** Size of the payload: the SDP, the candidate line. */
    bytes?: number;
    /** With frames: the offer's or answer's SDP. */
    sdp?: string;
    /** With frames: the candidate (absent for end of candidates). */
    candidate?: IceCandidateInit;
    /** With frames: ice.restart's reason. */
    reason?: string;
}
/** Every client→server method: its params and result. */
export type Methods = {
    "session.connect": {
        params: SessionConnectParams;
        result: SessionConnectResult;
    };
    "session.ack": {
        params: SessionAckParams;
        result: Empty;
    };
    "room.create": {
        params: RoomCreateParams;
        result: RoomCreateResult;
    };
    "room.join": {
        params: RoomJoinParams;
        result: RoomJoinResult;
    };
    "room.leave": {
        params: RoomLeaveParams;
        result: Empty;
    };
    "room.get": {
        params: RoomGetParams;
        result: RoomInfo;
    };
    "room.update": {
        params: RoomUpdateParams;
        result: RoomInfo;
    };
    "room.kick": {
        params: RoomKickParams;
        result: Empty;
    };
    "sdp.offer": {
        params: SdpOfferParams;
        result: Empty;
    };
    "sdp.answer": {
        params: SdpAnswerParams;
        result: Empty;
    };
    "ice.candidate": {
        params: IceCandidateParams;
        result: Empty;
    };
    "ice.servers": {
        params: IceServersParams;
        result: IceServersResult;
    };
    "ice.restart": {
        params: IceRestartParams;
        result: Empty;
    };
    "message.send": {
        params: MessageSendParams;
        result: MessageSendResult;
    };
    "call.invite": {
        params: CallInviteParams;
        result: CallInviteResult;
    };
    "call.ringing": {
        params: CallRingingParams;
        result: Empty;
    };
    "call.accept": {
        params: CallAcceptParams;
        result: RoomJoinResult;
    };
    "call.reject": {
        params: CallRejectParams;
        result: Empty;
    };
    "call.cancel": {
        params: CallCancelParams;
        result: Empty;
    };
    "call.hangup": {
        params: CallHangupParams;
        result: Empty;
    };
    "presence.set": {
        params: PresenceSetParams;
        result: Empty;
    };
    "presence.subscribe": {
        params: PresenceSubscribeParams;
        result: PresenceListResult;
    };
    "presence.unsubscribe": {
        params: PresenceUnsubscribeParams;
        result: Empty;
    };
    "presence.get": {
        params: PresenceGetParams;
        result: PresenceListResult;
    };
    "admin.rooms.list": {
        params: AdminRoomsListParams;
        result: RoomListResult;
    };
    "admin.rooms.get": {
        params: AdminRoomsGetParams;
        result: RoomInfo;
    };
    "admin.rooms.close": {
        params: AdminRoomsCloseParams;
        result: Empty;
    };
    "admin.sessions.list": {
        params: AdminSessionsListParams;
        result: SessionListResult;
    };
    "admin.sessions.get": {
        params: AdminSessionsGetParams;
        result: SessionInfo;
    };
    "admin.peers.kick": {
        params: AdminPeersKickParams;
        result: Empty;
    };
    "admin.node.status": {
        params: AdminNodeStatusParams;
        result: NodeStatus;
    };
    "admin.node.drain": {
        params: AdminNodeDrainParams;
        result: NodeStatus;
    };
    "admin.turn.allocations.list": {
        params: AdminTurnAllocationsListParams;
        result: TurnAllocationList;
    };
    "admin.turn.allocations.close": {
        params: AdminTurnAllocationsCloseParams;
        result: Empty;
    };
    "diag.report": {
        params: DiagReportParams;
        result: DiagVerdict;
    };
    "admin.diag.explain": {
        params: AdminDiagExplainParams;
        result: DiagExplanation;
    };
    "admin.events.list": {
        params: AdminEventsListParams;
        result: EventList;
    };
    "admin.rooms.watch": {
        params: AdminRoomsWatchParams;
        result: RoomInfo;
    };
    "admin.rooms.unwatch": {
        params: AdminRoomsUnwatchParams;
        result: Empty;
    };
};
/** Every server→client notification and its params. */
export type Notifications = {
    "room.peerJoined": RoomPeerJoinedEvent;
    "room.peerLeft": RoomPeerLeftEvent;
    "room.updated": RoomUpdatedEvent;
    "room.closed": RoomClosedEvent;
    "sdp.offer": SdpOfferEvent;
    "sdp.answer": SdpAnswerEvent;
    "ice.candidate": IceCandidateEvent;
    "ice.restartRequested": IceRestartRequestedEvent;
    "ice.serversRefreshed": IceServersRefreshedEvent;
    "message.received": MessageReceivedEvent;
    "room.peerState": RoomPeerStateEvent;
    "room.snapshot": RoomSnapshotEvent;
    "session.replaced": SessionReplacedEvent;
    "session.draining": SessionDrainingEvent;
    "call.incoming": CallIncomingEvent;
    "call.ringing": CallRingingEvent;
    "call.accepted": CallAcceptedEvent;
    "call.ended": CallEndedEvent;
    "presence.changed": PresenceChangedEvent;
    "admin.signal": AdminSignalEvent;
};
export declare const METHODS: readonly ["session.connect", "session.ack", "room.create", "room.join", "room.leave", "room.get", "room.update", "room.kick", "sdp.offer", "sdp.answer", "ice.candidate", "ice.servers", "ice.restart", "message.send", "call.invite", "call.ringing", "call.accept", "call.reject", "call.cancel", "call.hangup", "presence.set", "presence.subscribe", "presence.unsubscribe", "presence.get", "admin.rooms.list", "admin.rooms.get", "admin.rooms.close", "admin.sessions.list", "admin.sessions.get", "admin.peers.kick", "admin.node.status", "admin.node.drain", "admin.turn.allocations.list", "admin.turn.allocations.close", "diag.report", "admin.diag.explain", "admin.events.list", "admin.rooms.watch", "admin.rooms.unwatch"];
export declare const NOTIFICATIONS: readonly ["room.peerJoined", "room.peerLeft", "room.updated", "room.closed", "sdp.offer", "sdp.answer", "ice.candidate", "ice.restartRequested", "ice.serversRefreshed", "message.received", "room.peerState", "room.snapshot", "session.replaced", "session.draining", "call.incoming", "call.ringing", "call.accepted", "call.ended", "presence.changed", "admin.signal"];
/** Application error codes by name. */
export declare const ERROR_CODES: {
    readonly BAD_REQUEST: 400;
    readonly UNAUTHENTICATED: 401;
    readonly FORBIDDEN: 403;
    readonly ROOM_NOT_FOUND: 404;
    readonly PEER_NOT_FOUND: 404;
    readonly SESSION_NOT_FOUND: 404;
    readonly CALL_NOT_FOUND: 404;
    readonly ALLOCATION_NOT_FOUND: 404;
    readonly NO_ANSWER: 408;
    readonly CONFLICT: 409;
    readonly RESUME_GAP: 410;
    readonly TOO_LARGE: 413;
    readonly RATE_LIMITED: 429;
    readonly UNAVAILABLE: 480;
    readonly ROOM_FULL: 486;
    readonly CANCELED: 487;
    readonly GLARE: 491;
    readonly DRAINING: 503;
    readonly STORE_UNAVAILABLE: 503;
    readonly DECLINED: 603;
};
/** SHA-256 of the OpenRPC document these types were generated from. */
export declare const PROTOCOL_HASH = "50ff8359b2f5758e8ca0aacbd579241ea9c0dafe05b780c65ec35e95cdfc941c";
