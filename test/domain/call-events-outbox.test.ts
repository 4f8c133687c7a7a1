import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RedisBus } from '../../src/events/bus.js';
import type { DomainEvent } from '../../src/events/catalog.js';
import { createServer } from '../../src/server.js';
import { OutboxTransactor } from '../../src/store/transactions.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/twilio.js';

const REDIS_URL = process.env.DIALTONE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = pino({ level: 'silent' });

/** Makes the server's bus refuse every publish until the returned function is called. */
function breakBus(s: TestServer): () => void {
  const bus = s.server.bus;
  const publish = bus.publish;
  bus.publish = async () => { throw new Error('bus down'); };
  return () => { bus.publish = publish; };
}

async function liveCall(s: TestServer): Promise<string> {
  const t = await s.newTenant();
  const call = await s.server.services.calls.open({ tenantId: t.id }, {
    agentId: null, phoneNumber: null, direction: 'inbound', fromNumber: '+15550000001', toNumber: '+15550000002', status: 'ringing',
  });
  return call.callSid;
}

const outboxRows = async (s: TestServer) => (await s.server.store.db.selectFrom('event_outbox').select('id').execute()).length;

for (const db of testDbs()) {
  describe(`call events through the outbox (${db})`, () => {
    test('a status change whose publish failed is delivered by a later replay', async () => {
      const s = await startTestServer(db);
      try {
        const callSid = await liveCall(s);
        const repair = breakBus(s);
        const answered = await s.server.services.calls.updateStatus(callSid, { status: 'in-progress' });
        assert.equal(answered.status, 'in-progress', 'the change is committed although the bus is down');
        assert.equal(await outboxRows(s), 1);
        repair();
        const seen: DomainEvent[] = [];
        const off = s.server.bus.subscribe((e) => { if (e.callSid === callSid) seen.push(e); });
        const uow = new OutboxTransactor({ db: s.server.store.db, kind: s.server.store.kind }, s.server.bus, silent);
        assert.equal(await uow.replay(0), 1);
        off();
        assert.deepEqual(seen.map((e) => e.type === 'call.updated' && e.data.status), ['in-progress']);
        assert.equal(await outboxRows(s), 0);
      } finally {
        await s.close();
      }
    });

    describe('a restart', () => {
      let s: TestServer;
      let watcher: RedisBus;
      before(async () => {
        s = await startTestServer(db, { config: (c) => { c.redisUrl = REDIS_URL; } });
        watcher = new RedisBus(REDIS_URL);
      });
      after(async () => {
        await watcher.close();
        await s.close();
      });

      test('a server started on the same database publishes what the previous one left in the outbox', async () => {
        const callSid = await liveCall(s);
        breakBus(s);
        await s.server.services.calls.updateStatus(callSid, { status: 'completed', durationSeconds: 12 });
        assert.equal(await outboxRows(s), 1);
        await s.server.close();

        const seen: DomainEvent[] = [];
        watcher.subscribe((e) => { if (e.callSid === callSid) seen.push(e); });
        // Publishing waits for the watcher's subscription, so nothing published after it is missed.
        await watcher.publish({ type: 'error', tenantId: 'nobody', callSid: 'CAwarmup', timestamp: new Date().toISOString(), data: { message: 'warm-up' } });
        const restarted = await createServer(s.config, { logger: silent });
        try {
          const ended = await eventually(async () => seen.find((e): e is DomainEvent<'call.ended'> => e.type === 'call.ended'), (e) => e !== undefined);
          assert.equal(ended?.data.status, 'completed');
          assert.equal(ended?.data.duration, 12);
          assert.equal((await restarted.store.db.selectFrom('event_outbox').select('id').execute()).length, 0);
        } finally {
          await restarted.close();
        }
      });
    });
  });
}
