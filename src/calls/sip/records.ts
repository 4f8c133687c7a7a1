/**
 * Status changes of SIP call records, written in batches: the changes asked for within a few
 * milliseconds commit in one transaction, so the single SQLite writer is not taken once per
 * answered and once per ended call while other calls wait for it to reach their 200. Each
 * change resolves once it is committed, so whoever waits on a call's end (shutdown, the
 * supervisor's `end`) still sees it in the table.
 */
import type { Call, StatusChange } from '../../domain/calls.js';
import { Batcher } from '../../lib/batcher.js';

export interface StatusWriter {
  updateStatuses(changes: { callSid: string; change: StatusChange }[]): Promise<(Call | Error)[]>;
}

/** How long a change waits for others to join its transaction. */
export const BATCH_WINDOW_MS = 10;
const MAX_BATCH = 200;

export class CallRecords {
  private readonly batches: Batcher<{ callSid: string; change: StatusChange }, Call>;

  constructor(writer: StatusWriter, windowMs = BATCH_WINDOW_MS) {
    this.batches = new Batcher((changes) => writer.updateStatuses(changes), { windowMs, maxBatch: MAX_BATCH });
  }

  update(callSid: string, change: StatusChange): Promise<Call> {
    return this.batches.submit({ callSid, change });
  }

  /** Writes what is queued now; resolves once it and every earlier batch are committed. */
  flush(): Promise<void> {
    return this.batches.flush();
  }
}
