// The RPC inspector in a real browser against the real binary: two sessions
// side by side play both ends of a room with clicks on forms generated from
// rpc.discover, an offer from one shows up in the other's frame log, a
// schema-invalid param is refused in the form without a frame being sent,
// and the TURN check finds a relay candidate through Parley's TURN. A
// screenshot is kept in e2e/artifacts/.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { consoleErrors, launchBrowser, openInspector, startParley } from '../lib/harness.mjs';

const artifacts = new URL('../artifacts/', import.meta.url);

test('inspector: two sessions join a room from the forms and one sends the other an offer', async (t) => {
  const server = await startParley(t, '--turn-listen', '127.0.0.1:0');
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const page = await openInspector(context, server, 'alice', 'bob');
  const alice = page.locator('section[data-session=alice]');
  const bob = page.locator('section[data-session=bob]');
  for (const s of [alice, bob]) {
    assert.equal(await s.locator('select.method').inputValue(), 'room.join'); // the default: what a user does first
  }

  /** Picks method in session s, sets the given fields, sends, and waits for the result. */
  async function call(s, method, fields = {}) {
    await s.locator('select.method').selectOption(method);
    for (const [name, value] of Object.entries(fields)) {
      const input = s.locator(`.field[data-param="${name}"]`).locator('input, select, textarea').first();
      if (await input.evaluate((el) => el.tagName === 'SELECT')) await input.selectOption(value);
      else await input.fill(value);
    }
    await s.locator('button.send').click();
    await s.locator('.call-result .ok, .call-result .error').first().waitFor();
    return s.locator('.call-result').innerText();
  }

  assert.match(await call(alice, 'room.join', { roomId: 'lab', create: 'true' }), /result in \d+ ms/);
  assert.match(await call(bob, 'room.join', { roomId: 'lab' }), /result in \d+ ms/);
  const [alicePeer, bobPeer] = await page.evaluate(() => window.inspector.sessions.map((s) => s.client.session.peerId));

  // alice saw bob join, so the offer form proposes him as "to"; the sdp
  // field is filled with a real offer from the page's RTCPeerConnection.
  await alice.locator('.frame.in.notification[data-method="room.peerJoined"]').waitFor();
  await alice.locator('select.method').selectOption('sdp.offer');
  assert.equal(await alice.locator('.field[data-param=to] input').inputValue(), bobPeer);
  await page.waitForFunction(() => document.querySelector('section[data-session=alice] .field[data-param=sdp] textarea')?.value.startsWith('v=0'));
  await alice.locator('button.send').click();
  await alice.locator('.call-result .ok').waitFor();

  const offer = bob.locator('.frame.in.notification[data-method="sdp.offer"]');
  await offer.waitFor();
  assert.match(await offer.locator('summary').innerText(), /room lab seq \d+/);
  const sent = JSON.parse(await offer.locator('pre').textContent());
  assert.equal(sent.params.from, alicePeer);
  assert.equal(sent.params.roomId, 'lab');
  assert.match(sent.params.sdp, /^v=0\r\n/);

  // Expanding the offer (a long SDP) wraps it inside the panel: the panel
  // keeps its width and its close button stays on screen.
  const width = async () => (await bob.boundingBox()).width;
  const narrow = await width();
  await offer.locator('summary').click();
  assert.equal(await offer.getAttribute('open'), '');
  assert.ok(Math.abs(await width() - narrow) < 1, `panel ${narrow} → ${await width()} px wide`);
  const close = await bob.locator('button.close').boundingBox();
  assert.ok(close.x + close.width <= 1280, `close button at ${close.x}`);

  // Filtering bob's log by method leaves only the offer.
  await bob.locator('input.filter-method').fill('sdp.offer');
  const visible = await bob.locator('.log > .frame:visible').count();
  assert.equal(visible, 1);
  await bob.locator('input.filter-method').fill('');

  // A room id the schema refuses is marked on its field and not sent. (Other
  // frames may go out meanwhile: the client acknowledges notifications with
  // session.ack.)
  const framesOut = () => page.evaluate(() => window.inspector.sessions[0].frames.filter((f) => f.dir === 'out' && f.msg?.method === 'room.join').length);
  const before = await framesOut();
  await alice.locator('select.method').selectOption('room.join');
  await alice.locator('.field[data-param=roomId] input').fill('not a room!');
  await alice.locator('button.send').click();
  assert.match(await alice.locator('.field[data-param=roomId] .error').innerText(), /^roomId: does not match/);
  assert.match(await alice.locator('.call-result').innerText(), /not sent/);
  assert.equal(await framesOut(), before);

  // Two bad fields: both are marked, and nothing is sent.
  await alice.locator('.field[data-param=displayName] input').fill('x'.repeat(129));
  await alice.locator('button.send').click();
  assert.match(await alice.locator('.field[data-param=roomId] .error').innerText(), /^roomId: does not match/);
  assert.match(await alice.locator('.field[data-param=displayName] .error').innerText(), /^displayName: longer than 128 characters/);
  assert.match(await alice.locator('.call-result').innerText(), /not sent: fix the 2 fields marked above/);
  assert.equal(await framesOut(), before);

  // "Copy as" says it copied.
  await alice.locator('select.copy-as').selectOption('ts');
  await alice.locator('.copied', { hasText: 'copied as TS client call' }).waitFor();

  // Copy as Go writes the generated client's names.
  const go = await page.evaluate(async () => {
    const { asGo } = await import('/inspector/copyas.js');
    const s = window.inspector.sessions[0];
    return asGo(s.schemas, s.methods.get('room.join'), { roomId: 'lab', create: true });
  });
  assert.equal(go, 'res, err := c.RoomJoin(ctx, &api.RoomJoinParams{\n\tRoomID: "lab",\n\tCreate: true,\n})');

  // The exported trace carries the exchange and no credentials.
  const trace = await page.evaluate(() => window.inspector.sessions[1].trace());
  assert.ok(trace.frames.some((f) => f.msg?.method === 'sdp.offer' && f.dir === 'in'));

  // The TURN check, relay only, gathers a relay candidate from Parley's TURN.
  await alice.locator('details:has(button.gather) > summary').click();
  await alice.locator('details:has(button.gather) input[type=checkbox]').check();
  await alice.locator('button.gather').click();
  await alice.locator('.types li[data-type=relay]').waitFor();
  assert.match(await alice.locator('.types li[data-type=relay]').innerText(), /relay: \d+ found/);

  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: new URL('inspector.png', artifacts).pathname, fullPage: true });
  assert.deepEqual(errors, []);
});
