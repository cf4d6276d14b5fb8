// A SIP-style call between two browsers, written as the TS client's README
// shows it: alice invites the identity bob, bob's page accepts on
// call.incoming, and the call's room (named by the callId) carries a real
// RTCPeerConnection with a data channel; alice hangs up and bob's page sees
// call.ended.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startParley } from '../lib/harness.mjs';

/** Runs in bob's page: accepts the first call and echoes what its data channel says. */
async function answerCalls({ url }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const client = await ParleyClient.connect(url, { identity: 'bob' });
  window.ended = new Promise((resolve) => client.on('call.ended', resolve));
  client.on('call.incoming', async ({ callId, from }) => {
    new RoomPeers(client, callId, {
      onPeer: (ps) => {
        ps.pc.ondatachannel = ({ channel }) => {
          channel.onmessage = (e) => channel.send(`${from}, you said: ${e.data}`);
        };
      },
    });
    await client.call.accept({ callId }); // bob's page is the callee: it waits for alice's offer
  });
}

/** Runs in alice's page: calls bob, talks once on a data channel, hangs up. */
async function callBob({ url }) {
  const { ParleyClient, RoomPeers } = await import('/client/index.js');
  const client = await ParleyClient.connect(url, { identity: 'alice' });
  const answered = new Promise((resolve) => client.on('call.accepted', resolve));
  const { callId } = await client.call.invite({ to: 'bob', metadata: { subject: 'hello' } });
  const room = new RoomPeers(client, callId); // the call's room is named by its id
  const accepted = await answered;
  const channel = room.connect(accepted.peer.peerId).pc.createDataChannel('chat'); // the caller offers
  const reply = await new Promise((resolve) => {
    channel.onopen = () => channel.send('can you hear me?');
    channel.onmessage = (e) => resolve(e.data);
  });
  await client.call.hangup({ callId });
  return { reply, by: accepted.by };
}

test('a call between two browsers: invite, accept, a data channel in the call\'s room, hang up', async (t) => {
  const server = await startParley(t, '--turn-listen', '127.0.0.1:0');
  const { context } = await launchBrowser(t);
  const [alice, bob] = [await context.newPage(), await context.newPage()];
  for (const page of [alice, bob]) await page.goto(`${server.http}/`);
  await bob.evaluate(answerCalls, { url: server.url });
  const got = await alice.evaluate(callBob, { url: server.url });
  assert.equal(got.reply, 'alice, you said: can you hear me?');
  assert.equal(got.by, 'bob');
  const ended = await bob.evaluate(() => window.ended);
  assert.equal(ended.reason, 'hangup');
  assert.equal(ended.code, 200);
});
