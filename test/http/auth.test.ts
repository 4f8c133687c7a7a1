import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const uniq = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

for (const db of testDbs()) {
  describe(`POST /auth/login (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    const createAgent = async (tenant: { key: string }, body: Record<string, unknown>) => {
      const r = await s.request('POST', '/v1.0/agents', { key: tenant.key, body: { name: 'Agent', ...body } });
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const login = (username: unknown, password: unknown) =>
      s.request('POST', '/auth/login', { key: null, body: { username, password } });

    test('returns {username, token} and sets an HttpOnly token cookie', async () => {
      const t = await s.newTenant();
      const a = await createAgent(t, { username: uniq('ann'), password: 'correct horse', permission: 16 });
      const r = await login(a.username, 'correct horse');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body).sort(), ['token', 'username']);
      assert.equal(r.body.username, a.username);
      assert.equal(typeof r.body.token, 'string');
      const cookie = r.headers.get('set-cookie') ?? '';
      assert.match(cookie, new RegExp(`^token=${r.body.token.replace(/[-_]/g, '\\$&')};`));
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.match(cookie, /Path=\//);
    });

    test('the token authenticates as the agent, by header and by cookie', async () => {
      const t = await s.newTenant();
      const a = await createAgent(t, { username: uniq('bob'), password: 'pw', permission: 16 });
      const { token } = (await login(a.username, 'pw')).body;
      const viaBearer = await s.request('GET', `/v1.0/agents/${a.id}`, { key: token });
      assert.equal(viaBearer.status, 200);
      assert.equal(viaBearer.body.username, a.username);
      const viaCookie = await s.request('GET', `/v1.0/agents/${a.id}`, { key: null, headers: { cookie: `token=${token}` } });
      assert.equal(viaCookie.status, 200);
    });

    test("the token carries the agent's permission", async () => {
      const t = await s.newTenant();
      const plain = await createAgent(t, { username: uniq('p'), password: 'pw', permission: 16 });
      const admin = await createAgent(t, { username: uniq('a'), password: 'pw', permission: 32 });
      const plainToken = (await login(plain.username, 'pw')).body.token;
      const adminToken = (await login(admin.username, 'pw')).body.token;
      assert.equal((await s.request('GET', '/v1.0/agents', { key: plainToken })).status, 403);
      const list = await s.request('GET', '/v1.0/agents', { key: adminToken });
      assert.equal(list.status, 200);
      assert.equal(list.body.result.length, 2);
    });

    test('wrong password and unknown user are the same 401', async () => {
      const t = await s.newTenant();
      const a = await createAgent(t, { username: uniq('carol'), password: 'right' });
      const wrong = await login(a.username, 'wrong');
      const unknown = await login(uniq('nobody'), 'right');
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.deepEqual(wrong.body, unknown.body);
      assert.deepEqual(Object.keys(wrong.body), ['message']);
      assert.equal(wrong.headers.get('set-cookie'), null);
    });

    test('the same username in two tenants logs into the one whose password matches', async () => {
      const t1 = await s.newTenant();
      const t2 = await s.newTenant();
      const username = uniq('shared');
      const a1 = await createAgent(t1, { username, password: 'one' });
      const a2 = await createAgent(t2, { username, password: 'two' });
      const tok1 = (await login(username, 'one')).body.token;
      const tok2 = (await login(username, 'two')).body.token;
      assert.equal((await s.request('GET', `/v1.0/agents/${a1.id}`, { key: tok1 })).status, 200);
      assert.equal((await s.request('GET', `/v1.0/agents/${a2.id}`, { key: tok1 })).status, 404);
      assert.equal((await s.request('GET', `/v1.0/agents/${a2.id}`, { key: tok2 })).status, 200);
    });

    test('missing fields are 400 naming the field', async () => {
      const r = await s.request('POST', '/auth/login', { key: null, body: { username: 'someone' } });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /password/);
      const r2 = await s.request('POST', '/auth/login', { key: null, body: { password: 'x' } });
      assert.equal(r2.status, 400);
      assert.match(r2.body.message, /username/);
    });

    test('a deleted agent can no longer log in', async () => {
      const t = await s.newTenant();
      const a = await createAgent(t, { username: uniq('gone'), password: 'pw' });
      assert.equal((await login(a.username, 'pw')).status, 200);
      assert.equal((await s.request('DELETE', `/v1.0/agents/${a.id}`, { key: t.key })).status, 200);
      assert.equal((await login(a.username, 'pw')).status, 401);
    });
  });

  describe(`GET /auth/me (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    test('names the credential: platform admin (with and without a tenant), tenant key, login token', async () => {
      const t = await s.newTenant();
      const admin = await s.request('GET', '/auth/me');
      assert.equal(admin.status, 200, admin.text);
      assert.deepEqual(admin.body, { kind: 'platform_admin', tenant_id: null, permission: 65535, agent_id: null });
      const acting = await s.request('GET', '/auth/me', { accountId: t.id });
      assert.equal(acting.body.tenant_id, t.id);
      const key = await s.request('GET', '/auth/me', { key: t.key });
      assert.deepEqual(key.body, { kind: 'access_key', tenant_id: t.id, permission: 65535, agent_id: null });

      const agent = await s.request('POST', '/v1.0/agents', { key: t.key, body: { name: 'Plain', username: uniq('pat'), password: 'pw', permission: 16 } });
      const { token } = (await s.request('POST', '/auth/login', { key: null, body: { username: agent.body.username, password: 'pw' } })).body;
      // A plain agent may ask too: it is how a client learns there is little it may do.
      const me = await s.request('GET', '/auth/me', { key: token });
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.body, { kind: 'login', tenant_id: t.id, permission: 16, agent_id: agent.body.id });
      assert.ok(!me.text.includes(token), 'the answer does not echo the credential');
    });

    test('no key, a wrong key, or the admin naming an unknown tenant is refused', async () => {
      assert.equal((await s.request('GET', '/auth/me', { key: null })).status, 401);
      const wrong = await s.request('GET', '/auth/me', { key: 'not-a-key' });
      assert.equal(wrong.status, 401);
      assert.equal(typeof wrong.body.message, 'string', 'in the agents v1.0 envelope');
      assert.equal((await s.request('GET', '/auth/me', { accountId: 'no-such-tenant' })).status, 404);
    });
  });
}
