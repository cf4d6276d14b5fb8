// The admin panel of a session: why a room's connections failed
// (admin.diag.explain: both clients' diag.report joined with the TURN
// server's record) and the events webhooks deliver (admin.events.list, the
// pull fallback). Both need a session with the admin grant.

/** Renders admin.diag.explain's result with h (inspector.js's builder). */
export function explainView(h, pretty, x) {
  if (!x.pairs.length) return h('p', { class: 'hint' }, `no pair of room ${x.roomId} matches`);
  return h('ol', { class: 'diag-pairs' }, x.pairs.map((p) => {
    const v = p.verdict;
    const name = (s) => (s.identity ? `${s.identity} (${s.peerId})` : s.peerId);
    return h('li', { class: `diag-pair ${v.result}`, dataset: { cause: v.cause, result: v.result } },
      h('div', {}, h('strong', {}, `${name(p.a)} ↔ ${name(p.b)}`), ' ', h('span', { class: 'diag-result' }, v.result),
        v.cause !== 'none' ? [' ', h('code', { class: 'diag-cause' }, v.cause)] : ''),
      h('p', { class: 'diag-explanation' }, v.explanation),
      h('details', {}, h('summary', {}, `evidence (${v.evidence.length})`), h('ul', {}, v.evidence.map((e) => h('li', {}, e)))),
      [p.a, p.b].map((s) => h('details', {}, h('summary', {}, s.report ? `${name(s)}'s report` : `${name(s)}: no report`),
        h('pre', {}, pretty({ reportedAt: s.reportedAt && new Date(s.reportedAt).toISOString(), report: s.report, turn: s.turn })))));
  }));
}

/** Renders admin.events.list's events, oldest first, each expandable. */
export function eventsView(h, pretty, list) {
  if (!list.events.length) return h('p', { class: 'hint' }, 'no event after that cursor');
  return h('ol', { class: 'events' }, list.events.map((e) => {
    const d = e.data;
    const where = d.roomId ? `${d.roomId} #${d.roomSeq}` : (d.sessionId ?? '');
    return h('li', { class: 'event', dataset: { type: e.type, cursor: String(d.cursor) } },
      h('details', {}, h('summary', {}, h('code', {}, String(d.cursor)), ` ${e.type} ${where} ${d.identity ?? ''} ${d.reason ?? d.cause ?? ''}`),
        h('pre', {}, pretty(e))));
  }));
}
