// Shared plumbing of the browser end-to-end tests: the real parley binary,
// the Go echobot and Debian's chromium, each started fresh and stopped by the
// test that started it. run.sh builds the binaries and runs everything in a
// loopback-only network namespace, so every packet stays on 127/8 and the
// fixed dev ports (7880, 3478) cannot clash with anything on the machine.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const artifacts = new URL('../artifacts/', import.meta.url);

/**
 * A started child process: resolves once a line of its stdout matches ready,
 * keeps every output line for the failure report.
 */
export async function startProcess(t, name, bin, args, ready, timeoutMs = 20000) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let resolveReady, rejectReady;
  const matched = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
  const timer = setTimeout(() => rejectReady(new Error(`${name} printed no ${ready} within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
  const collect = (stream, isStdout) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop();
      for (const line of parts) {
        lines.push(`${name}: ${line}`);
        const m = isStdout && line.match(ready);
        if (m) resolveReady(m);
      }
    });
  };
  collect(proc.stdout, true);
  collect(proc.stderr, false);
  proc.on('exit', (code, signal) => rejectReady(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${lines.join('\n')}`)));
  t.after(() => {
    proc.kill('SIGKILL');
    if (!t.passed) tail(t, name, lines);
  });
  const match = await matched.finally(() => clearTimeout(timer));
  return { proc, match, lines };
}

/** parley serve --dev on a free port, with its co-hosted STUN/TURN. */
export async function startParley(t, ...extra) {
  const bin = requiredEnv('E2E_PARLEY_BIN');
  const p = await startProcess(t, 'parley', bin, ['serve', '--dev', '--listen', '127.0.0.1:0', ...extra], /STUN\/TURN on udp/);
  const url = p.lines.map((l) => l.match(/listening on (ws:\/\/[0-9.:]+\/rpc)/)).find(Boolean)?.[1];
  if (!url) throw new Error(`no listening line:\n${p.lines.join('\n')}`);
  return { ...p, url, http: url.replace(/^ws/, 'http').replace(/\/rpc$/, '') };
}

/** A redis-server on a free loopback port, without persistence (cluster mode's store). */
export async function startRedis(t) {
  const port = await freePort();
  const p = await startProcess(t, 'redis', 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  return { ...p, url: `redis://127.0.0.1:${port}/0` };
}

/**
 * A cluster: a redis-server and n dev nodes on it (cluster mode), each on
 * free ports with its own STUN/TURN, with extra flags. Returns the nodes
 * (startParley's) and the redis-server.
 */
export async function startCluster(t, n, ...extra) {
  const redis = await startRedis(t);
  const nodes = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startParley(t, '--turn-listen', '127.0.0.1:0', '--redis-url', redis.url, '--node-id', `node${i + 1}`, ...extra));
  }
  return { redis, nodes };
}

/** Sends signal (default SIGKILL) to a started process and waits until it exited. */
export async function stopProcess(p, signal = 'SIGKILL') {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => p.proc.once('exit', resolve));
  p.proc.kill(signal);
  await exited;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The Go echobot (examples/echobot) joined to room on the server at url. */
export async function startEchobot(t, url, room, ...extra) {
  const bin = requiredEnv('E2E_ECHOBOT_BIN');
  const p = await startProcess(t, 'echobot', bin, ['-url', url, '-room', room, ...extra], /echobot ready room=(\S+) peer=(\S+)/);
  return { ...p, peerId: p.match[2] };
}

/**
 * A headless chromium with a fresh profile. Camera and microphone are
 * granted because chromium hides host candidates behind mDNS names
 * otherwise, and loopback candidates need their own switch. args are
 * more command-line switches.
 */
export async function launchBrowser(t, ...args) {
  const profile = await mkdtemp(join(tmpdir(), 'parley-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--allow-loopback-in-peer-connection',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      ...args,
    ],
  });
  await context.grantPermissions(['camera', 'microphone']);
  await context.addInitScript(tracePeerConnections);
  const logs = [];
  const started = Date.now();
  const log = (page, line) => logs.push(`${Date.now() - started}ms page${context.pages().indexOf(page)} ${line}`);
  context.on('console', (msg) => log(msg.page(), `console.${msg.type()}: ${msg.text()}`));
  context.on('weberror', (err) => log(err.page(), `page error: ${err.error()}`));
  t.after(async () => {
    if (!t.passed) {
      tail(t, 'chromium', logs, 80);
      await saveArtifacts(t, context, logs);
    }
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return { context, logs };
}

/**
 * A 1280×1000 page of the inspector at server with a session for each
 * identity, once each session's method palette is filled.
 */
export async function openInspector(context, server, ...identities) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto(`${server.http}/inspector/?${identities.map((i) => `identity=${i}`).join('&')}`);
  for (const i of identities) {
    await page.locator(`section[data-session=${i}] .state[data-state=open]`).waitFor();
    await page.locator(`section[data-session=${i}] select.method option[value="room.join"]`).waitFor({ state: 'attached' });
  }
  return page;
}

