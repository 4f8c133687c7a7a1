import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** Answers one kind of request; `null` means "not mine" (another instance may hold it). */
export type RequestHandler = (payload: unknown) => Promise<unknown | null>;

/**
 * How the instances of one cluster talk to each other beyond the event bus: notices every instance
 * acts on (a key deleted), and questions only one of them can answer (the owner of a live call).
 * With no Redis there is no cluster: `LocalLink` answers from this process alone.
 */
export interface ClusterLink {
  readonly instanceId: string;
  /** Tells every other instance; this one's handlers are not called (it already acted). */
  notify(topic: string, payload: unknown): Promise<void>;
  onNotice(topic: string, handler: (payload: unknown) => void): () => void;
  /**
   * Asks every other instance; resolves with the first answer that is not null, or null once each
   * has declined or `timeoutMs` passed (an instance that died mid-question must not hang a request).
   */
  ask(method: string, payload: unknown, timeoutMs: number): Promise<unknown | null>;
  answer(method: string, handler: RequestHandler): void;
  close(): Promise<void>;
}

export class LocalLink implements ClusterLink {
  constructor(readonly instanceId: string) {}
  async notify(): Promise<void> { /* nobody else to tell */ }
  onNotice(): () => void { return () => undefined; }
  async ask(): Promise<null> { return null; }
  answer(): void { /* nobody else asks */ }
  async close(): Promise<void> { /* nothing held */ }
}

interface Envelope {
  from: string;
  kind: 'notice' | 'ask' | 'reply';
  topic: string;
  id?: string;
  payload?: unknown;
  /** A reply: whether this instance held the thing asked about. */
  held?: boolean;
  error?: string;
}

interface Pending {
  resolve(v: unknown | null): void;
  reject(e: Error): void;
  declined: number;
  /** Replies to expect: known once PUBLISH has said how many instances heard the question. */
  expected: number | null;
  timer: NodeJS.Timeout;
}

/**
 * Over Redis pub/sub: one broadcast channel all instances hear (notices and questions), and one
 * reply channel per instance. Questions go to everyone rather than to a recorded owner so that a
 * call whose owner row lags (or a SIP call on the instance the dispatcher picked) is still found;
 * every live instance replies, so the asker stops waiting as soon as all have declined.
 */
export class RedisLink implements ClusterLink {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly ready: Promise<unknown>;
  private readonly notices = new Map<string, Set<(p: unknown) => void>>();
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<string, Pending>();
  private readonly broadcastChannel: string;
  private readonly replyChannel: string;

  /** `prefix` keeps clusters (and parallel tests) sharing one Redis apart. */
  constructor(url: string, readonly instanceId: string, private readonly prefix = 'dialtone:') {
    this.broadcastChannel = `${prefix}cluster`;
    this.replyChannel = `${prefix}cluster:reply:${instanceId}`;
    this.pub = new Redis(url, { maxRetriesPerRequest: 3 });
    this.sub = new Redis(url, { maxRetriesPerRequest: 3 });
    this.pub.on('error', () => { /* ioredis reconnects; a failed publish rejects its caller */ });
    this.sub.on('error', () => { /* ioredis reconnects and resubscribes */ });
    this.sub.on('message', (_ch: string, raw: string) => {
      let env: Envelope;
      try { env = JSON.parse(raw) as Envelope; } catch { return; }
      if (env.from === this.instanceId) return;
      void this.receive(env);
    });
    this.ready = this.sub.subscribe(this.broadcastChannel, this.replyChannel);
  }

  private async send(channel: string, env: Omit<Envelope, 'from'>): Promise<number> {
    await this.ready;
    return this.pub.publish(channel, JSON.stringify({ ...env, from: this.instanceId }));
  }

  private async receive(env: Envelope): Promise<void> {
    if (env.kind === 'notice') {
      for (const h of this.notices.get(env.topic) ?? []) { try { h(env.payload); } catch { /* one broken listener must not stop the others */ } }
      return;
    }
    if (env.kind === 'ask') {
      const handler = this.handlers.get(env.topic);
      let reply: Omit<Envelope, 'from'>;
      try {
        const result = handler ? await handler(env.payload) : null;
        reply = { kind: 'reply', topic: env.topic, id: env.id, held: result !== null, payload: result };
      } catch (err) {
        reply = { kind: 'reply', topic: env.topic, id: env.id, held: true, error: (err as Error).message };
      }
      await this.send(`${this.prefix}cluster:reply:${env.from}`, reply).catch(() => undefined);
      return;
    }
    const p = env.id ? this.pending.get(env.id) : undefined;
    if (!p) return;
    if (env.held) {
      this.settle(env.id!);
      if (env.error !== undefined) p.reject(Object.assign(new Error(env.error), { remote: true }));
      else p.resolve(env.payload ?? true);
    } else {
      p.declined += 1;
      this.resolveIfAllDeclined(env.id!, p);
    }
  }

  private resolveIfAllDeclined(id: string, p: Pending): void {
    if (p.expected === null || p.declined < p.expected) return;
    this.settle(id);
    p.resolve(null);
  }

  private settle(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
  }

  async notify(topic: string, payload: unknown): Promise<void> {
    await this.send(this.broadcastChannel, { kind: 'notice', topic, payload });
  }

  onNotice(topic: string, handler: (payload: unknown) => void): () => void {
    const set = this.notices.get(topic) ?? new Set();
    set.add(handler);
    this.notices.set(topic, set);
    return () => { set.delete(handler); };
  }

  async ask(method: string, payload: unknown, timeoutMs: number): Promise<unknown | null> {
    const id = randomUUID();
    const result = new Promise<unknown | null>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve(null); }, timeoutMs);
      this.pending.set(id, { resolve, reject, declined: 0, expected: null, timer });
    });
    try {
      // PUBLISH counts the subscribers that got it, this one included: that many replies, less ours.
      const heard = await this.send(this.broadcastChannel, { kind: 'ask', topic: method, id, payload });
      const p = this.pending.get(id);
      if (p) { p.expected = Math.max(0, heard - 1); this.resolveIfAllDeclined(id, p); }
    } catch {
      // Redis unreachable: nobody else can be asked, so nobody else holds it as far as we can tell.
      const p = this.pending.get(id);
      if (p) { this.settle(id); p.resolve(null); }
    }
    return result;
  }

  answer(method: string, handler: RequestHandler): void {
    this.handlers.set(method, handler);
  }

  async close(): Promise<void> {
    for (const [id, p] of this.pending) { this.settle(id); p.resolve(null); }
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
