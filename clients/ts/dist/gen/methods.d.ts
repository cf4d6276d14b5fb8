import type { CallOptions } from "../client.js";
import type { Methods, SessionConnectParams, RoomCreateParams, RoomJoinParams, RoomLeaveParams, RoomGetParams, RoomListParams, RoomUpdateParams, RoomKickParams, SdpOfferParams, SdpAnswerParams, IceCandidateParams, IceServersParams, MessageSendParams } from "./protocol.js";
/** Sends one request and resolves with its result: ParleyClient.call. */
export type Call = <M extends keyof Methods>(method: M, params: Methods[M]["params"], opts?: CallOptions) => Promise<Methods[M]["result"]>;
/** Every method as a typed function, grouped by its dotted name: room.join is bindMethods(call).room.join(params, opts). */
export declare function bindMethods(call: Call): {
    session: {
        /** Authenticate this connection and open a session. */
        connect: (params?: SessionConnectParams, opts?: CallOptions) => Promise<import("./protocol.js").SessionConnectResult>;
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
        /** List the rooms of this node (admin). */
        list: (params?: RoomListParams, opts?: CallOptions) => Promise<import("./protocol.js").RoomListResult>;
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
    };
    message: {
        /** Send application data to a room or to one peer. */
        send: (params: MessageSendParams, opts?: CallOptions) => Promise<import("./protocol.js").MessageSendResult>;
    };
};
/** The method namespaces bindMethods returns. */
export type BoundMethods = ReturnType<typeof bindMethods>;
