// Negotiation in real browsers: glare (both pages offer at once, settled by
// the server's 491 and perfect negotiation), and a signaling connection
// that drops mid-call, resumes, and carries an ICE restart.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { launchBrowser, startParley } from '../lib/harness.mjs';

// TURN on a free port (startParley waits for it; see webrtc.test.mjs).
const serverArgs = ['--turn-listen', '127.0.0.1:0'];

// Rounds of the glare test, each in a fresh room, and the bound on each.
const GLARE_ROUNDS = 100;
const ROUND_MS = 15000;

/**
 * Runs in the page: a client joined to roomId, with its RoomPeers listening
 * from before the join (an offer may come as soon as we are in), kept as
 * window.lab.
 */
async function prepare({ url, identity, roomId }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const client = await ParleyClient.connect(url, { identity });
  const errors = [];
  let heard;
  const theirHello = new Promise((r) => { heard = r; });
  const room = new RoomPeers(client, roomId, {
    onError: (e) => errors.push(String(e)),
    onPeer: (ps) => {
      ps.pc.ondatachannel = ({ channel }) => { channel.onmessage = (e) => heard({ label: channel.label, data: e.data }); };
    },
  });
  // What came, in the console next to the harness's peer connection trace
  // (the failure report shows its end).
  for (const m of ['sdp.offer', 'sdp.answer', 'ice.candidate', 'ice.restartRequested']) {
    client.on(m, (ev) => console.debug(`${identity} got ${m}${m === 'ice.candidate' ? ` ${ev.candidate?.candidate?.split(' ')[4] ?? 'end'}` : ''}`));
  }
  const { peers } = await client.room.join({ roomId, create: true });
  window.lab = { client, room, identity, errors, theirHello };
  return { peerId: client.session.peerId, others: peers.map((p) => p.peerId) };
}

/**
 * Runs in the page: a PeerSession to remote with a data channel of our own
 * (so both pages offer), hello on it once open; resolves when our channel
 * is open and remote's hello came on remote's channel, or rejects after
 * timeoutMs.
 */
