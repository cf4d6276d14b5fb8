import { ParleyError } from "../errors.js";
/** 400 bad_request: The request is well-formed JSON-RPC but makes no sense (e.g. both token and identity). */
export declare class BadRequestError extends ParleyError {
}
/** 401 unauthenticated: No session yet (call session.connect first), or the token is missing, expired or invalid. */
export declare class UnauthenticatedError extends ParleyError {
}
/** 403 forbidden: The session's grants or role do not allow this. */
export declare class ForbiddenError extends ParleyError {
}
/** 404 room_not_found: No such room, or you are not a member of it. */
export declare class RoomNotFoundError extends ParleyError {
}
/** 404 peer_not_found: No such peer in that room. */
export declare class PeerNotFoundError extends ParleyError {
}
/** 404 session_not_found: No such session (it ended or its resume window passed). */
export declare class SessionNotFoundError extends ParleyError {
}
/** 404 call_not_found: No such call, or it has ended, or you are not one of its parties. */
export declare class CallNotFoundError extends ParleyError {
}
/** 404 allocation_not_found: No live TURN allocation has that relay address. */
export declare class AllocationNotFoundError extends ParleyError {
}
/** 408 no_answer: The callee did not answer in time. */
export declare class NoAnswerError extends ParleyError {
}
/** 409 conflict: The request conflicts with the current state: the room exists, you already joined, the room is locked, a call is in another state. */
export declare class ConflictError extends ParleyError {
}
/** 410 resume_gap: The notifications you missed are no longer buffered; rejoin. */
export declare class ResumeGapError extends ParleyError {
}
/** 413 too_large: A field or the whole request is over a server limit, or so is what the session holds (rooms joined, rooms made and not yet joined, calls, unanswered invites). */
export declare class TooLargeError extends ParleyError {
}
/** 429 rate_limited: Too many requests; data.retryAfterMs says when to try again. */
export declare class RateLimitedError extends ParleyError {
}
/** 480 unavailable: The callee is not connected. */
export declare class UnavailableError extends ParleyError {
}
/** 486 room_full: The room has maxPeers peers (SIP 486 Busy Here); for call.invite, every device of the callee is in its maximum of answered calls. */
export declare class RoomFullError extends ParleyError {
}
/** 487 canceled: The request was canceled. */
export declare class CanceledError extends ParleyError {
}
/** 491 glare: Offers crossed and yours is the polite side's: answer the other side's offer instead (roll yours back). */
export declare class GlareError extends ParleyError {
}
/** 503 draining: The server is shutting down; connect to another node after data.retryAfterMs. */
export declare class DrainingError extends ParleyError {
}
/** 503 store_unavailable: Cluster mode: this node cannot reach the cluster's Redis, or lost its place in the cluster; try again (on this node or another) after data.retryAfterMs. */
export declare class StoreUnavailableError extends ParleyError {
}
/** 603 declined: The callee declined. */
export declare class DeclinedError extends ParleyError {
}
/** The error class of each data.reason. */
export declare const ERROR_CLASSES_BY_REASON: Readonly<Record<string, typeof ParleyError>>;
/** The error class of each code that only one error uses. */
export declare const ERROR_CLASSES_BY_CODE: Readonly<Record<number, typeof ParleyError>>;
