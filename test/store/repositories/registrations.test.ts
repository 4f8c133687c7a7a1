import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqlRegistrationRepository } from '../../../src/store/repositories/registrations.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';
import { insertAgent, registration } from './telephony-fixtures.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };
const at = '2026-02-01T00:00:00.000Z';

for (const kind of testDbs()) {
  describe(`registration repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlRegistrationRepository;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlRegistrationRepository(store);
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
      await insertAgent(store, 'a1', 't1', 'sip');
      await insertAgent(store, 'a2', 't1');
      await insertAgent(store, 'b1', 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own registrations', async () => {
      const mine = registration('r1', 't1', '2026-01-01T00:00:00.000Z', { options: { expires: 120 } });
      assert.equal(await repo.insert(undefined, mine), true);
      assert.equal(await repo.insert(undefined, registration('r2', 't2', '2026-01-01T00:00:00.000Z')), true);
      // Read back with its lease, which nobody holds yet (the lease keeper writes those columns).
      assert.deepEqual(await repo.get(t1, 'r1'), { ...mine, leaseOwner: null, leaseExpiresAt: null });
      assert.equal(await repo.get(t1, 'r2'), null);
      assert.deepEqual((await repo.listAfter(t1, null, 10)).map((r) => r.id), ['r1']);
      await repo.update(undefined, t1, 'r2', { name: 'stolen', restart: true, updatedAt: at });
      await repo.activate(undefined, t1, 'r2', at);
      await repo.delete(undefined, t1, 'r2');
      const theirs = await repo.get(t2, 'r2');
      assert.equal(theirs?.name, null);
      assert.equal(theirs?.status, 'disabled');
      assert.equal(theirs?.generation, 0);
      assert.equal(await repo.agentHandler(t1, 'b1'), null);
      assert.deepEqual(await repo.agentHandler(t1, 'a1'), { handler: 'sip' });
      // The engine works across tenants.
      assert.equal((await repo.find('r2'))?.tenantId, 't2');
    });

    it('refuses the same registrar and username twice in a tenant, on insert and on update', async () => {
      const r1 = (await repo.get(t1, 'r1'))!;
      assert.equal(await repo.insert(undefined, registration('r1-again', 't1', at, { registrar: r1.registrar, username: r1.username })), false);
      assert.equal(await repo.insert(undefined, registration('r1-elsewhere', 't2', at, { registrar: r1.registrar, username: r1.username })), true);
      assert.equal(await repo.insert(undefined, registration('r3', 't1', '2026-01-02T00:00:00.000Z')), true);
      assert.equal(await repo.update(undefined, t1, 'r3', { registrar: r1.registrar, username: r1.username, restart: true, updatedAt: at }), false);
      assert.notEqual((await repo.get(t1, 'r3'))?.registrar, r1.registrar);
    });

    it('pages oldest first over (created_at, id)', async () => {
      await repo.insert(undefined, registration('r4', 't1', '2026-01-02T00:00:00.000Z'));
      const first = await repo.listAfter(t1, null, 2);
      assert.deepEqual(first.map((r) => r.id), ['r1', 'r3']);
      assert.equal('sealedPassword' in first[0], false);
      const rest = await repo.listAfter(t1, { createdAt: first[1].createdAt, id: first[1].id }, 10);
      assert.deepEqual(rest.map((r) => r.id), ['r4']);
    });

    it('moves the generation on restart and activation, and applies state only for the current generation', async () => {
      await repo.activate(undefined, t1, 'r1', at);
      const active = (await repo.get(t1, 'r1'))!;
      assert.equal(active.status, 'active');
      assert.equal(active.generation, 1);
      assert.deepEqual((await repo.listActive()).map((r) => r.id), ['r1']);
      assert.deepEqual(await repo.applyState(undefined, 'r1', 1, { state: 'registered', error: null, failed: false, at }), { tenantId: 't1', status: 'active', state: 'registered', error: null });
      await repo.update(undefined, t1, 'r1', { username: 'renamed', state: 'initial', error: null, restart: true, updatedAt: at });
      assert.equal((await repo.get(t1, 'r1'))?.generation, 2);
      assert.equal(await repo.applyState(undefined, 'r1', 1, { state: 'failed', error: 'late', failed: true, at }), null);
      const after = (await repo.get(t1, 'r1'))!;
      assert.equal(after.state, 'initial');
      assert.equal(after.status, 'active');
      await repo.disable(undefined, t1, 'r1', at);
      assert.equal(await repo.applyState(undefined, 'r1', 2, { state: 'registered', failed: false, at }), null);
    });

    it('binds one listening agent at a time', async () => {
      assert.equal(await repo.bindListener(undefined, t1, 'r3', 'a1', at), 'moved');
      assert.equal(await repo.bindListener(undefined, t1, 'r3', 'a1', at), 'moved');
      assert.equal(await repo.bindListener(undefined, t1, 'r3', 'a2', at), 'taken');
      assert.equal(await repo.bindListener(undefined, t1, 'r4', 'nobody', at), 'no_agent');
      assert.equal((await repo.get(t1, 'r3'))?.listenerAgentId, 'a1');
    });
  });
}
