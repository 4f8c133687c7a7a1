import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AgentService, type AgentWithPassword } from '../../../src/domain/agents.js';
import { DomainError } from '../../../src/domain/errors.js';
import { randomIds, systemClock } from '../../../src/domain/ids.js';
import type { Scope } from '../../../src/domain/principal.js';
import type { Tx } from '../../../src/domain/unit-of-work.js';
import { InProcessBus } from '../../../src/events/bus.js';
import { createRepositories, type SqlRepositories } from '../../../src/store/repositories/index.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const agent = (id: string, tenantId: string, createdAt: string, over: Partial<AgentWithPassword> = {}): AgentWithPassword => ({
  id, tenantId, name: `agent ${id}`, detail: '', kind: 'inbound', systemPrompt: '', voice: 'alloy', language: 'en-US',
  greeting: '', personality: '', llmModel: null, contextData: { n: 1 }, deployStatus: 'active', username: null, passwordHash: null,
  presence: 'offline', ringMethod: 'ringall', permission: 0, directHash: `h-${id}`, handler: null, voiceEngine: null,
  totalCalls: 0, totalMinutes: 0, createdAt, updatedAt: createdAt, ...over,
});
const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

for (const kind of testDbs()) {
  describe(`agent repository (${kind})`, () => {
    let store: TestStore;
    let repos: SqlRepositories;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repos = createRepositories(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
      await insertTenant(store, 't3');
    });
    after(() => store.close());

    it('keeps each tenant to its own agents, and usernames unique per tenant', async () => {
      assert.equal(await uow.run((tx) => repos.agents.insert(tx, agent('a', 't1', '2026-01-01T00:00:00.000Z', { username: 'ann' }))), 'inserted');
      await uow.run((tx) => repos.agents.insert(tx, agent('b', 't2', '2026-01-01T00:00:00.000Z', { username: 'ann' })));
      await assert.rejects(uow.run(async (tx) => {
        assert.equal(await repos.agents.insert(tx, agent('x', 't1', '2026-01-01T00:00:00.000Z', { username: 'ann' })), 'username taken');
        throw new Error('taken');
      }), /taken/);
      assert.equal((await repos.agents.get(t1, 'a'))?.contextData.n, 1);
      assert.equal(await repos.agents.get(t1, 'b'), null);
      assert.equal(await repos.agents.findByUsername(t1, 'nobody'), null);
      assert.equal((await repos.agents.findByUsername(t2, 'ann'))?.id, 'b');
      assert.deepEqual((await repos.agents.findByUsernameAnyTenant('ann')).map((a) => a.id).sort(), ['a', 'b']);
      assert.equal(await repos.agents.update(undefined, t1, 'b', { name: 'stolen', updatedAt: '2026-01-02T00:00:00.000Z' }), 'updated');
      assert.equal((await repos.agents.get(t2, 'b'))?.name, 'agent b');
      await uow.run((tx) => repos.agents.insert(tx, agent('c', 't1', '2026-01-01T00:00:00.000Z', { username: 'cid' })));
      assert.equal(await repos.agents.update(undefined, t1, 'c', { username: 'ann', updatedAt: '2026-01-02T00:00:00.000Z' }), 'username taken');
    });

    it('pages newest first over (created_at, id)', async () => {
      await uow.run(async (tx) => {
        await repos.agents.insert(tx, agent('d', 't1', '2026-01-03T00:00:00.000Z', { kind: 'outbound' }));
        await repos.agents.insert(tx, agent('e', 't1', '2026-01-03T00:00:00.000Z'));
      });
      const all = await repos.agents.listNewestFirst(t1, {});
      assert.deepEqual(all.map((a) => a.id), ['e', 'd', 'c', 'a']);
      const next = await repos.agents.listNewestFirst(t1, { before: { createdAt: '2026-01-03T00:00:00.000Z', id: 'e' }, limit: 2 });
      assert.deepEqual(next.map((a) => a.id), ['d', 'c']);
      assert.deepEqual((await repos.agents.listNewestFirst(t1, { kind: 'outbound' })).map((a) => a.id), ['d']);
      assert.deepEqual((await repos.agents.listNewestFirst(null, {})).map((a) => a.id).sort(), ['a', 'b', 'c', 'd', 'e']);
    });

    it('keeps addresses and tags per tenant, and an address to one agent', async () => {
      await store.db.insertInto('tags').values({ id: 'tg', tenant_id: 't1', name: 'sales', detail: '', created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' }).execute();
      await uow.run(async (tx) => {
        await repos.agents.replaceAddresses(tx, t1, 'a', [{ id: 'ad1', type: 'extension', target: '100' }, { id: 'ad2', type: 'tel', target: '+15550100' }]);
        await repos.agents.replaceTags(tx, t1, 'a', ['tg']);
      });
      assert.deepEqual(await repos.agents.takenAddress(undefined, t1, 'c', [{ type: 'extension', target: '100' }]), { type: 'extension', target: '100' });
      assert.equal(await repos.agents.takenAddress(undefined, t1, 'a', [{ type: 'extension', target: '100' }]), null);
      assert.equal(await repos.agents.takenAddress(undefined, t2, null, [{ type: 'extension', target: '100' }]), null);
      await assert.rejects(uow.run(async (tx) => {
        assert.equal(await repos.agents.replaceAddresses(tx, t1, 'c', [{ id: 'ad3', type: 'extension', target: '100' }]), 'address taken');
        throw new Error('taken');
      }), /taken/);
      const details = await repos.agents.details(t1, ['a', 'c']);
      assert.deepEqual(details.get('a'), { addresses: [{ type: 'extension', target: '100' }, { type: 'tel', target: '+15550100' }], tagIds: ['tg'] });
      assert.deepEqual(details.get('c'), { addresses: [], tagIds: [] });
      assert.deepEqual((await repos.agents.details(t2, ['a'])).get('a'), { addresses: [], tagIds: [] });
    });

    it('deletes an agent with its addresses and tags, and nothing of another tenant', async () => {
      await uow.run((tx) => repos.agents.delete(tx, t2, 'a'));
      assert.ok(await repos.agents.get(t1, 'a'));
      await uow.run((tx) => repos.agents.delete(tx, t1, 'a'));
      assert.equal(await repos.agents.get(t1, 'a'), null);
      assert.equal((await store.db.selectFrom('agent_addresses').select('id').where('agent_id', '=', 'a').execute()).length, 0);
      assert.equal((await store.db.selectFrom('agent_tags').select('tag_id').where('agent_id', '=', 'a').execute()).length, 0);
      assert.equal(await repos.agents.takenAddress(undefined, t1, null, [{ type: 'extension', target: '100' }]), null);
    });

    it('lets exactly one of two concurrent creates take the last slot', async () => {
      await store.db.updateTable('tenants').set({ max_agents: 1 }).where('id', '=', 't3').execute();
      // A slow count leaves room for the other create to count too, unless the tenant row is held.
      const slowCount = Object.assign(Object.create(repos.agents) as typeof repos.agents, {
        count: async (tx: Tx, scope: Scope) => {
          const n = await repos.agents.count(tx, scope);
          await new Promise((resolve) => setTimeout(resolve, 50));
          return n;
        },
      });
      const service = new AgentService({
        agents: slowCount, limits: repos.tenants, numbers: repos.phoneNumbers, listeners: repos.registrations,
        tokens: repos.apiKeys, uow, clock: systemClock, ids: randomIds,
      });
      const results = await Promise.allSettled([
        service.create({ tenantId: 't3' }, { name: 'first' }),
        service.create({ tenantId: 't3' }, { name: 'second' }),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(refused.reason instanceof DomainError);
      assert.equal(refused.reason.field, 'max_agents');
      assert.equal((await repos.agents.listNewestFirst({ tenantId: 't3' }, {})).length, 1);
    });
  });
}
