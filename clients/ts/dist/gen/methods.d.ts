import type { CallOptions } from "../client.js";
import type { Methods, SessionConnectParams, SessionAckParams, RoomCreateParams, RoomJoinParams, RoomLeaveParams, RoomGetParams, RoomUpdateParams, RoomKickParams, SdpOfferParams, SdpAnswerParams, IceCandidateParams, IceServersParams, IceRestartParams, MessageSendParams, CallInviteParams, CallRingingParams, CallAcceptParams, CallRejectParams, CallCancelParams, CallHangupParams, PresenceSetParams, PresenceSubscribeParams, PresenceUnsubscribeParams, PresenceGetParams, AdminRoomsListParams, AdminRoomsGetParams, AdminRoomsCloseParams, AdminSessionsListParams, AdminSessionsGetParams, AdminPeersKickParams, AdminNodeStatusParams, AdminNodeDrainParams, AdminTurnAllocationsListParams, AdminTurnAllocationsCloseParams, DiagReportParams, AdminDiagExplainParams, AdminEventsListParams, AdminRoomsWatchParams, AdminRoomsUnwatchParams } from "./protocol.js";
/** Sends one request and resolves with its result: ParleyClient.call. */
export type Call = <M extends keyof Methods>(method: M, params: Methods[M]["params"], opts?: CallOptions) => Promise<Methods[M]["result"]>;
/** Every method as a typed function, grouped by its dotted name: room.join is bindMethods(call).room.join(params, opts). */
export declare function bindMethods(call: Call): {
    session: {
        /** Authenticate this connection and open a session. */
        connect: (params?: SessionConnectParams, opts?: CallOptions) => Promise<import("./protocol.js").SessionConnectResult>;
        /** Acknowledge the notifications processed so far. */
        ack: (params: SessionAckParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
    };
    room: {
        /** Create a room without joining it. */
        create: (params?: RoomCreateParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomCreateResult>;
        /** Join a room. */
        join: (params: RoomJoinParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomJoinResult>;
        /** Leave a room. */
        leave: (params: RoomLeaveParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Describe a room. */
        get: (params: RoomGetParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomInfo>;
        /** Change a room (owner). */
        update: (params: RoomUpdateParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomInfo>;
        /** Remove a peer from a room (owner or moderator). */
        kick: (params: RoomKickParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
    };
    sdp: {
        /** Send an SDP offer to a peer of a room. */
        offer: (params: SdpOfferParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Send an SDP answer to a peer of a room. */
        answer: (params: SdpAnswerParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
    };
    ice: {
        /** Send an ICE candidate to a peer of a room. */
        candidate: (params: IceCandidateParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Get fresh ICE servers. */
        servers: (params?: IceServersParams, opts?: CallOptions) => Promise<import("./protocol.js").IceServersResult>;
        /** Ask a peer to restart ICE. */
        restart: (params: IceRestartParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
    };
    message: {
        /** Send application data to a room or to one peer. */
        send: (params: MessageSendParams, opts?: CallOptions) => Promise<import("./protocol.js").MessageSendResult>;
    };
    call: {
        /** Call an identity (SIP INVITE). */
        invite: (params: CallInviteParams, opts?: CallOptions) => Promise<import("./protocol.js").CallInviteResult>;
        /** Tell the caller this device is ringing (SIP 180). */
        ringing: (params: CallRingingParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Answer a call (SIP 200 OK). */
        accept: (params: CallAcceptParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomJoinResult>;
        /** Refuse a call: 486 busy here or 603 decline. */
        reject: (params: CallRejectParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Withdraw an unanswered call (SIP CANCEL). */
        cancel: (params: CallCancelParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** End an answered call (SIP BYE). */
        hangup: (params: CallHangupParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
    };
    presence: {
        /** Set this device's presence. */
        set: (params: PresenceSetParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Follow identities' presence. */
        subscribe: (params: PresenceSubscribeParams, opts?: CallOptions) => Promise<import("./protocol.js").PresenceListResult>;
        /** Stop following identities' presence. */
        unsubscribe: (params: PresenceUnsubscribeParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        /** Read identities' presence now. */
        get: (params: PresenceGetParams, opts?: CallOptions) => Promise<import("./protocol.js").PresenceListResult>;
    };
    admin: {
        rooms: {
            /** List the rooms (of the whole cluster in cluster mode). */
            list: (params?: AdminRoomsListParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomListResult>;
            /** Describe any room of this node. */
            get: (params: AdminRoomsGetParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomInfo>;
            /** Close a room: its members get room.closed and lose their seats. */
            close: (params: AdminRoomsCloseParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
            /** Stream a room's signaling as the server sees it: the server view of the ladder. */
            watch: (params: AdminRoomsWatchParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomInfo>;
            /** Stop admin.rooms.watch of a room. */
            unwatch: (params: AdminRoomsUnwatchParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        };
        sessions: {
            /** List the sessions (of the whole cluster in cluster mode), by id. */
            list: (params?: AdminSessionsListParams, opts?: CallOptions) => Promise<import("./protocol.js").SessionListResult>;
            /** Describe one session. */
            get: (params: AdminSessionsGetParams, opts?: CallOptions) => Promise<import("./protocol.js").SessionInfo>;
        };
        peers: {
            /** Remove a peer from a room. */
            kick: (params: AdminPeersKickParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
        };
        node: {
            /** This node's state and load, and in cluster mode the cluster's nodes. */
            status: (params?: AdminNodeStatusParams, opts?: CallOptions) => Promise<import("./protocol.js").NodeStatus>;
            /** Drain this node: no new sessions or TURN allocations; connected sessions get session.draining; the server exits at the deadline. */
            drain: (params?: AdminNodeDrainParams, opts?: CallOptions) => Promise<import("./protocol.js").NodeStatus>;
        };
        turn: {
            allocations: {
                /** List the live TURN allocations of this node. */
                list: (params?: AdminTurnAllocationsListParams, opts?: CallOptions) => Promise<import("./protocol.js").TurnAllocationList>;
                /** End a TURN allocation. */
                close: (params: AdminTurnAllocationsCloseParams, opts?: CallOptions) => Promise<import("./protocol.js").Empty>;
            };
        };
        diag: {
            /** Explain the connections of a room: why a pair failed. */
            explain: (params: AdminDiagExplainParams, opts?: CallOptions) => Promise<import("./protocol.js").DiagExplanation>;
        };
        events: {
            /** The events webhooks deliver, by cursor: the pull fallback. */
            list: (params?: AdminEventsListParams, opts?: CallOptions) => Promise<import("./protocol.js").EventList>;
        };
    };
    diag: {
        /** Report what a peer connection saw, so the server can explain a failure. */
        report: (params: DiagReportParams, opts?: CallOptions) => Promise<import("./protocol.js").DiagVerdict>;
    };
};
/** The method namespaces bindMethods returns. */
export type BoundMethods = ReturnType<typeof bindMethods>;
