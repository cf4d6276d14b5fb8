// The inspector's call flow: a real call between two of its sessions (a
// data channel negotiated by PeerSession: offer, answer, candidates) and a
// glare round (a held candidate, crossing offers, 491), drawn as a ladder
// whose arrows come in order with their labels; a click opens the frame;
// the ladder exports as SVG and as a trace that "import trace" reopens
// into the same ladder. The ladder's screenshot is e2e/artifacts/ladder.png.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { consoleErrors, launchBrowser, openInspector, startParley } from '../lib/harness.mjs';

const artifacts = new URL('../artifacts/', import.meta.url);

/** The ladder's arrows as drawn: kind, method, from, to and label text. */
function arrows(page) {
  return page.$$eval('#ladderView g.arrow', (gs) => gs.map((g) => ({
    kind: g.dataset.kind, method: g.dataset.method, from: g.dataset.from, to: g.dataset.to,
    held: g.hasAttribute('data-held'), glare: g.hasAttribute('data-glare'), label: g.querySelector('text.label').textContent,
  })));
}

/** Sets both sessions' room filter (the ladder follows the frame logs' filters) and waits for the redraw. */
async function filterRoom(page, room) {
  for (const s of ['alice', 'bob']) await page.locator(`section[data-session=${s}] input.filter-room`).fill(room);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

test('inspector call flow: a real call and a glare round as a ladder; click, SVG and trace export, trace import', async (t) => {
  const server = await startParley(t, '--turn-listen', '127.0.0.1:0');
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const page = await openInspector(context, server, 'alice', 'bob');

  // A real call in room lab: PeerSession on the sessions' own clients, so
  // every frame is in their logs. alice joins first: she is impolite and offers.
  const peers = await page.evaluate(async () => {
    const { RoomPeers } = await import('/client/index.js');
    const [alice, bob] = window.inspector.sessions.map((s) => s.client);
    const opened = [];
    const rooms = [alice, bob].map((c) => new RoomPeers(c, 'lab', {
      onPeer: (ps) => { ps.pc.ondatachannel = ({ channel }) => opened.push(new Promise((r) => { channel.onmessage = (e) => r(e.data); })); },
    }));
    await alice.room.join({ roomId: 'lab', create: true });
    await bob.room.join({ roomId: 'lab' });
    const dc = rooms[0].connect(bob.session.peerId).pc.createDataChannel('chat');
    await new Promise((r) => { dc.onopen = r; });
    dc.send('hello bob');
    while (opened.length === 0) await new Promise((r) => setTimeout(r, 20));
    const heard = await opened[0];
    return { heard, alice: alice.session.peerId, bob: bob.session.peerId };
  });
  assert.equal(peers.heard, 'hello bob');

  // A glare round in room glare, step by step: alice's candidate before any
  // offer (the server holds it), alice's offer (delivered, the candidate
  // after it), then bob's crossing offer: he is the polite side, 491.
  const step = (who, method, params) => page.evaluate(async ({ who, method, params }) => {
    const s = window.inspector.sessions.find((x) => x.label === who);
    if (params.sdp === 'browser offer') params.sdp = (await import('/inspector/turn.js').then((m) => m.browserOffer()));
    await s.send(method, params);
  }, { who, method, params });
  const waitNote = (who, method) => page.locator(`section[data-session=${who}] .frame.in.notification[data-method="${method}"][data-room=glare]`).first().waitFor();
  await step('alice', 'room.join', { roomId: 'glare', create: true });
  await step('bob', 'room.join', { roomId: 'glare' });
  await waitNote('alice', 'room.peerJoined');
  const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  await step('alice', 'ice.candidate', { roomId: 'glare', to: peers.bob, candidate });
  await step('alice', 'sdp.offer', { roomId: 'glare', to: peers.bob, sdp: 'browser offer' });
  await waitNote('bob', 'ice.candidate');
  await step('bob', 'sdp.offer', { roomId: 'glare', to: peers.alice, sdp: 'browser offer' });
  await page.locator('section[data-session=bob] .call-result .error', { hasText: '491' }).waitFor();

  await filterRoom(page, 'glare');
  const glare = (await arrows(page)).filter((a) => a.kind !== 'result');
  const want = [
    { kind: 'request', method: 'room.join', from: 'alice', to: 'Parley' },
    { kind: 'request', method: 'room.join', from: 'bob', to: 'Parley' },
    { kind: 'notification', method: 'room.peerJoined', from: 'Parley', to: 'alice' },
    { kind: 'request', method: 'ice.candidate', from: 'alice', to: 'Parley', held: true },
    { kind: 'relay', method: 'sdp.offer', from: 'alice', to: 'bob' },
    { kind: 'notification', method: 'ice.candidate', from: 'Parley', to: 'bob', held: true },
    { kind: 'request', method: 'sdp.offer', from: 'bob', to: 'Parley' },
    { kind: 'error', method: 'sdp.offer', from: 'Parley', to: 'bob', glare: true },
  ];
  assert.deepEqual(glare.map(({ kind, method, from, to, held, glare: g }) => ({ kind, method, from, to, ...(held && { held }), ...(g && { glare: g }) })), want);
  const labels = glare.map((a) => a.label);
  assert.match(labels[0], /^room\.join #\d+ {2}\+\d+ ms$/);
  assert.match(labels[2], /^room\.peerJoined seq \d+ {2}\+\d+ ms$/);
  assert.match(labels[3], /^ice\.candidate #\d+ \(held\) {2}\+\d+ ms$/);
  assert.match(labels[4], /^sdp\.offer #\d+ → seq \d+ {2}\+\d+ ms$/);
  assert.match(labels[5], /^ice\.candidate seq \d+ \(held\) {2}\+\d+ ms$/);
  assert.match(labels[7], /^sdp\.offer #\d+ error 491 glare {2}\+\d+ ms {2}GLARE$/);

  // Clicking the 491 opens bob's error frame.
  await page.locator('#ladderView g.arrow[data-kind=error]').click();
  await page.locator('section[data-session=bob] .frame.error[open][data-room=glare]').waitFor();

  // The real call: offer before answer, candidates both ways, each a hop through the server.
  await filterRoom(page, 'lab');
  const call = (await arrows(page)).filter((a) => a.kind === 'relay');
  const hop = (method, from) => call.findIndex((a) => a.method === method && a.from === from);
  assert.ok(hop('sdp.offer', 'alice') >= 0 && hop('sdp.offer', 'alice') < hop('sdp.answer', 'bob'), JSON.stringify(call));
  assert.ok(call.some((a) => a.method === 'ice.candidate' && a.from === 'bob' && a.to === 'alice'), JSON.stringify(call));
  assert.ok((await arrows(page)).some((a) => a.method === 'ice.candidate' && a.from === 'alice'), 'no candidate from alice');
  await mkdir(artifacts, { recursive: true });
  // The whole call, not the scrolled box: the README's picture.
  await page.evaluate(() => { document.getElementById('ladderView').style.height = 'auto'; });
  await page.locator('#ladderView svg').screenshot({ path: new URL('ladder.png', artifacts).pathname });
  await page.evaluate(() => { document.getElementById('ladderView').style.height = ''; });

  // SVG export: a standalone file with the arrows.
  await filterRoom(page, 'glare');
  const [svgDownload] = await Promise.all([page.waitForEvent('download'), page.click('#ladderSVG')]);
  const svg = await readFile(await svgDownload.path(), 'utf8');
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('error 491 glare') && svg.includes('ice.candidate seq') && svg.includes('marker-end'), svg.slice(0, 300));

  // Trace export, and import into a fresh inspector: the same ladder.
  await filterRoom(page, '');
  const [traceDownload] = await Promise.all([page.waitForEvent('download'), page.click('#ladderTrace')]);
  const trace = JSON.parse(await readFile(await traceDownload.path(), 'utf8'));
  assert.deepEqual(trace.sessions.map((s) => [s.identity, s.peerId]), [['alice', peers.alice], ['bob', peers.bob]]);
  assert.doesNotMatch(JSON.stringify(trace), /"resumeToken":"(?!<redacted>)/, 'a resume token in the trace');
  const exported = await page.evaluate((n) => window.inspector.ladder.model.arrows.filter((a) => a.frames.every((f) => f.frame < n[f.session])), trace.sessions.map((s) => s.frames.length));
  const other = await context.newPage();
  await other.goto(`${server.http}/inspector/`);
  await other.setInputFiles('#ladderImportFile', await traceDownload.path());
  await other.locator('section[data-session=bob] .frame').first().waitFor();
  await other.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const key = (a) => `${a.kind} ${a.method} ${a.from}→${a.to} #${a.id ?? ''} seq ${a.seq ?? ''}${a.held ? ' held' : ''}${a.glare ? ' glare' : ''}`;
  const reopened = await other.evaluate(() => window.inspector.ladder.model.arrows);
  assert.deepEqual(reopened.map(key), exported.map(key));
  assert.deepEqual(errors, []);
});