function offerAndTalk({ remote, timeoutMs }) {
  const { room, identity, errors, theirHello } = window.lab;
  const ps = room.connect(remote);
  const dc = ps.pc.createDataChannel(`from-${identity}`);
  const ownOpen = new Promise((r) => { dc.onopen = () => { dc.send(`hello from ${identity}`); r(); }; });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${identity}: own channel ${dc.readyState}, signaling ${ps.pc.signalingState}, ` +
      `connection ${ps.pc.connectionState}, errors ${JSON.stringify(errors)}`)), timeoutMs);
  });
  return Promise.race([Promise.all([ownOpen, theirHello]), timeout])
    .then(([, hello]) => ({ hello, polite: ps.polite, errors }))
    .finally(() => clearTimeout(timer));
}

/** Runs in the page: closes the round's client. */
function closeLab() {
  window.lab?.room?.close();
  window.lab?.client.close();
  window.lab = undefined;
}

test(`glare: two pages offer at the same moment, ${GLARE_ROUNDS} rounds, every one converges`, async (t) => {
  const server = await startParley(t, ...serverArgs);
  const { context } = await launchBrowser(t);
  const [alice, bob] = [await context.newPage(), await context.newPage()];
  for (const page of [alice, bob]) {
    await page.goto(`${server.http}/`);
  }
  const started = Date.now();
  for (let round = 0; round < GLARE_ROUNDS; round++) {
    const roomId = `glare-${round}`;
    // alice joins first, so bob is the polite side.
    const a = await alice.evaluate(prepare, { url: server.url, identity: 'alice', roomId });
    const b = await bob.evaluate(prepare, { url: server.url, identity: 'bob', roomId });
    assert.deepEqual(b.others, [a.peerId]);
    // Neither waits for the other: both data channels (and offers) at once.
    const settled = await Promise.allSettled([
      alice.evaluate(offerAndTalk, { remote: b.peerId, timeoutMs: ROUND_MS }),
      bob.evaluate(offerAndTalk, { remote: a.peerId, timeoutMs: ROUND_MS }),
    ]);
    const failed = settled.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`round ${round}:\n${failed.map((r) => r.reason.message).join('\n')}`);
    }
    const [gotA, gotB] = settled.map((r) => r.value);
    assert.deepEqual(gotA.hello, { label: 'from-bob', data: 'hello from bob' }, `round ${round}`);
    assert.deepEqual(gotB.hello, { label: 'from-alice', data: 'hello from alice' }, `round ${round}`);
    assert.equal(gotA.polite, false, `round ${round}`);
    assert.equal(gotB.polite, true, `round ${round}`);
    for (const got of [gotA, gotB]) {
      assert.deepEqual(got.errors, [], `round ${round}`); // 491 glare is handled, not reported
    }
    await Promise.all([alice.evaluate(closeLab), bob.evaluate(closeLab)]);
  }
  // How often the server refused the polite offer (the rest crossed the
  // other way, bob's offer superseded, or did not cross at all).
  const metrics = await (await fetch(`${server.http}/metrics`)).text();
  const refused = Number(metrics.match(/^parley_rpc_requests_total\{code="491",method="sdp.offer"\} (\d+)/m)?.[1] ?? 0);
  t.diagnostic(`${GLARE_ROUNDS} glare rounds in ${Date.now() - started} ms; ${refused} polite offers refused with 491`);
});

/**
 * A TCP proxy to target: cut() ends every connection through it at once
 * without a WebSocket close frame, as a network failure does, so the
 * server keeps the session for resume and the page sees an abnormal close.
 */
async function startCutter(t, target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(Number(port), hostname);
    for (const [a, b] of [[down, up], [up, down]]) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { server.close(); for (const s of sockets) s.destroy(); });
  const url = new URL(target);
  url.port = String(server.address().port);
  return {
    url: url.href,
    cut() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
  };
}

/**
 * Runs in the page: connects (through WebSocket, which counts the sockets
 * the client opens), joins roomId, and answers or calls remote with a data
 * channel; window.call keeps what the test steps below need.
 */
async function callSetup({ url, identity, roomId, remote }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const sockets = [];
  class CountingWebSocket extends WebSocket {
    constructor(u) { super(u); sockets.push(this); }
  }
  const client = await ParleyClient.connect(url, { identity, WebSocket: CountingWebSocket });
  const states = [];
  client.onState((s) => states.push(s));
  const received = [];
  let channel;
  let channelOpen;
  const opened = new Promise((r) => { channelOpen = r; });
  const wire = (dc) => {
    channel = dc;
    dc.onmessage = (e) => received.push(e.data);
    if (dc.readyState === 'open') channelOpen(); else dc.onopen = () => channelOpen();
  };
  const room = new RoomPeers(client, roomId, { onPeer: (ps) => { ps.pc.ondatachannel = (e) => wire(e.channel); } });
  const { peers } = await client.room.join({ roomId, create: true });
  if (remote) {
    wire(room.connect(remote).pc.createDataChannel('call'));
  }
  window.call = { client, room, sockets, states, received, opened, get channel() { return channel; } };
  return { peerId: client.session.peerId, others: peers.map((p) => p.peerId) };
}

/** Runs in the page: waits for the channel, sends text, waits for want to arrive. */
async function exchange({ text, want, timeoutMs }) {
  const c = window.call;
  const deadline = Date.now() + timeoutMs;
  const states = () => `channel ${c.channel?.readyState}, peer connections (signaling/ice/connection) ` +
    [...c.room.sessions.values()].map(({ pc }) => `${pc.signalingState}/${pc.iceConnectionState}/${pc.connectionState}`).join(', ');
  await Promise.race([c.opened, new Promise((_, reject) => setTimeout(() => reject(new Error(`channel not open: ${states()}`)), timeoutMs))]);
  c.channel.send(text);
  while (!c.received.includes(want)) {
    if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(want)}; got ${JSON.stringify(c.received)}; ${states()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs in the page: the remote ICE ufrag of the PeerSession, and its states. */
function iceView({ remote }) {
  const ps = window.call.room.sessions.get(remote);
  return {
    ufrag: ps.pc.remoteDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1],
    signaling: ps.pc.signalingState,
    connection: ps.pc.connectionState,
  };
}

test('signaling cut mid-call: the client resumes (same peer id) and an ICE restart completes over it', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const cutter = await startCutter(t, server.url);
  const { context } = await launchBrowser(t);
  const [carol, dave] = [await context.newPage(), await context.newPage()];
  for (const page of [carol, dave]) {
    await page.goto(`${server.http}/`);
  }
  // carol (through the cutter) joins first; dave calls her, so dave's offer
  // is the current one and carol's restart goes to dave as ice.restart.
  const c = await carol.evaluate(callSetup, { url: cutter.url, identity: 'carol', roomId: 'cut' });
  const d = await dave.evaluate(callSetup, { url: server.url, identity: 'dave', roomId: 'cut', remote: c.peerId });
  assert.deepEqual(d.others, [c.peerId]);
  await Promise.all([
    carol.evaluate(exchange, { text: 'carol 1', want: 'dave 1', timeoutMs: 15000 }),
    dave.evaluate(exchange, { text: 'dave 1', want: 'carol 1', timeoutMs: 15000 }),
  ]);
  const before = await carol.evaluate(iceView, { remote: d.peerId });
  assert.equal(before.connection, 'connected');

  assert.ok(cutter.cut() >= 2, 'no connection to cut');
  await carol.waitForFunction(() => window.call.states.includes('reconnecting') && window.call.states.at(-1) === 'open', null, { timeout: 20000 });
  const resumed = await carol.evaluate(() => ({
    peerId: window.call.client.session.peerId,
    states: window.call.states,
    sockets: window.call.sockets.length,
    firstClosed: window.call.sockets[0].readyState === WebSocket.CLOSED,
  }));
  assert.equal(resumed.peerId, c.peerId, 'a new session, not a resumed one');
  assert.deepEqual(resumed.states, ['reconnecting', 'open']);
  assert.equal(resumed.firstClosed, true);
  assert.ok(resumed.sockets >= 2, `sockets: ${resumed.sockets}`);

  // carol is not the offerer: restartIce asks dave (ice.restart →
  // ice.restartRequested), whose ICE-restart offer comes over the resumed
  // connection.
  await carol.evaluate(({ remote }) => window.call.room.sessions.get(remote).restartIce('test'), { remote: d.peerId });
  await carol.waitForFunction(({ remote, ufrag }) => {
    const pc = window.call.room.sessions.get(remote).pc;
    return pc.remoteDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1] !== ufrag && pc.signalingState === 'stable' && pc.connectionState === 'connected';
  }, { remote: d.peerId, ufrag: before.ufrag }, { timeout: 20000 });
  // dave is back to stable once carol's answer reaches him, a moment after
  // carol is.
  await dave.waitForFunction(({ remote }) => {
    const pc = window.call.room.sessions.get(remote).pc;
    return pc.signalingState === 'stable' && pc.connectionState === 'connected';
  }, { remote: c.peerId }, { timeout: 20000 });
  await Promise.all([
    carol.evaluate(exchange, { text: 'carol 2', want: 'dave 2', timeoutMs: 15000 }),
    dave.evaluate(exchange, { text: 'dave 2', want: 'carol 2', timeoutMs: 15000 }),
  ]);
});
