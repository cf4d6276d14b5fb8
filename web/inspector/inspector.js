// The RPC inspector: any number of independent sessions side by side, each
// a ParleyClient (the same TypeScript client apps use, from /client/) whose
// WebSocket is wrapped to log every frame in and out. The method palette
// and its forms come from the server's own rpc.discover, so new methods
// appear here without touching this page.
import { ParleyClient } from '/client/index.js';
import { Schemas } from './schema.js';
import { asGo, asJSONRPC, asTS } from './copyas.js';
import { browserOffer, gatherCandidates } from './turn.js';
import { buildLadder, buildServerLadder, renderLadder, svgFile } from './ladder.js';
import { eventsView, explainView } from './admin.js';

const TRACE_FORMAT = 'parley-inspector-trace/1';

/** Orders frames of all sessions that share a millisecond (for the ladder). */
let framesLogged = 0;

/** h builds an element: h('div', {class: 'x', onclick}, child, 'text', …). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Copies text; navigator.clipboard exists only in secure contexts (https, localhost). */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // not allowed (no user activation or permission): the old way below
    }
  }
  const area = h('textarea', { style: 'position:fixed;opacity:0' }, text);
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('the browser refused to copy');
}

/** Copies text and says so in `where` for a moment: "copied …", or why not. */
async function copyAndConfirm(text, where, what) {
  try {
    await copyText(text);
    where.textContent = `copied ${what}`;
  } catch (err) {
    where.textContent = `not copied: ${err.message}`;
  }
  clearTimeout(where.timer);
  where.timer = setTimeout(() => { where.textContent = ''; }, 2500);
}

