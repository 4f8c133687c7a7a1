import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Tenant } from '../../../src/domain/tenants.js';
import { InProcessBus } from '../../../src/events/bus.js';
import { SqlTenantRepository } from '../../../src/store/repositories/tenants.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { testDbs } from '../../helpers/server.js';
import { openTestStore, type TestStore } from '../../helpers/store.js';

const tenant = (id: string, createdAt: string, subdomain: string | null = null): Tenant => ({
  id, name: `tenant ${id}`, subdomain, status: 'trial', billingEmail: null,
  limits: { maxAgents: 3, maxConcurrentCalls: 2 }, createdAt, updatedAt: createdAt,
});

for (const kind of testDbs()) {
  describe(`tenant repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlTenantRepository;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlTenantRepository(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
    });
    after(() => store.close());

    it('stores a tenant and reads it back by its own scope only', async () => {
      assert.equal(await uow.run((tx) => repo.insert(tx, tenant('a', '2026-01-02T00:00:00.000Z', 'acme'))), 'inserted');
      await uow.run((tx) => repo.insert(tx, tenant('b', '2026-01-01T00:00:00.000Z')));
      assert.deepEqual(await repo.get({ tenantId: 'a' }), tenant('a', '2026-01-02T00:00:00.000Z', 'acme'));
      assert.equal(await repo.get({ tenantId: 'nope' }), null);
      assert.equal(await repo.exists({ tenantId: 'b' }), true);
      assert.equal(await repo.exists({ tenantId: 'nope' }), false);
      await uow.run((tx) => repo.update(tx, { tenantId: 'b' }, { name: 'renamed', maxAgents: 7, updatedAt: '2026-01-03T00:00:00.000Z' }));
      assert.equal((await repo.get({ tenantId: 'a' }))?.name, 'tenant a');
      const b = await repo.get({ tenantId: 'b' });
      assert.equal(b?.name, 'renamed');
      assert.deepEqual(b?.limits, { maxAgents: 7, maxConcurrentCalls: 2 });
    });

    it('answers a taken subdomain instead of throwing, and keeps nothing of it', async () => {
      await assert.rejects(uow.run(async (tx) => {
        assert.equal(await repo.insert(tx, tenant('c', '2026-01-04T00:00:00.000Z', 'acme')), 'subdomain taken');
        throw new Error('taken');
      }), /taken/);
      assert.equal(await repo.get({ tenantId: 'c' }), null);
    });

    it('lists oldest first', async () => {
      assert.deepEqual((await repo.listOldestFirst()).map((t) => t.id), ['b', 'a']);
    });

    it('reads the limits inside a transaction', async () => {
      const limits = await uow.run((tx) => repo.lockLimits(tx, { tenantId: 'b' }));
      assert.deepEqual(limits, { status: 'trial', maxAgents: 7, maxConcurrentCalls: 2 });
      assert.equal(await uow.run((tx) => repo.lockLimits(tx, { tenantId: 'nope' })), null);
    });
  });
}
