// "Copy as": one request written as a call of the TypeScript client, of the
// Go client, or as the raw JSON-RPC frame. Go names are derived the way
// api/gen derives them (Camel, GoName with its initialisms; optional
// objects and nullable values are pointers, free-form JSON is
// jsontext.Value), so the Go snippet compiles against the generated api
// package.

/** room.peerJoined → RoomPeerJoined (api/gen Camel). */
export function camel(method) {
  return method.split('.').map((p) => p.slice(0, 1).toUpperCase() + p.slice(1)).join('');
}

// api/gen's initialisms: written in capitals in Go names.
const initialisms = { id: 'ID', sdp: 'SDP', ice: 'ICE', url: 'URL', urls: 'URLs', ttl: 'TTL', ip: 'IP', jwt: 'JWT' };

/** roomId → RoomID, sdpMLineIndex → SDPMLineIndex (api/gen GoName). */
export function goName(name) {
  return name.split(/(?=[A-Z])/).map((w) => initialisms[w.toLowerCase()] ?? w.slice(0, 1).toUpperCase() + w.slice(1)).join('');
}

/** The raw JSON-RPC request. */
export function asJSONRPC(method, params, id = 1) {
  return JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }, null, 2);
}

/** A call of the TypeScript client's typed namespaces: await client.room.join({…}). */
export function asTS(method, params) {
  const args = params && Object.keys(params).length ? JSON.stringify(params, null, 2) : '';
  return `await client.${method}(${args});`;
}

/**
 * A call of the Go client: res, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "demo"}).
 * schemas is the inspector's Schemas over the same OpenRPC document.
 */
export function asGo(schemas, method, params) {
  const p = params && Object.keys(params).length
    ? `&api.${camel(method.name)}Params${structBody(schemas, schemas.paramsSchema(method), params, '')}`
    : 'nil';
  return `res, err := c.${camel(method.name)}(ctx, ${p})`;
}

/** The braces of a struct literal for obj, one field per line. */
function structBody(schemas, schema, obj, indent) {
  const s = schemas.resolve(schema);
  const inner = `${indent}\t`;
  const fields = Object.entries(obj).map(([k, v]) => {
    const sub = s.properties?.[k] ?? {};
    return `${inner}${goName(k)}: ${goValue(schemas, sub, v, (s.required ?? []).includes(k), inner)},\n`;
  });
  return fields.length ? `{\n${fields.join('')}${indent}}` : '{}';
}

/** A Go expression for v of the field whose schema is schema. */
function goValue(schemas, schema, v, required, indent) {
  const { schema: inner, nullable } = schemas.nullable(schema);
  const name = refName(inner);
  const s = schemas.resolve(inner);
  const freeForm = s.type === undefined || (s.type === 'object' && !s.properties);
  if (freeForm) return `jsontext.Value(${JSON.stringify(JSON.stringify(v))})`;
  if (v === null) return 'nil';
  if (s.type === 'object') {
    const pointer = nullable || !required ? '&' : '';
    return `${pointer}api.${name ?? 'struct'}${structBody(schemas, s, v, indent)}`;
  }
  if (s.type === 'array') {
    const items = v.map((item) => goValue(schemas, s.items ?? {}, item, true, indent)).join(', ');
    return `[]${goElemType(schemas, s.items ?? {})}{${items}}`;
  }
  const literal = JSON.stringify(v);
  // A nullable scalar is a pointer: take the address of a typed value.
  return nullable ? `new(${goScalar(s)}(${literal}))` : literal;
}

function goElemType(schemas, schema) {
  const name = refName(schema);
  const s = schemas.resolve(schema);
  if (s.type === 'object') return s.properties ? `api.${name}` : 'jsontext.Value';
  if (s.enum && name) return `api.${name}`;
  return goScalar(s);
}

function goScalar(s) {
  return { string: 'string', integer: 'int64', number: 'float64', boolean: 'bool' }[s.type] ?? 'jsontext.Value';
}

function refName(schema) {
  return typeof schema?.$ref === 'string' ? schema.$ref.split('/').pop() : undefined;
}
