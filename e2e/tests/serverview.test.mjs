// The inspector's server view (issue 17): an operator's inspector on one
// node of a cluster watches a room (admin.rooms.watch) whose peers are on
// both nodes, and draws its signaling as the server handled it: a real
// call between two browsers' PeerSessions (offer, answer, candidates each
// way) and a glare round (a held candidate released by the offer, the
// crossing offer refused with 491), in order, with their labels; a click
// opens the event, metadata only.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { consoleErrors, launchBrowser, startParley, startProcess } from '../lib/harness.mjs';

const KEY = { kid: 'e2e', secret: 'e2e-secret-e2e-secret-e2e-secret-42' };

/** An HS256 token for sub with the admin grant, signed with KEY. */
function adminToken(sub) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg: 'HS256', typ: 'JWT', kid: KEY.kid })}.${enc({ sub, exp: Math.floor(Date.now() / 1000) + 3600, admin: true })}`;
  return `${unsigned}.${createHmac('sha256', KEY.secret).update(unsigned).digest('base64url')}`;
}

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** The server view's arrows as drawn. */
function arrows(page) {
  return page.$$eval('#ladderView g.arrow', (gs) => gs.map((g) => ({
    kind: g.dataset.kind, method: g.dataset.method, outcome: g.dataset.outcome, from: g.dataset.from, to: g.dataset.to,
    held: g.hasAttribute('data-held'), glare: g.hasAttribute('data-glare'), label: g.querySelector('text.label').textContent,
  })));
}

test('inspector server view: a real call and a glare round on two nodes, drawn from admin.rooms.watch', async (t) => {
  const port = await freePort();
  await startProcess(t, 'redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const cluster = ['--redis-url', `redis://127.0.0.1:${port}/0`, '--api-keys', `${KEY.kid}:${KEY.secret}`, '--turn-secret', 'e2e-turn-secret-e2e-turn-secret', '--turn-listen', '127.0.0.1:0'];
  const a = await startParley(t, ...cluster, '--node-id', 'a');
  const b = await startParley(t, ...cluster, '--node-id', 'b');
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);

  // The operator's inspector, on node b, with an admin session.
  const ops = await context.newPage();
  await ops.setViewportSize({ width: 1280, height: 1000 });
  await ops.goto(`${b.http}/inspector/`);
  await ops.fill('#token', adminToken('ops'));
  await ops.click('#connectButton');
  await ops.locator('section.session .state[data-state=open]').waitFor();

  // The peers, in a page of node a: alice and carol on node a, bob and dave on node b.
  const peers = await context.newPage();
  await peers.goto(`${a.http}/inspector/`);
  const ids = await peers.evaluate(async ({ urlA, urlB }) => {
    const { ParleyClient } = await import('/client/index.js');
    const connect = (url, identity) => ParleyClient.connect(url, { identity });
    window.clients = { alice: await connect(urlA, 'alice'), bob: await connect(urlB, 'bob'), carol: await connect(urlA, 'carol'), dave: await connect(urlB, 'dave') };
    await window.clients.alice.room.join({ roomId: 'lab', create: true });
    return Object.fromEntries(Object.entries(window.clients).map(([k, c]) => [k, c.session.peerId]));
  }, { urlA: a.url, urlB: b.url });

  await ops.fill('#serverRoom', 'lab');
  await ops.click('#serverWatch');
  await ops.locator('#serverState', { hasText: 'watching lab' }).waitFor();

  // The real call: bob joins, alice offers him a data channel.
  const heard = await peers.evaluate(async () => {
    const { RoomPeers } = await import('/client/index.js');
    const { alice, bob } = window.clients;
    let resolve;
    const got = new Promise((r) => { resolve = r; });
    const rooms = [alice, bob].map((c) => new RoomPeers(c, 'lab', {
      onPeer: (ps) => { ps.pc.ondatachannel = ({ channel }) => { channel.onmessage = (e) => resolve(e.data); }; },
    }));
    await bob.room.join({ roomId: 'lab' });
    const dc = rooms[0].connect(bob.session.peerId).pc.createDataChannel('chat');
    await new Promise((r) => { dc.onopen = r; });
    dc.send('hello bob');
    return got;
  });
  assert.equal(heard, 'hello bob');

  // The glare round, between carol (node a) and dave (node b): carol's
  // candidate before any offer (held), her offer (delivered; the
  // candidate released after it), dave's crossing offer (491: he joined
  // later, the polite side).
  const glare = await peers.evaluate(async (ids) => {
    const { carol, dave } = window.clients;
    await carol.room.join({ roomId: 'lab' });
    await dave.room.join({ roomId: 'lab' });
    const pc = new RTCPeerConnection();
    pc.createDataChannel('x');
    const { sdp } = await pc.createOffer();
    pc.close();
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    await carol.ice.candidate({ roomId: 'lab', to: ids.dave, candidate });
    await carol.sdp.offer({ roomId: 'lab', to: ids.dave, sdp });
    try {
      await dave.sdp.offer({ roomId: 'lab', to: ids.carol, sdp });
      return 'delivered';
    } catch (err) {
      return err.code;
    }
  }, ids);
  assert.equal(glare, 491);

  const names = { [ids.alice]: 'alice', [ids.bob]: 'bob', [ids.carol]: 'carol', [ids.dave]: 'dave' };
  await ops.bringToFront(); // a background page does not redraw (requestAnimationFrame)
  let drawn;
  for (let i = 0; i < 100; i++) { // the events arrive as notifications, and the ladder redraws on the next frame
    drawn = await arrows(ops);
    if (drawn.some((x) => x.glare) && Object.values(names).every((n) => drawn.some((x) => x.from === n || x.to === n))) break;
    await ops.waitForTimeout(50);
  }
  // The call: alice's offer is the first hop, bob's answer follows, then
  // his candidates; every peer is a named column.
  const call = drawn.filter((x) => [x.from, x.to].some((n) => n === 'alice' || n === 'bob'));
  const hops = call.filter((x) => x.kind === 'relay');
  const first = (method, from) => hops.findIndex((x) => x.method === method && x.from === from);
  assert.equal(first('sdp.offer', 'alice'), 0, JSON.stringify(call));
  assert.ok(first('sdp.answer', 'bob') > 0, JSON.stringify(call));
  assert.ok(call.some((x) => x.method === 'ice.candidate' && (x.from === 'alice' || x.to === 'bob')), JSON.stringify(call));
  assert.ok(first('ice.candidate', 'bob') > first('sdp.answer', 'bob'), JSON.stringify(call));
  assert.match(hops[0].label, /^sdp\.offer seq \d+ delivered \d+ B {2}\+\d+ ms$/);

  const round = drawn.filter((x) => [x.from, x.to].some((n) => n === 'carol' || n === 'dave'))
    .map(({ kind, method, outcome, from, to, held, glare: g }) => ({ kind, method, outcome, from, to, ...(held && { held }), ...(g && { glare: g }) }));
  assert.deepEqual(round, [
    { kind: 'request', method: 'ice.candidate', outcome: 'held', from: 'carol', to: 'Parley', held: true },
    { kind: 'relay', method: 'sdp.offer', outcome: 'delivered', from: 'carol', to: 'dave' },
    { kind: 'notification', method: 'ice.candidate', outcome: 'released', from: 'Parley', to: 'dave', held: true },
    { kind: 'error', method: 'sdp.offer', outcome: 'refused', from: 'Parley', to: 'dave', glare: true },
  ]);
  const refused = drawn.find((x) => x.glare);
  assert.match(refused.label, /^sdp\.offer seq \d+ refused 491 \d+ B {2}\+\d+ ms {2}GLARE$/);
  assert.ok(Object.values(names).every((n) => drawn.some((x) => x.from === n || x.to === n)));

  // A click opens the event: metadata only (no SDP: it was not asked for).
  await ops.locator('#ladderView g.arrow[data-glare]').click();
  const event = JSON.parse(await ops.locator('#serverEvent').textContent());
  assert.equal(event.outcome, 'refused');
  assert.equal(event.code, 491);
  assert.equal(event.from, ids.dave);
  assert.equal(event.sdp, undefined);

  // Back to the sessions: the server view stops watching.
  await ops.click('#serverStop');
  await ops.locator('#ladderView g.arrow[data-outcome]').first().waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
});
