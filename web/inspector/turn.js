// The TURN check: gather ICE candidates in this page with a session's
// iceServers, as a real call would, and report which kinds came back (host,
// srflx, relay) and the icecandidateerror events (701: a STUN/TURN server
// could not be reached or refused the credentials).

/**
 * Gathers candidates with iceServers; relayOnly sets
 * iceTransportPolicy "relay" (only TURN candidates are gathered).
 * Resolves with {types: {host, srflx, prflx, relay}, candidates, errors, complete}
 * once gathering completes or timeoutMs passes.
 */
export async function gatherCandidates(iceServers, { relayOnly = false, timeoutMs = 10000 } = {}) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all' });
  const result = { types: { host: 0, srflx: 0, prflx: 0, relay: 0 }, candidates: [], errors: [], complete: false };
  try {
    const done = new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener('icecandidate', ({ candidate }) => {
        if (!candidate || !candidate.candidate) {
          result.complete = true;
          clearTimeout(timer);
          resolve();
          return;
        }
        result.types[candidate.type] = (result.types[candidate.type] ?? 0) + 1;
        result.candidates.push({ type: candidate.type, protocol: candidate.protocol, address: candidate.address, port: candidate.port, url: candidate.url ?? undefined });
      });
      pc.addEventListener('icecandidateerror', (e) => {
        result.errors.push({ errorCode: e.errorCode, errorText: e.errorText, url: e.url, address: e.address ?? undefined, port: e.port ?? undefined });
      });
    });
    pc.createDataChannel('turn-check'); // something to gather for
    await pc.setLocalDescription(await pc.createOffer());
    await done;
  } finally {
    pc.close();
  }
  return result;
}

/** A real offer from a fresh RTCPeerConnection (one data channel), for an sdp field. */
export async function browserOffer() {
  const pc = new RTCPeerConnection();
  try {
    pc.createDataChannel('inspector');
    const offer = await pc.createOffer();
    return offer.sdp;
  } finally {
    pc.close();
  }
}
