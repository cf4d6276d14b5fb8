import type { DiagCandidateError, DiagReport, DiagTrigger } from "./gen/protocol.js";
/** What PeerSession knows beside the peer connection itself. */
export interface DiagContext {
    trigger: DiagTrigger;
    elapsedMs: number;
    connectMs?: number;
    remoteCandidates: number;
    awaitingAnswer: boolean;
    candidateErrors: DiagCandidateError[];
}
/**
 * The diag.report of a peer connection: its states, the candidates it
 * gathered (per ICE server, from the stats' url) and learnt, the candidate
 * pairs' states and the selected pair.
 */
export declare function diagReport(pc: RTCPeerConnection, ctx: DiagContext): Promise<DiagReport>;
/** An icecandidateerror event as the report keeps it (bounded). */
export declare function candidateError(ev: RTCPeerConnectionIceErrorEvent): DiagCandidateError;
