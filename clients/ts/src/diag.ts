import type { DiagCandidateCounts, DiagCandidateError, DiagIceServer, DiagPairCounts, DiagReport, DiagTrigger } from "./gen/protocol.js";
import { selectedCandidatePair, type CandidateInfo } from "./peer.js";

/** The candidate-pair stats' states, as DiagPairCounts names them. */
const PAIR_STATES: Record<string, keyof DiagPairCounts | undefined> = {
  frozen: "frozen",
  waiting: "waiting",
  "in-progress": "inProgress",
  succeeded: "succeeded",
  failed: "failed",
};

/** The schema's bounds on a report. */
const MAX_LISTED = 16;
const MAX_URL = 256;

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
export async function diagReport(pc: RTCPeerConnection, ctx: DiagContext): Promise<DiagReport> {
  const local: DiagCandidateCounts = {};
  const remote: DiagCandidateCounts = {};
  const pairs: DiagPairCounts = {};
  const servers = new Map<string, DiagIceServer>();
  for (const s of pc.getConfiguration().iceServers ?? []) {
    for (const url of typeof s.urls === "string" ? [s.urls] : s.urls) {
      if (servers.size < MAX_LISTED && url.length <= MAX_URL) {
        servers.set(url, { url });
      }
    }
  }
  (await pc.getStats()).forEach((s: Record<string, unknown>) => {
    if (s.type === "local-candidate" || s.type === "remote-candidate") {
      const type = s.candidateType;
      if (type !== "host" && type !== "srflx" && type !== "prflx" && type !== "relay") {
        return;
      }
      const counts = s.type === "local-candidate" ? local : remote;
      counts[type] = (counts[type] ?? 0) + 1;
      const server = typeof s.url === "string" ? servers.get(s.url) : undefined;
      if (server && s.type === "local-candidate" && (type === "srflx" || type === "relay")) {
        server[type] = (server[type] ?? 0) + 1;
      }
    } else if (s.type === "candidate-pair") {
      const key = PAIR_STATES[String(s.state)];
      if (key) {
        pairs[key] = (pairs[key] ?? 0) + 1;
      }
    }
  });
  const selected = await selectedCandidatePair(pc);
  const report: DiagReport = {
    trigger: ctx.trigger,
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    signalingState: pc.signalingState,
    iceTransportPolicy: pc.getConfiguration().iceTransportPolicy ?? "all",
    local,
    remote,
    remoteCandidates: ctx.remoteCandidates,
    awaitingAnswer: ctx.awaitingAnswer,
    iceServers: [...servers.values()],
    candidateErrors: ctx.candidateErrors.slice(0, MAX_LISTED),
    pairs,
    elapsedMs: Math.round(ctx.elapsedMs),
    agent: "parley-ts",
  };
  if (ctx.connectMs !== undefined) {
    report.connectMs = Math.round(ctx.connectMs);
  }
  if (selected) {
    report.selectedPair = { local: diagCandidate(selected.local), remote: diagCandidate(selected.remote) };
  }
  return report;
}

function diagCandidate(c: CandidateInfo): NonNullable<DiagReport["selectedPair"]>["local"] {
  return c.protocol === "udp" || c.protocol === "tcp" ? { type: c.type, protocol: c.protocol } : { type: c.type };
}

/** An icecandidateerror event as the report keeps it (bounded). */
export function candidateError(ev: RTCPeerConnectionIceErrorEvent): DiagCandidateError {
  const e: DiagCandidateError = { url: ev.url.slice(0, MAX_URL), errorCode: Math.min(Math.max(ev.errorCode, 0), 999) };
  if (ev.errorText) {
    e.errorText = ev.errorText.slice(0, 128);
  }
  return e;
}
