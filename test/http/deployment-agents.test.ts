import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

for (const db of testDbs()) {
  describe(`deployment API: /api/agents (${db})`, () => {
    let s: TestServer;
    let a: { id: string; key: string };
    let b: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db);
      a = await s.newTenant();
      b = await s.newTenant();
    });
    after(async () => { await s.close(); });

    const create = (key: string, body: Record<string, unknown>) => s.request('POST', '/api/agents', { key, body });

    test('POST creates an agent and answers 201 with its id, type, status and creation time', async () => {
      const r = await create(a.key, {
        name: 'Sales Agent', type: 'outbound', system_prompt: 'You sell.', voice: 'nova',
        context_data: { department: 'sales', region: 'west' }, greeting: 'Hi!', language: 'en-GB',
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(typeof r.body.id, 'string');
      assert.equal(r.body.name, 'Sales Agent');
      assert.equal(r.body.type, 'outbound');
      assert.equal(r.body.status, 'active');
      assert.match(r.body.created_at, ISO);

      const got = await s.request('GET', `/api/agents/${r.body.id}`, { key: a.key });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.context_data, { department: 'sales', region: 'west' });
      assert.equal(got.body.system_prompt, 'You sell.');
      assert.equal(got.body.voice, 'nova');
      assert.equal(got.body.greeting, 'Hi!');
      assert.equal(got.body.language, 'en-GB');
      assert.equal(got.body.tenant_id, a.id);
      assert.equal(got.body.phone_number, null);
      assert.equal(got.body.total_calls, 0);
      assert.equal(got.body.total_minutes, 0);
    });

    test('voice_engine: an agent picks the speech engine of the SIP calls Dialtone answers for it; null follows VOICE_ENGINE', async () => {
      const r = await create(a.key, { name: 'Voice', voice_engine: 'realtime' });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.voice_engine, 'realtime');
      const listed = await s.request('GET', '/api/agents', { key: a.key });
      assert.equal(listed.body.find((x: { id: string }) => x.id === r.body.id).voice_engine, 'realtime');
      const off = await s.request('PUT', `/api/agents/${r.body.id}`, { key: a.key, body: { voice_engine: 'offline' } });
      assert.equal(off.body.voice_engine, 'offline');
      const unchanged = await s.request('PUT', `/api/agents/${r.body.id}`, { key: a.key, body: { name: 'Voice 2' } });
      assert.equal(unchanged.body.voice_engine, 'offline');
      const cleared = await s.request('PUT', `/api/agents/${r.body.id}`, { key: a.key, body: { voice_engine: null } });
      assert.equal(cleared.body.voice_engine, null);
      for (const bad of ['whisper', '', 7]) {
        const res = await s.request('PUT', `/api/agents/${r.body.id}`, { key: a.key, body: { voice_engine: bad } });
        assert.equal(res.status, 400, `voice_engine ${JSON.stringify(bad)}: ${res.text}`);
        assert.match(res.text, /voice_engine/);
      }
      const plain = await create(a.key, { name: 'Plain' });
      assert.equal(plain.body.voice_engine, null);
    });

    test('POST rejects bad input with 400 naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ name: 'x', type: 'sideways' }, 'type'],
        [{ name: 'x', status: 'paused' }, 'status'],
        [{ name: 'n'.repeat(201) }, 'name'],
        [{ name: '' }, 'name'],
        [{ type: 'inbound' }, 'name'],
        [{ name: 'x', context_data: 'not an object' }, 'context_data'],
        [{ name: 'x', context_data: [1, 2] }, 'context_data'],
        [{ name: 'x', system_prompt: 'p'.repeat(20_001) }, 'system_prompt'],
        [{ name: 'x', voice: 'v'.repeat(101) }, 'voice'],
        [{ name: 'x', colour: 'blue' }, 'colour'],
      ];
      for (const [body, field] of cases) {
        const r = await create(a.key, body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)} → ${r.text}`);
        assert.equal(r.body.error, 'invalid');
        assert.match(r.body.message, new RegExp(field), r.body.message);
      }
    });

    test('requests without a key, or with a wrong one, are 401 in the deployment envelope', async () => {
      for (const key of [null, 'dtk_not-a-real-key']) {
        const r = await s.request('GET', '/api/agents', { key });
        assert.equal(r.status, 401);
        assert.equal(r.body.error, 'unauthenticated');
        assert.equal(typeof r.body.message, 'string');
      }
      assert.equal((await create(null as never, { name: 'x' })).status, 401);
    });

    test('GET lists the tenant\'s agents and filters by status and type', async () => {
      const t = await s.newTenant();
      await create(t.key, { name: 'in-active', type: 'inbound' });
      await create(t.key, { name: 'out-active', type: 'outbound' });
      await create(t.key, { name: 'in-inactive', type: 'inbound', status: 'inactive' });
      const all = await s.request('GET', '/api/agents', { key: t.key });
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.map((x: any) => x.name).sort(), ['in-active', 'in-inactive', 'out-active']);
      for (const agent of all.body) {
        for (const field of ['id', 'name', 'type', 'phone_number', 'system_prompt', 'voice', 'status', 'created_at', 'total_calls', 'total_minutes', 'tenant_id', 'greeting', 'language', 'context_data']) {
          assert.ok(field in agent, `missing ${field}`);
        }
      }
      const inactive = await s.request('GET', '/api/agents?status=inactive', { key: t.key });
      assert.deepEqual(inactive.body.map((x: any) => x.name), ['in-inactive']);
      const outbound = await s.request('GET', '/api/agents?type=outbound', { key: t.key });
      assert.deepEqual(outbound.body.map((x: any) => x.name), ['out-active']);
      const both = await s.request('GET', '/api/agents?type=inbound&status=active', { key: t.key });
      assert.deepEqual(both.body.map((x: any) => x.name), ['in-active']);
      const bad = await s.request('GET', '/api/agents?status=paused', { key: t.key });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /status/);
    });

    test('a tenant sees only its own agents; naming another tenant_id gives an empty list', async () => {
      const mine = await create(b.key, { name: 'b-only' });
      const listA = await s.request('GET', '/api/agents', { key: a.key });
      assert.ok(!listA.body.some((x: any) => x.id === mine.body.id));
      const other = await s.request('GET', `/api/agents?tenant_id=${b.id}`, { key: a.key });
      assert.equal(other.status, 200);
      assert.deepEqual(other.body, []);
      const own = await s.request('GET', `/api/agents?tenant_id=${b.id}`, { key: b.key });
      assert.ok(own.body.some((x: any) => x.id === mine.body.id));
    });

    test('the platform admin lists across tenants without X-Account-ID and may filter by tenant_id', async () => {
      const inA = await create(a.key, { name: 'seen-by-admin-a' });
      const inB = await create(b.key, { name: 'seen-by-admin-b' });
      const all = await s.request('GET', '/api/agents');
      assert.equal(all.status, 200);
      const ids = all.body.map((x: any) => x.id);
      assert.ok(ids.includes(inA.body.id) && ids.includes(inB.body.id));
      const onlyB = await s.request('GET', `/api/agents?tenant_id=${b.id}`);
      assert.ok(onlyB.body.every((x: any) => x.tenant_id === b.id));
      assert.ok(onlyB.body.some((x: any) => x.id === inB.body.id));
      const actingForA = await s.request('GET', '/api/agents', { accountId: a.id });
      assert.ok(actingForA.body.every((x: any) => x.tenant_id === a.id));
    });

    test('the platform admin creates in a tenant via X-Account-ID or tenant_id, and must name one', async () => {
      const viaHeader = await s.request('POST', '/api/agents', { accountId: a.id, body: { name: 'admin-made' } });
      assert.equal(viaHeader.status, 201, viaHeader.text);
      assert.equal(viaHeader.body.tenant_id, a.id);
      const viaBody = await s.request('POST', '/api/agents', { body: { name: 'admin-made-2', tenant_id: b.id } });
      assert.equal(viaBody.status, 201, viaBody.text);
      assert.equal(viaBody.body.tenant_id, b.id);
      const neither = await s.request('POST', '/api/agents', { body: { name: 'nowhere' } });
      assert.equal(neither.status, 400);
      assert.match(neither.body.message, /X-Account-ID/);
      const unknown = await s.request('POST', '/api/agents', { body: { name: 'nowhere', tenant_id: 'no-such-tenant' } });
      assert.equal(unknown.status, 404);
      const tenantNamingOther = await create(a.key, { name: 'sneaky', tenant_id: b.id });
      assert.equal(tenantNamingOther.status, 404);
    });

    test('GET/PUT/DELETE of an unknown agent or another tenant\'s agent are 404', async () => {
      const theirs = await create(b.key, { name: 'not yours' });
      for (const id of ['00000000-0000-0000-0000-000000000000', theirs.body.id]) {
        for (const [method, body] of [['GET', undefined], ['PUT', { name: 'x' }], ['DELETE', undefined]] as const) {
          const r = await s.request(method, `/api/agents/${id}`, { key: a.key, body });
          assert.equal(r.status, 404, `${method} ${id}`);
          assert.equal(r.body.error, 'not_found');
          assert.match(r.body.message, /agent/);
        }
      }
      assert.equal((await s.request('GET', `/api/agents/${theirs.body.id}`, { key: b.key })).body.name, 'not yours');
    });

    test('PUT updates only the fields sent, and context_data is replaced as a whole', async () => {
      const made = await create(a.key, { name: 'before', system_prompt: 'old', voice: 'alloy', context_data: { a: 1, b: 2 } });
      const r = await s.request('PUT', `/api/agents/${made.body.id}`, { key: a.key, body: { name: 'after', context_data: { c: 3 }, status: 'inactive', type: 'outbound' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.name, 'after');
      assert.equal(r.body.system_prompt, 'old');
      assert.equal(r.body.voice, 'alloy');
      assert.deepEqual(r.body.context_data, { c: 3 });
      assert.equal(r.body.status, 'inactive');
      assert.equal(r.body.type, 'outbound');
      const again = await s.request('GET', `/api/agents/${made.body.id}`, { key: a.key });
      assert.equal(again.body.name, 'after');
      assert.deepEqual(again.body.context_data, { c: 3 });

      for (const [body, field] of [[{ type: 'sideways' }, 'type'], [{ name: 'n'.repeat(201) }, 'name'], [{ context_data: 5 }, 'context_data'], [{ status: 'gone' }, 'status']] as const) {
        const bad = await s.request('PUT', `/api/agents/${made.body.id}`, { key: a.key, body });
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, new RegExp(field));
      }
    });

    test('DELETE removes the agent and says so', async () => {
      const made = await create(a.key, { name: 'short-lived' });
      const r = await s.request('DELETE', `/api/agents/${made.body.id}`, { key: a.key });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { message: 'Agent deleted successfully' });
      assert.equal((await s.request('GET', `/api/agents/${made.body.id}`, { key: a.key })).status, 404);
      assert.equal((await s.request('DELETE', `/api/agents/${made.body.id}`, { key: a.key })).status, 404);
    });

    test('creating beyond the tenant\'s max_agents is 403 naming max_agents', async () => {
      const t = await s.newTenant({ maxAgents: 2 });
      assert.equal((await create(t.key, { name: 'one' })).status, 201);
      assert.equal((await create(t.key, { name: 'two' })).status, 201);
      const third = await create(t.key, { name: 'three' });
      assert.equal(third.status, 403);
      assert.match(third.body.message, /max_agents/);
      assert.equal((await s.request('GET', '/api/agents', { key: t.key })).body.length, 2);
    });

    test('a suspended tenant cannot create agents (403)', async () => {
      const t = await s.newTenant();
      await s.server.services.tenants.patch({ keyId: 'x', kind: 'admin', tenantId: null, isPlatformAdmin: true, permission: 65535, agentId: null }, t.id, { status: 'suspended' });
      const r = await create(t.key, { name: 'nope' });
      assert.equal(r.status, 403);
      assert.match(r.body.message, /suspended/);
    });

    test('an agent made through the agents v1.0 side (with a username) is the same agent here', async () => {
      const made = await s.server.services.agents.create({ tenantId: a.id }, { name: 'Call-center Carol', username: `carol-${db}`, kind: 'inbound' });
      const r = await s.request('GET', `/api/agents/${made.id}`, { key: a.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.name, 'Call-center Carol');
      assert.equal(r.body.type, 'inbound');
      assert.equal(r.body.status, 'active');
      const put = await s.request('PUT', `/api/agents/${made.id}`, { key: a.key, body: { system_prompt: 'Be brief.' } });
      assert.equal(put.status, 200);
      const seen = await s.server.services.agents.get({ tenantId: a.id }, made.id);
      assert.equal(seen.systemPrompt, 'Be brief.');
      assert.equal(seen.username, `carol-${db}`);
    });

    test('a plain agent\'s login token reads itself only; listing, reading others, creating, changing, deleting are 403', async () => {
      const self = await s.server.services.agents.create({ tenantId: a.id }, { name: 'Plain Pat', username: `pat-${db}` });
      const other = await s.server.services.agents.create({ tenantId: a.id }, { name: 'Other Olga', username: `olga-${db}` });
      const token = await s.server.services.keys.mintLoginToken({ tenantId: a.id }, self.id, 0, `pat-${db}`);
      const mine = await s.request('GET', `/api/agents/${self.id}`, { key: token });
      assert.equal(mine.status, 200);
      assert.equal(mine.body.name, 'Plain Pat');
      const refused = [
        await s.request('GET', '/api/agents', { key: token }),
        await s.request('GET', `/api/agents/${other.id}`, { key: token }),
        await create(token, { name: 'made by pat' }),
        await s.request('PUT', `/api/agents/${self.id}`, { key: token, body: { system_prompt: 'x' } }),
        await s.request('DELETE', `/api/agents/${self.id}`, { key: token }),
      ];
      for (const r of refused) {
        assert.equal(r.status, 403);
        assert.equal(r.body.error, 'forbidden');
      }
      assert.equal((await s.request('GET', `/api/agents/${self.id}`, { key: a.key })).status, 200);
    });

    test('phone_number shows the first number linked to the agent', async () => {
      const made = await create(a.key, { name: 'with a line' });
      const now = new Date().toISOString();
      const e164 = db === 'sqlite' ? '+15550100001' : '+15550100002';
      await s.server.store.db.insertInto('phone_numbers').values({
        id: `pn-${made.body.id}`, tenant_id: a.id, e164, provider: null, credentials_id: null, agent_id: made.body.id,
        inbound_enabled: 1, outbound_enabled: 1, friendly_name: null, carrier_sid: null, capabilities: '[]', created_at: now, updated_at: now,
      }).execute();
      assert.equal((await s.request('GET', `/api/agents/${made.body.id}`, { key: a.key })).body.phone_number, e164);
      const listed = (await s.request('GET', '/api/agents', { key: a.key })).body.find((x: any) => x.id === made.body.id);
      assert.equal(listed.phone_number, e164);
    });
  });
}
