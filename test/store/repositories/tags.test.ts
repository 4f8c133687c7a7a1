import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { InProcessBus } from '../../../src/events/bus.js';
import { SqlTagRepository } from '../../../src/store/repositories/tags.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const tag = (id: string, tenantId: string, createdAt: string) => ({ id, tenantId, name: `n-${id}`, detail: '', createdAt, updatedAt: createdAt });

for (const kind of testDbs()) {
  describe(`tag repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlTagRepository;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlTagRepository(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own tags', async () => {
      await repo.insert(undefined, tag('a', 't1', '2026-01-01T00:00:00.000Z'));
      await repo.insert(undefined, tag('b', 't2', '2026-01-01T00:00:00.000Z'));
      assert.equal((await repo.get({ tenantId: 't1' }, 'a'))?.name, 'n-a');
      assert.equal(await repo.get({ tenantId: 't1' }, 'b'), null);
      assert.deepEqual([...(await repo.existing({ tenantId: 't1' }, ['a', 'b']))], ['a']);
      await repo.update(undefined, { tenantId: 't1' }, 'b', { name: 'stolen', updatedAt: '2026-01-02T00:00:00.000Z' });
      assert.equal((await repo.get({ tenantId: 't2' }, 'b'))?.name, 'n-b');
    });

    it('lists newest first before a cursor', async () => {
      await repo.insert(undefined, tag('c', 't1', '2026-01-03T00:00:00.000Z'));
      await repo.insert(undefined, tag('d', 't1', '2026-01-04T00:00:00.000Z'));
      const all = await repo.listNewestFirst({ tenantId: 't1' }, { limit: 10 });
      assert.deepEqual(all.map((t) => t.id), ['d', 'c', 'a']);
      const older = await repo.listNewestFirst({ tenantId: 't1' }, { limit: 10, before: '2026-01-04T00:00:00.000Z' });
      assert.deepEqual(older.map((t) => t.id), ['c', 'a']);
    });

    it('deletes inside a transaction, and a failed transaction changes nothing', async () => {
      await assert.rejects(uow.run(async (tx) => {
        await repo.delete(tx, { tenantId: 't1' }, 'c');
        throw new Error('abort');
      }), /abort/);
      assert.ok(await repo.get({ tenantId: 't1' }, 'c'));
      await uow.run((tx) => repo.delete(tx, { tenantId: 't1' }, 'c'));
      assert.equal(await repo.get({ tenantId: 't1' }, 'c'), null);
    });
  });
}
