/**
 * Bad input on every operation the server documents, generated from its own /openapi.json: NUL
 * characters, wrong JSON types per property, deep nesting, numbers no column holds, %00 in path
 * ids and query values. Nothing may answer 5xx, no wrong-typed body may be accepted, and each
 * refusal is a 400 that names the field. Runs on both databases: PostgreSQL refuses the NUL that
 * SQLite stores, so the two only agree if the server refuses it first.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minLength?: number;
  minimum?: number;
  minItems?: number;
  format?: string;
  additionalProperties?: boolean | Schema;
  nullable?: boolean;
};
type Parameter = { name: string; in: 'path' | 'query' | 'header' | 'cookie'; schema?: Schema };
type Operation = { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> } };

interface Case {
  what: string;
  path: string;
  query?: string;
  /** Raw JSON text, so numbers like 1e309 or 2^53+1 reach the server as written. */
  body?: string;
  /** The field the 400 must name; absent where any non-5xx answer is acceptable. */
  field?: string;
  /** A wrong-typed or otherwise refused input: any 2xx is a failure. */
  refuse: boolean;
}

/** OpenAPI 3.0 writes `['string', 'null']` as `type: string, nullable: true`. */
function typesOf(s: Schema | undefined): string[] {
  if (s?.type === undefined) return [];
  const types = Array.isArray(s.type) ? s.type : [s.type];
  return s.nullable ? [...types, 'null'] : types;
}

/** A value the schema accepts, so the one bad property is what the server has to notice. */
function sample(s: Schema | undefined): unknown {
  if (!s) return 'x';
  if (s.enum?.length) return s.enum[0];
  const [t] = typesOf(s).filter((x) => x !== 'null');
  switch (t) {
    case 'string': return s.format === 'email' ? 'sweep@example.com' : s.format === 'date-time' ? '2026-01-01T00:00:00Z' : 'x'.repeat(Math.max(1, s.minLength ?? 1));
    case 'integer': case 'number': return Math.max(1, s.minimum ?? 1);
    case 'boolean': return true;
    case 'array': return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items));
    case 'object': return Object.fromEntries(Object.entries(s.properties ?? {}).filter(([k]) => s.required?.includes(k)).map(([k, v]) => [k, sample(v)]));
    default: return 'x';
  }
}

/** JSON values of every type the schema does not allow, written as JSON text. */
function wrongTypes(s: Schema): string[] {
  const allowed = new Set(typesOf(s));
  if (allowed.size === 0) return [];
  if (allowed.has('integer')) allowed.add('number');
  const byType: Record<string, string[]> = {
    string: ['"1"', '"true"'],
    number: ['1', '1.5'],
    boolean: ['true'],
    null: ['null'],
    object: ['{}'],
    array: ['[]', '["x"]'],
  };
  const out: string[] = [];
  for (const [type, values] of Object.entries(byType)) {
    if (allowed.has(type)) continue;
    // 1.5 is a number, but not one an integer property takes.
    out.push(...values);
  }
  if (allowed.has('integer') && !typesOf(s).includes('number')) out.push('1.5');
  return [...new Set(out)];
}

const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function fill(path: string, params: Parameter[], bad?: { name: string; value: string }): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (bad?.name === name) return bad.value;
    return encodeURIComponent(String(sample(params.find((p) => p.name === name)?.schema)));
  });
}

