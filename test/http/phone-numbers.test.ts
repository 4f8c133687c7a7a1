import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const TEL = '/api/v1/telephony';
const PN = '/api/phone-numbers';

let serial = 0;
const nextE164 = () => `+1415555${String(2000 + serial++).padStart(4, '0')}`;

for (const db of testDbs()) {
  describe(`deployment phone numbers (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    let agentA: string;
    let agentB: string;
    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
      agentA = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'A' })).id;
      agentB = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'B' })).id;
    });
    after(async () => { await s.close(); });

    /** Numbers enter through the telephony API: both dialects show the same rows. */
    const register = async (key: string, body: Record<string, unknown> = {}) => {
      const r = await s.request('POST', `${TEL}/numbers`, { key, body: { e164: nextE164(), ...body } });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; e164: string };
    };
    const telephonyAgentOf = async (key: string, id: string) =>
      (await s.request('GET', `${TEL}/numbers`, { key })).body.numbers.find((n: any) => n.id === id).agent_id;
    const available = async (key: string) => (await s.request('GET', `${PN}/available`, { key })).body.map((n: any) => n.phone_number);

    test('GET /available lists the tenant\'s numbers no agent has', async () => {
      const own = await s.newTenant();
      const agent = await s.server.services.agents.create({ tenantId: own.id }, { name: 'X' });
      const free = await register(own.key);
      await register(own.key, { agent_id: agent.id });
      const withSid = await register(own.key);
      await s.server.store.db.updateTable('phone_numbers')
        .set({ carrier_sid: 'PN0123456789abcdef0123456789abcdef', friendly_name: 'Support Line', capabilities: JSON.stringify(['voice', 'sms']) })
        .where('id', '=', withSid.id).execute();
      const r = await s.request('GET', `${PN}/available`, { key: own.key });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, [
        { phone_number: free.e164, twilio_sid: null, friendly_name: null, capabilities: ['voice'], status: 'available' },
        { phone_number: withSid.e164, twilio_sid: 'PN0123456789abcdef0123456789abcdef', friendly_name: 'Support Line', capabilities: ['voice', 'sms'], status: 'available' },
      ]);
      const other = await s.newTenant();
      assert.deepEqual((await s.request('GET', `${PN}/available`, { key: other.key })).body, []);
    });

    test('assign links the number to the agent, seen by telephony and gone from /available', async () => {
      const n = await register(t.key);
      const r = await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentA } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { message: r.body.message, agent_id: agentA, phone_number: n.e164 });
      assert.match(r.body.message, /assigned/);
      assert.equal(await telephonyAgentOf(t.key, n.id), agentA);
      assert.ok(!(await available(t.key)).includes(n.e164));
      const again = await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentA } });
      assert.equal(again.status, 200);
    });

    test('a number another agent has is 409 until released', async () => {
      const n = await register(t.key);
      assert.equal((await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentA } })).status, 200);
      const r = await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentB } });
      assert.equal(r.status, 409);
      assert.equal(r.body.error, 'conflict');
      assert.match(r.body.message, new RegExp(agentA));
      assert.equal(await telephonyAgentOf(t.key, n.id), agentA);
      assert.equal((await s.request('POST', `${PN}/${n.e164}/release`, { key: t.key })).status, 200);
      assert.equal((await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentB } })).status, 200);
      assert.equal(await telephonyAgentOf(t.key, n.id), agentB);
    });

    test('a telephony pin shows as assigned here, and a release here shows as unpinned there', async () => {
      const n = await register(t.key);
      assert.ok((await available(t.key)).includes(n.e164));
      assert.equal((await s.request('PATCH', `${TEL}/numbers/${n.id}`, { key: t.key, body: { agent_id: agentA } })).status, 204);
      assert.ok(!(await available(t.key)).includes(n.e164));
      assert.equal((await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: agentB } })).status, 409);
      const rel = await s.request('POST', `${PN}/${encodeURIComponent(n.e164)}/release`, { key: t.key });
      assert.equal(rel.status, 200);
      assert.deepEqual(rel.body, { message: rel.body.message });
      assert.match(rel.body.message, /released/);
      assert.equal(await telephonyAgentOf(t.key, n.id), null);
      assert.ok((await available(t.key)).includes(n.e164));
    });

    test('releasing a number no agent has is a harmless 200', async () => {
      const n = await register(t.key);
      const r = await s.request('POST', `${PN}/${n.e164}/release`, { key: t.key });
      assert.equal(r.status, 200);
      assert.equal(await telephonyAgentOf(t.key, n.id), null);
    });

    test('unknown numbers, other tenants\' numbers and unknown agents are 404', async () => {
      const n = await register(t.key);
      const other = await s.newTenant();
      const otherAgent = await s.server.services.agents.create({ tenantId: other.id }, { name: 'O' });
      const cases: Array<[string, string, unknown, RegExp]> = [
        [t.key, `${PN}/+14155559999/assign`, { agent_id: agentA }, /phone number/],
        [t.key, `${PN}/+14155559999/release`, undefined, /phone number/],
        [other.key, `${PN}/${n.e164}/assign`, { agent_id: otherAgent.id }, /phone number/],
        [other.key, `${PN}/${n.e164}/release`, undefined, /phone number/],
        [t.key, `${PN}/${n.e164}/assign`, { agent_id: 'agent_nobody' }, /agent agent_nobody/],
        [t.key, `${PN}/${n.e164}/assign`, { agent_id: otherAgent.id }, /agent/],
      ];
      for (const [key, path, body, message] of cases) {
        const r = await s.request('POST', path, { key, body });
        assert.equal(r.status, 404, `${path} ${r.text}`);
        assert.equal(r.body.error, 'not_found');
        assert.match(r.body.message, message);
      }
      assert.equal(await telephonyAgentOf(t.key, n.id), null);
    });

    test('bad input is 400 naming the field', async () => {
      const n = await register(t.key);
      const cases: Array<[string, unknown, string]> = [
        [`${PN}/not-a-number/assign`, { agent_id: agentA }, 'phone_number'],
        [`${PN}/12345/release`, undefined, 'phone_number'],
        [`${PN}/${n.e164}/assign`, {}, 'agent_id'],
        [`${PN}/${n.e164}/assign`, { agent_id: '' }, 'agent_id'],
        [`${PN}/${n.e164}/assign`, { agent_id: agentA, priority: 1 }, 'priority'],
      ];
      for (const [path, body, field] of cases) {
        const r = await s.request('POST', path, { key: t.key, body });
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)} → ${r.text}`);
        assert.equal(r.body.error, 'invalid');
        assert.ok(r.body.message.includes(field), `${field} not named in "${r.body.message}"`);
      }
    });

    test('a body over 1 MiB is 413 in the error envelope', async () => {
      const n = await register(t.key);
      const r = await s.request('POST', `${PN}/${n.e164}/assign`, { key: t.key, body: { agent_id: 'x'.repeat(1024 * 1024 + 10) } });
      assert.equal(r.status, 413);
      assert.equal(typeof r.body.error, 'string');
      assert.match(r.body.message, /1 MiB/);
      assert.equal(await telephonyAgentOf(t.key, n.id), null);
    });

    test('missing or invalid keys are 401; the admin must name a tenant', async () => {
      const n = await register(t.key);
      for (const key of [null, 'wrong']) {
        for (const [method, path, body] of [['GET', `${PN}/available`, undefined], ['POST', `${PN}/${n.e164}/assign`, { agent_id: agentA }], ['POST', `${PN}/${n.e164}/release`, undefined]] as const) {
          const r = await s.request(method, path, { key, body });
          assert.equal(r.status, 401, path);
          assert.equal(r.body.error, 'unauthenticated');
          assert.equal(typeof r.body.message, 'string');
        }
      }
      const noTenant = await s.request('GET', `${PN}/available`);
      assert.equal(noTenant.status, 400);
      assert.match(noTenant.body.message, /X-Account-ID/);
      const asAdmin = await s.request('POST', `${PN}/${n.e164}/assign`, { accountId: t.id, body: { agent_id: agentA } });
      assert.equal(asAdmin.status, 200);
      assert.equal(await telephonyAgentOf(t.key, n.id), agentA);
    });
  });
}
