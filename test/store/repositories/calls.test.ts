import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { CallService, LIVE_STATUSES, type Call } from '../../../src/domain/calls.js';
import { DomainError } from '../../../src/domain/errors.js';
import { randomIds, systemClock } from '../../../src/domain/ids.js';
import { InProcessBus } from '../../../src/events/bus.js';
import { SqlAgentRepository } from '../../../src/store/repositories/agents.js';
import { SqlCallRepository } from '../../../src/store/repositories/calls.js';
import { SqlTenantRepository } from '../../../src/store/repositories/tenants.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

function call(id: string, tenantId: string, startedAt: string, extra: Partial<Call> = {}): Call {
  return {
    id, tenantId, callSid: `CA${id}`, agentId: null, phoneNumber: null, direction: 'inbound', fromNumber: '+15550000001',
    toNumber: '+15550000002', status: 'ringing', context: {}, startedAt, answeredAt: null, endedAt: null,
    durationSeconds: null, cost: null, endReason: null, handoff: null, handler: null, lineId: null, trunkId: null, sipStatus: null, ...extra,
  };
}

for (const kind of testDbs()) {
  describe(`call repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlCallRepository;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlCallRepository(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own calls and turns', async () => {
      await uow.run(async (tx) => {
        assert.equal(await repo.insert(tx, call('a', 't1', '2026-01-01T00:00:00.000Z', { context: { k: 1 } })), true);
        assert.equal(await repo.insert(tx, call('b', 't2', '2026-01-01T00:00:00.000Z')), true);
      });
      assert.deepEqual((await repo.get(t1, 'CAa'))?.context, { k: 1 });
      assert.equal(await repo.get(t1, 'CAb'), null);
      assert.equal((await repo.findBySid('CAb'))?.tenantId, 't2');
      await uow.run(async (tx) => {
        assert.equal(await repo.updateLive(tx, t1, 'CAb', { status: 'in-progress', from: LIVE_STATUSES, updatedAt: '2026-01-01T00:00:01.000Z' }), false);
        assert.equal(await repo.lockContext(tx, t1, 'CAb'), null);
        await repo.setContext(tx, t1, 'CAb', { stolen: true }, '2026-01-01T00:00:01.000Z');
        assert.equal(await repo.countLive(tx, t2), 1);
      });
      const b = await repo.get(t2, 'CAb');
      assert.equal(b?.status, 'ringing');
      assert.deepEqual(b?.context, {});
      assert.deepEqual((await repo.listLive(t1)).map((c) => c.callSid), ['CAa']);
      await uow.run((tx) => repo.insertTurn(tx, t1, 'a', { id: 'turn-a', role: 'caller', text: 'hi', interrupted: false, createdAt: '2026-01-01T00:00:02.000Z' }));
      assert.equal((await repo.turns(t1, 'a')).length, 1);
      assert.deepEqual(await repo.turns(t2, 'a'), []);
    });

    it('refuses a second call with a taken sid without failing the transaction', async () => {
      await uow.run(async (tx) => {
        assert.equal(await repo.insert(tx, call('dup', 't1', '2026-01-01T00:00:00.000Z')), true);
        assert.equal(await repo.insert(tx, { ...call('dup2', 't2', '2026-01-01T00:00:00.000Z'), callSid: 'CAdup' }), false);
        // Still usable afterwards (a failed statement would have aborted it on PostgreSQL).
        assert.equal(await repo.countLive(tx, t1), 2);
      });
      assert.equal((await repo.findBySid('CAdup'))?.tenantId, 't1');
    });

    it('writes a status change only while the call is live, and an amendment only against what was read', async () => {
      await uow.run((tx) => repo.insert(tx, call('s', 't1', '2026-01-02T00:00:00.000Z')));
      const ended = { status: 'completed' as const, from: LIVE_STATUSES, updatedAt: '2026-01-02T00:01:00.000Z', endedAt: '2026-01-02T00:01:00.000Z', durationSeconds: 60 };
      assert.equal(await uow.run((tx) => repo.updateLive(tx, t1, 'CAs', ended)), true);
      assert.equal(await uow.run((tx) => repo.updateLive(tx, t1, 'CAs', { ...ended, status: 'failed' })), false);
      const read = (await repo.get(t1, 'CAs'))!;
      assert.equal(read.status, 'completed');
      assert.equal(read.durationSeconds, 60);
      const amend = { cost: 0.5, durationSeconds: 65, updatedAt: '2026-01-02T00:02:00.000Z' };
      assert.equal(await uow.run((tx) => repo.amendFinished(tx, t1, read, amend)), true);
      // A second late callback that read the same row finds it changed.
      assert.equal(await uow.run((tx) => repo.amendFinished(tx, t1, read, amend)), false);
      const after = (await repo.get(t1, 'CAs'))!;
      assert.equal(after.cost, 0.5);
      assert.equal(after.durationSeconds, 65);
    });

    it('pages history newest first, filtered by agent and start time, with the total', async () => {
      const scope = { tenantId: 't2' };
      await uow.run(async (tx) => {
        for (let i = 0; i < 5; i++) {
          await repo.insert(tx, call(`h${i}`, 't2', `2026-02-0${i + 1}T12:00:00.000Z`, { agentId: i % 2 === 0 ? 'even' : 'odd' }));
        }
      });
      const first = await repo.history(scope, { from: '2026-02-01T00:00:00.000Z', limit: 2, offset: 0 });
      assert.equal(first.total, 5);
      assert.deepEqual(first.calls.map((c) => c.callSid), ['CAh4', 'CAh3']);
      const second = await repo.history(scope, { from: '2026-02-01T00:00:00.000Z', limit: 2, offset: 2 });
      assert.deepEqual(second.calls.map((c) => c.callSid), ['CAh2', 'CAh1']);
      const even = await repo.history(scope, { agentId: 'even', from: '2026-02-02T00:00:00.000Z', to: '2026-02-05T00:00:00.000Z', limit: 10, offset: 0 });
      assert.deepEqual(even.calls.map((c) => c.callSid), ['CAh2']);
      assert.equal(even.total, 1);
      assert.equal((await repo.history(t1, { from: '2026-02-01T00:00:00.000Z', limit: 10, offset: 0 })).total, 0);
    });

    it('two concurrent opens for the last live-call slot: exactly one wins', async () => {
      await insertTenant(store, 't3');
      await store.db.updateTable('tenants').set({ max_concurrent_calls: 1 }).where('id', '=', 't3').execute();
      const calls = new CallService({
        calls: repo, limits: new SqlTenantRepository(store), agentTotals: new SqlAgentRepository(store), uow, clock: systemClock, ids: randomIds,
      });
      const open = () => calls.open({ tenantId: 't3' }, {
        agentId: null, phoneNumber: null, direction: 'inbound', fromNumber: '+15550000001', toNumber: '+15550000002', status: 'ringing',
      });
      const results = await Promise.allSettled([open(), open()]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.find((r) => r.status === 'rejected');
      assert.ok(refused?.reason instanceof DomainError && refused.reason.kind === 'limit', String(refused?.reason));
      assert.equal((await repo.listLive({ tenantId: 't3' })).length, 1);
    });
  });
}
