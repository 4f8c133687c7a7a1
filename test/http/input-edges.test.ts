/**
 * The edges of input handling every dialect shares: validator messages in our words, router-level
 * errors in the owning dialect's envelope, 405 with Allow, JSON-only bodies, and the headers every
 * answer carries (nosniff, no-store on tokens, CORS for configured origins only).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const APP_ORIGIN = 'https://app.example.com';
const JSON_TYPE = { 'content-type': 'application/json' };

describe('CORS_ORIGINS', () => {
  test('is read as origins, compared as browsers send them; a URL with a path is refused at start', () => {
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: ' https://App.example.com/ , http://localhost:5173' }).corsOrigins,
      ['https://app.example.com', 'http://localhost:5173']);
    assert.throws(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/admin' }), /CORS_ORIGINS: https:\/\/app.example.com\/admin is not an origin/);
    assert.throws(() => loadConfig({ CORS_ORIGINS: 'app.example.com' }), /is not an origin/);
  });
});

for (const db of testDbs()) {
  describe(`input edges (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db, { config: (c) => { c.corsOrigins = [APP_ORIGIN]; } });
      t = await s.newTenant();
    });
    after(async () => { await s.close(); });

    describe('validator messages', () => {
      test('an enum error lists the allowed values', async () => {
        const agent = await s.request('POST', '/api/agents', { key: t.key, body: { name: 'A', type: 'sideways' } });
        assert.equal(agent.status, 400);
        assert.match(agent.body.message, /^type must be one of inbound, outbound/);
        // period was a union of literals, whose failure read "must match a schema in anyOf".
        const summary = await s.request('GET', '/api/analytics/summary?period=decade', { key: t.key });
        assert.equal(summary.status, 400);
        assert.equal(summary.body.message, 'period must be one of day, week, month, year');
      });

      test('no raw validator text: item counts and bounds are said in plain words', async () => {
        const trunk = await s.request('POST', '/sip/create-outbound-trunk', {
          key: t.key,
          body: { trunk_name: 'T', trunk_address: 'sip.example.com', trunk_numbers: [], trunk_auth_username: 'u', trunk_auth_password: 'p', trunk_type: 'twilio' },
        });
        assert.equal(trunk.status, 400);
        assert.equal(trunk.body.message, 'trunk_numbers must not be empty');
        const tenant = await s.request('POST', '/tenants', { body: { name: 'T', max_agents: 100_001 } });
        assert.equal(tenant.status, 400);
        assert.equal(tenant.body.message, 'max_agents must be at most 100000');
        for (const r of [trunk, tenant]) assert.doesNotMatch(r.text, /must NOT|<=|>=|should/);
      });

      test('a wrong type is named with the type expected, and null is not read as 0 or ""', async () => {
        const name = await s.request('POST', '/v1.0/tags', { key: t.key, body: { name: true } });
        assert.equal(name.status, 400);
        assert.equal(name.body.message, 'name must be a string');
        const expire = await s.request('POST', '/v1.0/accesskeys', { key: t.key, body: { name: 'k', expire: null } });
        assert.equal(expire.status, 400);
        assert.equal(expire.body.message, 'expire must be an integer');
        const keys = await s.request('GET', '/v1.0/accesskeys?page_size=100', { key: t.key });
        assert.ok(!keys.body.result.some((k: { name: string }) => k.name === 'k'), 'no key was made from expire: null');
      });

      test('a __proto__ key is refused by name, not as "not valid JSON"', async () => {
        const r = await s.request('POST', '/api/agents', {
          key: t.key, rawBody: '{"name":"A","context_data":{"__proto__":{"admin":true}}}', headers: JSON_TYPE,
        });
        assert.equal(r.status, 400);
        assert.match(r.body.message, /context_data\.__proto__.*__proto__ is not allowed/);
        const top = await s.request('POST', '/v1.0/tags', { key: t.key, rawBody: '{"__proto__":{},"name":"x"}', headers: JSON_TYPE });
        assert.equal(top.status, 400);
        assert.match(top.body.message, /__proto__ is not allowed/);
      });

      test('numbers past what JSON can hold exactly, or past a column, are 400 naming the field', async () => {
        const huge = await s.request('GET', '/v1.0/agents?page_size=1e309', { key: t.key });
        assert.equal(huge.status, 400);
        assert.match(huge.body.message, /^page_size /);
        const agent = await s.request('POST', '/v1.0/agents', { key: t.key, body: { username: `u${randomBytes(3).toString('hex')}`, password: 'pw', name: 'A' } });
        assert.equal(agent.status, 200, agent.text);
        for (const permission of ['1e308', '9007199254740993', '4294967296']) {
          const r = await s.request('PUT', `/v1.0/agents/${agent.body.id}/permission`, { key: t.key, rawBody: `{"permission":${permission}}`, headers: JSON_TYPE });
          assert.equal(r.status, 400, `${permission}: ${r.text}`);
          assert.match(r.body.message, /^permission /);
        }
        const after = await s.request('GET', `/v1.0/agents/${agent.body.id}`, { key: t.key });
        assert.equal(after.body.permission, 0, 'the permission is unchanged, not a silent 0 from 1e308 or a wrapped value');
      });
    });

    describe('bodies are JSON, except where Twilio posts forms', () => {
      test('a form body on a JSON endpoint is 415 and creates nothing', async () => {
        const before = (await s.request('GET', '/v1.0/accesskeys?page_size=100', { key: t.key })).body.result.length;
        const form = await s.request('POST', '/v1.0/accesskeys', { key: t.key, rawBody: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(form.status, 415);
        assert.deepEqual(form.body, { message: 'send the body as application/json' });
        const text = await s.request('POST', '/api/agents', { key: t.key, rawBody: 'name=A', headers: { 'content-type': 'text/plain' } });
        assert.equal(text.status, 415);
        assert.equal(text.body.error, 'unsupported_media_type');
        const after = (await s.request('GET', '/v1.0/accesskeys?page_size=100', { key: t.key })).body.result.length;
        assert.equal(after, before);
      });

      test('the Twilio webhooks still take form bodies (refused for the signature, not the media type)', async () => {
        const r = await s.request('POST', '/twilio/voice', { key: null, rawBody: 'CallSid=CA00', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(r.status, 403);
        assert.match(r.body.message, /X-Twilio-Signature/);
      });
    });

    describe("router-level errors in the owning dialect's envelope", () => {
      test('bad percent-encoding in a path is 400 in each envelope', async () => {
        const v1 = await s.request('GET', '/v1.0/agents/%ZZ', { key: t.key });
        assert.equal(v1.status, 400);
        assert.deepEqual(v1.body, { message: 'the path is not valid percent-encoding' });
        const trunks = await s.request('GET', '/sip/%ZZ', { key: t.key });
        assert.equal(trunks.status, 400);
        assert.deepEqual(trunks.body, { success: false, message: 'the path is not valid percent-encoding', data: null });
        const telephony = await s.request('DELETE', '/api/v1/telephony/numbers/%ZZ', { key: t.key });
        assert.equal(telephony.status, 400);
        assert.match(telephony.headers.get('content-type') ?? '', /^text\/plain/);
        assert.equal(telephony.text, 'the path is not valid percent-encoding');
        const registrations = await s.request('GET', '/phone-endpoints/%ZZ', { key: t.key });
        assert.deepEqual(registrations.body, { success: false, error: 'the path is not valid percent-encoding' });
        assert.equal(v1.headers.get('x-content-type-options'), 'nosniff');
      });

      test('an over-long id is refused by its schema, naming it; a longer one still in the envelope', async () => {
        const long = await s.request('GET', `/v1.0/agents/${'x'.repeat(200)}`, { key: t.key });
        assert.equal(long.status, 400);
        assert.deepEqual(long.body, { message: 'id must be at most 64 characters' });
        const huge = await s.request('GET', `/sip/${'x'.repeat(2000)}`, { key: t.key });
        assert.equal(huge.status, 414);
        assert.equal(huge.body.success, false);
        assert.equal(huge.body.data, null);
      });

      test('an unknown path under a prefix answers in that dialect\'s envelope', async () => {
        const cases: [string, (r: { body: any; text: string }) => void][] = [
          ['/v1.0/nowhere', (r) => assert.deepEqual(r.body, { message: 'no route GET /v1.0/nowhere' })],
          ['/sip/a/b', (r) => assert.deepEqual(r.body, { success: false, message: 'no route GET /sip/a/b', data: null })],
          ['/api/v1/telephony/nowhere', (r) => assert.equal(r.text, 'no route GET /api/v1/telephony/nowhere')],
          ['/api/nowhere', (r) => assert.deepEqual(r.body, { error: 'not_found', message: 'no route GET /api/nowhere' })],
          ['/phone-endpoints/a/b/c', (r) => assert.deepEqual(r.body, { success: false, error: 'no route GET /phone-endpoints/a/b/c' })],
          ['/nowhere', (r) => assert.deepEqual(r.body, { error: 'not_found', message: 'no route GET /nowhere' })],
        ];
        for (const [path, check] of cases) {
          const r = await s.request('GET', path, { key: null });
          assert.equal(r.status, 404, path);
          check(r);
        }
      });

      test('a wrong method is 405 with Allow, in the envelope', async () => {
        const v1 = await s.request('DELETE', '/v1.0/agents', { key: t.key });
        assert.equal(v1.status, 405);
        assert.equal(v1.headers.get('allow'), 'GET, HEAD, POST');
        assert.match(v1.body.message, /DELETE is not allowed on \/v1.0\/agents/);
        const trunk = await s.request('PUT', '/sip/some-trunk', { key: t.key });
        assert.equal(trunk.status, 405);
        assert.equal(trunk.headers.get('allow'), 'DELETE, GET, HEAD');
        assert.equal(trunk.body.success, false);
        const telephony = await s.request('PUT', '/api/v1/telephony/numbers/n1', { key: t.key });
        assert.equal(telephony.status, 405);
        assert.equal(telephony.headers.get('allow'), 'DELETE, PATCH');
        assert.match(telephony.text, /^PUT is not allowed/);
      });
    });

    describe('headers', () => {
      test('every answer carries nosniff, the errors too', async () => {
        for (const [method, path, key] of [['GET', '/healthz', null], ['GET', '/v1.0/agents', t.key], ['GET', '/v1.0/agents', 'wrong'], ['GET', '/nowhere', null]] as const) {
          const r = await s.request(method, path, { key });
          assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${method} ${path} ${r.status}`);
        }
      });

      test('Cache-Control: no-store on answers that carry a token, not on others', async () => {
        const key = await s.request('POST', '/v1.0/accesskeys', { key: t.key, body: { name: 'cached?' } });
        assert.equal(key.status, 200);
        assert.equal(typeof key.body.token, 'string');
        assert.equal(key.headers.get('cache-control'), 'no-store');
        const listed = await s.request('GET', '/v1.0/accesskeys', { key: t.key });
        assert.equal(listed.headers.get('cache-control'), null);
        const login = await s.request('POST', '/auth/login', { key: null, body: { username: 'nobody', password: 'x' } });
        assert.equal(login.headers.get('cache-control'), 'no-store', 'the login route, even when it refuses');
      });

      test('CORS: a configured origin gets its preflight and the allow-origin header, others get nothing', async () => {
        const preflight = await s.request('OPTIONS', '/v1.0/agents', {
          key: null, headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get('access-control-allow-origin'), APP_ORIGIN);
        assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
        assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
        const get = await s.request('GET', '/v1.0/agents', { key: t.key, headers: { origin: APP_ORIGIN } });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get('access-control-allow-origin'), APP_ORIGIN);
        assert.match(get.headers.get('vary') ?? '', /Origin/);
        // Errors the router raises before any hook still let the page read them.
        const badPath = await s.request('GET', '/v1.0/agents/%ZZ', { key: t.key, headers: { origin: APP_ORIGIN } });
        assert.equal(badPath.status, 400);
        assert.equal(badPath.headers.get('access-control-allow-origin'), APP_ORIGIN);

        const other = await s.request('GET', '/v1.0/agents', { key: t.key, headers: { origin: 'https://evil.example.com' } });
        assert.equal(other.status, 200);
        assert.equal(other.headers.get('access-control-allow-origin'), null);
        const otherPreflight = await s.request('OPTIONS', '/v1.0/agents', { key: null, headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
        assert.equal(otherPreflight.headers.get('access-control-allow-origin'), null);
        assert.notEqual(otherPreflight.status, 204);
      });
    });
  });

  describe(`CORS off by default (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    test('with no CORS_ORIGINS no origin is allowed', async () => {
      const r = await s.request('OPTIONS', '/v1.0/agents', { key: null, headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET' } });
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    });
  });
}
