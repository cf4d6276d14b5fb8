// Real browsers, real RTCPeerConnections: pages load the built TypeScript
// client from the server (/client/index.js) and connect data channels
// through Parley's signaling, directly, through Parley's own TURN, and to the
// Go echobot; and two tabs of the demo page chat.
import test from 'node:test';
import assert from 'node:assert/strict';
import { consoleErrors, joinAndTalk, launchBrowser, startEchobot, startParley } from '../lib/harness.mjs';

// TURN on a free port: the tests run one after another and a killed server's
// fixed port may not be free yet.
const serverArgs = ['--turn-listen', '127.0.0.1:0'];

/** Two pages, alice then bob, talk in roomId; returns what each received. */
async function twoPages(t, server, roomId, relay) {
  const { context } = await launchBrowser(t);
  const pages = [await context.newPage(), await context.newPage()];
  const joined = [];
  for (const [i, identity] of ['alice', 'bob'].entries()) {
    await pages[i].goto(`${server.http}/`);
    joined.push(await pages[i].evaluate(joinAndTalk, { url: server.url, identity, roomId, relay, say: `hello from ${identity}` }));
  }
  assert.deepEqual(joined.map((j) => j.others), [[], ['alice']]);
  return Promise.all(pages.map((p) => p.evaluate(() => window.talk)));
}

test('two pages connect a data channel through Parley', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const [alice, bob] = await twoPages(t, server, 'direct', false);
  assert.equal(alice.message, 'hello from bob');
  assert.equal(bob.message, 'hello from alice');
  for (const got of [alice, bob]) {
    assert.equal(got.pair?.local.type, 'host', JSON.stringify(got.pair));
  }
});

test('relay only: the data channel goes through Parley\'s TURN', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const [alice, bob] = await twoPages(t, server, 'relayed', true);
  assert.equal(alice.message, 'hello from bob');
  assert.equal(bob.message, 'hello from alice');
  for (const got of [alice, bob]) {
    assert.equal(got.pair?.local.type, 'relay', JSON.stringify(got.pair));
    assert.equal(got.pair?.remote.type, 'relay', JSON.stringify(got.pair));
  }
  const metrics = await (await fetch(`${server.http}/metrics`)).text();
  const allocations = Number(metrics.match(/^parley_turn_allocations_created_total (\d+)/m)?.[1]);
  assert.ok(allocations >= 2, `TURN allocations: ${allocations}`);
});

test('a page calls the Go echobot and gets its message back', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const bot = await startEchobot(t, server.url, 'echo');
  const { context } = await launchBrowser(t);
  const page = await context.newPage();
  await page.goto(`${server.http}/`);
  const joined = await page.evaluate(joinAndTalk, { url: server.url, identity: 'carol', roomId: 'echo', relay: false, say: 'ping 42' });
  assert.deepEqual(joined.others, ['echobot']);
  const got = await page.evaluate(() => window.talk);
  assert.equal(got.message, 'ping 42');
  assert.ok(bot.peerId);
});

/**
 * Delays every frame the server sends to page by ms, in order, so the
 * page learns of remote candidates only after the remote's connectivity
 * checks have reached it.
 */
async function delayServerFrames(page, ms) {
  await page.routeWebSocket(/\/rpc(\?|$)/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((frame) => setTimeout(() => ws.send(frame), ms));
    ws.onMessage((frame) => server.send(frame));
  });
}

// One tab relays and the other does not, so dora's relay sends to ed's
// loopback host address: the dev server allows that because its TURN
// listens on loopback only (two relays reach each other anyway). Both send
// camera and microphone (chromium's fake devices) beside the chat.
//
// ed hears from the server late, so dora's checks through TURN reach ed
// before her relay candidate does and ed first sees her as prflx (CI once
// caught that race): the demo must show the pair's real type once the
// candidate arrives.
test('demo page: two tabs video-chat, one of them through TURN', async (t) => {
  const server = await startParley(t, ...serverArgs);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const tabs = [];
  for (const [identity, relay] of [['dora', '&relay'], ['ed', '']]) {
    const tab = await context.newPage();
    if (identity === 'ed') await delayServerFrames(tab, 300);
    await tab.goto(`${server.http}/demo/?identity=${identity}&room=tabs${relay}`);
    await tab.check('#video');
    await tab.click('#joinButton');
    await tab.locator('#status', { hasText: `open as ${identity}` }).waitFor();
    tabs.push(tab);
  }
  const [dora, ed] = tabs;
  for (const [tab, pair] of [[dora, /^relay .* ⇄ (host|prflx) /], [ed, /^(host|prflx) .* ⇄ relay /]]) {
    await tab.locator('section.peer [data-field=connection]', { hasText: /^connected$/ }).waitFor();
    await tab.locator('section.peer [data-field=pair]', { hasText: pair }).waitFor();
  }
  for (const tab of tabs) { // the other side's camera plays
    await tab.waitForFunction(() => document.querySelector('section.peer video[data-field=remote]')?.videoWidth > 0, null, { timeout: 30000 });
  }
  await ed.fill('section.peer [data-field=send] input', 'hi dora');
  await ed.click('section.peer [data-field=send] button');
  await dora.locator('section.peer [data-field=chat]', { hasText: 'them: hi dora' }).waitFor();
  await dora.fill('section.peer [data-field=send] input', 'hi ed');
  await dora.click('section.peer [data-field=send] button');
  await ed.locator('section.peer [data-field=chat]', { hasText: 'them: hi ed' }).waitFor();
  assert.match(await ed.locator('section.peer h2').textContent(), /^dora \(/);
  // Each video says whose it is.
  for (const [tab, me, them] of [[dora, 'dora', 'ed'], [ed, 'ed', 'dora']]) {
    assert.equal(await tab.locator('section.peer [data-field=localLabel]').textContent(), `you (${me})`);
    assert.equal(await tab.locator('section.peer [data-field=remoteLabel]').textContent(), them);
  }
  assert.deepEqual(errors, []);
});
