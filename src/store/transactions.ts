import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Tx, UnitOfWork } from '../domain/unit-of-work.js';
import { isDurable, type DomainEvent } from '../events/catalog.js';
import type { EventBus } from '../events/bus.js';
import type { Db, DbKind } from './db.js';
import type { Database } from './schema.js';

/** The handle every repository is built on: the database and which engine it is. */
export interface StoreHandle {
  db: Db;
  kind: DbKind;
}

type Executor = Db | Transaction<Database>;

/** The `Tx` services pass around: a Kysely transaction and the events it will publish. */
class DbTx implements Tx {
  readonly events: DomainEvent[] = [];
  constructor(readonly trx: Transaction<Database>) {}
  emit(event: DomainEvent): void {
    this.events.push(event);
  }
}

/** What a repository runs a query on: the caller's transaction, or the database itself. */
export function on(store: StoreHandle, tx?: Tx): Executor {
  if (!tx) return store.db;
  if (!(tx instanceof DbTx)) throw new Error('not a transaction of this store');
  return tx.trx;
}

/** Outbox rows older than this at a replay were left by a publisher that did not finish. */
const STALE_MS = 10_000;

const parsed = (r: { id: string; event: string }) => ({ id: r.id, event: JSON.parse(r.event) as DomainEvent });

/**
 * Transactions with a transactional outbox. Each durable event is inserted into `event_outbox`
 * inside the transaction that makes its change, published after the commit and then deleted.
 * A crash between commit and publish leaves the row; `replay()` (at start, and every few
 * seconds) publishes what was left. Delivery is at least once: only a crash in that window
 * can publish an event twice.
 */
export class OutboxTransactor implements UnitOfWork {
  private seqCounter = 0;

  constructor(
    private readonly store: StoreHandle,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private readonly committedListeners: ((event: DomainEvent) => void)[] = [];

  /**
   * Hears every event of a transaction this process committed, once, whatever the bus: the
   * place for this process's own counters and activity log (a Redis bus hands every instance
   * every instance's events).
   */
  onCommitted(listener: (event: DomainEvent) => void): void {
    this.committedListeners.push(listener);
  }

  async run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let staged: { id: string; event: DomainEvent }[] = [];
    let emitted: readonly DomainEvent[] = [];
    const result = await this.store.db.transaction().execute(async (trx) => {
      const tx = new DbTx(trx);
      const value = await fn(tx);
      emitted = tx.events;
      staged = await this.stage(trx, tx.events);
      return value;
    });
    this.tellCommitted(emitted);
    await this.deliver(staged);
    return result;
  }

  private tellCommitted(events: readonly DomainEvent[]): void {
    for (const event of events) {
      for (const listener of this.committedListeners) {
        try { listener(event); } catch (err) { this.logger.warn({ err: (err as Error).message }, 'a committed-event listener failed'); }
      }
    }
  }

  async publish(event: DomainEvent): Promise<void> {
    if (!isDurable(event.type)) {
      await this.bus.publish(event);
      return;
    }
    const staged = await this.stage(this.store.db, [event]);
    this.tellCommitted([event]);
    await this.deliver(staged);
  }

  /**
   * Publishes every outbox row older than `olderThanMs`, oldest first, and deletes it. On
   * PostgreSQL the rows are claimed (FOR UPDATE SKIP LOCKED) in a transaction that lasts until
   * they are deleted, so instances replaying at once publish disjoint rows; a crash before the
   * commit releases them for the next replay. SQLite has one process per file, so no claim, and
   * no transaction held across publishing (it would stall every query on the one connection).
   */
  async replay(olderThanMs = STALE_MS): Promise<number> {
    const cutoff = new Date(this.now() - olderThanMs).toISOString();
    if (this.store.kind !== 'postgres') {
      const rows = await this.staleRows(this.store.db, cutoff).execute();
      await this.deliver(rows.map(parsed));
      return rows.length;
    }
    return this.store.db.transaction().execute(async (trx) => {
      const rows = await this.staleRows(trx, cutoff).forUpdate().skipLocked().execute();
      await this.deliver(rows.map(parsed), trx);
      return rows.length;
    });
  }

  /**
   * Replays every `intervalMs` while the process runs, for rows a failed publish left behind
   * (the bus was down after the commit). A row must be one interval old, so a publish still in
   * flight in this process is not raced. Ticks never overlap; the returned stop waits for one
   * in progress, so the database can be closed after it.
   */
  startReplaying(intervalMs: number): () => Promise<void> {
    if (intervalMs <= 0) return async () => undefined;
    let running: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = this.replay(intervalMs)
        .then(() => undefined, (err: unknown) => { this.logger.warn({ err }, 'outbox replay failed; trying again next interval'); })
        .finally(() => { running = null; });
    }, intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  private staleRows(db: Executor, cutoff: string) {
    return db.selectFrom('event_outbox').selectAll().where('created_at', '<=', cutoff).orderBy('seq').limit(1000);
  }

  private async stage(db: Executor, events: DomainEvent[]): Promise<{ id: string; event: DomainEvent }[]> {
    const direct = events.filter((e) => !isDurable(e.type));
    const durable = events.filter((e) => isDurable(e.type));
    const at = this.now();
    const rows = durable.map((event) => ({
      id: `${at.toString(36)}-${(this.seqCounter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      seq: at * 1000 + (this.seqCounter % 1000),
      event: JSON.stringify(event),
      created_at: new Date(at).toISOString(),
      parsed: event,
    }));
    if (rows.length) await db.insertInto('event_outbox').values(rows.map(({ parsed: _, ...r }) => r)).execute();
    // Ephemeral events ride along in order but never touch the table (id '').
    const byEvent = new Map(rows.map((r) => [r.parsed, r.id]));
    return events.map((event) => ({ id: direct.includes(event) ? '' : byEvent.get(event)!, event }));
  }

  private async deliver(staged: { id: string; event: DomainEvent }[], db: Executor = this.store.db): Promise<void> {
    if (!staged.length) return;
    const done: string[] = [];
    try {
      for (const { id, event } of staged) {
        await this.bus.publish(event);
        if (id) done.push(id);
      }
    } catch (err) {
      // The change is committed; the rows stay and the next replay publishes them.
      this.logger.warn({ err }, 'event bus unavailable; events left in the outbox for replay');
    }
    if (done.length) await db.deleteFrom('event_outbox').where('id', 'in', done).execute();
  }
}
