export {
  ParleyClient,
  backoffDelay,
  errorFromWire,
  type CallOptions,
  type ConnectOptions,
  type ConnectionState,
  type ReconnectOptions,
  type StateHandler,
  type TokenSource,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./client.js";
export { AVOID_MS, CLOSE_RESUME_ELSEWHERE, type ConnectTarget, type UrlPick, type UrlPicker } from "./urls.js";
export { DisconnectedError, ParleyError, RequestTimeoutError } from "./errors.js";
export * from "./gen/errors.js";
export type { BoundMethods, Call } from "./gen/methods.js";
export * from "./gen/protocol.js";
export { PeerSession, RoomPeers, selectedCandidatePair, type CandidateInfo, type PeerSessionOptions, type RoomPeersOptions } from "./peer.js";
