export { ParleyClient, backoffDelay, errorFromWire, } from "./client.js";
export { AVOID_MS, CLOSE_RESUME_ELSEWHERE } from "./urls.js";
export { DisconnectedError, ParleyError, RequestTimeoutError } from "./errors.js";
export * from "./gen/errors.js";
export * from "./gen/protocol.js";
export { PeerSession, RoomPeers, selectedCandidatePair } from "./peer.js";
