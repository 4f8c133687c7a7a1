import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredTrunk } from '../../../src/domain/trunks.js';
import { SqlTrunkRepository } from '../../../src/store/repositories/trunks.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

const trunk = (id: string, tenantId: string, createdAt: string): StoredTrunk => ({
  id, tenantId, name: `trunk ${id}`, address: 'sip:example.pstn.twilio.com:5060', numbers: ['+15550100001', '+15550100002'],
  authUsername: 'dialer', sealedPassword: `sealed-${id}`, type: 'twilio', createdAt, updatedAt: createdAt,
});

for (const kind of testDbs()) {
  describe(`trunk repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlTrunkRepository;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlTrunkRepository(store);
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own trunks, listed newest first', async () => {
      await repo.insert(undefined, trunk('ST_1', 't1', '2026-01-01T00:00:00.000Z'));
      await repo.insert(undefined, trunk('ST_2', 't1', '2026-01-02T00:00:00.000Z'));
      await repo.insert(undefined, trunk('ST_3', 't2', '2026-01-03T00:00:00.000Z'));
      assert.deepEqual(await repo.get(t1, 'ST_1'), trunk('ST_1', 't1', '2026-01-01T00:00:00.000Z'));
      assert.equal(await repo.get(t1, 'ST_3'), null);
      assert.deepEqual((await repo.list(t1)).map((t) => t.id), ['ST_2', 'ST_1']);
      await repo.delete(undefined, t1, 'ST_3');
      assert.ok(await repo.get(t2, 'ST_3'));
      await repo.delete(undefined, t1, 'ST_1');
      assert.deepEqual((await repo.list(t1)).map((t) => t.id), ['ST_2']);
    });
  });
}
