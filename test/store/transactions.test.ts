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
  /** Publishes to refuse before the bus works again. */
  failures = 0;
  /** Ms each publish takes, so concurrent replays overlap. */
  delayMs = 0;
  readonly seen: DomainEvent[] = [];
  private readonly inner = new InProcessBus();
  async publish(e: DomainEvent) {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failures > 0) { this.failures--; throw new Error('bus down'); }
    if (this.down) throw new Error('bus down');
    this.seen.push(e);
    await this.inner.publish(e);
  }
  subscribe(h: (e: DomainEvent) => void) { return this.inner.subscribe(h); }
  async close() { await this.inner.close(); }
}

const tagIds = (bus: FlakyBus) => bus.seen.map((e) => (e.data as { tag_id: string }).tag_id);

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
  }
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

    it('while running, replays an event whose publish failed after commit, once', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      const stop = uow.startReplaying(100);
      try {
        bus.failures = 1;
        await uow.run(async (tx) => { tx.emit(ev('late')); });
        assert.deepEqual(tagIds(bus), [], 'the first publish failed');
        assert.equal(await outboxRows(store), 1);
        await waitFor(() => bus.seen.length > 0, 3000);
        assert.deepEqual(tagIds(bus), ['late']);
        assert.equal(await outboxRows(store), 0);
        // Later ticks find nothing left to send.
        await new Promise((r) => setTimeout(r, 350));
        assert.deepEqual(tagIds(bus), ['late']);
      } finally {
        await stop();
      }
    });

    it('while running, leaves a row the bus still refuses for a later tick, and a row too young alone', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      bus.down = true;
      await uow.run(async (tx) => { tx.emit(ev('waits')); });
      const stop = uow.startReplaying(100);
      try {
        await new Promise((r) => setTimeout(r, 350));
        assert.equal(await outboxRows(store), 1, 'kept while the bus is down');
        bus.down = false;
        await waitFor(() => bus.seen.length > 0, 3000);
        assert.deepEqual(tagIds(bus), ['waits']);
      } finally {
        await stop();
      }
      assert.equal(await outboxRows(store), 0);
      // Younger than the cutoff: a publish in flight in this process is not raced.
      bus.down = true;
      await uow.run(async (tx) => { tx.emit(ev('young')); });
      bus.down = false;
      assert.equal(await uow.replay(60_000), 0);
      assert.equal(await uow.replay(0), 1);
    });

    it('an interval of 0 replays only at start', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      const stop = uow.startReplaying(0);
      bus.failures = 1;
      await uow.run(async (tx) => { tx.emit(ev('stays')); });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await outboxRows(store), 1);
      await stop();
      assert.equal(await uow.replay(0), 1);
    });

    if (kind === 'postgres') {
      it('instances replaying at once publish each left-over event exactly once', async () => {
        const writer = new FlakyBus();
        writer.down = true;
        const uow = new OutboxTransactor(store, writer, silent);
        const ids = Array.from({ length: 40 }, (_, i) => `e${i}`);
        for (const id of ids) await uow.run(async (tx) => { tx.emit(ev(id)); });
        const buses = [new FlakyBus(), new FlakyBus(), new FlakyBus()];
        for (const b of buses) b.delayMs = 2;
        const instances = buses.map((b) => new OutboxTransactor(store, b, silent));
        const counts = await Promise.all(instances.map((i) => i.replay(0)));
        const published = buses.flatMap(tagIds);
        assert.equal(counts.reduce((a, b) => a + b, 0), ids.length);
        assert.deepEqual([...published].sort(), [...ids].sort(), 'every event once, none twice');
        assert.equal(await outboxRows(store), 0);
      });
    }

    it('sends ephemeral events straight to the bus without touching the table', async () => {
      const bus = new FlakyBus();
      const uow = new OutboxTransactor(store, bus, silent);
      await uow.publish({ type: 'transcript.partial', tenantId: 't1', callSid: 'CA1', timestamp: new Date().toISOString(), data: { text: 'hel' } });
      assert.equal(bus.seen.length, 1);
      assert.equal(await outboxRows(store), 0);
    });
  });
}