function casesFor(path: string, op: Operation): Case[] {
  const params = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query');
  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  const base = bodySchema ? (sample(bodySchema) as Record<string, unknown>) : undefined;
  const baseText = base === undefined ? undefined : JSON.stringify(base);
  const okPath = fill(path, params);
  const cases: Case[] = [];
  // The plausible body itself: whatever the service makes of it, it is not a 5xx.
  cases.push({ what: 'plausible input', path: okPath, body: baseText, refuse: false });

  for (const p of params.filter((x) => x.in === 'path')) {
    cases.push({ what: `%00 as path ${p.name}`, path: fill(path, params, { name: p.name, value: 'a%00b' }), body: baseText, field: p.name, refuse: true });
  }
  for (const p of params.filter((x) => x.in === 'query')) {
    cases.push({ what: `%00 in query ${p.name}`, path: okPath, query: `${p.name}=a%00b`, body: baseText, field: p.name, refuse: true });
    if (typesOf(p.schema).some((t) => t === 'integer' || t === 'number')) {
      for (const n of ['1e309', '-1e309', '99999999999999999999', '1e308']) {
        cases.push({ what: `query ${p.name}=${n}`, path: okPath, query: `${p.name}=${n}`, body: baseText, field: p.name, refuse: true });
      }
    }
  }

  if (bodySchema && base) {
    const splice = (name: string, json: string) => {
      const { [name]: _omit, ...rest } = base;
      const restText = JSON.stringify(rest);
      return restText === '{}' ? `{${JSON.stringify(name)}:${json}}` : `{${JSON.stringify(name)}:${json},${restText.slice(1)}`;
    };
    for (const wrong of ['[]', '"x"', '1', 'true', 'null', '[{}]']) {
      if (typesOf(bodySchema).includes('object')) cases.push({ what: `body ${wrong}`, path: okPath, body: wrong, field: 'body', refuse: true });
    }
    cases.push({ what: 'body nested 20,000 deep', path: okPath, body: `[${deep(20_000)}]`, field: 'body', refuse: true });
    for (const [name, prop] of Object.entries(bodySchema.properties ?? {})) {
      for (const wrong of wrongTypes(prop)) {
        cases.push({ what: `${name}: ${wrong}`, path: okPath, body: splice(name, wrong), field: name, refuse: true });
      }
      const types = typesOf(prop);
      if (types.includes('string') || types.length === 0) {
        cases.push({ what: `${name}: NUL string`, path: okPath, body: splice(name, '"a\\u0000b"'), field: name, refuse: true });
      }
      if (types.includes('object') || types.length === 0) {
        cases.push({ what: `${name}: nested 20,000 deep`, path: okPath, body: splice(name, deep(20_000)), field: name, refuse: true });
        cases.push({ what: `${name}: NUL in a key`, path: okPath, body: splice(name, '{"a\\u0000b":"c"}'), field: name, refuse: true });
        cases.push({ what: `${name}: NUL in a nested value`, path: okPath, body: splice(name, '{"k":{"v":"a\\u0000b"}}'), field: name, refuse: true });
      }
      if (types.includes('array') && typesOf(prop.items).includes('string')) {
        cases.push({ what: `${name}: NUL in an item`, path: okPath, body: splice(name, '["a\\u0000b"]'), field: name, refuse: true });
      }
      if (types.includes('integer') || types.includes('number')) {
        for (const n of ['1e309', '-1e309', '9007199254740993', '1e308', '123456789012345678901234567890']) {
          cases.push({ what: `${name}: ${n}`, path: okPath, body: splice(name, n), field: name, refuse: true });
        }
        // Past a 32-bit column but within JavaScript's safe integers: refused or stored, never a 5xx.
        cases.push({ what: `${name}: 2^31`, path: okPath, body: splice(name, '2147483648'), refuse: false });
      }
    }
  }
  return cases;
}

/** Each answer's text, whatever the dialect's envelope (JSON or plain text), searched for the field's name as a word ("id" is not in "invalid"). */
function namesField(text: string, field: string): boolean {
  const name = field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`).test(text);
}

for (const db of testDbs()) {
  describe(`bad input on every documented operation (${db})`, () => {
    let s: TestServer;
    let tenant: { id: string; key: string };
    let operations: [string, string, Operation][] = [];

    before(async () => {
      s = await startTestServer(db);
      tenant = await s.newTenant();
      const doc = (await s.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
      operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => [m.toUpperCase(), path, op] as [string, string, Operation]));
    });
    after(async () => { await s.close(); });

    test('the document lists the operations the sweep needs', () => {
      assert.ok(operations.length >= 50, `only ${operations.length} operations in /openapi.json`);
      assert.ok(operations.some(([m, p]) => m === 'POST' && p === '/auth/login'));
    });

    test('no 5xx, no wrong-typed body accepted, every refusal a 400 naming the field', async () => {
      const failures: string[] = [];
      let sent = 0;
      for (const [method, path, op] of operations) {
        for (const c of casesFor(path, op)) {
          // The platform admin acting for the tenant may call every route, the tenant-only and admin-only alike.
          const url = c.query ? `${c.path}${c.path.includes('?') ? '&' : '?'}${c.query}` : c.path;
          const r = await s.request(method, url, {
            accountId: tenant.id,
            rawBody: c.body,
            headers: c.body === undefined ? {} : { 'content-type': 'application/json' },
          });
          sent++;
          const at = `${method} ${path} [${c.what}] → ${r.status} ${r.text.slice(0, 160)}`;
          // /readyz answering 503 on this HTTP-only server (no SIP) is its report, not a failure.
          if (r.status >= 500 && !(path === '/readyz' && r.status === 503)) failures.push(at);
          else if (c.refuse && r.status < 300) failures.push(`accepted: ${at}`);
          else if (c.field && (r.status !== 400 || !namesField(r.text, c.field))) failures.push(`not a 400 naming ${c.field}: ${at}`);
        }
      }
      assert.ok(sent > 500, `only ${sent} requests sent`);
      assert.deepEqual(failures, [], `${failures.length} of ${sent} requests answered wrongly:\n${failures.join('\n')}`);
    });

    test('the sweep passes no credential on the public login: the unauthenticated route is guarded too', async () => {
      for (const body of ['{"username":"a\\u0000b","password":"x"}', '{"username":"a","password":"x\\u0000"}', '{"username":true,"password":"x"}', `{"username":"a","password":${deep(20_000)}}`]) {
        const r = await s.request('POST', '/auth/login', { key: null, rawBody: body, headers: { 'content-type': 'application/json' } });
        assert.equal(r.status, 400, `${body.slice(0, 60)} → ${r.status} ${r.text}`);
        assert.match(r.body.message, /username|password/);
      }
    });
  });
}
