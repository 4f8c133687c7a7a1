/**
 * Collects items submitted close together and hands them to `write` as one batch (one
 * transaction, in both users): after `windowMs` (0 = the next turn of the event loop), or at
 * once when `maxBatch` are waiting. Batches are written in the order they were cut, so two
 * changes to one row never overtake each other. `write` answers each item with its result or
 * an Error of its own; if it throws, every item of that batch fails with it.
 */
interface Queued<I, O> {
  item: I;
  resolve(value: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private queue: Array<Queued<I, O>> = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (items: I[]) => Promise<Array<O | Error>>,
    private readonly opts: { windowMs: number; maxBatch: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) void this.flush();
      else if (this.timer === null) {
        this.timer = this.opts.windowMs > 0 ? setTimeout(() => void this.flush(), this.opts.windowMs) : setImmediate(() => void this.flush());
      }
    });
  }

  /** Writes what is queued now; resolves once it and every earlier batch are written. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
    const batch = this.queue;
    this.queue = [];
    this.written = this.written.then(() => (batch.length ? this.deliver(batch) : undefined));
    return this.written;
  }

  private async deliver(batch: Array<Queued<I, O>>): Promise<void> {
    let results: Array<O | Error>;
    try {
      results = await this.write(batch.map((q) => q.item));
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => {
      const r = results[i]!;
      if (r instanceof Error) q.reject(r);
      else q.resolve(r);
    });
  }
}
