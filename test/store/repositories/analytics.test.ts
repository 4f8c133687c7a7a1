import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CallBucket } from '../../../src/domain/analytics.js';
import { SqlAnalyticsRepository } from '../../../src/store/repositories/analytics.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

async function insertAgent(store: TestStore, id: string, tenantId: string): Promise<void> {
  const now = '2026-01-01T00:00:00.000Z';
  await store.db.insertInto('agents').values({
    id, tenant_id: tenantId, name: `agent ${id}`, detail: '', kind: 'inbound', system_prompt: '', voice: 'alloy', language: 'en',
    greeting: '', personality: '', llm_model: null, context_data: '{}', deploy_status: 'active', username: null, password_hash: null,
    presence: 'available', ring_method: 'ringall', permission: 0, direct_hash: null, handler: null, voice_engine: null,
    total_calls: 0, total_minutes: 0, created_at: now, updated_at: now,
  }).execute();
}

let seq = 0;
async function insertCall(store: TestStore, tenantId: string, agentId: string | null, startedAt: string, status: string, seconds: number | null) {
  const id = `c${seq++}`;
  await store.db.insertInto('calls').values({
    id, tenant_id: tenantId, call_sid: `CA${id}`, agent_id: agentId, phone_number: null, direction: 'inbound',
    from_number: '+15550000001', to_number: '+15550000002', status, context: '{}', started_at: startedAt, answered_at: null,
    ended_at: null, duration_seconds: seconds, cost: null, end_reason: null, handoff: null, created_at: startedAt, updated_at: startedAt,
  }).execute();
  return `CA${id}`;
}

const byKey = (bs: CallBucket[]) => bs.map((b) => `${b.agentId ?? '-'} ${b.hour} ${b.status} ${b.calls} ${b.seconds}`).sort();

for (const kind of testDbs()) {
  describe(`analytics repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlAnalyticsRepository;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlAnalyticsRepository(store);
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
      await insertAgent(store, 'a1', 't1');
      await insertAgent(store, 'a2', 't1');
      await insertAgent(store, 'b1', 't2');
      await insertCall(store, 't1', 'a1', '2026-03-01T09:10:00.000Z', 'completed', 60);
      await insertCall(store, 't1', 'a1', '2026-03-01T09:40:00.000Z', 'completed', 120);
      await insertCall(store, 't1', 'a2', '2026-03-02T14:00:00.000Z', 'busy', 0);
      await insertCall(store, 't2', 'b1', '2026-03-01T09:00:00.000Z', 'completed', 30);
    });
    after(() => store.close());

    it('rolls calls up by hour and status, and by agent and day, per tenant', async () => {
      assert.deepEqual(byKey(await repo.hourlyTotals(t1, '2026-03-01')), ['- 14 busy 1 0', '- 9 completed 2 180']);
      assert.deepEqual(byKey(await repo.hourlyTotals(t1, '2026-03-02')), ['- 14 busy 1 0']);
      assert.deepEqual(byKey(await repo.hourlyTotals(t2, '2026-03-01')), ['- 9 completed 1 30']);
      assert.deepEqual(byKey(await repo.hourlyTotals(null, '2026-03-01')), ['- 14 busy 1 0', '- 9 completed 3 210']);
      const agents = (await repo.agentTotals(t1, '2026-03-01')).sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
      assert.deepEqual(agents, [{ agentId: 'a1', calls: 2, seconds: 180 }, { agentId: 'a2', calls: 1, seconds: 0 }]);
    });

    it('keeps the rollups in step when a call changes status', async () => {
      const sid = await insertCall(store, 't2', 'b1', '2026-03-05T08:00:00.000Z', 'in-progress', null);
      await store.db.updateTable('calls').set({ status: 'completed', duration_seconds: 45 }).where('call_sid', '=', sid).execute();
      const hours = byKey(await repo.hourlyTotals(t2, '2026-03-05')).filter((k) => !k.endsWith(' 0 0'));
      assert.deepEqual(hours, ['- 8 completed 1 45']);
      assert.deepEqual(await repo.agentTotals(t2, '2026-03-05'), [{ agentId: 'b1', calls: 1, seconds: 45 }]);
    });

    it('reads calls in a range and one agent\'s buckets and days, only within the tenant', async () => {
      const edge = await repo.callBuckets(t1, { from: '2026-03-01T09:30:00.000Z', to: '2026-03-02T00:00:00.000Z' });
      assert.deepEqual(byKey(edge), ['a1 9 completed 1 120']);
      assert.deepEqual(byKey(await repo.agentCallBuckets(t1, 'a1')), ['a1 9 completed 2 180']);
      assert.deepEqual(await repo.agentCallBuckets(t2, 'a1'), []);
      assert.deepEqual(await repo.agentDays(t1, 'a2', '2026-03-01T00:00:00.000Z'), [{ date: '2026-03-02', calls: 1, seconds: 0 }]);
      assert.deepEqual(await repo.agentDays(t2, 'a2', '2026-03-01T00:00:00.000Z'), []);
    });

    it('counts and names agents within the tenant, or across the platform', async () => {
      assert.equal(await repo.agentCount(t1), 2);
      assert.equal(await repo.agentCount(null), 3);
      assert.deepEqual([...(await repo.agentNames(t1, ['a1', 'b1']))], [['a1', 'agent a1']]);
      assert.equal((await repo.agentNames(null, ['a1', 'b1'])).size, 2);
      assert.equal(await repo.agent(t2, 'a1'), null);
      assert.deepEqual(await repo.agent(t1, 'a1'), { id: 'a1', name: 'agent a1' });
    });
  });
}
