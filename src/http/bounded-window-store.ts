/** One identity's requests in its current fixed window. */
interface Window {
  count: number;
  startMs: number;
}

export interface Hit {
  /** Requests in the window, this one included. */
  count: number;
  /** Until the window ends. */
  ttlMs: number;
}

/**
 * Fixed-window counters for the in-memory rate limiter, holding at most `capacity` identities.
 * A plain LRU lets a flood of fresh identities push a throttled one out, which un-throttles it;
 * here throttled identities sit apart and are only dropped once their window has ended. When room
 * is needed, the least recently seen identity that is not throttled goes (it loses at most a
 * partial count). If every slot holds a live throttled identity, newcomers share one overflow
 * counter, so memory stays bounded and the flood is limited as a whole.
 */
export class BoundedWindowStore {
  /** Least recently seen first. */
  private readonly open = new Map<string, Window>();
  /** In the order they went over their limit, which is roughly the order their windows end. */
  private readonly throttled = new Map<string, Window>();
  private overflow: Window | null = null;

  constructor(readonly capacity: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('capacity must be a positive integer');
  }

  get size(): number {
    return this.open.size + this.throttled.size;
  }

  hit(key: string, windowMs: number, max: number): Hit {
    const now = this.now();
    const live = (w: Window | undefined) => w !== undefined && now - w.startMs < windowMs;
    const throttled = this.throttled.get(key);
    if (throttled) {
      // Stays where it is: the map's order is when each went over.
      if (live(throttled)) return this.count(throttled, now, windowMs);
      this.throttled.delete(key);
    }
    let w = throttled ? undefined : this.open.get(key);
    if (w) {
      this.open.delete(key);
      if (!live(w)) w = undefined;
    }
    if (!w) {
      if (!this.makeRoom(now, windowMs)) {
        if (!live(this.overflow ?? undefined)) this.overflow = { count: 0, startMs: now };
        return this.count(this.overflow!, now, windowMs);
      }
      w = { count: 0, startMs: now };
    }
    const hit = this.count(w, now, windowMs);
    (hit.count > max ? this.throttled : this.open).set(key, w);
    return hit;
  }

  private count(w: Window, now: number, windowMs: number): Hit {
    w.count += 1;
    return { count: w.count, ttlMs: Math.max(0, windowMs - (now - w.startMs)) };
  }

  /** Frees one slot if the store is full; false when every slot is a live throttled identity. */
  private makeRoom(now: number, windowMs: number): boolean {
    if (this.size < this.capacity) return true;
    // A few from the front: windows end roughly in this order, and a short scan keeps a hit O(1).
    let scanned = 0;
    for (const [k, w] of this.throttled) {
      if (now - w.startMs >= windowMs) {
        this.throttled.delete(k);
        return true;
      }
      if (++scanned >= 8) break;
    }
    const oldest = this.open.keys().next();
    if (!oldest.done) {
      this.open.delete(oldest.value);
      return true;
    }
    return false;
  }
}

type IncrCallback = (err: Error | null, res: { current: number; ttl: number }) => void;

/**
 * The store interface @fastify/rate-limit takes as `store`: one counter set per limiter
 * (`child`), each bounded to `capacity` identities.
 */
export function boundedStoreClass(capacity: number) {
  return class BoundedRateLimitStore {
    private readonly windows = new BoundedWindowStore(capacity);

    incr(key: string, cb: IncrCallback, timeWindow: number, max: number): void {
      const hit = this.windows.hit(key, timeWindow, max);
      cb(null, { current: hit.count, ttl: hit.ttlMs });
    }

    child(): BoundedRateLimitStore {
      return new BoundedRateLimitStore();
    }
  };
}
