import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** A slot held by one open socket; give it back when the socket closes. */
export interface Slot { release(): void }

/**
 * Counted places for long-lived connections per holder (an agent or an API key), such as the
 * events WebSocket's ten: `take` gives a slot or null when `max` are taken.
 */
export interface SocketSlots {
  taken(holder: string): Promise<number>;
  take(holder: string, max: number): Promise<Slot | null>;
  close(): Promise<void>;
}

/** One process's count: what a lone instance needs. */
export class LocalSlots implements SocketSlots {
  private readonly open = new Map<string, number>();

  async taken(holder: string): Promise<number> {
    return this.open.get(holder) ?? 0;
  }

  takeNow(holder: string, max: number): Slot | null {
    const n = this.open.get(holder) ?? 0;
    if (n >= max) return null;
    this.open.set(holder, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.open.get(holder) ?? 1) - 1;
        if (left <= 0) this.open.delete(holder);
        else this.open.set(holder, left);
      },
    };
  }

  async take(holder: string, max: number): Promise<Slot | null> {
    return this.takeNow(holder, max);
  }

  async close(): Promise<void> { this.open.clear(); }
}

// Drops slots whose instance stopped renewing them, then takes one if fewer than ARGV[4] are left.
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * Slots shared by every instance: a sorted set per holder in Redis, one member per open socket,
 * scored with the time it lapses. Each instance renews its own sockets' members; a killed
 * instance's members lapse within `ttlMs`, so its sockets stop counting without anyone cleaning
 * up. If Redis cannot be reached, this instance counts on its own (like the rate limits, the
 * limit loosens rather than refusing everyone).
 */
export class RedisSlots implements SocketSlots {
  private readonly redis: Redis;
  private readonly local = new LocalSlots();
  private readonly held = new Map<string, Set<string>>();
  private readonly timer: NodeJS.Timeout;

  constructor(url: string, private readonly prefix: string, private readonly ttlMs: number, private readonly onError: (err: Error) => void = () => undefined) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.redis.on('error', () => { /* reported where a command fails; ioredis reconnects */ });
    this.timer = setInterval(() => { void this.renew(); }, Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  private key(holder: string): string {
    return `${this.prefix}sockets:${holder}`;
  }

  private async renew(): Promise<void> {
    const until = Date.now() + this.ttlMs;
    for (const [holder, members] of this.held) {
      if (members.size === 0) continue;
      const args = [...members].flatMap((m) => [until, m]);
      await this.redis.zadd(this.key(holder), 'XX', ...args).then(() => this.redis.pexpire(this.key(holder), this.ttlMs * 2)).catch((err: Error) => this.onError(err));
    }
  }

  async taken(holder: string): Promise<number> {
    try {
      return await this.redis.zcount(this.key(holder), `(${Date.now()}`, '+inf');
    } catch (err) {
      this.onError(err as Error);
      return this.local.taken(holder);
    }
  }

  async take(holder: string, max: number): Promise<Slot | null> {
    const member = randomUUID();
    const now = Date.now();
    let took: unknown;
    try {
      took = await this.redis.eval(TAKE, 1, this.key(holder), now, now + this.ttlMs, member, max, this.ttlMs * 2);
    } catch (err) {
      this.onError(err as Error);
      return this.local.take(holder, max);
    }
    if (Number(took) !== 1) return null;
    const members = this.held.get(holder) ?? new Set<string>();
    members.add(member);
    this.held.set(holder, members);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        members.delete(member);
        if (members.size === 0) this.held.delete(holder);
        void this.redis.zrem(this.key(holder), member).catch((err: Error) => this.onError(err));
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    // Give the slots back at once rather than letting the other instances wait out the ttl.
    for (const [holder, members] of this.held) {
      if (members.size) await this.redis.zrem(this.key(holder), ...members).catch(() => undefined);
    }
    this.held.clear();
    this.redis.disconnect();
  }
}
