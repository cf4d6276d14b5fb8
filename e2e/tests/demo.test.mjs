// The demo page as a user sees it: no console errors, one chat message a
// line, a join error in view, and in relay-only mode a connection that goes
// connecting → connected without ever showing "failed".
import test from 'node:test';
import assert from 'node:assert/strict';
import { consoleErrors, launchBrowser, startParley } from '../lib/harness.mjs';

const serverArgs = ['--turn-listen', '127.0.0.1:0'];

/** Opens the demo as identity in room, joins, and waits until the session is open. */
async function joinDemo(context, server, identity, room, { relay = false } = {}) {
  const tab = await context.newPage();
  await tab.goto(`${server.http}/demo/?identity=${identity}&room=${room}${relay ? '&relay' : ''}`);
  await tab.click('#joinButton');
  await tab.locator('#status', { hasText: `open as ${identity}` }).waitFor();
  return tab;
}

/** The chat box's lines as the user sees them. */
async function chatLines(tab) {
  return (await tab.locator('section.peer [data-field=chat]').innerText()).split('\n').filter((l) => l !== '');
}

async function say(tab, text) {
  await tab.fill('section.peer [data-field=send] input', text);
  await tab.click('section.peer [data-field=send] button');
}

test('demo page, relay only on both tabs: connects without ever saying "failed", chat one message a line, no console errors', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const dora = await joinDemo(context, server, 'dora', 'relayed', { relay: true });
  await dora.locator('#waiting').waitFor(); // alone in the room
  const ed = await joinDemo(context, server, 'ed', 'relayed', { relay: true });
  for (const tab of [dora, ed]) {
    await tab.locator('section.peer [data-field=connection]', { hasText: /^connected$/ }).waitFor();
    await tab.locator('section.peer [data-field=pair]', { hasText: /^relay .* ⇄ relay / }).waitFor();
    assert.equal(await tab.locator('#waiting').isVisible(), false);
  }
  await dora.locator('section.peer [data-field=send] input:enabled').waitFor();
  await ed.locator('section.peer [data-field=send] input:enabled').waitFor();
  await say(ed, 'hi dora');
  await dora.locator('section.peer [data-field=chat]', { hasText: 'them: hi dora' }).waitFor();
  await say(ed, 'how are you?');
  await dora.locator('section.peer [data-field=chat]', { hasText: 'them: how are you?' }).waitFor();
  await say(dora, 'fine, thanks');
  await ed.locator('section.peer [data-field=chat]', { hasText: 'them: fine, thanks' }).waitFor();
  assert.deepEqual(await chatLines(dora), ['them: hi dora', 'them: how are you?', 'me: fine, thanks']);
  assert.deepEqual(await chatLines(ed), ['me: hi dora', 'me: how are you?', 'them: fine, thanks']);
  // Every connection state each tab showed, in its log: never "failed".
  for (const [name, tab] of [['dora', dora], ['ed', ed]]) {
    const log = await tab.locator('#log').textContent();
    const states = [...log.matchAll(/: (new|connecting|connected|disconnected|failed|closed)$/gm)].map((m) => m[1]);
    t.diagnostic(`${name}: ${states.join(' → ')}`);
    assert.ok(states.includes('connected'), `${name}: ${states}`);
    assert.ok(!states.includes('failed'), `${name} showed failed: ${states.join(' → ')}`);
  }
  assert.deepEqual(errors, []);
});

test('demo page: a join error stays in view, with its code and reason', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  // A room of one, taken.
  const owner = await context.newPage();
  await owner.goto(`${server.http}/`);
  await owner.evaluate(async (url) => {
    const { ParleyClient } = await import('/client/index.js');
    window.client = await ParleyClient.connect(url, { identity: 'owner' });
    await window.client.room.create({ roomId: 'full', maxPeers: 1 });
    await window.client.room.join({ roomId: 'full' });
  }, server.url);
  const tab = await context.newPage();
  await tab.goto(`${server.http}/demo/?identity=fay&room=full`);
  await tab.click('#joinButton');
  const error = tab.locator('#error');
  await error.waitFor();
  assert.match(await error.innerText(), /^Could not join full: 486 .*\(room_full\)$/);
  assert.match(await tab.locator('#status').innerText(), /join failed/);
  assert.equal(await tab.locator('#joinButton').isEnabled(), true);
  assert.deepEqual(errors, []);
});

test('demo page: the inputs validate (a room name the schema refuses is not submitted)', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const tab = await context.newPage();
  await tab.goto(`${server.http}/demo/?identity=gus&room=${encodeURIComponent('no spaces!')}`);
  await tab.click('#joinButton');
  assert.equal(await tab.locator('#room').evaluate((el) => el.validity.patternMismatch), true);
  assert.equal(await tab.locator('#status').innerText(), 'not connected');
  await tab.fill('#room', 'fine-name_1');
  assert.equal(await tab.locator('#room').evaluate((el) => el.validity.valid), true);
  assert.deepEqual(errors, []);
});
