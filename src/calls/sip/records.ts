/**
 * Status changes of SIP call records, written in batches: the changes asked for within a few
 * milliseconds commit in one transaction, so the single SQLite writer is not taken once per
 * answered and once per ended call while other calls wait for it to reach their 200. Each
 * change resolves once it is committed, so whoever waits on a call's end (shutdown, the
 * supervisor's `end`) still sees it in the table.
 */
import type { Call, StatusChange } from '../../domain/calls.js';

export interface StatusWriter {
  updateStatuses(changes: { callSid: string; change: StatusChange }[]): Promise<(Call | Error)[]>;
}

interface Queued {
  callSid: string;
  change: StatusChange;
  resolve(call: Call): void;
  reject(err: Error): void;
}

/** How long a change waits for others to join its transaction. */
export const BATCH_WINDOW_MS = 10;
const MAX_BATCH = 200;

export class CallRecords {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly writer: StatusWriter, private readonly windowMs = BATCH_WINDOW_MS) {}

  update(callSid: string, change: StatusChange): Promise<Call> {
    return new Promise<Call>((resolve, reject) => {
      this.queue.push({ callSid, change, resolve, reject });
      if (this.queue.length >= MAX_BATCH) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    });
  }

  /** Writes what is queued now; resolves once it and every earlier batch are committed. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    // Batches commit in the order they were cut, so a call's changes never overtake each other.
    this.flushing = this.flushing.then(() => (batch.length ? this.write(batch) : undefined));
    return this.flushing;
  }

  private async write(batch: Queued[]): Promise<void> {
    let results: (Call | Error)[];
    try {
      results = await this.writer.updateStatuses(batch.map(({ callSid, change }) => ({ callSid, change })));
    } catch (err) {
      for (const q of batch) q.reject(err as Error);
      return;
    }
    batch.forEach((q, i) => {
      const r = results[i]!;
      if (r instanceof Error) q.reject(r);
      else q.resolve(r);
    });
  }
}
