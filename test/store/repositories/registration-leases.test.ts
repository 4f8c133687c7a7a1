import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqlRegistrationLeases } from '../../../src/store/repositories/registration-leases.js';
import { SqlRegistrationRepository } from '../../../src/store/repositories/registrations.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';
import { registration } from './telephony-fixtures.js';

const TTL = 30_000;

for (const kind of testDbs()) {
  describe(`registration leases (${kind})`, () => {
    let store: TestStore;
    let now = new Date('2026-03-01T00:00:00.000Z');
    const clock = () => now;
    let a: SqlRegistrationLeases;
    let b: SqlRegistrationLeases;
    before(async () => {
      store = await openTestStore(kind);
      await insertTenant(store, 't1');
      const regs = new SqlRegistrationRepository(store);
      for (const id of ['l1', 'l2', 'l3']) await regs.insert(undefined, registration(id, 't1', `2026-01-01T00:00:0${id[1]}.000Z`, { status: 'active' }));
      await regs.insert(undefined, registration('off', 't1', '2026-01-01T00:00:09.000Z'));
      a = new SqlRegistrationLeases(store, TTL, clock, 'instance-a');
      b = new SqlRegistrationLeases(store, TTL, clock, 'instance-b');
    });
    after(() => store.close());

    it('claims a free line once; the other instance cannot take it while the lease runs', async () => {
      assert.deepEqual(await a.unclaimed(), ['l1', 'l2', 'l3']);
      assert.equal(await a.claim('l1'), true);
      assert.equal(await a.claim('l1'), true, 'claiming again what we hold succeeds');
      assert.equal(await b.claim('l1'), false);
      assert.equal(await b.claim('l2'), true);
      assert.deepEqual(await a.unclaimed(), ['l3']);
    });

    it('renews only what the instance holds', async () => {
      now = new Date(now.getTime() + TTL - 1000);
      assert.deepEqual([...(await a.renew(['l1', 'l2']))], ['l1']);
      now = new Date(now.getTime() + 2000);
      // b did not renew l2 and its lease ran out; a renewed l1.
      assert.deepEqual(await b.unclaimed(), ['l2', 'l3']);
      assert.equal(await b.claim('l1'), false);
    });

    it('lets another instance take over a lease that ran out, and the old holder learns it lost it', async () => {
      assert.equal(await a.claim('l2'), true);
      assert.deepEqual([...(await b.renew(['l2']))], []);
      assert.deepEqual([...(await a.renew(['l1', 'l2']))].sort(), ['l1', 'l2']);
    });

    it('releases leases so any instance may claim them at once', async () => {
      await b.release(['l1']);
      assert.equal(await b.claim('l1'), false, 'release only frees our own leases');
      await a.release(['l1', 'l2']);
      assert.deepEqual(await b.unclaimed(), ['l1', 'l2', 'l3']);
      assert.equal(await b.claim('l1'), true);
    });
  });
}
