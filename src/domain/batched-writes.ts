/**
 * Writes that arrive in bursts (the registration engine reporting thousands of line states at
 * once) share one transaction: each `submit` joins the batch that commits on the next turn of
 * the event loop, or as soon as `maxBatch` are waiting. One commit per batch instead of one per
 * write is what lets 10,000 lines change state in seconds, on SQLite and PostgreSQL alike.
 * Items run in the order submitted; an error in one fails that batch's items together, as
 * separate transactions would have failed had the database been down.
 */
import type { Tx, UnitOfWork } from './unit-of-work.js';

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export class BatchedWrites<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private scheduled = false;

  constructor(
    private readonly uow: UnitOfWork,
    private readonly write: (tx: Tx, item: I) => Promise<O>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const results: O[] = [];
    this.uow.run(async (tx) => {
      for (const p of batch) results.push(await this.write(tx, p.item));
    }).then(
      () => batch.forEach((p, i) => p.resolve(results[i]!)),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  }
}
