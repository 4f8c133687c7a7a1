import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredKey } from '../../../src/domain/keys.js';
import { SqlApiKeyRepository } from '../../../src/store/repositories/api-keys.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const key = (id: string, tenantId: string | null, createdAt: string, over: Partial<StoredKey> = {}): StoredKey => ({
  id, tenantId, kind: 'access', name: `k-${id}`, detail: '', tokenPrefix: `dtk_${id}`, tokenHash: `hash-${id}`,
  permission: 65535, agentId: null, expiresAt: null, createdAt, updatedAt: createdAt, ...over,
});

for (const kind of testDbs()) {
  describe(`api key repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlApiKeyRepository;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlApiKeyRepository(store);
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
    });
    after(() => store.close());

    it('finds a key by its digest only', async () => {
      assert.equal(await repo.hasAdmin(), false);
      await repo.insert(undefined, key('admin', null, '2026-01-01T00:00:00.000Z', { kind: 'admin' }));
      assert.equal(await repo.hasAdmin(), true);
      const found = await repo.findByDigest('hash-admin');
      assert.deepEqual(found, { id: 'admin', kind: 'admin', tenantId: null, permission: 65535, agentId: null, expiresAt: null, tokenHash: 'hash-admin' });
      assert.equal(await repo.findByDigest('hash-other'), null);
    });

    it('keeps each tenant to its own access keys', async () => {
      await repo.insert(undefined, key('a', 't1', '2026-01-01T00:00:00.000Z'));
      await repo.insert(undefined, key('b', 't2', '2026-01-01T00:00:00.000Z'));
      assert.equal((await repo.getAccess({ tenantId: 't1' }, 'a'))?.name, 'k-a');
      assert.equal(await repo.getAccess({ tenantId: 't1' }, 'b'), null);
      await repo.updateAccess({ tenantId: 't1' }, 'b', { name: 'stolen', updatedAt: '2026-01-02T00:00:00.000Z' });
      assert.equal((await repo.getAccess({ tenantId: 't2' }, 'b'))?.name, 'k-b');
      await repo.delete({ tenantId: 't1' }, 'b');
      assert.ok(await repo.getAccess({ tenantId: 't2' }, 'b'));
    });

    it('lists access keys newest first before a cursor, without login tokens', async () => {
      await repo.insert(undefined, key('c', 't1', '2026-01-03T00:00:00.000Z'));
      await repo.insert(undefined, key('d', 't1', '2026-01-04T00:00:00.000Z'));
      await repo.insert(undefined, key('login', 't1', '2026-01-05T00:00:00.000Z', { kind: 'login', agentId: 'ag1' }));
      const all = await repo.listAccessNewestFirst({ tenantId: 't1' }, { limit: 10 });
      assert.deepEqual(all.map((k) => k.id), ['d', 'c', 'a']);
      const older = await repo.listAccessNewestFirst({ tenantId: 't1' }, { limit: 1, before: '2026-01-04T00:00:00.000Z' });
      assert.deepEqual(older.map((k) => k.id), ['c']);
    });

    it('revokes the keys of one agent of one tenant', async () => {
      await repo.insert(undefined, key('other', 't2', '2026-01-05T00:00:00.000Z', { kind: 'login', agentId: 'ag1' }));
      await repo.deleteForAgent(undefined, { tenantId: 't1' }, 'ag1');
      assert.equal(await repo.findByDigest('hash-login'), null);
      assert.ok(await repo.findByDigest('hash-other'));
      assert.ok(await repo.findByDigest('hash-a'));
    });
  });
}
