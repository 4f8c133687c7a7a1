/**
 * Injectable time source for the transaction timers (RFC 3261 §17, Table 4),
 * so tests can drive retransmissions and timeouts without waiting.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface TimerValues {
  /** RTT estimate, default 500 ms. */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Maximum time a message stays in the network, default 5 s. */
  T4: number;
}

export const DEFAULT_TIMERS: Readonly<TimerValues> = { T1: 500, T2: 4000, T4: 5000 };

export function resolveTimers(t?: Partial<TimerValues>): TimerValues {
  return {
    T1: t?.T1 ?? DEFAULT_TIMERS.T1,
    T2: t?.T2 ?? DEFAULT_TIMERS.T2,
    T4: t?.T4 ?? DEFAULT_TIMERS.T4,
  };
}

/** A named set of one-shot timers bound to a clock; cleared all at once when a transaction ends. */
export class TimerSet {
  private readonly handles = new Map<string, unknown>();

  constructor(private readonly clock: Clock) {}

  start(name: string, ms: number, fn: () => void): void {
    this.stop(name);
    this.handles.set(
      name,
      this.clock.setTimeout(() => {
        this.handles.delete(name);
        fn();
      }, ms),
    );
  }

  stop(name: string): void {
    const h = this.handles.get(name);
    if (h !== undefined) {
      this.clock.clearTimeout(h);
      this.handles.delete(name);
    }
  }

  has(name: string): boolean {
    return this.handles.has(name);
  }

  clear(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }
}