/** Saves text as a file download. */
function download(name, type, text) {
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function clock(t) {
  return new Date(t).toISOString().slice(11, 23);
}

function pretty(v) {
  return JSON.stringify(v, null, 2);
}

/** One connected (or failed, or closed) session and its panel. */
class Session {
  static #count = 0;

  constructor(opts) {
    this.n = ++Session.#count;
    this.opts = opts; // {url, token?, identity?} or, for a trace opened on its own, {identity, peerId, offline: true}
    this.frames = []; // {t, n, dir: 'in'|'out'|'note', text, msg?, imported?}
    this.history = []; // {t, method, params, outcome}
    this.methodsById = new Map(); // request id → {method, room}, to name responses and place them in a room
    this.peers = new Set(); // peer ids seen in frames, offered for "to"/"peerId"
    this.rooms = new Set();
    this.el = this.#render();
  }

  get label() {
    return this.client?.session?.identity ?? this.opts.identity ?? `session ${this.n}`;
  }

  /** The session's peer id: the live session's, or the one a trace recorded. */
  get peerId() {
    return this.client?.session?.peerId ?? this.opts.peerId;
  }

  /** The method of the request with this id. */
  methodOf(id) {
    return this.methodsById.get(id)?.method;
  }

  async connect() {
    const self = this;
    // The client's own WebSocket, with every frame copied to the log.
    class LoggedWebSocket extends WebSocket {
      constructor(url) {
        super(url);
        this.addEventListener('message', (e) => self.#frame('in', String(e.data)));
        this.addEventListener('close', (e) => self.#note(`socket closed ${e.code} ${e.reason}`));
      }

      send(data) {
        self.#frame('out', data);
        super.send(data);
      }
    }
    const { url, token, identity } = this.opts;
    this.#setState('connecting');
    try {
      this.client = await ParleyClient.connect(url, { ...(token ? { token } : { identity }), WebSocket: LoggedWebSocket });
    } catch (err) {
      this.#setState(`failed: ${describeError(err)}`);
      throw err;
    }
    this.client.onState((state, cause) => this.#setState(cause ? `${state} (${cause.message})` : state));
    this.#setState('open');
    const doc = await this.request('rpc.discover');
    this.schemas = new Schemas(doc);
    this.#fillPalette(doc);
  }

  /** The client's generic call (named request in newer clients). */
  request(method, params) {
    const fn = this.client.request ?? this.client.call;
    return fn.call(this.client, method, params);
  }

  close() {
    this.client?.close();
    this.el.remove();
    ladder.update();
  }

  // ----- rendering -----

  #render() {
    this.ui = {};
    const ui = this.ui;
    ui.title = h('h2', {}, this.opts.identity ?? 'token session');
    ui.state = h('span', { class: 'state' }, this.opts.offline ? 'imported' : 'new');
    ui.who = h('div', { class: 'who' });
    ui.method = h('select', { class: 'method', onchange: () => this.#selectMethod(ui.method.value) });
    ui.doc = h('div', { class: 'doc' });
    ui.form = h('form', { class: 'params', onsubmit: (e) => { e.preventDefault(); this.#sendForm(); } });
    ui.result = h('div', { class: 'call-result' });
    ui.filterMethod = h('input', { type: 'search', placeholder: 'filter: method', class: 'filter-method', oninput: () => this.#applyFilter() });
    ui.filterRoom = h('input', { type: 'search', placeholder: 'filter: room', class: 'filter-room', oninput: () => this.#applyFilter() });
    ui.log = h('div', { class: 'log' });
    ui.history = h('ol', { class: 'history' });
    ui.peerList = h('datalist', { id: `peers-${this.n}` });
    ui.roomList = h('datalist', { id: `rooms-${this.n}` });
    ui.turnOut = h('div', { class: 'turn-out' });
    ui.relayOnly = h('input', { type: 'checkbox' });
    ui.diagRoom = h('input', { type: 'text', class: 'diag-room', placeholder: 'room', list: `rooms-${this.n}`, spellcheck: 'false' });
    ui.diagPeer = h('input', { type: 'text', class: 'diag-peer', placeholder: 'peer (optional)', list: `peers-${this.n}`, spellcheck: 'false' });
    ui.diagOut = h('div', { class: 'diag-out' });
    ui.eventsAfter = h('input', { type: 'number', class: 'events-after', min: '0', value: '0', title: 'events after this cursor' });
    ui.eventsOut = h('div', { class: 'events-out' });
    ui.importFile = h('input', { type: 'file', accept: 'application/json,.json', hidden: true, onchange: () => this.#import(ui.importFile.files[0]) });
    return h('section', { class: 'session', dataset: { session: this.opts.identity ?? `s${this.n}` } },
      h('header', {},
        ui.title, ui.state,
        h('button', { type: 'button', class: 'close', title: 'close this session', onclick: () => this.close() }, '×')),
      ui.who, ui.peerList, ui.roomList,
      h('details', { open: true, class: 'call' }, h('summary', {}, 'Call a method'),
        ui.method, ui.doc, ui.form, ui.result),
      h('details', { open: true }, h('summary', {}, 'Frames'),
        h('div', { class: 'filters' }, ui.filterMethod, ui.filterRoom,
          h('button', { type: 'button', onclick: () => { this.frames = []; ui.log.replaceChildren(); ladder.update(); } }, 'clear')),
        ui.log),
      h('details', {}, h('summary', {}, 'History'),
        ui.history,
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'export', onclick: () => this.#export() }, 'export trace'),
          h('button', { type: 'button', class: 'import', onclick: () => ui.importFile.click() }, 'import trace'),
          ui.importFile)),
      h('details', {}, h('summary', {}, 'TURN check'),
        h('p', { class: 'hint' }, 'Gathers ICE candidates in this page with this session\'s iceServers.'),
        h('div', { class: 'row' },
          h('label', {}, ui.relayOnly, ' relay only'),
          h('button', { type: 'button', class: 'gather', onclick: () => this.#turnCheck() }, 'gather candidates')),
        ui.turnOut),
      h('details', { class: 'admin' }, h('summary', {}, 'Diagnostics and events (admin)'),
        h('p', { class: 'hint' }, 'Why a room\'s connections failed: both clients\' reports joined with the TURN server\'s record (admin.diag.explain). The events webhooks deliver, by cursor (admin.events.list). Needs a token with the admin grant.'),
        h('div', { class: 'row' }, ui.diagRoom, ui.diagPeer,
          h('button', { type: 'button', class: 'explain', onclick: () => this.#explain() }, 'explain')),
        ui.diagOut,
        h('div', { class: 'row' }, h('label', {}, 'after ', ui.eventsAfter),
          h('button', { type: 'button', class: 'events', onclick: () => this.#events() }, 'list events')),
        ui.eventsOut));
  }

  #setState(text) {
    this.ui.state.textContent = text;
    this.ui.state.dataset.state = text.split(' ')[0];
    const s = this.client?.session;
    if (s) {
      this.ui.title.textContent = s.identity;
      this.ui.who.textContent = `peer ${s.peerId} · session ${s.sessionId}`;
      this.peers.add(s.peerId);
    }
  }

  #fillPalette(doc) {
    const groups = new Map();
    for (const m of doc.methods ?? []) {
      const ns = m.name.includes('.') ? m.name.slice(0, m.name.lastIndexOf('.')) : m.name;
      if (!groups.has(ns)) groups.set(ns, []);
      groups.get(ns).push(m);
    }
    this.methods = new Map((doc.methods ?? []).map((m) => [m.name, m]));
    this.ui.method.replaceChildren(...[...groups].map(([ns, ms]) =>
      h('optgroup', { label: ns }, ms.map((m) => h('option', { value: m.name, title: m.summary ?? '' }, m.name)))));
    // room.join: what a new user does first.
    const first = this.methods.has('room.join') ? 'room.join' : [...this.methods.keys()].find((n) => n !== 'session.connect') ?? doc.methods?.[0]?.name;
    this.ui.method.value = first;
    this.#selectMethod(first);
  }

  /** Shows method's docs and a form with a valid example. */
  #selectMethod(name, params) {
    const m = this.methods.get(name);
    if (!m) return;
    this.ui.method.value = name;
    const errors = (m.errors ?? []).map((e) => this.schemas.resolve(e)).map((e) => `${e.code} ${e.data?.reason ?? e.message}`);
    this.ui.doc.replaceChildren(
      h('p', { class: 'summary' }, m.summary ?? ''),
      m.description ? h('p', {}, m.description) : '',
      h('p', { class: 'meta' }, `result: ${m.result?.schema?.$ref?.split('/').pop() ?? m.result?.name ?? '—'}`,
        errors.length ? ` · errors: ${errors.join(', ')}` : ''));
    const example = params ?? this.schemas.example(this.schemas.paramsSchema(m), '', (field) => this.#hint(field));
    this.fields = (m.params ?? []).map((p) => this.#field(p, example[p.name]));
    this.ui.form.replaceChildren(
      ...this.fields.map((f) => f.row),
      h('div', { class: 'row' },
        h('button', { class: 'send' }, 'Send'),
        h('select', { class: 'copy-as', onchange: (e) => { this.#copyForm(e.target.value, e.target.selectedOptions[0].textContent); e.target.value = ''; } },
          h('option', { value: '' }, 'copy as…'), h('option', { value: 'ts' }, 'TS client call'),
          h('option', { value: 'go' }, 'Go client call'), h('option', { value: 'json' }, 'JSON-RPC')),
        this.ui.copied = h('span', { class: 'copied', role: 'status' })));
    this.ui.result.replaceChildren();
    // A schema-valid string is not a session description the server can
    // parse: pre-fill sdp with a real one from this browser.
    const sdp = this.fields.find((f) => f.param.name === 'sdp');
    if (sdp && params === undefined) browserOffer().then((text) => { sdp.input.value = text; }, () => {});
  }

  /** A value proposed for a field from what this session has seen. */
  #hint(field) {
    const last = (set) => [...set].at(-1);
    if (field === 'roomId') return last(this.rooms) ?? 'demo';
    if (field === 'to' || field === 'peerId') return [...this.peers].reverse().find((p) => p !== this.client?.session?.peerId);
    if (field === 'identity') return this.client?.session?.identity;
    return undefined;
  }

  /** One param's row: label, input for its kind, and where its error goes. */
  #field(param, value) {
    const kind = this.schemas.fieldKind(param.schema ?? {});
    const s = this.schemas.resolve(this.schemas.nullable(param.schema ?? {}).schema);
    const id = `s${this.n}-${param.name}`;
    let input;
    switch (kind) {
      case 'enum':
        input = h('select', { id },
          param.required ? '' : h('option', { value: '' }, '(absent)'),
          s.enum.map((v) => h('option', { value: JSON.stringify(v) }, String(v))));
        input.value = value === undefined ? '' : JSON.stringify(value);
        break;
      case 'boolean':
        input = h('select', { id },
          param.required ? '' : h('option', { value: '' }, '(absent)'),
          h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
        input.value = value === undefined ? '' : String(value);
        break;
      case 'string':
        input = param.name === 'sdp' || (s.maxLength ?? 0) > 1024
          ? h('textarea', { id, rows: 4, spellcheck: 'false' }, value ?? '')
          : h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', value: value ?? '' });
        if (param.name === 'to' || param.name === 'peerId') input.setAttribute('list', this.ui.peerList.id);
        if (param.name === 'roomId') input.setAttribute('list', this.ui.roomList.id);
        break;
      case 'integer':
      case 'number':
        input = h('input', { id, type: 'text', inputmode: 'numeric', value: value ?? '' });
        break;
      default:
        input = h('textarea', { id, rows: 3, spellcheck: 'false', class: 'json', placeholder: param.required ? 'JSON' : 'JSON (empty: absent)' },
          value === undefined ? '' : pretty(value));
    }
    const error = h('span', { class: 'error', role: 'alert' });
    const extra = param.name === 'sdp'
      ? h('button', { type: 'button', class: 'real-offer', title: 'an offer from a fresh RTCPeerConnection in this page', onclick: async () => { input.value = await browserOffer(); } }, 'browser offer')
      : '';
    const row = h('div', { class: 'field', dataset: { param: param.name } },
      h('label', { for: id }, param.name, param.required ? h('b', { title: 'required' }, ' *') : '',
        h('small', {}, ` ${typeLabel(this.schemas, param.schema ?? {})}`)),
      input, extra, error,
      param.description ? h('small', { class: 'desc' }, param.description) : '');
    return { param, kind, input, error, row };
  }

  /** Reads the form; the fields that cannot be parsed are reported like schema errors. */
  #readForm() {
    const params = {};
    const errors = [];
    for (const f of this.fields) {
      const raw = f.input.value;
      if (raw === '' && (!f.param.required || f.kind !== 'string')) continue;
      switch (f.kind) {
        case 'string':
          // A textarea turns CRLF into LF; SDP lines end in CRLF.
          params[f.param.name] = f.param.name === 'sdp' ? raw.replace(/\r?\n/g, '\r\n') : raw;
          break;
        case 'integer':
        case 'number':
          params[f.param.name] = raw.trim() === '' || Number.isNaN(Number(raw)) ? raw : Number(raw);
          break;
        default:
          try {
            params[f.param.name] = JSON.parse(raw);
          } catch (err) {
            errors.push({ field: f.param.name, reason: `not JSON: ${err.message}` });
          }
      }
    }
    return { params, errors };
  }

  /** Marks each error on its field (every one, not only the first); [] clears them. */
  #showErrors(errors) {
    for (const f of this.fields) f.error.textContent = '';
    const unplaced = [];
    for (const err of errors) {
      const top = err.field.split('.')[0];
      const f = this.fields.find((x) => x.param.name === top);
      const text = `${err.field || 'params'}: ${err.reason}`;
      if (f) f.error.textContent = f.error.textContent ? `${f.error.textContent}; ${text}` : text;
      else unplaced.push(text);
    }
    if (unplaced.length) this.ui.result.replaceChildren(...unplaced.map((text) => h('div', { class: 'error' }, text)));
  }

  /** Validates the form against the schema and sends it; an invalid form is not sent. */
  #sendForm() {
    const method = this.methods.get(this.ui.method.value);
    const { params, errors } = this.#readForm();
    const unreadable = new Set(errors.map((e) => e.field));
    const all = [...errors, ...this.schemas.validateParams(method, params).filter((e) => !unreadable.has(e.field.split('.')[0]))];
    this.#showErrors(all);
    if (all.length) {
      const n = all.length === 1 ? 'the field' : `the ${all.length} fields`;
      this.ui.result.replaceChildren(h('div', { class: 'error refused' }, `not sent: fix ${n} marked above`));
      return;
    }
    this.send(method.name, params);
  }

  async send(method, params) {
    const entry = { t: Date.now(), method, params, outcome: '…' };
    this.history.push(entry);
    const li = this.#historyItem(entry);
    this.ui.history.prepend(li);
    this.ui.result.replaceChildren(h('div', { class: 'pending' }, `${method} sent…`));
    const started = performance.now();
    try {
      const result = await this.request(method, params);
      const ms = Math.round(performance.now() - started);
      entry.outcome = `ok ${ms} ms`;
      this.ui.result.replaceChildren(h('div', { class: 'ok' }, `result in ${ms} ms`), h('pre', {}, pretty(result)));
    } catch (err) {
      const ms = Math.round(performance.now() - started);
      entry.outcome = `error ${err.code ?? ''} ${err.reason ?? ''}`.trim();
      this.ui.result.replaceChildren(
        h('div', { class: 'error' }, `error in ${ms} ms: ${describeError(err)}`),
        err.data !== undefined ? h('pre', {}, pretty(err.data)) : '');
      if (err.code === -32602 && err.field !== undefined) this.#showErrors([{ field: err.field, reason: err.data?.reason ?? err.message }]);
    }
    li.querySelector('.outcome').textContent = entry.outcome;
  }

  #historyItem(entry) {
    return h('li', {},
      h('code', {}, entry.method), ' ', h('span', { class: 'outcome' }, entry.outcome), ' ',
      h('button', { type: 'button', onclick: () => this.send(entry.method, entry.params) }, 're-send'),
      h('button', { type: 'button', onclick: () => this.#selectMethod(entry.method, entry.params) }, 'edit'),
      h('details', {}, h('summary', {}, 'params'), h('pre', {}, pretty(entry.params ?? {}))));
  }

  #copyForm(format, what) {
    const method = this.methods.get(this.ui.method.value);
    const { params, errors } = this.#readForm();
    if (errors.length) return this.#showErrors(errors);
    return copyAndConfirm(this.#copyAs(format, method.name, params), this.ui.copied, `as ${what}`);
  }

  #copyAs(format, method, params, id) {
    const m = this.methods.get(method) ?? { name: method, params: [] };
    switch (format) {
      case 'ts': return asTS(method, params);
      case 'go': return asGo(this.schemas, m, params);
      default: return asJSONRPC(method, params, id);
    }
  }

  // ----- the frame log -----

  #note(text) {
    this.#frame('note', text);
  }

  #frame(dir, text, imported = false, t = Date.now()) {
    let msg;
    try {
      msg = dir === 'note' ? undefined : JSON.parse(text);
    } catch {
      msg = undefined;
    }
    const frame = { t, n: ++framesLogged, dir, text, msg, imported };
    this.frames.push(frame);
    for (const m of Array.isArray(msg) ? msg : msg ? [msg] : []) this.#learn(dir, m);
    frame.el = this.#frameView(frame);
    this.ui.log.append(frame.el);
    this.#applyFilter();
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  }

  /** Remembers request ids (to name responses), and rooms and peers for the forms. */
  #learn(dir, m) {
    if (dir === 'out' && m.method && m.id !== undefined) this.methodsById.set(m.id, { method: m.method, room: m.params?.roomId });
    const p = m.params ?? m.result ?? {};
    const peers = [p.from, p.to, p.peerId, p.self?.peerId, p.peer?.peerId, ...(p.peers ?? []).map((x) => x.peerId)];
    for (const id of peers) {
      if (typeof id === 'string' && !this.peers.has(id)) {
        this.peers.add(id);
        this.ui.peerList.append(h('option', { value: id }));
      }
    }
    if (typeof p.roomId === 'string' && !this.rooms.has(p.roomId)) {
      this.rooms.add(p.roomId);
      this.ui.roomList.append(h('option', { value: p.roomId }));
    }
  }

  /** What a frame is: kind, method (a response is named by its request), room, seq. */
  #describe(frame) {
    const msgs = Array.isArray(frame.msg) ? frame.msg : frame.msg ? [frame.msg] : [];
    if (frame.dir === 'note' || msgs.length === 0) return { kind: frame.dir === 'note' ? 'note' : 'unparsed', method: '', room: '' };
    const one = msgs[0];
    const method = msgs.map((m) => m.method ?? this.methodOf(m.id) ?? '?').join(', ');
    const kind = msgs.length > 1 ? 'batch'
      : one.method && one.id === undefined ? 'notification'
        : one.method ? 'request'
          : one.error ? 'error' : 'result';
    const p = one.params ?? one.result ?? {};
    // A response is in its request's room (a result {} names none).
    const room = typeof p.roomId === 'string' ? p.roomId : this.methodsById.get(one.id)?.room ?? '';
    return { kind, method, room, seq: p.seq, one };
  }

  #frameView(frame) {
    const d = this.#describe(frame);
    frame.method = d.method;
    frame.room = d.room;
    const arrow = { in: '←', out: '→', note: '·' }[frame.dir];
    const summary = h('summary', {},
      h('span', { class: 'time' }, clock(frame.t)), ` ${arrow} `,
      h('span', { class: 'kind' }, d.kind), ' ',
      h('code', { class: 'm' }, d.method),
      d.room ? h('span', { class: 'room' }, ` room ${d.room}`) : '',
      d.seq !== undefined ? h('span', { class: 'seq' }, ` seq ${d.seq}`) : '',
      d.kind === 'error' ? h('span', { class: 'err' }, ` ${d.one.error.code} ${d.one.error.data?.reason ?? d.one.error.message}`) : '',
      frame.imported ? h('span', { class: 'imported' }, ' (imported)') : '');
    const copied = h('span', { class: 'copied', role: 'status' });
    const actions = h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => copyAndConfirm(frame.msg ? pretty(frame.msg) : frame.text, copied, 'the frame') }, 'copy'));
    if (d.kind === 'request') {
      for (const [format, label] of [['ts', 'as TS'], ['go', 'as Go'], ['json', 'as JSON-RPC']]) {
        actions.append(h('button', { type: 'button', onclick: () => copyAndConfirm(this.#copyAs(format, d.one.method, d.one.params, d.one.id), copied, label) }, label));
      }
    }
    actions.append(' ', copied);
    return h('details', {
      class: `frame ${frame.dir} ${d.kind}`,
      dataset: { method: d.method, room: d.room },
    }, summary, actions, h('pre', {}, frame.msg ? pretty(frame.msg) : frame.text));
  }

  /** Whether the log's filters (method, room) let frame through; the ladder follows them too. */
  visible(frame) {
    const method = this.ui.filterMethod.value.trim();
    const room = this.ui.filterRoom.value.trim();
    return (method === '' || frame.method.includes(method)) && (room === '' || frame.room.includes(room));
  }

  #applyFilter() {
    for (const frame of this.frames) frame.el.hidden = !this.visible(frame);
    ladder.update();
  }

  /** Opens frame in the log, scrolls to it and marks it for a moment (from a click on the ladder). */
  reveal(frame) {
    frame.el.open = true;
    frame.el.classList.add('highlight');
    setTimeout(() => frame.el.classList.remove('highlight'), 2500);
    this.ui.log.scrollTop = frame.el.offsetTop - this.ui.log.offsetTop - 8;
    this.el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  // ----- traces -----

  /** The session's exchange as JSON for a bug report; credentials are redacted. */
  trace() {
    return {
      format: TRACE_FORMAT,
      exportedAt: new Date().toISOString(),
      url: this.opts.url,
      identity: this.client?.session?.identity ?? this.opts.identity,
      peerId: this.peerId,
      frames: this.frames.map(({ t, dir, text, msg }) => ({ t, dir, ...(msg ? { msg: redact(msg) } : { text }) })),
      history: this.history.map(({ t, method, params, outcome }) => ({ t, method, params, outcome })),
    };
  }

  #export() {
    download(`parley-trace-${this.label}-${Date.now()}.json`, 'application/json', pretty(this.trace()));
  }

  /** Loads a trace's frames into the log (marked imported) and its requests into the history, to re-send. */
  async #import(file) {
    if (!file) return;
    await importTrace(file, this);
    this.ui.importFile.value = '';
  }

  loadTrace(trace) {
    this.#note(`imported trace of ${trace.identity ?? '?'} at ${trace.url ?? '?'} (${trace.exportedAt})`);
    this.opts.peerId ??= trace.peerId;
    for (const f of trace.frames) this.#frame(f.dir, f.msg ? JSON.stringify(f.msg) : f.text, true, f.t ?? Date.now());
    for (const e of trace.history) {
      const entry = { ...e, outcome: `imported: ${e.outcome}` };
      this.history.push(entry);
      this.ui.history.prepend(this.#historyItem(entry));
    }
  }

  // ----- admin: diagnostics and events -----

  async #explain() {
    const params = { roomId: this.ui.diagRoom.value.trim() };
    if (this.ui.diagPeer.value.trim()) params.peerId = this.ui.diagPeer.value.trim();
    try {
      this.ui.diagOut.replaceChildren(explainView(h, pretty, await this.client.admin.diag.explain(params)));
    } catch (err) {
      this.ui.diagOut.replaceChildren(h('p', { class: 'err' }, describeError(err)));
    }
  }

  async #events() {
    try {
      const list = await this.client.admin.events.list({ after: Number(this.ui.eventsAfter.value) || 0, limit: 100 });
      const last = list.events.at(-1)?.data.cursor;
      this.ui.eventsOut.replaceChildren(eventsView(h, pretty, list),
        list.more ? h('button', { type: 'button', class: 'more', onclick: () => { this.ui.eventsAfter.value = String(last); this.#events(); } }, 'next page') : '');
    } catch (err) {
      this.ui.eventsOut.replaceChildren(h('p', { class: 'err' }, describeError(err)));
    }
  }

  // ----- TURN -----

  async #turnCheck() {
    const iceServers = this.client?.session?.iceServers ?? [];
    const relayOnly = this.ui.relayOnly.checked;
    this.ui.turnOut.replaceChildren(h('p', {}, `gathering with ${iceServers.length} ICE server(s)${relayOnly ? ', relay only' : ''}…`));
    const r = await gatherCandidates(iceServers, { relayOnly });
    const types = relayOnly ? ['relay'] : ['host', 'srflx', 'relay'];
    this.ui.turnOut.replaceChildren(
      h('ul', { class: 'types' }, types.map((t) =>
        h('li', { class: r.types[t] ? 'found' : 'missing', dataset: { type: t } }, `${t}: ${r.types[t] ? `${r.types[t]} found` : 'none'}`))),
      h('p', {}, r.complete ? 'gathering complete' : 'gathering timed out'),
      r.errors.length ? h('ul', { class: 'ice-errors' }, r.errors.map((e) => h('li', {}, `${e.errorCode} ${e.errorText} (${e.url ?? ''})`))) : '',
      h('details', {}, h('summary', {}, `${r.candidates.length} candidates`), h('pre', {}, pretty(r.candidates))),
      h('details', {}, h('summary', {}, 'iceServers'), h('pre', {}, pretty(iceServers))));
  }
}

/** code, message and data.reason of a ParleyError (or any error). */
function describeError(err) {
  const reason = err.reason ?? err.data?.reason;
  return [err.code, err.message, reason && `(${reason})`].filter((x) => x !== undefined && x !== '' && x !== 0).join(' ');
}

/** Drops credentials from a frame: session.connect's token and the resume token. */
function redact(msg) {
  return JSON.parse(JSON.stringify(msg, (k, v) => (k === 'token' || k === 'resumeToken' ? '<redacted>' : v)));
}

function typeLabel(schemas, schema) {
  const { schema: inner, nullable } = schemas.nullable(schema);
  const name = inner.$ref?.split('/').pop();
  const s = schemas.resolve(inner);
  const base = name ?? (s.enum ? 'enum' : s.type ?? 'any JSON');
  return nullable ? `${base} or null` : base;
}

// ----- the page -----

const $ = (id) => document.getElementById(id);
const defaultURL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`;
$('url').value = defaultURL;

/** Every open session, in page order; window.inspector exposes them to tests and the console. */
const sessions = [];

/** The call flow panel: the ladder of every session's frames, redrawn (at most once a frame) as frames come. */
const ladder = {
  pending: false,
  model: undefined,
  update() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  },
  draw() {
    const live = sessions.filter((s) => s.el.isConnected);
    const server = serverView.room !== undefined;
    this.model = server ? buildServerLadder(serverView.peers, serverView.events) : buildLadder(live);
    const view = $('ladderView');
    if (this.model.arrows.length === 0) {
      view.replaceChildren(h('p', { class: 'empty' }, server ? `No signaling in room ${serverView.room} since the watch began.` : 'No frames yet (or none through the frame logs\' filters).'));
      return;
    }
    this.svg = renderLadder(this.model);
    const model = this.model;
    this.svg.addEventListener('click', (e) => {
      const g = e.target.closest('g.arrow');
      if (!g) return;
      const a = model.arrows[Number(g.dataset.index)];
      if (a.event) {
        $('serverEvent').textContent = pretty(a.event);
        $('serverEvent').hidden = false;
        return;
      }
      for (const { session, frame } of a.frames) live[session].reveal(live[session].frames[frame]);
    });
    view.replaceChildren(this.svg);
  },
};

/**
 * The server view: a room's signaling as the server handled it
 * (admin.rooms.watch through the last session opened, with the admin
 * grant), drawn instead of the sessions' frames until stopped.
 */
const serverView = {
  room: undefined,
  peers: [],
  events: [],
  session: undefined,
  off: undefined,
  async watch(room, frames) {
    const s = sessions.filter((x) => x.el.isConnected && x.client).at(-1);
    if (!s) throw new Error('open a session with the admin grant first');
    await this.stop();
    const info = await s.client.admin.rooms.watch({ roomId: room, frames });
    Object.assign(this, { room, peers: info.peers, events: [], session: s });
    this.off = s.client.on('admin.signal', (ev) => {
      if (ev.roomId !== this.room) return;
      this.events.push(ev);
      if (![ev.from, ev.to].every((id) => this.peers.some((p) => p.peerId === id))) this.learnPeers();
      ladder.update();
    });
    ladder.update();
    return s;
  },
  /** Names the peers that joined since the watch began (admin.rooms.get), once at a time. */
  async learnPeers() {
    if (this.learning) return;
    this.learning = true;
    const { room, session } = this;
    try {
      const info = await session.client.admin.rooms.get({ roomId: room });
      if (this.room === room) {
        const known = new Set(this.peers.map((p) => p.peerId));
        this.peers = [...this.peers, ...info.peers.filter((p) => !known.has(p.peerId))];
        ladder.update();
      }
    } catch {
      // the room has gone: its peers stay named by id
    } finally {
      this.learning = false;
    }
  },
  async stop() {
    const { room, session } = this;
    this.off?.();
    Object.assign(this, { room: undefined, peers: [], events: [], session: undefined, off: undefined });
    $('serverEvent').hidden = true;
    if (room !== undefined) await session.client.admin.rooms.unwatch({ roomId: room }).catch(() => {});
    ladder.update();
  },
};

async function openSession(opts) {
  const s = new Session(opts);
  sessions.push(s);
  $('sessions').append(s.el);
  if (opts.offline) return s;
  try {
    await s.connect();
  } catch (err) {
    console.error(err);
  }
  return s;
}

/** Every session's trace in one file: the ladder's export, which "import trace" reopens. */
function traceOfAll() {
  return {
    format: TRACE_FORMAT,
    exportedAt: new Date().toISOString(),
    sessions: sessions.filter((s) => s.el.isConnected).map((s) => s.trace()),
  };
}

/**
 * Opens a trace file: one session's (into `into`, or a session panel of
 * its own) or the ladder's, of several sessions (a panel each, so the
 * ladder draws them again).
 */
async function importTrace(file, into) {
  const trace = JSON.parse(await file.text());
  if (trace.format !== TRACE_FORMAT) throw new Error(`not a ${TRACE_FORMAT} file`);
  if (!trace.sessions && into) {
    into.loadTrace(trace);
    return;
  }
  for (const one of trace.sessions ?? [trace]) {
    const s = await openSession({ identity: one.identity, peerId: one.peerId, url: one.url, offline: true });
    s.loadTrace(one);
  }
}

window.inspector = { sessions, ladder, serverView, traceOfAll };

$('serverView').addEventListener('submit', async (e) => {
  e.preventDefault();
  const room = $('serverRoom').value.trim();
  try {
    const s = await serverView.watch(room, $('serverFrames').checked);
    $('serverState').textContent = `watching ${room} as ${s.label}`;
    $('serverStop').disabled = false;
  } catch (err) {
    $('serverState').textContent = describeError(err);
  }
});
$('serverStop').addEventListener('click', async () => {
  await serverView.stop();
  $('serverState').textContent = '';
  $('serverStop').disabled = true;
});

$('ladderSVG').addEventListener('click', () => {
  ladder.draw();
  download(`parley-ladder-${Date.now()}.svg`, 'image/svg+xml', svgFile(ladder.svg ?? renderLadder(ladder.model)));
});
$('ladderTrace').addEventListener('click', () => download(`parley-trace-${Date.now()}.json`, 'application/json', pretty(traceOfAll())));
$('ladderImportFile').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (file) await importTrace(file);
  e.target.value = '';
});
$('ladderImport').addEventListener('click', () => $('ladderImportFile').click());

$('connect').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token').value.trim();
  const identity = $('identity').value.trim();
  openSession({ url: $('url').value.trim() || defaultURL, ...(token ? { token } : { identity }) });
  $('identity').value = '';
});

// ?identity=alice&identity=bob opens those sessions at once (dev servers).
for (const identity of new URLSearchParams(location.search).getAll('identity')) {
  openSession({ url: defaultURL, identity });
}
