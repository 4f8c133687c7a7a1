/**
 * What a login token may do, over every operation the server documents (read from its own
 * /openapi.json, so a route added later is covered without editing this file): a plain agent
 * (permission 0) reads itself, sets its own status and reads tags; everything else is 403 in the
 * dialect's own envelope. A manager passes the same gate.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

type Operation = [method: string, path: string];

/** What a plain agent may call at all; the service then narrows it to its own agent. */
const PLAIN_AGENT_OPERATIONS = new Set([
  'GET /v1.0/agents/{id}',
  'PUT /v1.0/agents/{id}/status',
  'GET /v1.0/tags',
  'GET /v1.0/tags/{id}',
  'GET /api/agents/{agent_id}',
  'GET /auth/me',
]);

/** Routes without an API key (they authenticate otherwise, like /metrics with its token, or not at all). */
const PUBLIC = [/^\/auth\/login$/, /^\/healthz$/, /^\/readyz$/, /^\/metrics$/, /^\/twilio\//, /^\/relay\//];

/** Routes a manager is refused by rules of their own: minting keys needs admin, tenants are the platform admin's. */
const NOT_FOR_MANAGERS = new Set([
  'GET /v1.0/accesskeys', 'POST /v1.0/accesskeys', 'GET /v1.0/accesskeys/{id}', 'PUT /v1.0/accesskeys/{id}', 'DELETE /v1.0/accesskeys/{id}',
  'GET /tenants', 'POST /tenants', 'DELETE /tenants/{tenant_id}',
]);

/** Left out of the document: the socket, and paths served for older clients. */
const UNDOCUMENTED: Operation[] = [
  ['GET', '/events/ws'],
  ['POST', '/override/text'], ['POST', '/override/dtmf'], ['POST', '/override/transfer'], ['POST', '/override/end'],
];

const GATE = /manager or admin permission/;

for (const db of testDbs()) {
  describe(`what a login token may do (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    let operations: Operation[] = [];
    const agents: Record<'plain' | 'peer' | 'manager', { id: string; username: string; token: string }> = {} as never;

    const v1 = (key: string, method: string, path: string, body?: unknown) => s.request(method, `/v1.0${path}`, { key, body });

    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
      for (const [role, permission] of [['plain', 0], ['peer', 0], ['manager', 64]] as const) {
        const username = `${role}-${randomBytes(4).toString('hex')}`;
        const made = await v1(t.key, 'POST', '/agents', { username, password: 'pw-1', name: role, permission });
        assert.equal(made.status, 200, made.text);
        const login = await s.request('POST', '/auth/login', { key: null, body: { username, password: 'pw-1' } });
        assert.equal(login.status, 200, login.text);
        agents[role] = { id: made.body.id, username, token: login.body.token };
      }
      const doc = (await s.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
      operations = Object.entries(doc.paths)
        .filter(([path]) => !PUBLIC.some((p) => p.test(path)))
        .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => [m.toUpperCase(), path] as Operation));
    });
    after(async () => { await s.close(); });

    /** Path parameters filled with an id that exists nowhere: the permission answer must come first anyway. */
    const concrete = (path: string, id = 'no-such-id') => path.replace(/\{[^}]+\}/g, id);
    const send = (key: string, [method, path]: Operation, id?: string) =>
      s.request(method, concrete(path, id), { key, ...(['POST', 'PUT', 'PATCH'].includes(method) ? { body: {} } : {}) });

    test('the document lists the managing operations of every dialect', () => {
      assert.ok(operations.length >= 50, `only ${operations.length} operations`);
      for (const prefix of ['/phone-endpoints', '/v1.0/', '/sip/', '/call/outbound', '/api/agents', '/api/calls', '/api/v1/telephony/', '/tenants', '/api/override/']) {
        assert.ok(operations.some(([, p]) => p.startsWith(prefix)), `no operation under ${prefix}`);
      }
    });

    test('a permission-0 login token gets 403 on every operation but reading itself, its status and tags', async () => {
      const wrong: string[] = [];
      const refused = [...operations.filter(([m, p]) => !PLAIN_AGENT_OPERATIONS.has(`${m} ${p}`)), ...UNDOCUMENTED];
      for (const op of refused) {
        // Its own id where there is one: being itself does not make a managing operation its own.
        for (const id of [agents.plain.id, 'no-such-id']) {
          const r = await send(agents.plain.token, op, id);
          if (r.status !== 403 || !GATE.test(r.text)) wrong.push(`${op.join(' ')} (${id}) → ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
      assert.ok(refused.length >= 45, `only ${refused.length} refused operations checked`);
      assert.deepEqual(wrong, [], `answered other than 403:\n${wrong.join('\n')}`);
    });

    test('each dialect refuses in its own envelope', async () => {
      const token = agents.plain.token;
      const deployment = await s.request('POST', '/api/agents', { key: token, body: { name: 'x' } });
      assert.equal(deployment.body.error, 'forbidden');
      const trunks = await s.request('GET', '/sip/list', { key: token });
      assert.equal(trunks.body.success, false);
      assert.equal(trunks.body.data, null);
      const telephony = await s.request('GET', '/api/v1/telephony/numbers', { key: token });
      assert.match(telephony.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(telephony.text, GATE);
      const v1Answer = await v1(token, 'GET', '/agents');
      assert.deepEqual(Object.keys(v1Answer.body), ['message']);
      const registrations = await s.request('GET', '/phone-endpoints', { key: token });
      assert.equal(registrations.status, 403);
      assert.match(registrations.text, GATE);
    });

    test('a plain agent reads itself, sets its own status and reads tags (2xx), but not another agent (403)', async () => {
      const { plain, peer } = agents;
      const self = await v1(plain.token, 'GET', `/agents/${plain.id}`);
      assert.equal(self.status, 200, self.text);
      assert.equal(self.body.username, plain.username);
      const status = await v1(plain.token, 'PUT', `/agents/${plain.id}/status`, { status: 'available' });
      assert.equal(status.status, 200, status.text);
      assert.equal(status.body.status, 'available');
      const deployed = await s.request('GET', `/api/agents/${plain.id}`, { key: plain.token });
      assert.equal(deployed.status, 200, deployed.text);
      assert.equal(deployed.body.id, plain.id);
      assert.equal((await v1(plain.token, 'GET', '/tags')).status, 200);

      assert.equal((await v1(plain.token, 'GET', `/agents/${peer.id}`)).status, 403);
      assert.equal((await v1(plain.token, 'PUT', `/agents/${peer.id}/status`, { status: 'away' })).status, 403);
      const other = await s.request('GET', `/api/agents/${peer.id}`, { key: plain.token });
      assert.equal(other.status, 403, 'the deployment API answers like v1.0 for the same agent');
      assert.equal((await v1(plain.token, 'PUT', `/agents/${plain.id}/status`, { status: 'sleeping' })).status, 400);
    });

    test('a manager passes the gate on every operation but the admin-only ones', async () => {
      const wrong: string[] = [];
      for (const op of [...operations, ...UNDOCUMENTED]) {
        if (NOT_FOR_MANAGERS.has(op.join(' '))) continue;
        const r = await send(agents.manager.token, op);
        if (r.status === 403 || r.status === 401 || r.status >= 500) wrong.push(`${op.join(' ')} → ${r.status} ${r.text.slice(0, 120)}`);
      }
      assert.deepEqual(wrong, [], `a manager was refused:\n${wrong.join('\n')}`);
    });

    test('a manager gets 2xx on managing operations of every dialect; the same calls by a plain agent are 403', async () => {
      const n = randomBytes(2).readUInt16BE() % 9000 + 1000;
      const calls: Array<[string, string, unknown?]> = [
        ['POST', '/phone-endpoints', { type: 'phone-registration', registrar: `sip:pbx${n}.example.com:5060`, username: `u${n}`, password: 'pw' }],
        ['GET', '/phone-endpoints'],
        ['POST', '/sip/create-outbound-trunk', {
          trunk_name: 'Carrier', trunk_address: 'example.pstn.twilio.com', trunk_numbers: [`+1555010${n}`],
          trunk_auth_username: 'AC0123456789abcdef0123456789abcdef', trunk_auth_password: `pw-${n}`, trunk_type: 'twilio',
        }],
        ['GET', '/sip/list'],
        ['POST', '/api/v1/telephony/providers', { provider: 'twilio', label: 'T', credentials: { account_sid: `AC${randomBytes(16).toString('hex')}`, auth_token: randomBytes(16).toString('hex') } }],
        ['GET', '/api/v1/telephony/numbers'],
        ['POST', '/api/agents', { name: 'made by a manager' }],
        ['GET', '/api/agents'],
        ['GET', '/api/calls/active'],
        ['GET', '/api/calls/history'],
        ['GET', '/api/analytics/summary'],
        ['GET', `/tenants/${t.id}`],
        ['POST', '/v1.0/tags', { name: `team-${n}` }],
        ['PUT', `/v1.0/agents/${agents.peer.id}/status`, { status: 'away' }],
        ['GET', '/v1.0/agents'],
      ];
      for (const [method, path, body] of calls) {
        const refused = await s.request(method, path, { key: agents.plain.token, body });
        assert.equal(refused.status, 403, `plain agent: ${method} ${path} → ${refused.status}`);
        const r = await s.request(method, path, { key: agents.manager.token, body });
        assert.ok(r.status >= 200 && r.status < 300, `manager: ${method} ${path} → ${r.status} ${r.text.slice(0, 200)}`);
      }
    });

    test('the agent bit (16) alone is still a plain agent', async () => {
      const username = `sixteen-${randomBytes(4).toString('hex')}`;
      const made = await v1(t.key, 'POST', '/agents', { username, password: 'pw-1', name: 'sixteen', permission: 16 });
      const token = (await s.request('POST', '/auth/login', { key: null, body: { username, password: 'pw-1' } })).body.token;
      for (const [method, path] of [['GET', '/sip/list'], ['GET', '/api/calls/active'], ['POST', '/phone-endpoints'], ['GET', '/api/v1/telephony/providers'], ['GET', '/api/agents']]) {
        assert.equal((await s.request(method, path, { key: token, ...(method === 'POST' ? { body: {} } : {}) })).status, 403, `${method} ${path}`);
      }
      assert.equal((await s.request('GET', `/api/agents/${made.body.id}`, { key: token })).status, 200);
    });

    test('tenant access keys stay unrestricted', async () => {
      assert.equal((await s.request('GET', '/sip/list', { key: t.key })).status, 200);
      assert.equal((await v1(t.key, 'GET', '/accesskeys')).status, 200);
      assert.equal((await s.request('GET', `/api/agents/${agents.peer.id}`, { key: t.key })).status, 200);
    });
  });
}
