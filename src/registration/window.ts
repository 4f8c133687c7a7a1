/**
 * How many REGISTER transactions may be open towards one registrar at once, learned from its
 * answers the way TCP learns a congestion window: it doubles while every answer comes promptly
 * (slow start), then grows by one per window of prompt answers, and halves when an answer was
 * late (over UDP that means a retransmission was needed), timed out, or was a 503. Thousands of
 * lines activated together therefore reach a registrar no faster than it answers, whatever the
 * token bucket in front (REGISTER_RATE) allows; a dead registrar holds only its own window.
 */
import type { Clock } from '../sip/index.js';

export interface WindowBounds {
  initial: number;
  min: number;
  max: number;
}

export const DEFAULT_WINDOW: WindowBounds = { initial: 16, min: 2, max: 512 };

/** What one transaction told us about the registrar's load. */
export type Answer = 'prompt' | 'congested';

export class InFlightWindow {
  private limit: number;
  private open = 0;
  private slowStart = true;
  private lastCut = -Infinity;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly clock: Clock, private readonly bounds: WindowBounds = DEFAULT_WINDOW, private readonly cutEveryMs = 500) {
    this.limit = bounds.initial;
  }

  get size(): number {
    return Math.floor(this.limit);
  }

  get inFlight(): number {
    return this.open;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `job` once a slot is free; `judge` says whether its outcome showed congestion. */
  async run<T>(job: () => Promise<T>, judge: (outcome: { value?: T; error?: unknown; elapsedMs: number }) => Answer): Promise<T> {
    // A waiting job is woken with its slot already counted, so a newcomer cannot take it meanwhile.
    if (this.open < this.size) this.open++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    const started = this.clock.now();
    try {
      const value = await job();
      this.learn(judge({ value, elapsedMs: this.clock.now() - started }));
      return value;
    } catch (error) {
      this.learn(judge({ error, elapsedMs: this.clock.now() - started }));
      throw error;
    } finally {
      this.open--;
      while (this.waiting.length && this.open < this.size) {
        this.open++;
        this.waiting.shift()!();
      }
    }
  }

  private learn(answer: Answer): void {
    const { min, max } = this.bounds;
    if (answer === 'congested') {
      // One cut per burst: the answers of one overload episode arrive together.
      const now = this.clock.now();
      if (now - this.lastCut < this.cutEveryMs) return;
      this.lastCut = now;
      this.slowStart = false;
      this.limit = Math.max(min, this.limit / 2);
      return;
    }
    this.limit = Math.min(max, this.limit + (this.slowStart ? 1 : 1 / this.limit));
  }
}
