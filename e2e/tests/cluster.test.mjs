// Cluster mode in real browsers: a redis-server and three nodes in e2e's
// network namespace. Two pages opened on two nodes' ports call each other
// (a data channel) and chat through signaling (message.send). The node of
// one page is killed with SIGKILL (or drained with SIGTERM): that page's
// client, given every node's URL, resumes on another node; the data
// channel never notices, and the chat keeps every message, none twice.
import test from 'node:test';
import assert from 'node:assert/strict';
import { consoleErrors, launchBrowser, startCluster, stopProcess } from '../lib/harness.mjs';

/**
 * Runs in the page: connects with urls (this node's first), joins roomId,
 * calls the peers already there (RoomPeers answers whoever calls), and
 * keeps what arrives: window.chat (message.send data, in order),
 * window.dc (data channel messages), window.states ([state, Date.now(),
 * url]), window.pcStates (connectionState changes). window.say sends a
 * chat message; window.send a data channel message.
 */
async function clusterPage({ urls, identity, roomId }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const client = await ParleyClient.connect(urls, { identity, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
  window.client = client;
  Object.assign(window, { chat: [], dc: [], states: [], pcStates: [] });
  client.onState((state, cause) => window.states.push([state, Date.now(), client.url, cause?.closeCode]));
  client.on('message.received', (m) => window.chat.push(m.data));
  window.say = (text) => client.message.send({ roomId, data: text });
  let resolveOpen;
  window.dcOpen = new Promise((r) => { resolveOpen = r; });
  const wire = (ps, channel) => {
    ps.onState((s) => window.pcStates.push(s));
    channel.onopen = () => { window.send = (text) => channel.send(text); resolveOpen(); };
    channel.onmessage = (e) => window.dc.push(e.data);
  };
  const room = new RoomPeers(client, roomId, { onPeer: (ps) => { ps.pc.ondatachannel = (e) => wire(ps, e.channel); } });
  const { peers } = await client.room.join({ roomId, create: true });
  for (const peer of peers) {
    const ps = room.connect(peer.peerId);
    wire(ps, ps.pc.createDataChannel('chat'));
  }
  return { peerId: client.session.peerId, url: client.url };
}

/** The page's value of expr once pred holds for it (polled), within 20 s. */
async function until(page, expr, pred, what) {
  for (const deadline = Date.now() + 20000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    const v = await page.evaluate(expr);
    if (pred(v)) return v;
  }
  throw new Error(`no ${what}`);
}

const range = (prefix, from, to) => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

/** Opens alice's page on node 0 and bob's on node 1, each knowing every node, connected by a data channel. */
async function twoPagesOnTwoNodes(t, nodes) {
  const urls = nodes.map((n) => n.url);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const pages = [];
  const joined = [];
  for (const [i, identity] of ['alice', 'bob'].entries()) {
    const page = await context.newPage();
    await page.goto(`${nodes[i].http}/`);
    joined.push(await page.evaluate(clusterPage, { urls: [urls[i], ...urls], identity, roomId: 'cluster' }));
    pages.push(page);
  }
  await Promise.all(pages.map((p) => p.evaluate(() => window.dcOpen)));
  return { pages, joined, errors };
}

for (const [how, signal] of [['killed (SIGKILL)', 'SIGKILL'], ['drained (SIGTERM)', 'SIGTERM']]) {
  test(`cluster: bob's node ${how}: his page resumes on another node, the data channel carries on, the chat keeps every message once`, async (t) => {
    const { nodes } = await startCluster(t, 3, '--log-level', 'warn');
    const started = Date.now();
    const { pages: [alice, bob], joined, errors } = await twoPagesOnTwoNodes(t, nodes);
    const connected = Date.now() - started;
    assert.equal(joined[1].url, nodes[1].url);

    for (let i = 0; i < 10; i++) {
      await alice.evaluate((s) => window.say(s), `a${i}`);
      await bob.evaluate((s) => window.say(s), `b${i}`);
    }
    await until(bob, () => window.chat.length, (n) => n === 10, 'first ten messages');
    // alice chats on while bob's node goes; the data channel too.
    let stoppedAt;
    const chatting = (async () => {
      for (let i = 10; i < 40; i++) {
        if (i === 15) {
          stoppedAt = Date.now();
          await stopProcess(nodes[1], signal);
        }
        await alice.evaluate((s) => { window.say(s); window.send(s); }, `a${i}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await chatting;
    const back = await until(bob, () => window.states, (s) => s.at(-1)?.[0] === 'open', 'bob open again');
    const [, openAt, url] = back.at(-1);
    assert.notEqual(url, nodes[1].url, 'bob resumed on the node he was on');
    assert.deepEqual(back.map((s) => s[0]), ['reconnecting', 'open']);
    if (signal === 'SIGTERM') assert.equal(back[0][3], 4307, `bob's close code: ${back[0][3]}`);
    assert.equal(await bob.evaluate(() => window.client.session.resumed), true);
    assert.equal(await bob.evaluate(() => window.client.session.peerId), joined[1].peerId);

    for (let i = 10; i < 20; i++) await bob.evaluate((s) => window.say(s), `b${i}`);
    await bob.evaluate(() => window.send('bob, after the move'));
    const bobChat = await until(bob, () => window.chat, (c) => c.length >= 40, "alice's 40 messages");
    const aliceChat = await until(alice, () => window.chat, (c) => c.length >= 20, "bob's 20 messages");
    assert.deepEqual(bobChat, range('a', 0, 40));
    assert.deepEqual(aliceChat, range('b', 0, 20));
    // The data channel: every message alice sent during the outage, and bob's after it.
    assert.deepEqual(await until(bob, () => window.dc, (d) => d.length >= 30, 'data channel messages'), range('a', 10, 40));
    assert.deepEqual(await until(alice, () => window.dc, (d) => d.length >= 1, "bob's data channel message"), ['bob, after the move']);
    for (const page of [alice, bob]) {
      const pcStates = await page.evaluate(() => window.pcStates);
      assert.ok(!pcStates.some((s) => s === 'failed' || s === 'closed' || s === 'disconnected'), `connection states ${pcStates}`);
    }
    // One more round after a pause: nothing late, nothing twice.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await bob.evaluate(() => window.chat)).length, 40);
    assert.equal((await alice.evaluate(() => window.chat)).length, 20);
    assert.deepEqual(errors, []);
    t.diagnostic(`pages connected in ${connected} ms; ${signal} to bob resumed on ${url}: ${openAt - stoppedAt} ms; test ${Date.now() - started} ms`);
  });
}

// What a user of `make cluster` does: the demo on two nodes' ports with
// ?nodes= naming the cluster, a call, the room chat; kill -9 one page's
// node: that page says it is reconnecting, then open on another node, the
// call stays connected, and the room chat keeps every message once.
test('demo page on a cluster (?nodes=): kill -9 one tab\'s node: it resumes on another node, the call stays up, the room chat keeps every message once', async (t) => {
  const { nodes } = await startCluster(t, 3, '--log-level', 'warn');
  const ports = nodes.map((n) => new URL(n.http).port);
  const { context } = await launchBrowser(t);
  const errors = consoleErrors(context);
  const tabs = [];
  for (const [i, identity] of ['dora', 'ed'].entries()) {
    const tab = await context.newPage();
    await tab.goto(`${nodes[i].http}/demo/?identity=${identity}&room=cluster&nodes=${ports.join(',')}`);
    // This page's node first, then the others.
    const listed = [ports[i], ...ports.filter((p) => p !== ports[i])].map((p) => `127.0.0.1:${p}`).join(', ');
    assert.equal(await tab.locator('#nodes').innerText(), listed);
    await tab.click('#joinButton');
    await tab.locator('#status', { hasText: `open as ${identity}` }).waitFor();
    assert.match(await tab.locator('#status').innerText(), new RegExp(` on 127\\.0\\.0\\.1:${ports[i]}$`));
    tabs.push(tab);
  }
  const [dora, ed] = tabs;
  for (const tab of tabs) {
    await tab.locator('section.peer [data-field=connection]', { hasText: /^connected$/ }).waitFor();
    await tab.locator('section.peer [data-field=send] input:enabled').waitFor();
  }
  const say = async (tab, text) => {
    await tab.bringToFront(); // a background tab's animation frames are throttled, and a click waits for two
    await tab.fill('#say input', text);
    await tab.click('#say button');
    await tab.locator('#roomChat', { hasText: `me: ${text}` }).waitFor();
  };
  await say(dora, 'before');
  await ed.locator('#roomChat', { hasText: 'dora: before' }).waitFor();

  await stopProcess(nodes[1]); // kill -9 ed's node
  for (const text of ['during 1', 'during 2', 'during 3']) await say(dora, text);
  await ed.locator('#status', { hasText: /^open as ed .* on 127\.0\.0\.1:/ }).waitFor();
  const moved = (await ed.locator('#status').innerText()).match(/on 127\.0\.0\.1:(\d+)$/)?.[1];
  assert.ok(moved && moved !== ports[1], `ed is on ${moved}`);
  await ed.locator('#say input:enabled').waitFor();
  await say(ed, 'back');
  await dora.locator('#roomChat', { hasText: 'ed: back' }).waitFor();
  await ed.locator('#roomChat', { hasText: 'dora: during 3' }).waitFor();
  const lines = async (tab) => (await tab.locator('#roomChat').innerText()).split('\n').filter((l) => l !== '');
  assert.deepEqual(await lines(ed), ['dora: before', 'dora: during 1', 'dora: during 2', 'dora: during 3', 'me: back']);
  assert.deepEqual(await lines(dora), ['me: before', 'me: during 1', 'me: during 2', 'me: during 3', 'ed: back']);
  // The call, peer to peer, never noticed.
  await ed.fill('section.peer [data-field=send] input', 'over the data channel');
  await ed.click('section.peer [data-field=send] button');
  await dora.locator('section.peer [data-field=chat]', { hasText: 'them: over the data channel' }).waitFor();
  for (const tab of tabs) {
    assert.equal(await tab.locator('section.peer [data-field=connection]').innerText(), 'connected');
  }
  const log = await ed.locator('#log').textContent();
  assert.match(log, /signaling reconnecting/);
  assert.match(log, /signaling open on 127\.0\.0\.1:\d+, session resumed/);
  assert.deepEqual(errors, []);
});
