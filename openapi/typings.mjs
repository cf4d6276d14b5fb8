// Runs the official OpenRPC type generator, open-rpc-typings
// (@open-rpc/typings), on api/parley.openrpc.json with TypeScript and Go
// output, and fails if any generated type has a name a person cannot read.
// The tool names a schema after its title and makes one up from a hash of
// its contents when it has none (StringL3D5OrLo), so every schema needs a
// title; and it keeps one schema per title, so two different schemas must
// not share one. A name is readable when it is a schema's title, a
// method's name (room.join → RoomJoin), one of the tool's fixed names
// (AlwaysTrue for `additionalProperties: true`), the document's title (the
// Go interface of the service), or its union of every param and result,
// AnyOf followed by such names.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = new URL('../', import.meta.url);
const docPath = new URL('api/parley.openrpc.json', root).pathname;
const doc = JSON.parse(await readFile(docPath, 'utf8'));
const problems = [];

// Every schema (not a $ref) has a title, and a title names one schema.
const byTitle = new Map();
function visitSchema(s, ptr) {
  if (typeof s !== 'object' || s === null || '$ref' in s) return;
  if (typeof s.title !== 'string') {
    problems.push(`${ptr}: a schema without a title`);
  } else {
    const { description: _d, ...content } = s;
    const key = JSON.stringify(content);
    const seen = byTitle.get(s.title);
    if (seen && seen.key !== key) problems.push(`${ptr}: title ${s.title} also names a different schema at ${seen.ptr}`);
    else byTitle.set(s.title, { key, ptr });
  }
  for (const k of ['oneOf', 'anyOf']) (s[k] ?? []).forEach((sub, i) => visitSchema(sub, `${ptr}/${k}/${i}`));
  for (const [name, sub] of Object.entries(s.properties ?? {})) visitSchema(sub, `${ptr}/properties/${name}`);
  if (s.items) visitSchema(s.items, `${ptr}/items`);
}
for (const [name, s] of Object.entries(doc.components.schemas)) visitSchema(s, `#/components/schemas/${name}`);
for (const [key, list] of [['methods', doc.methods], ['x-notifications', doc['x-notifications'] ?? []]]) {
  list.forEach((m, i) => (m.params ?? []).forEach((p, j) => visitSchema(p.schema, `#/${key}/${i}/params/${j}/schema`)));
}

// The tool's names, in both languages.
const out = await mkdtemp(join(tmpdir(), 'parley-typings-'));
try {
  const bin = new URL('node_modules/.bin/open-rpc-typings', import.meta.url).pathname;
  await promisify(execFile)(bin, ['-d', docPath, '--output-ts', join(out, 'ts'), '--output-go', join(out, 'go')]);
  const ts = await readFile(join(out, 'ts', 'index.ts'), 'utf8');
  const go = await readFile(join(out, 'go', 'index.go'), 'utf8');
  const names = {
    ts: [...ts.matchAll(/^export (?:type|interface|enum) ([A-Za-z0-9_]+)/gm)].map((m) => m[1]),
    go: [...go.matchAll(/^type ([A-Za-z0-9_]+)/gm)].map((m) => m[1]),
  };
  const camel = (method) => method.split('.').map((p) => p[0].toUpperCase() + p.slice(1)).join('');
  // The document's own title names the Go interface of the service.
  const service = doc.info.title.split(/[^A-Za-z0-9]+/).map((w) => w && w[0].toUpperCase() + w.slice(1)).join('');
  const readable = new Set([...byTitle.keys(), ...doc.methods.map((m) => camel(m.name)), service, 'AlwaysTrue', 'AlwaysFalse']);
  // AnyOf + readable names run together: a word break over the readable set.
  const isUnionOfReadable = (name) => {
    if (!name.startsWith('AnyOf')) return false;
    const rest = name.slice('AnyOf'.length);
    const ok = [true];
    for (let i = 1; i <= rest.length; i++) {
      ok[i] = false;
      for (let j = 0; j < i && !ok[i]; j++) ok[i] = ok[j] && readable.has(rest.slice(j, i));
    }
    return rest.length > 0 && ok[rest.length];
  };
  for (const [lang, list] of Object.entries(names)) {
    if (list.length === 0) problems.push(`${lang}: open-rpc-typings declared no types`);
    for (const name of list) {
      if (!readable.has(name) && !isUnionOfReadable(name)) problems.push(`${lang}: type ${name} is not named after a title or a method`);
    }
  }
  if (problems.length === 0) {
    console.log(`ok   api/parley.openrpc.json: open-rpc-typings names all ${names.ts.length} TypeScript and ${names.go.length} Go types after titles`);
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
for (const p of problems) console.error(`FAIL api/parley.openrpc.json: ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
