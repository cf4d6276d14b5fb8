// One port through a strict firewall: Parley runs in a network namespace of
// its own, linked to this one (the browser's) by a veth pair, and nftables
// here drops every UDP packet and every TCP segment through that link but
// those to and from port 443. Two relay-only pages still connect: through
// TURN over TLS on Parley's signaling port, which also serves them the page
// and their WebSockets.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { joinAndTalk, launchBrowser, startProcess } from '../lib/harness.mjs';

const clientIP = '10.99.0.1';
const serverIP = '10.99.0.2';
const apiKey = `main:${'k'.repeat(40)}`;
const table = 'parley_oneport';

function run(cmd, args, input) {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * A network namespace for the server, held by a sleeping process and
 * linked to this one: clientIP here, serverIP there. Returns the command
 * prefix that runs a command inside it.
 */
async function serverNamespace(t) {
  const holder = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  const own = await readlink('/proc/self/ns/net');
  for (let waited = 0; (await readlink(`/proc/${holder.pid}/ns/net`).catch(() => own)) === own; waited += 10) {
    if (waited > 5000) throw new Error('unshare made no network namespace');
    await sleep(10);
  }
  const inside = ['nsenter', `--net=/proc/${holder.pid}/ns/net`, '--'];
  const there = (...args) => run(inside[0], [...inside.slice(1), ...args]);
  run('ip', ['link', 'add', 'oneport-c', 'type', 'veth', 'peer', 'name', 'oneport-s', 'netns', String(holder.pid)]);
  t.after(() => { try { run('ip', ['link', 'del', 'oneport-c']); } catch { /* gone with the namespace */ } });
  there('ip', 'link', 'set', 'lo', 'up');
  there('ip', 'addr', 'add', `${serverIP}/24`, 'dev', 'oneport-s');
  there('ip', 'link', 'set', 'oneport-s', 'up');
  run('ip', ['addr', 'add', `${clientIP}/24`, 'dev', 'oneport-c']);
  run('ip', ['link', 'set', 'oneport-c', 'up']);
  return inside;
}

/**
 * The firewall, on the link to the server: UDP dropped both ways, TCP
 * dropped unless it is to or from port 443. Returns a function that reads
 * how many UDP and TCP packets it dropped.
 */
function firewall(t) {
  run('nft', ['-f', '-'], `
table inet ${table} {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "oneport-c" meta l4proto udp counter drop comment "udp"
    oifname "oneport-c" tcp dport != 443 counter drop comment "tcp"
  }
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "oneport-c" meta l4proto udp counter drop comment "udp"
    iifname "oneport-c" tcp sport != 443 counter drop comment "tcp"
  }
}`);
  t.after(() => { try { run('nft', ['delete', 'table', 'inet', table]); } catch { /* never made */ } });
  return () => {
    const dropped = { udp: 0, tcp: 0 };
    for (const item of JSON.parse(run('nft', ['-j', 'list', 'table', 'inet', table])).nftables) {
      const rule = item.rule;
      const counter = rule?.expr.find((e) => e.counter)?.counter;
      if (counter) dropped[rule.comment] += counter.packets;
    }
    return dropped;
  };
}

/** A self-signed certificate for serverIP, and its SPKI hash for chromium. */
async function certificate(t) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-oneport-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=parley one port', '-addext', `subjectAltName=IP:${serverIP}`, '-keyout', key, '-out', cert]);
  const spki = new X509Certificate(await readFile(cert)).publicKey.export({ type: 'spki', format: 'der' });
  return { cert, key, spki: createHash('sha256').update(spki).digest('base64') };
}

test('behind a firewall that passes only TCP 443, two relay-only pages connect through TURN on the signaling port', async (t) => {
  const bin = process.env.E2E_PARLEY_BIN;
  const inside = await serverNamespace(t);
  const { cert, key, spki } = await certificate(t);
  await startProcess(t, 'parley', inside[0], [...inside.slice(1), bin, 'serve',
    '--listen', `${serverIP}:443`, '--tls-cert', cert, '--tls-key', key, '--api-keys', apiKey,
    '--public-url', `https://${serverIP}`, '--turn-secret', 's'.repeat(32), '--turn-listen', `${serverIP}:3478`],
  /STUN\/TURN on udp/);
  const dropped = firewall(t);

  const { context } = await launchBrowser(t, `--ignore-certificate-errors-spki-list=${spki}`);
  const pages = [await context.newPage(), await context.newPage()];
  const oneport = `turns:${serverIP}:443?transport=tcp`;
  for (const [i, identity] of ['alice', 'bob'].entries()) {
    const token = run(bin, ['token', '--key', apiKey, '--identity', identity, '--room', 'oneport']).trim();
    await pages[i].goto(`https://${serverIP}/`);
    const { urls } = await pages[i].evaluate(joinAndTalk, { url: `wss://${serverIP}/rpc`, token, roomId: 'oneport', relay: true, say: `hello from ${identity}` });
    assert.ok(urls.includes(oneport), `iceServers ${urls} lack ${oneport}`);
  }
  const [alice, bob] = await Promise.all(pages.map((p) => p.evaluate(() => window.talk)));
  assert.equal(alice.message, 'hello from bob');
  assert.equal(bob.message, 'hello from alice');
  for (const got of [alice, bob]) {
    assert.equal(got.pair?.local.type, 'relay', JSON.stringify(got.pair));
    assert.deepEqual(got.turn, { url: oneport, relayProtocol: 'tls' });
  }
  // The browser did try the rest (STUN and TURN over UDP, TURN over TCP
  // on 3478 and TLS on 5349), and the firewall dropped it.
  const d = dropped();
  assert.ok(d.udp > 0 && d.tcp > 0, `the firewall dropped ${JSON.stringify(d)}`);
  t.diagnostic(`firewall dropped ${d.udp} UDP and ${d.tcp} TCP packets`);
});
