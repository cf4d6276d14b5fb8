// The RPC inspector: any number of independent sessions side by side, each
// a ParleyClient (the same TypeScript client apps use, from /client/) whose
// WebSocket is wrapped to log every frame in and out. The method palette
// and its forms come from the server's own rpc.discover, so new methods
// appear here without touching this page.
import { ParleyClient } from '/client/index.js';
import { Schemas } from './schema.js';
import { asGo, asJSONRPC, asTS } from './copyas.js';
import { browserOffer, gatherCandidates } from './turn.js';

const TRACE_FORMAT = 'parley-inspector-trace/1';

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
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h('textarea', { style: 'position:fixed;opacity:0' }, text);
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
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
    this.opts = opts; // {url, token?, identity?}
    this.frames = []; // {t, dir: 'in'|'out'|'note', text, msg?, imported?}
    this.history = []; // {t, method, params, outcome}
    this.methodsById = new Map(); // request id → method, to name responses
    this.peers = new Set(); // peer ids seen in frames, offered for "to"/"peerId"
    this.rooms = new Set();
    this.el = this.#render();
  }

  get label() {
    return this.client?.session?.identity ?? this.opts.identity ?? `session ${this.n}`;
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
  }

  // ----- rendering -----

  #render() {
    this.ui = {};
    const ui = this.ui;
    ui.title = h('h2', {}, this.opts.identity ?? 'token session');
    ui.state = h('span', { class: 'state' }, 'new');
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
          h('button', { type: 'button', onclick: () => { this.frames = []; ui.log.replaceChildren(); } }, 'clear')),
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
        ui.turnOut));
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
    const first = [...this.methods.keys()].find((n) => n !== 'session.connect') ?? doc.methods?.[0]?.name;
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
        h('select', { class: 'copy-as', onchange: (e) => { this.#copyForm(e.target.value); e.target.value = ''; } },
          h('option', { value: '' }, 'copy as…'), h('option', { value: 'ts' }, 'TS client call'),
          h('option', { value: 'go' }, 'Go client call'), h('option', { value: 'json' }, 'JSON-RPC'))));
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

  /** Reads the form; a field that cannot be parsed is reported like a schema error. */
  #readForm() {
    const params = {};
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
            return { error: { field: f.param.name, reason: `not JSON: ${err.message}` } };
          }
      }
    }
    return { params };
  }

  #showError(err) {
    for (const f of this.fields) f.error.textContent = '';
    if (!err) return;
    const top = err.field.split('.')[0];
    const f = this.fields.find((x) => x.param.name === top) ?? this.fields[0];
    const text = `${err.field || 'params'}: ${err.reason}`;
    if (f) f.error.textContent = text;
    else this.ui.result.replaceChildren(h('div', { class: 'error' }, text));
  }

  /** Validates the form against the schema and sends it; an invalid form is not sent. */
  #sendForm() {
    const method = this.methods.get(this.ui.method.value);
    const { params, error } = this.#readForm();
    const err = error ?? this.schemas.validate(this.schemas.paramsSchema(method), params);
    this.#showError(err);
    if (err) {
      this.ui.result.replaceChildren(h('div', { class: 'error refused' }, 'not sent: fix the field marked above'));
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
      if (err.code === -32602 && err.field !== undefined) this.#showError({ field: err.field, reason: err.data?.reason ?? err.message });
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

  #copyForm(format) {
    const method = this.methods.get(this.ui.method.value);
    const { params, error } = this.#readForm();
    if (error) return this.#showError(error);
    return copyText(this.#copyAs(format, method.name, params));
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

  #frame(dir, text, imported = false) {
    let msg;
    try {
      msg = dir === 'note' ? undefined : JSON.parse(text);
    } catch {
      msg = undefined;
    }
    const frame = { t: Date.now(), dir, text, msg, imported };
    this.frames.push(frame);
    for (const m of Array.isArray(msg) ? msg : msg ? [msg] : []) this.#learn(dir, m);
    this.ui.log.append(this.#frameView(frame));
    this.#applyFilter();
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  }

  /** Remembers request ids (to name responses), and rooms and peers for the forms. */
  #learn(dir, m) {
    if (dir === 'out' && m.method && m.id !== undefined) this.methodsById.set(m.id, m.method);
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
    const method = msgs.map((m) => m.method ?? this.methodsById.get(m.id) ?? '?').join(', ');
    const kind = msgs.length > 1 ? 'batch'
      : one.method && one.id === undefined ? 'notification'
        : one.method ? 'request'
          : one.error ? 'error' : 'result';
    const p = one.params ?? one.result ?? {};
    return { kind, method, room: typeof p.roomId === 'string' ? p.roomId : '', seq: p.seq, one };
  }

  #frameView(frame) {
    const d = this.#describe(frame);
    const arrow = { in: '←', out: '→', note: '·' }[frame.dir];
    const summary = h('summary', {},
      h('span', { class: 'time' }, clock(frame.t)), ` ${arrow} `,
      h('span', { class: 'kind' }, d.kind), ' ',
      h('code', { class: 'm' }, d.method),
      d.room ? h('span', { class: 'room' }, ` room ${d.room}`) : '',
      d.seq !== undefined ? h('span', { class: 'seq' }, ` seq ${d.seq}`) : '',
      d.kind === 'error' ? h('span', { class: 'err' }, ` ${d.one.error.code} ${d.one.error.data?.reason ?? d.one.error.message}`) : '',
      frame.imported ? h('span', { class: 'imported' }, ' (imported)') : '');
    const actions = h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => copyText(frame.msg ? pretty(frame.msg) : frame.text) }, 'copy'));
    if (d.kind === 'request') {
      for (const [format, label] of [['ts', 'as TS'], ['go', 'as Go'], ['json', 'as JSON-RPC']]) {
        actions.append(h('button', { type: 'button', onclick: () => copyText(this.#copyAs(format, d.one.method, d.one.params, d.one.id)) }, label));
      }
    }
    return h('details', {
      class: `frame ${frame.dir} ${d.kind}`,
      dataset: { method: d.method, room: d.room },
    }, summary, actions, h('pre', {}, frame.msg ? pretty(frame.msg) : frame.text));
  }

  #applyFilter() {
    const method = this.ui.filterMethod.value.trim();
    const room = this.ui.filterRoom.value.trim();
    for (const el of this.ui.log.children) {
      el.hidden = (method !== '' && !el.dataset.method.includes(method)) || (room !== '' && !el.dataset.room.includes(room));
    }
  }

  // ----- traces -----

  /** The session's exchange as JSON for a bug report; credentials are redacted. */
  trace() {
    return {
      format: TRACE_FORMAT,
      exportedAt: new Date().toISOString(),
      url: this.opts.url,
      identity: this.client?.session?.identity ?? this.opts.identity,
      frames: this.frames.map(({ t, dir, text, msg }) => ({ t, dir, ...(msg ? { msg: redact(msg) } : { text }) })),
      history: this.history.map(({ t, method, params, outcome }) => ({ t, method, params, outcome })),
    };
  }

  #export() {
    const blob = new Blob([pretty(this.trace())], { type: 'application/json' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `parley-trace-${this.label}-${Date.now()}.json` });
    a.click();
    URL.revokeObjectURL(a.href);
  }

  /** Loads a trace's frames into the log (marked imported) and its requests into the history, to re-send. */
  async #import(file) {
    if (!file) return;
    const trace = JSON.parse(await file.text());
    if (trace.format !== TRACE_FORMAT) throw new Error(`not a ${TRACE_FORMAT} file`);
    this.loadTrace(trace);
    this.ui.importFile.value = '';
  }

  loadTrace(trace) {
    this.#note(`imported trace of ${trace.identity ?? '?'} at ${trace.url ?? '?'} (${trace.exportedAt})`);
    for (const f of trace.frames) this.#frame(f.dir, f.msg ? JSON.stringify(f.msg) : f.text, true);
    for (const e of trace.history) {
      const entry = { ...e, outcome: `imported: ${e.outcome}` };
      this.history.push(entry);
      this.ui.history.prepend(this.#historyItem(entry));
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
window.inspector = { sessions };

async function openSession(opts) {
  const s = new Session(opts);
  sessions.push(s);
  $('sessions').append(s.el);
  try {
    await s.connect();
  } catch (err) {
    console.error(err);
  }
  return s;
}

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
