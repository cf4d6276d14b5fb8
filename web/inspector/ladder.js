// The call flow as a ladder diagram, as SIP engineers read sngrep: the
// inspector's sessions and the server are columns, and every request,
// result and notification of every session is an arrow, in time order,
// labelled with its method, id or seq and the time since the arrow before.
// A relayed pair (alice's sdp.offer request and the sdp.offer notification
// bob gets) is one arrow through the server; errors are red with their
// code, glare (491) and held candidates are marked. It is drawn from the
// frames the sessions logged, so an imported trace draws the same ladder.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Requests the server relays, and the notification the peer gets for each. */
const RELAYED = {
  'sdp.offer': 'sdp.offer',
  'sdp.answer': 'sdp.answer',
  'ice.candidate': 'ice.candidate',
  'ice.restart': 'ice.restartRequested',
  'message.send': 'message.received',
};

/** The member of the params that must match between a relayed request and its notification. */
const PAYLOAD = { 'sdp.offer': 'sdp', 'sdp.answer': 'sdp', 'ice.candidate': 'candidate', 'ice.restart': 'reason', 'message.send': 'data' };

export const COLORS = { request: '#7a3e00', notification: '#0b4f8a', relay: '#5a2ca0', result: '#146c14', error: '#b00020', held: '#c05800' };

/**
 * The ladder of sessions' frames: {columns, arrows}. A session is
 * {label, peerId, frames: [{t, n, dir, msg}], methodOf(id), visible(frame)}:
 * n orders frames logged at the same millisecond, methodOf names a
 * response by its request, and visible applies the session's filters.
 */
export function buildLadder(sessions) {
  const half = Math.ceil(sessions.length / 2);
  const columns = [
    ...sessions.slice(0, half).map((s) => ({ label: s.label, sub: s.peerId ? `peer ${s.peerId}` : '' })),
    { label: 'Parley', sub: 'server', server: true },
    ...sessions.slice(half).map((s) => ({ label: s.label, sub: s.peerId ? `peer ${s.peerId}` : '' })),
  ];
  const server = half;
  const col = (i) => (i < half ? i : i + 1);

  // Every message of every frame, with where it came from.
  const items = [];
  sessions.forEach((s, si) => {
    s.frames.forEach((frame, fi) => {
      if (frame.dir === 'note' || !frame.msg) return;
      for (const m of Array.isArray(frame.msg) ? frame.msg : [frame.msg]) {
        items.push({ si, fi, frame, m, t: frame.t, n: frame.n ?? fi });
      }
    });
  });
  const byPeer = new Map(sessions.map((s, si) => [s.peerId, si]));
  const taken = new Set(); // notifications already drawn as the second half of a relay

  // Pair each relayed request with the notification its peer got.
  const relays = new Map(); // request item → notification item
  for (const it of items) {
    const { m, frame } = it;
    const wanted = RELAYED[m.method];
    if (frame.dir !== 'out' || !wanted || m.id === undefined || typeof m.params?.to !== 'string') continue;
    const bi = byPeer.get(m.params.to);
    if (bi === undefined) continue;
    const from = sessions[it.si].peerId;
    const key = PAYLOAD[m.method];
    const note = items.find((x) => x.si === bi && !taken.has(x) && x.frame.dir === 'in' && x.m.method === wanted && x.m.id === undefined &&
      x.m.params?.from === from && x.m.params?.roomId === m.params.roomId &&
      JSON.stringify(x.m.params?.[key]) === JSON.stringify(m.params[key]));
    if (note) {
      taken.add(note);
      relays.set(it, note);
    }
  }
  // A candidate the server held came to the peer after an offer that was
  // sent after it: the server keeps candidates until the pair's first offer.
  const held = new Set();
  for (const [req, note] of relays) {
    if (req.m.method !== 'ice.candidate') continue;
    for (const [offer, offerNote] of relays) {
      if (offer.m.method === 'sdp.offer' && offer.si === req.si && offerNote.si === note.si && after(offer, req) && after(note, offerNote)) {
        held.add(req);
        break;
      }
    }
  }

  const arrows = [];
  const add = (a) => arrows.push(a);
  for (const it of items) {
    if (taken.has(it)) continue;
    const { m, frame, si } = it;
    const s = sessions[si];
    const here = col(si);
    const ref = { session: si, frame: it.fi };
    if (frame.dir === 'out') {
      const note = relays.get(it);
      const base = { method: m.method, id: m.id, room: m.params?.roomId, t: it.t, n: it.n, visible: s.visible(frame) };
      if (note && !held.has(it)) {
        add({ ...base, kind: 'relay', from: here, to: col(note.si), seq: note.m.params?.seq, frames: [ref, { session: note.si, frame: note.fi }], visible: base.visible || sessions[note.si].visible(note.frame) });
      } else {
        add({ ...base, kind: m.id === undefined ? 'notification' : 'request', from: here, to: server, held: held.has(it), frames: [ref] });
        if (note) { // held: the delivery is an arrow of its own, when it happened
          add({ kind: 'notification', method: note.m.method, seq: note.m.params?.seq, room: note.m.params?.roomId, held: true, from: server, to: col(note.si),
            t: note.t, n: note.n, frames: [{ session: note.si, frame: note.fi }], visible: sessions[note.si].visible(note.frame) });
        }
      }
      continue;
    }
    if (m.method && m.id === undefined) {
      add({ kind: 'notification', method: m.method, seq: m.params?.seq, room: m.params?.roomId, from: server, to: here, t: it.t, n: it.n, frames: [ref], visible: s.visible(frame) });
      continue;
    }
    const method = s.methodOf(m.id) ?? '?';
    const base = { method, id: m.id, from: server, to: here, t: it.t, n: it.n, frames: [ref], visible: s.visible(frame) };
    add(m.error ? { ...base, kind: 'error', code: m.error.code, reason: m.error.data?.reason ?? m.error.message, glare: m.error.code === 491 } : { ...base, kind: 'result' });
  }
  arrows.sort((a, b) => a.t - b.t || a.n - b.n);
  const shown = arrows.filter((a) => a.visible);
  shown.forEach((a, i) => {
    a.delta = i === 0 ? 0 : a.t - shown[i - 1].t;
    a.label = label(a);
  });
  return { columns, server, arrows: shown };
}

