import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Config } from '../../../src/config.js';
import { DomainError } from '../../../src/domain/errors.js';
import { PhoneNumberService } from '../../../src/domain/numbers.js';
import { RegistrationService } from '../../../src/domain/registrations.js';
import { randomIds, systemClock } from '../../../src/domain/ids.js';
import { InProcessBus } from '../../../src/events/bus.js';
import { SqlPhoneNumberRepository } from '../../../src/store/repositories/phone-numbers.js';
import { SqlProviderCredentialRepository } from '../../../src/store/repositories/provider-credentials.js';
import { SqlRegistrationRepository } from '../../../src/store/repositories/registrations.js';
import { OutboxTransactor } from '../../../src/store/transactions.js';
import { Vault } from '../../../src/vault/vault.js';
import { testDbs } from '../../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../../helpers/store.js';
import { insertAgent, nextE164, phoneNumber } from './telephony-fixtures.js';

const t1 = { tenantId: 't1' };
const t2 = { tenantId: 't2' };

for (const kind of testDbs()) {
  describe(`phone number repository (${kind})`, () => {
    let store: TestStore;
    let repo: SqlPhoneNumberRepository;
    let uow: OutboxTransactor;
    before(async () => {
      store = await openTestStore(kind);
      repo = new SqlPhoneNumberRepository(store);
      uow = new OutboxTransactor(store, new InProcessBus(), pino({ level: 'silent' }));
      await insertTenant(store, 't1');
      await insertTenant(store, 't2');
      await insertAgent(store, 'a1', 't1', 'sip');
      await insertAgent(store, 'a2', 't1');
      await insertAgent(store, 'b1', 't2');
    });
    after(() => store.close());

    it('keeps each tenant to its own numbers, and finds a number across tenants by its digits only', async () => {
      const mine = phoneNumber('n1', 't1', '2026-01-01T00:00:00.000Z');
      const theirs = phoneNumber('n2', 't2', '2026-01-01T00:00:00.000Z');
      assert.equal(await repo.insert(undefined, mine), true);
      assert.equal(await repo.insert(undefined, theirs), true);
      assert.deepEqual(await repo.get(t1, 'n1'), mine);
      assert.equal(await repo.get(t1, 'n2'), null);
      assert.equal(await repo.getByE164(t1, theirs.e164), null);
      assert.equal((await repo.findByE164(theirs.e164))?.tenantId, 't2');
      assert.deepEqual((await repo.list(t1)).map((n) => n.id), ['n1']);
      assert.equal(await repo.setAgent(undefined, t1, 'n2', 'a1', { at: '2026-01-02T00:00:00.000Z' }), 'taken');
      await repo.delete(undefined, t1, 'n2');
      assert.ok(await repo.get(t2, 'n2'));
      assert.equal(await repo.agentExists(t1, 'b1'), false);
      assert.equal(await repo.agentExists(t1, 'a1'), true);
    });

    it('moves the agent only while the number is free or already that agent\'s', async () => {
      assert.equal(await repo.setAgent(undefined, t1, 'n1', 'a1', { at: '2026-01-02T00:00:00.000Z', onlyIfFreeFor: 'a1' }), 'moved');
      assert.equal(await repo.setAgent(undefined, t1, 'n1', 'a1', { at: '2026-01-02T00:00:01.000Z', onlyIfFreeFor: 'a1' }), 'moved');
      assert.equal(await repo.setAgent(undefined, t1, 'n1', 'a2', { at: '2026-01-02T00:00:02.000Z', onlyIfFreeFor: 'a2' }), 'taken');
      assert.equal((await repo.get(t1, 'n1'))?.agentId, 'a1');
      assert.deepEqual((await repo.list(t1, { agentId: 'a1' })).map((n) => n.id), ['n1']);
      assert.deepEqual(await repo.list(t1, { unassigned: true }), []);
      assert.equal(await repo.setAgent(undefined, t1, 'n1', 'gone', { at: '2026-01-02T00:00:03.000Z' }), 'no_agent');
      assert.equal((await repo.get(t1, 'n1'))?.agentId, 'a1');
    });

    it('shows numbers as phone endpoints with their agent\'s handler, keyset-paged oldest first', async () => {
      await repo.insert(undefined, phoneNumber('n3', 't1', '2026-01-03T00:00:00.000Z'));
      await repo.insert(undefined, phoneNumber('n4', 't1', '2026-01-03T00:00:00.000Z'));
      await repo.insert(undefined, phoneNumber('n5', 't1', '2026-01-04T00:00:00.000Z'));
      const first = await repo.endpointsAfter(t1, null, 2);
      assert.deepEqual(first.map((n) => n.id), ['n1', 'n3']);
      assert.equal(first[0].agentHandler, 'sip');
      const rest = await repo.endpointsAfter(t1, { createdAt: first[1].createdAt, id: first[1].id }, 10);
      assert.deepEqual(rest.map((n) => n.id), ['n4', 'n5']);
      assert.equal((await repo.endpoint(t1, { id: 'n3' }))?.agentHandler, null);
      assert.equal(await repo.endpoint(t2, { id: 'n3' }), null);
      const n5 = (await repo.get(t1, 'n5'))!;
      assert.equal((await repo.endpoint(t1, { e164: n5.e164 }))?.id, 'n5');
    });

    it('refuses a number that exists in any tenant with the one duplicate error, and leaves no row behind', async () => {
      const existing = (await repo.get(t1, 'n1'))!;
      const err = await repo.insert(undefined, phoneNumber('dup', 't2', '2026-01-05T00:00:00.000Z', { e164: existing.e164 })).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof DomainError);
      assert.equal(await repo.get(t2, 'dup'), null);
      // A reference that does not exist is reported, not thrown, so the service can name the field.
      assert.equal(await repo.insert(undefined, phoneNumber('orphan', 't1', '2026-01-05T00:00:00.000Z', { agentId: 'nobody' })), false);
    });

    it('raises the same duplicate error whether the telephony or the registrations API adds the number', async () => {
      const clock = systemClock;
      const numbers = new PhoneNumberService({ numbers: repo, credentials: new SqlProviderCredentialRepository(store), uow, clock, ids: randomIds });
      const registrations = new RegistrationService({
        registrations: new SqlRegistrationRepository(store), numberEndpoints: repo, numbers: repo, numberService: numbers,
        vault: new Vault(randomBytes(32)), uow, clock, ids: randomIds, config: {} as Config,
      });
      const e164 = nextE164();
      await numbers.create(t1, { e164 });
      const viaTelephony = await numbers.create(t2, { e164 }).then(() => null, (e: unknown) => e);
      const viaRegistrations = await registrations.addNumber(t1, { number: e164 }).then(() => null, (e: unknown) => e);
      assert.ok(viaTelephony instanceof DomainError && viaRegistrations instanceof DomainError);
      assert.deepEqual(
        { kind: viaRegistrations.kind, message: viaRegistrations.message, field: viaRegistrations.field },
        { kind: viaTelephony.kind, message: viaTelephony.message, field: viaTelephony.field },
      );
      assert.equal(viaTelephony.kind, 'conflict');
      assert.equal(viaTelephony.field, 'e164');
      assert.match(viaTelephony.message, /already registered/);
    });

    it('deletes inside a transaction, and a failed transaction changes nothing', async () => {
      await assert.rejects(uow.run(async (tx) => {
        await repo.delete(tx, t1, 'n5');
        throw new Error('abort');
      }), /abort/);
      assert.ok(await repo.get(t1, 'n5'));
      await uow.run((tx) => repo.delete(tx, t1, 'n5'));
      assert.equal(await repo.get(t1, 'n5'), null);
    });
  });
}
