import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { StoredCredential } from '../../../src/domain/credentials.js';
import { InProcessBus } from '../../../src/events/bus.js';
import { SqlPhoneNumberRepository } from '../../../src/store/repositories/phone-numbers.js';
import { SqlProviderCredentialRepository } from '../../../src/store/repositories/provider-credentials.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';
import { phoneNumber } from './telephony-fixtures.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

const credential = (id: string, tenantId: string, createdAt: string, accountRef = 'AC1'): StoredCredential => ({
  id, tenantId, provider: 'twilio', label: `label ${id}`, sealedCredentials: `sealed-${id}`, accountRef, createdAt, updatedAt: createdAt,
});

for (const kind of testDbs()) {
  describe(`provider credential repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlProviderCredentialRepository;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlProviderCredentialRepository(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own credentials, listed newest first', async () => {
      await repo.insert(undefined, credential('c1', 't1', '2026-01-01T00:00:00.000Z'));
      await repo.insert(undefined, credential('c2', 't1', '2026-01-02T00:00:00.000Z', 'AC2'));
      await repo.insert(undefined, credential('c3', 't2', '2026-01-03T00:00:00.000Z'));
      assert.deepEqual(await repo.get(t1, 'c1'), credential('c1', 't1', '2026-01-01T00:00:00.000Z'));
      assert.equal(await repo.get(t1, 'c3'), null);
      assert.deepEqual((await repo.list(t1)).map((c) => c.id), ['c2', 'c1']);
      assert.equal(await uow.run((tx) => repo.deleteUnlessUsed(tx, t1, 'c3')), true);
      assert.ok(await repo.get(t2, 'c3'), 'deleting another tenant\'s credential touches nothing');
    });

    it('finds the credentials of a carrier account across tenants, oldest first', async () => {
      assert.deepEqual((await repo.findByAccountRef('twilio', 'AC1')).map((c) => [c.id, c.tenantId]), [['c1', 't1'], ['c3', 't2']]);
      assert.deepEqual(await repo.findByAccountRef('plivo', 'AC1'), []);
    });

    it('is not deleted while a phone number points at it', async () => {
      const numbers = new SqlPhoneNumberRepository(store);
      await numbers.insert(undefined, phoneNumber('n1', 't1', '2026-01-04T00:00:00.000Z', { provider: 'twilio', credentialsId: 'c1' }));
      assert.equal(await uow.run((tx) => repo.deleteUnlessUsed(tx, t1, 'c1')), false);
      assert.ok(await repo.get(t1, 'c1'));
      await numbers.delete(undefined, t1, 'n1');
      assert.equal(await uow.run((tx) => repo.deleteUnlessUsed(tx, t1, 'c1')), true);
      assert.equal(await repo.get(t1, 'c1'), null);
    });
  });
}