function after(a, b) {
  return a.t > b.t || (a.t === b.t && a.n > b.n);
}

/** "sdp.offer #4 → seq 3", "error 491 glare #5", "room.peerJoined seq 1"; then "+12 ms". */
export function label(a) {
  let text = a.method;
  if (a.kind === 'relay') text += ` #${a.id} → seq ${a.seq}`;
  else if (a.kind === 'error') text = `${a.method} #${a.id} error ${a.code} ${a.reason ?? ''}`.trimEnd();
  else if (a.kind === 'result') text += ` #${a.id} result`;
  else if (a.id !== undefined) text += ` #${a.id}`;
  else if (a.seq !== undefined) text += ` seq ${a.seq}`;
  if (a.held) text += ' (held)';
  return `${text}  +${a.delta} ms`;
}

/**
 * The ladder of a room from the server's side (admin.rooms.watch): the
 * room's peers and the server are columns, each admin.signal an arrow in
 * seq order (the order the relays committed, on whichever node). A
 * delivered message is one hop through the server; a held candidate goes
 * to the server and its release comes from it later; a refusal (491 marked
 * glare, 413) and dropped candidates come back to the sender in red.
 * peers are the room's ({peerId, identity}) as the watch found it, events
 * the admin.signal params.
 */
export function buildServerLadder(peers, events) {
  const known = new Map(peers.map((p) => [p.peerId, p.identity ?? p.peerId]));
  for (const e of events) for (const id of [e.from, e.to]) if (!known.has(id)) known.set(id, id);
  const ids = [...known.keys()];
  const half = Math.ceil(ids.length / 2);
  const columns = [
    ...ids.slice(0, half).map((id) => ({ label: known.get(id), sub: `peer ${id}` })),
    { label: 'Parley', sub: 'server view', server: true },
    ...ids.slice(half).map((id) => ({ label: known.get(id), sub: `peer ${id}` })),
  ];
  const server = half;
  const col = (id) => { const i = ids.indexOf(id); return i < half ? i : i + 1; };
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const arrows = sorted.map((e, i) => {
    const base = { method: e.method, seq: e.seq, room: e.roomId, t: e.at, n: i, event: e, outcome: e.outcome };
    switch (e.outcome) {
      case 'delivered': return { ...base, kind: 'relay', from: col(e.from), to: col(e.to) };
      case 'held': return { ...base, kind: 'request', held: true, from: col(e.from), to: server };
      case 'released': return { ...base, kind: 'notification', held: true, from: server, to: col(e.to) };
      default: return { ...base, kind: 'error', code: e.code, glare: e.code === 491, from: server, to: col(e.from) };
    }
  });
  arrows.forEach((a, i) => {
    a.delta = i === 0 ? 0 : Math.max(0, a.t - arrows[i - 1].t);
    a.label = serverLabel(a);
  });
  return { columns, server, arrows };
}

