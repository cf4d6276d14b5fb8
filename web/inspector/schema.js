// The JSON Schema side of the inspector, over the OpenRPC document that
// rpc.discover returns: resolve $refs into components, classify a param for
// its form field, validate params before they are sent (so a bad value is
// shown next to its field instead of travelling to the server) and make a
// valid example to pre-fill the form. The server validates again; this only
// saves a round trip and shows where the mistake is.

/** The schemas of one OpenRPC document. */
export class Schemas {
  /** @param {any} doc the OpenRPC document */
  constructor(doc) {
    this.doc = doc;
  }

  /** Follows $ref (JSON pointers into the document) until a schema without one. */
  resolve(schema) {
    let s = schema;
    for (let hops = 0; s && typeof s.$ref === 'string'; hops++) {
      if (hops > 32) throw new Error(`$ref loop at ${schema.$ref}`);
      const ref = s.$ref;
      s = ref.replace(/^#\//, '').split('/')
        .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce((o, k) => o?.[k], this.doc);
      if (!s) throw new Error(`unresolved $ref ${ref}`);
    }
    return s ?? {};
  }

  /**
   * Splits "X or null" (oneOf/anyOf with a null branch, or a type list with
   * "null") into the non-null schema and whether null is allowed.
   */
  nullable(schema) {
    const s = this.resolve(schema);
    const alts = s.oneOf ?? s.anyOf;
    if (alts) {
      const rest = alts.filter((a) => this.resolve(a).type !== 'null');
      if (rest.length === 1 && rest.length < alts.length) return { schema: rest[0], nullable: true };
    }
    if (Array.isArray(s.type) && s.type.includes('null')) {
      const types = s.type.filter((t) => t !== 'null');
      return { schema: { ...s, type: types.length === 1 ? types[0] : types }, nullable: true };
    }
    return { schema, nullable: false };
  }

  /**
   * What form field a schema gets: 'enum' (a select), 'string', 'integer',
   * 'number', 'boolean', or 'json' (a JSON editor for objects, arrays,
   * free-form values and anything nullable).
   */
  fieldKind(schema) {
    const { schema: inner, nullable } = this.nullable(schema);
    const s = this.resolve(inner);
    if (nullable) return 'json';
    if (s.enum) return 'enum';
    if (['string', 'integer', 'number', 'boolean'].includes(s.type)) return s.type;
    return 'json';
  }

  /**
   * The params of an OpenRPC method as one object schema, so a whole
   * params object validates in one pass with dotted field paths.
   */
  paramsSchema(method) {
    const properties = {};
    const required = [];
    for (const p of method.params ?? []) {
      properties[p.name] = p.schema ?? {};
      if (p.required) required.push(p.name);
    }
    return { type: 'object', properties, required, additionalProperties: false };
  }

  /**
   * Every param's first problem, so a form with two bad fields shows both:
   * [{field, reason}], empty when the params are valid.
   */
  validateParams(method, params) {
    const errors = [];
    for (const p of method.params ?? []) {
      if (!(p.name in params)) {
        if (p.required) errors.push({ field: p.name, reason: 'required' });
        continue;
      }
      const err = this.validate(p.schema ?? {}, params[p.name], p.name);
      if (err) errors.push(err);
    }
    for (const name of Object.keys(params)) {
      if (!(method.params ?? []).some((p) => p.name === name)) errors.push({ field: name, reason: 'unknown member' });
    }
    return errors;
  }

  /**
   * The first problem with value, as the server reports it: {field, reason}
   * with field the dotted path ("" for the value itself); null if valid.
   */
  validate(schema, value, field = '') {
    const s = this.resolve(schema);
    const fail = (reason) => ({ field, reason });
    if (s.const !== undefined && !deepEqual(value, s.const)) return fail(`must be ${JSON.stringify(s.const)}`);
    if (s.enum && !s.enum.some((e) => deepEqual(e, value))) return fail(`must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    for (const key of ['oneOf', 'anyOf']) {
      if (!s[key]) continue;
      const errors = s[key].map((alt) => this.validate(alt, value, field));
      const passed = errors.filter((e) => !e).length;
      if (key === 'oneOf' ? passed !== 1 : passed === 0) {
        // A value that is not null failed the non-null branch: say why.
        const { schema: inner, nullable } = this.nullable(s);
        if (nullable && value !== null) return this.validate(inner, value, field);
        // An anyOf of required members (IceCandidateInit): say it as the server does.
        const groups = s[key].map((alt) => this.resolve(alt).required);
        if (isObject(value) && groups.every((g) => Array.isArray(g) && g.length > 0)) {
          return fail(`${groups.map((g) => (g.length > 1 ? `(${g.join(' and ')})` : g[0])).join(' or ')} is required`);
        }
        return fail(passed === 0 ? 'matches none of the allowed forms' : 'matches more than one allowed form');
      }
    }
    for (const sub of s.allOf ?? []) {
      const err = this.validate(sub, value, field);
      if (err) return err;
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => hasType(value, t))) return fail(`must be ${types.map(article).join(' or ')}, not ${article(typeOf(value))}`);
    }
    if (typeof value === 'string') {
      const len = [...value].length;
      if (s.maxLength !== undefined && len > s.maxLength) return fail(`longer than ${s.maxLength} characters`);
      if (s.minLength !== undefined && len < s.minLength) return fail(`shorter than ${s.minLength} characters`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) return fail(`does not match ${s.pattern}`);
    }
    if (typeof value === 'number') {
      if (s.minimum !== undefined && value < s.minimum) return fail(`must be at least ${s.minimum}`);
      if (s.maximum !== undefined && value > s.maximum) return fail(`must be at most ${s.maximum}`);
      if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return fail(`must be more than ${s.exclusiveMinimum}`);
      if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return fail(`must be less than ${s.exclusiveMaximum}`);
    }
    if (Array.isArray(value)) {
      if (s.minItems !== undefined && value.length < s.minItems) return fail(`needs at least ${s.minItems} items`);
      if (s.maxItems !== undefined && value.length > s.maxItems) return fail(`has more than ${s.maxItems} items`);
      if (s.items) {
        for (const [i, item] of value.entries()) {
          const err = this.validate(s.items, item, join(field, i));
          if (err) return err;
        }
      }
    }
    if (isObject(value)) {
      for (const name of s.required ?? []) {
        if (!(name in value)) return { field: join(field, name), reason: 'required' };
      }
      for (const [name, v] of Object.entries(value)) {
        const sub = s.properties?.[name] ?? s.additionalProperties;
        if (sub === false) return { field: join(field, name), reason: 'unknown member' };
        if (sub && sub !== true) {
          const err = this.validate(sub, v, join(field, name));
          if (err) return err;
        }
      }
      if (s.maxProperties !== undefined && Object.keys(value).length > s.maxProperties) return fail(`has more than ${s.maxProperties} members`);
    }
    return null;
  }

  /**
   * A valid value for schema, for pre-filling forms: the schema's own
   * example, default, const or first enum value if it has one, else one
   * made from its constraints. hint(name) may propose a value for a member
   * (a known room or peer id); it is used when it validates.
   */
  example(schema, name = '', hint = () => undefined) {
    const proposed = hint(name);
    if (proposed !== undefined && !this.validate(schema, proposed)) return proposed;
    const s = this.resolve(schema);
    for (const v of [s.examples?.[0], s.default, s.const, s.enum?.[0]]) {
      if (v !== undefined) return v;
    }
    // Alternatives (not an object's anyOf of required members, handled below).
    const alts = s.oneOf ?? (s.properties ? undefined : s.anyOf);
    if (alts) return this.example(alts.find((a) => this.resolve(a).type !== 'null') ?? alts[0], name, hint);
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
    switch (type) {
      case 'string':
        return ['example', 'demo', 'x', '1', ''].find((c) => !this.validate(s, c)) ?? '';
      case 'integer':
      case 'number':
        return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
      case 'boolean':
        return false;
      case 'array':
        return [];
      case 'null':
        return null;
      case 'object': {
        const out = {};
        // The required members, and those of an anyOf's first branch.
        const first = s.anyOf ? this.resolve(s.anyOf[0]) : {};
        for (const member of [...(s.required ?? []), ...(first.required ?? [])]) {
          out[member] = this.example(first.properties?.[member] ?? s.properties?.[member] ?? {}, member, hint);
        }
        return out;
      }
    }
    return {};
  }
}

function join(path, key) {
  return path === '' ? String(key) : `${path}.${key}`;
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

function hasType(v, t) {
  switch (t) {
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'object': return isObject(v);
    case 'array': return Array.isArray(v);
    case 'null': return v === null;
    default: return typeof v === t;
  }
}

function article(t) {
  return /^[aeiou]/.test(t) ? `an ${t}` : t === 'null' ? 'null' : `a ${t}`;
}

function deepEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
