import type { Clock } from '../sip/index.js';

/**
 * Token bucket for outgoing REGISTERs: at most `ratePerSecond` start per second, with a burst of
 * a tenth of a second's worth, so thousands of activations reach the registrar as an even stream.
 */
export class Pacer {
  private readonly queue: Array<() => void> = [];
  private tokens: number;
  private last: number;
  private timer: unknown = null;
  private readonly burst: number;

  constructor(private readonly ratePerSecond: number, private readonly clock: Clock) {
    this.burst = Math.max(1, Math.ceil(ratePerSecond / 10));
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Runs `job` when a token is free (at once if one is). */
  schedule(job: () => void): void {
    this.queue.push(job);
    this.pump();
  }

  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue.length = 0;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (this.ratePerSecond <= 0) {
      // 0 = unpaced
      while (this.queue.length) this.queue.shift()!();
      return;
    }
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    while (this.queue.length && this.tokens >= 1) {
      this.tokens -= 1;
      this.queue.shift()!();
    }
    if (this.queue.length && this.timer === null) {
      const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond));
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
    }
  }
}