/** "sdp.offer seq 4 delivered 812 B", "ice.candidate seq 9 dropped ×2", "sdp.offer seq 7 refused 491"; then "+12 ms". */
export function serverLabel(a) {
  const e = a.event;
  let text = `${e.method} seq ${e.seq} ${e.outcome}`;
  if (e.code) text += ` ${e.code}`;
  if (e.count > 1) text += ` ×${e.count}`;
  if (e.bytes) text += ` ${e.bytes} B`;
  return `${text}  +${a.delta} ms`;
}

const LAYOUT = { colWidth: 250, margin: 125, head: 52, row: 30, font: 11 };

/** The ladder as an SVG element; each arrow is a <g class="arrow" data-index> for clicks and tests. */
export function renderLadder(ladder) {
  const { colWidth, margin, head, row, font } = LAYOUT;
  const width = margin * 2 + colWidth * (ladder.columns.length - 1);
  const height = head + row * (ladder.arrows.length + 1);
  const x = (c) => margin + c * colWidth;
  const svg = el('svg', { xmlns: SVG_NS, class: 'ladder', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'ui-monospace, monospace', 'font-size': font });
  const defs = el('defs');
  for (const [kind, color] of Object.entries(COLORS)) {
    defs.append(el('marker', { id: `head-${kind}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: color })));
  }
  svg.append(defs, el('rect', { width, height, fill: '#fff' }));
  ladder.columns.forEach((c, i) => {
    svg.append(
      el('line', { x1: x(i), y1: head - 8, x2: x(i), y2: height, stroke: c.server ? '#999' : '#ccc', 'stroke-dasharray': c.server ? '' : '4 3' }),
      el('text', { x: x(i), y: 18, 'text-anchor': 'middle', 'font-weight': 'bold', 'font-size': font + 2, 'font-family': 'system-ui, sans-serif' }, c.label),
      el('text', { x: x(i), y: 34, 'text-anchor': 'middle', fill: '#777' }, c.sub));
  });
  ladder.arrows.forEach((a, i) => {
    const y = head + row * (i + 1);
    const color = COLORS[a.glare ? 'error' : a.held ? 'held' : a.kind];
    const [x1, x2] = [x(a.from), x(a.to)];
    const g = el('g', { class: 'arrow', 'data-index': i, 'data-kind': a.kind, 'data-method': a.method, 'data-from': ladder.columns[a.from].label, 'data-to': ladder.columns[a.to].label, 'data-outcome': a.outcome });
    if (a.glare) g.setAttribute('data-glare', '');
    if (a.held) g.setAttribute('data-held', '');
    g.append(
      el('title', {}, `${a.label}\n${new Date(a.t).toISOString().slice(11, 23)}${a.room ? ` · room ${a.room}` : ''} · click to open ${a.event ? 'the event' : 'the frame'}`),
      el('line', { x1, y1: y, x2, y2: y, stroke: 'transparent', 'stroke-width': 12 }), // a wider target for the pointer
      el('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -2 : 2), y2: y, stroke: color, 'stroke-width': a.kind === 'relay' ? 2 : 1.4, 'marker-end': `url(#head-${a.glare ? 'error' : a.held ? 'held' : a.kind})`, 'stroke-dasharray': a.kind === 'result' || a.kind === 'error' ? '5 3' : '' }));
    if (a.kind === 'relay') g.append(el('circle', { cx: x(ladder.server), cy: y, r: 3, fill: color }));
    const textX = a.kind === 'relay' ? (x(a.from) + x(ladder.server)) / 2 : (x1 + x2) / 2;
    g.append(el('text', { class: 'label', x: textX, y: y - 5, 'text-anchor': 'middle', fill: color, 'font-weight': a.glare ? 'bold' : 'normal' }, a.glare ? `${a.label}  GLARE` : a.label));
    svg.append(g);
  });
  return svg;
}

/** The SVG as a standalone file. */
export function svgFile(svg) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(svg)}\n`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== '' && k !== 'xmlns') node.setAttribute(k, String(v));
  }
  node.append(...children.filter((c) => c !== undefined && c !== ''));
  return node;
}
