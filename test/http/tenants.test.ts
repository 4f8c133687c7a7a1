import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const label = () => `t${randomBytes(4).toString('hex')}`;

for (const db of testDbs()) {
  describe(`deployment API: /tenants (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    const createTenant = (body: Record<string, unknown>, key?: string | null) => s.request('POST', '/tenants', { body, key });

    test('the platform admin creates a tenant in trial with its limits', async () => {
      const sub = label();
      const r = await createTenant({ name: 'Acme Corporation', subdomain: sub, max_agents: 50, max_concurrent_calls: 200, billing_email: 'billing@acme.com' });
      assert.equal(r.status, 201, r.text);
      assert.equal(typeof r.body.id, 'string');
      assert.equal(r.body.name, 'Acme Corporation');
      assert.equal(r.body.subdomain, sub);
      assert.equal(r.body.status, 'trial');
      assert.match(r.body.created_at, ISO);
      assert.deepEqual(r.body.limits, { max_agents: 50, max_concurrent_calls: 200 });
      assert.equal(r.body.billing_email, 'billing@acme.com');
      const got = await s.request('GET', `/tenants/${r.body.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.limits, { max_agents: 50, max_concurrent_calls: 200 });
    });

    test('a new tenant\'s max_agents is enforced on agent creation', async () => {
      const r = await createTenant({ name: 'Tiny', max_agents: 1 });
      assert.equal(r.status, 201);
      const ok = await s.request('POST', '/api/agents', { accountId: r.body.id, body: { name: 'only one' } });
      assert.equal(ok.status, 201);
      const over = await s.request('POST', '/api/agents', { accountId: r.body.id, body: { name: 'one too many' } });
      assert.equal(over.status, 403);
      assert.match(over.body.message, /max_agents/);
    });

    test('POST validates every field with a 400 naming it', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'n'.repeat(201) }, 'name'],
        [{ name: 'x', subdomain: 'Upper' }, 'subdomain'],
        [{ name: 'x', subdomain: 'has.dot' }, 'subdomain'],
        [{ name: 'x', subdomain: '-leading' }, 'subdomain'],
        [{ name: 'x', subdomain: 'a'.repeat(64) }, 'subdomain'],
        [{ name: 'x', max_agents: 0 }, 'max_agents'],
        [{ name: 'x', max_agents: 100_001 }, 'max_agents'],
        [{ name: 'x', max_agents: 2.5 }, 'max_agents'],
        [{ name: 'x', max_concurrent_calls: -1 }, 'max_concurrent_calls'],
        [{ name: 'x', billing_email: 'not-an-email' }, 'billing_email'],
        [{ name: 'x', plan: 'gold' }, 'plan'],
      ];
      for (const [body, field] of cases) {
        const r = await createTenant(body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)} → ${r.text}`);
        assert.equal(r.body.error, 'invalid');
        assert.match(r.body.message, new RegExp(field), r.body.message);
      }
    });

    test('a duplicate subdomain is 409', async () => {
      const sub = label();
      assert.equal((await createTenant({ name: 'first', subdomain: sub })).status, 201);
      const dup = await createTenant({ name: 'second', subdomain: sub });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error, 'conflict');
      assert.match(dup.body.message, /subdomain/);
    });

    test('only the platform admin creates and lists tenants; a tenant key gets 403', async () => {
      const t = await s.newTenant();
      const create = await createTenant({ name: 'by a tenant' }, t.key);
      assert.equal(create.status, 403);
      assert.equal(create.body.error, 'forbidden');
      const list = await s.request('GET', '/tenants', { key: t.key });
      assert.equal(list.status, 403);
      const asAdmin = await s.request('GET', '/tenants');
      assert.equal(asAdmin.status, 200);
      assert.ok(asAdmin.body.some((x: any) => x.id === t.id));
    });

    test('without a key, or with a wrong key, /tenants is 401', async () => {
      assert.equal((await s.request('GET', '/tenants', { key: null })).status, 401);
      assert.equal((await createTenant({ name: 'x' }, 'dta_wrong')).status, 401);
      assert.equal((await s.request('PATCH', '/tenants/whatever', { key: null, body: { name: 'x' } })).status, 401);
    });

    test('a tenant reads itself; another tenant, or an unknown id, is 404', async () => {
      const t = await s.newTenant();
      const other = await s.newTenant();
      const own = await s.request('GET', `/tenants/${t.id}`, { key: t.key });
      assert.equal(own.status, 200);
      assert.equal(own.body.id, t.id);
      const theirs = await s.request('GET', `/tenants/${other.id}`, { key: t.key });
      assert.equal(theirs.status, 404);
      assert.equal(theirs.body.error, 'not_found');
      assert.equal((await s.request('GET', '/tenants/no-such-tenant')).status, 404);
      assert.equal((await s.request('PATCH', '/tenants/no-such-tenant', { body: { name: 'x' } })).status, 404);
      assert.equal((await s.request('PATCH', `/tenants/${other.id}`, { key: t.key, body: { name: 'x' } })).status, 404);
    });

    test('PATCH moves status trial → active ↔ suspended and changes limits', async () => {
      const t = (await createTenant({ name: 'Lifecycle' })).body;
      const active = await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'active', max_agents: 100, billing_email: 'ops@example.com' } });
      assert.equal(active.status, 200, active.text);
      assert.equal(active.body.status, 'active');
      assert.equal(active.body.limits.max_agents, 100);
      assert.equal(active.body.billing_email, 'ops@example.com');
      const suspended = await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'suspended' } });
      assert.equal(suspended.body.status, 'suspended');
      const back = await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'active' } });
      assert.equal(back.body.status, 'active');
      assert.equal((await s.request('GET', `/tenants/${t.id}`)).body.status, 'active');
    });

    test('PATCH never returns a tenant to trial (400)', async () => {
      const t = (await createTenant({ name: 'No way back' })).body;
      await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'suspended' } });
      const r = await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'trial' } });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /trial/);
      assert.equal((await s.request('GET', `/tenants/${t.id}`)).body.status, 'suspended');
    });

    test('PATCH rejects bad values with 400 naming the field', async () => {
      const t = (await createTenant({ name: 'Strict' })).body;
      for (const [body, field] of [[{ status: 'closed' }, 'status'], [{ max_agents: 0 }, 'max_agents'], [{ max_concurrent_calls: 100_001 }, 'max_concurrent_calls'], [{ billing_email: 'nope' }, 'billing_email'], [{ name: '' }, 'name'], [{ subdomain: 'x' }, 'subdomain']] as const) {
        const r = await s.request('PATCH', `/tenants/${t.id}`, { body });
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
        assert.match(r.body.message, new RegExp(field));
      }
    });

    test('a tenant may rename itself but not change its status or limits (403)', async () => {
      const t = await s.newTenant();
      const renamed = await s.request('PATCH', `/tenants/${t.id}`, { key: t.key, body: { name: 'New Name' } });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.body.name, 'New Name');
      for (const body of [{ status: 'active' }, { max_agents: 1000 }, { max_concurrent_calls: 1000 }]) {
        const r = await s.request('PATCH', `/tenants/${t.id}`, { key: t.key, body });
        assert.equal(r.status, 403, JSON.stringify(body));
        assert.equal(r.body.error, 'forbidden');
      }
      const after = await s.request('GET', `/tenants/${t.id}`, { key: t.key });
      assert.equal(after.body.status, 'trial');
      assert.equal(after.body.name, 'New Name');
    });

    test('a suspended tenant cannot create agents until reactivated', async () => {
      const t = await s.newTenant();
      await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'suspended' } });
      const refused = await s.request('POST', '/api/agents', { key: t.key, body: { name: 'blocked' } });
      assert.equal(refused.status, 403);
      await s.request('PATCH', `/tenants/${t.id}`, { body: { status: 'active' } });
      assert.equal((await s.request('POST', '/api/agents', { key: t.key, body: { name: 'allowed' } })).status, 201);
    });

    describe('DELETE /tenants/{id}', () => {
      /** A tenant with something of everything: key, agent, number, an active line, a finished call. */
      const populated = async () => {
        const t = await s.newTenant();
        const svc = s.server.services;
        const scope = { tenantId: t.id };
        const agent = await svc.agents.create(scope, { name: 'doomed' });
        await svc.numbers.create(scope, { e164: `+4420794${String(70000 + Math.floor(Math.random() * 9999))}`, agentId: agent.id });
        const reg = await s.request('POST', '/phone-endpoints', {
          key: t.key, body: { type: 'phone-registration', registrar: 'sip:pbx.example.com', username: label(), password: 'pw' },
        });
        assert.equal(reg.status, 201, reg.text);
        await s.request('POST', `/phone-endpoints/${reg.body.id}/activate`, { key: t.key });
        const call = await svc.calls.open(scope, { agentId: agent.id, phoneNumber: null, direction: 'inbound', fromNumber: '+15559990000', toNumber: '+15551230000', status: 'ringing' });
        return { t, agent: agent.id, line: reg.body.id as string, callSid: call.callSid };
      };

      test('refuses while the tenant has a live call, then deletes it with all its data', async () => {
        const { t, agent, line, callSid } = await populated();
        const keep = await populated();
        const events: Array<{ type: string; data: Record<string, unknown> }> = [];
        const unsubscribe = s.server.bus.subscribe((e) => events.push(e as never));

        const busy = await s.request('DELETE', `/tenants/${t.id}`);
        assert.equal(busy.status, 409, busy.text);
        assert.match(busy.body.message, /live call/);
        assert.equal((await s.request('GET', `/tenants/${t.id}`)).status, 200);

        await s.server.services.calls.updateStatus(callSid, { status: 'completed' });
        const r = await s.request('DELETE', `/tenants/${t.id}`);
        assert.equal(r.status, 200, r.text);

        assert.equal((await s.request('GET', `/tenants/${t.id}`)).status, 404);
        assert.equal((await s.request('GET', '/api/agents', { key: t.key })).status, 401, 'its keys went with it');
        assert.deepEqual((await s.request('GET', `/api/agents?tenant_id=${t.id}`)).body, []);
        await assert.rejects(s.server.services.agents.get({ tenantId: t.id }, agent));
        assert.equal(await s.server.services.calls.findBySid(callSid), null);
        // Its line is announced as deleted, so the registration engine lets it go.
        await new Promise((resolve) => setTimeout(resolve, 100));
        unsubscribe?.();
        assert.ok(events.some((e) => e.type === 'registration.deleted' && e.data.registration_id === line), JSON.stringify(events.map((e) => e.type)));

        // The other tenant is untouched.
        assert.equal((await s.request('GET', `/phone-endpoints/${keep.line}`, { key: keep.t.key })).status, 200);
        assert.equal((await s.request('GET', `/api/agents/${keep.agent}`, { key: keep.t.key })).status, 200);
        assert.equal((await s.request('DELETE', `/tenants/${t.id}`)).status, 404, 'deleting again: gone');
      });

      test('only the platform admin may delete a tenant, and an unknown one is 404', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        for (const key of [t.key, other.key]) {
          const r = await s.request('DELETE', `/tenants/${t.id}`, { key });
          assert.equal(r.status, 403, r.text);
        }
        assert.equal((await s.request('DELETE', `/tenants/${t.id}`, { key: null })).status, 401);
        assert.equal((await s.request('GET', `/tenants/${t.id}`)).status, 200);
        assert.equal((await s.request('DELETE', '/tenants/no-such-tenant')).status, 404);
      });
    });
  });
}
