/**
 * One clock for every call's outgoing audio: a tick each 20 ms on a timeline computed from
 * hrtime (start + n·20 ms), so timer drift never accumulates. Audio handed over faster than real
 * time (a model that streams its reply in a burst) waits in each stream's queue and leaves at
 * 50 packets a second; when the event loop stalls, the missed ticks are caught up at once, a few
 * at most, so the far end's jitter buffer sees a short burst rather than a gap.
 */

export interface PacedStream {
  /** Called once per frame period; sends at most one frame. */
  tick(): void;
}

const MAX_CATCH_UP = 5;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class Pacer {
  private readonly streams = new Set<PacedStream>();
  private timer: NodeJS.Timeout | null = null;
  private start = 0;
  private ticks = 0;

  constructor(readonly frameMs = 20, private readonly now: () => number = nowMs) {}

  get size(): number {
    return this.streams.size;
  }

  /** Starts pacing `stream`; the function returned stops it. */
  add(stream: PacedStream): () => void {
    this.streams.add(stream);
    if (!this.timer) {
      this.start = this.now();
      this.ticks = 0;
      this.schedule();
    }
    return () => {
      this.streams.delete(stream);
      if (this.streams.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    };
  }

  private schedule(): void {
    const due = this.start + (this.ticks + 1) * this.frameMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - this.now()));
  }

  private fire(): void {
    const elapsed = Math.floor((this.now() - this.start) / this.frameMs);
    let owed = Math.max(1, elapsed - this.ticks);
    if (owed > MAX_CATCH_UP) {
      // A long stall: drop the past rather than flood the peer with it.
      this.ticks = elapsed - MAX_CATCH_UP;
      owed = MAX_CATCH_UP;
    }
    for (let i = 0; i < owed; i++) {
      this.ticks++;
      for (const s of this.streams) {
        try {
          s.tick();
        } catch {
          // one stream's fault must not stop the others' audio
        }
      }
    }
    if (this.streams.size) this.schedule();
    else this.timer = null;
  }
}