/**
 * Runs in the page (page.evaluate): connects with token, or as identity on
 * a dev server, joins roomId (relay: iceTransportPolicy "relay"), calls
 * every peer already there or answers whoever calls, says hello on each
 * data channel and keeps what arrives. window.talk resolves with the first
 * message, the selected candidate pair, and its local candidate's TURN URL
 * and transport to the TURN server (relay candidates). Returns the peer
 * id, the identities already in the room and the iceServers' URLs.
 */
export async function joinAndTalk({ url, identity, token, roomId, relay, say }) {
  const { ParleyClient, RoomPeers, selectedCandidatePair } = await import('/client/index.js');
  const client = await ParleyClient.connect(url, token ? { token } : { identity });
  const viaTURN = async (pc) => {
    const stats = [];
    (await pc.getStats()).forEach((s) => stats.push(s));
    const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
    const local = stats.find((s) => s.id === pair?.localCandidateId);
    return { url: local?.url, relayProtocol: local?.relayProtocol };
  };
  let resolve;
  window.talk = new Promise((r) => { resolve = r; });
  const wire = (ps, channel) => {
    channel.onopen = () => channel.send(say);
    channel.onmessage = async (e) => resolve({ message: e.data, pair: await selectedCandidatePair(ps.pc), turn: await viaTURN(ps.pc) });
  };
  const room = new RoomPeers(client, roomId, {
    rtcConfig: relay ? { iceTransportPolicy: 'relay' } : {},
    onPeer: (ps) => { ps.pc.ondatachannel = (e) => wire(ps, e.channel); },
  });
  const { peers } = await client.room.join({ roomId, create: true });
  for (const peer of peers) {
    const ps = room.connect(peer.peerId);
    wire(ps, ps.pc.createDataChannel('chat'));
  }
  return { peerId: client.session.peerId, others: peers.map((p) => p.identity), urls: client.session.iceServers.flatMap((s) => s.urls) };
}

/**
 * Collects what a user would see as errors in the developer tools: every
 * console.error and uncaught page error of context's pages, from now on.
 * A test asserts it stays empty.
 */
export function consoleErrors(context) {
  const errors = [];
  context.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`); });
  context.on('weberror', (err) => errors.push(`page error: ${err.error()}`));
  return errors;
}

/**
 * Runs in every page before its own scripts: each RTCPeerConnection logs its
 * state changes, negotiationneeded, gathered candidates and incoming data
 * channels to the console, so a failed test's report shows how far
 * negotiation got.
 */
function tracePeerConnections() {
  const Native = window.RTCPeerConnection;
  let made = 0;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const id = ++made;
      const log = (what) => console.debug(`pc${id} ${what}`);
      const states = {
        signalingstatechange: 'signalingState',
        icegatheringstatechange: 'iceGatheringState',
        iceconnectionstatechange: 'iceConnectionState',
        connectionstatechange: 'connectionState',
      };
      for (const [event, state] of Object.entries(states)) {
        this.addEventListener(event, () => log(`${state} ${this[state]}`));
      }
      this.addEventListener('icecandidate', ({ candidate: c }) =>
        log(c?.candidate ? `local candidate ${c.type} ${c.protocol} ${c.address}:${c.port} ufrag ${c.usernameFragment}` : 'local candidates done'));
      this.addEventListener('icecandidateerror', (e) => log(`candidate error ${e.errorCode} ${e.errorText} ${e.url}`));
      this.addEventListener('negotiationneeded', () => log('negotiationneeded'));
      this.addEventListener('datachannel', ({ channel }) => log(`datachannel ${channel.label}`));
      log('created');
    }
  };
}

/** On failure: a screenshot of every page and the console, named after the test. */
async function saveArtifacts(t, context, logs) {
  const dir = new URL(`${t.name.replace(/[^a-z0-9]+/gi, '-')}/`, artifacts);
  await mkdir(dir, { recursive: true });
  const pages = context.pages();
  for (let i = 0; i < pages.length; i++) {
    await pages[i].screenshot({ path: new URL(`page${i}.png`, dir).pathname }).catch(() => {});
  }
  await writeFile(new URL('console.txt', dir), logs.join('\n'));
}

/**
 * On failure: the last lines of a process's output or of the pages'
 * console, as test diagnostics, which land in the test report next to the
 * failure (CI shows the report, not e2e/artifacts).
 */
function tail(t, name, lines, n = 40) {
  t.diagnostic(`last ${Math.min(n, lines.length)} of ${lines.length} lines of ${name}:`);
  for (const line of lines.slice(-n)) t.diagnostic(line); // one each: the reporter escapes newlines
}

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with e2e/run.sh (make e2e)`);
  return v;
}
