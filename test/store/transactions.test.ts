import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { InProcessBus, type EventBus } from '../../src/events/bus.js';
import type { DomainEvent } from '../../src/events/catalog.js';
import { OutboxTransactor } from '../../src/store/transactions.js';
import { testDbs } from '../helpers/server.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

const silent = pino({ level: 'silent' });
const ev = (id: string): DomainEvent => ({ type: 'tag.created', tenantId: 't1', timestamp: new Date().toISOString(), data: { tag_id: id } });

/** A bus that can be made to fail, recording what it delivered. */
class FlakyBus implements EventBus {
  down = false;
  readonly seen: DomainEvent[] = [];
  private readonly inner = new InProcessBus();
  async publish(e: DomainEvent) {
    if (this.down) throw new Error('bus down');
    this.seen.push(e);
    await this.inner.publish(e);
  }
  subscribe(h: (e: DomainEvent) => void) { return this.inner.subscribe(h); }
  async close() { await this.inner.close(); }
}

const outboxRows = async (store: TestStore) => (await store.db.selectFrom('event_outbox').selectAll().execute()).length;

for (const kind of testDbs()) {
  describe(`transactional outbox (${kind})`, () => {
    let store: TestStore;
    before(async () => { store = await openTestStore(kind); });
    after(() => store.close());

    it('publishes emitted events after commit, in order, and leaves no row behind', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      const seenDuring: number[] = [];
      await uow.run(async (tx) => {
        tx.emit(ev('a'));
        tx.emit(ev('b'));
        seenDuring.push(bus.seen.length);
      });
      assert.deepEqual(seenDuring, [0]);
      assert.deepEqual(bus.seen.map((e) => (e.data as { tag_id: string }).tag_id), ['a', 'b']);
      assert.equal(await outboxRows(store), 0);
    });

    it('publishes nothing when the transaction rolls back', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      await assert.rejects(uow.run(async (tx) => { tx.emit(ev('x')); throw new Error('no'); }));
      assert.equal(bus.seen.length, 0);
      assert.equal(await outboxRows(store), 0);
    });

    it('keeps committed events while the bus is down and replays them once it is back', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      bus.down = true;
      await uow.run(async (tx) => { tx.emit(ev('kept')); });
      assert.equal(await outboxRows(store), 1);
      bus.down = false;
      // A new process (same database) replays what the old one left.
      const restarted = new OutboxTransactor(store, bus, silent);
      assert.equal(await restarted.replay(0), 1);
      assert.deepEqual(bus.seen.map((e) => (e.data as { tag_id: string }).tag_id), ['kept']);
      assert.equal(await outboxRows(store), 0);
    });

    it('sends ephemeral events straight to the bus without touching the table', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      await uow.publish({ type: 'transcript.partial', tenantId: 't1', callSid: 'CA1', timestamp: new Date().toISOString(), data: { text: 'hel' } });
      assert.equal(bus.seen.length, 1);
      assert.equal(await outboxRows(store), 0);
    });
  });
}
