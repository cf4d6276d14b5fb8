// ICE failure explained, with real browsers: PeerSession reports what its
// peer connection saw (diag.report), and the server joins the reports with
// its TURN server's record (admin.diag.explain); the inspector's admin
// panel shows the explanation and the events.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { consoleErrors, launchBrowser, openInspector, startParley } from '../lib/harness.mjs';

const apiKey = 'main:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk';

/** admin.diag.explain over POST /rpc with the API key. */
async function explain(server, roomId) {
  const [kid, secret] = apiKey.split(':');
  const res = await fetch(`${server.http}/rpc`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Basic ${btoa(`${kid}:${secret}`)}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin.diag.explain', params: { roomId } }),
  });
  return (await res.json()).result;
}

/**
 * Runs in the page as an app that never refreshes its TURN credentials:
 * its peer connections keep the iceServers of session.connect (TTL 1 s)
 * and ignore ice.serversRefreshed. It waits until they have expired, then
 * joins and calls every peer already there, relay only.
 */
async function joinLate({ url, identity, roomId, waitMs }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const client = await ParleyClient.connect(url, { identity });
  const stale = client.session.iceServers;
  class NeverRefreshed extends RTCPeerConnection {
    constructor(config) { super({ ...config, iceServers: stale }); }
    setConfiguration() {}
  }
  await new Promise((r) => setTimeout(r, waitMs));
  const room = new RoomPeers(client, roomId, { rtcConfig: { iceTransportPolicy: 'relay' }, RTCPeerConnection: NeverRefreshed });
  const { peers } = await client.room.join({ roomId, create: true });
  for (const peer of peers) {
    room.connect(peer.peerId).pc.createDataChannel('chat');
  }
  return client.session.peerId;
}

test('a relay-only page whose TURN credentials expired is explained as expired credentials', async (t) => {
  const server = await startParley(t, '--turn-listen', '127.0.0.1:0', '--turn-credential-ttl', '1s', '--api-keys', apiKey);
  const { context } = await launchBrowser(t);
  const pages = [await context.newPage(), await context.newPage()];
  for (const [i, identity] of ['alice', 'bob'].entries()) {
    await pages[i].goto(`${server.http}/`);
    await pages[i].evaluate(joinLate, { url: server.url, identity, roomId: 'expired', waitMs: 2000 });
  }
  // Each side reports once it fails or has tried for 15 s.
  let pair;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    pair = (await explain(server, 'expired'))?.pairs?.[0];
    if (pair?.a.report && pair?.b.report) break;
  }
  assert.ok(pair?.a.report && pair?.b.report, `both sides reported: ${JSON.stringify(pair)}`);
  assert.equal(pair.verdict.cause, 'turn_credentials_expired', JSON.stringify(pair.verdict));
  assert.match(pair.verdict.explanation, /TURN credentials had expired/);
  for (const side of [pair.a, pair.b]) {
    assert.equal(side.report.agent, 'parley-ts');
    assert.equal(side.report.local?.relay ?? 0, 0, JSON.stringify(side.report));
    assert.ok(side.turn.some((e) => e.kind === 'authExpired'), `TURN record of ${side.identity}: ${JSON.stringify(side.turn)}`);
  }
});

test('inspector: the admin panel explains a room\'s failed pair and lists the events', async (t) => {
  const server = await startParley(t, '--turn-listen', '127.0.0.1:0', '--api-keys', apiKey);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const page = await openInspector(context, server, 'alice', 'bob');
  // Both join and report a failure, as their PeerSessions would.
  await page.evaluate(async () => {
    const [alice, bob] = window.inspector.sessions.map((s) => s.client);
    await alice.room.join({ roomId: 'lab', create: true });
    await bob.room.join({ roomId: 'lab' });
    const report = {
      trigger: 'failed', connectionState: 'failed', iceConnectionState: 'failed', iceTransportPolicy: 'relay', local: {}, remoteCandidates: 0,
      iceServers: [{ url: 'turn:127.0.0.1:3478?transport=udp' }], candidateErrors: [{ url: 'turn:127.0.0.1:3478?transport=udp', errorCode: 701 }],
    };
    await alice.diag.report({ roomId: 'lab', peerId: bob.session.peerId, report });
    await bob.diag.report({ roomId: 'lab', peerId: alice.session.peerId, report });
  });
  const token = execFileSync(process.env.E2E_PARLEY_BIN, ['token', '--key', apiKey, '--identity', 'ops', '--admin']).toString().trim();
  await page.locator('#token').fill(token);
  await page.locator('#connectButton').click();
  const ops = page.locator('section.session').nth(2);
  await ops.locator('.state[data-state=open]').waitFor();
  await ops.locator('details.admin > summary').click();
  await ops.locator('input.diag-room').fill('lab');
  await ops.locator('button.explain').click();
  const pair = ops.locator('.diag-pair[data-result=failed]');
  await pair.waitFor();
  assert.equal(await pair.getAttribute('data-cause'), 'turn_unreachable');
  assert.match(await pair.locator('.diag-explanation').innerText(), /could not reach its TURN server/);
  await ops.locator('button.events').click();
  await ops.locator('.event[data-type="peer.connectionFailed"]').waitFor();
  assert.equal(await ops.locator('.event[data-type="session.started"]').count(), 3);
  assert.deepEqual(errors, []);
});
