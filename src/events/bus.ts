import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

import type { DomainEvent } from './catalog.js';

export type { DomainEvent } from './catalog.js';

export type EventHandler = (event: DomainEvent) => void;

export interface EventBus {
  publish(event: DomainEvent): Promise<void>;
  subscribe(handler: EventHandler): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(event: DomainEvent): Promise<void> {
    this.emitter.emit('event', event);
  }

  subscribe(handler: EventHandler): () => void {
    const safe = (e: DomainEvent) => {
      try { handler(e); } catch { /* a broken subscriber must not break the publisher */ }
    };
    this.emitter.on('event', safe);
    return () => this.emitter.off('event', safe);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Fans events out through Redis pub/sub so subscribers on every instance see them. */
export class RedisBus implements EventBus {
  private readonly local = new InProcessBus();
  private readonly pub: Redis;
  private readonly sub: Redis;
  private ready: Promise<unknown>;

  constructor(url: string, private readonly channel = 'dialtone:events') {
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.sub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.sub.on('message', (_ch: string, raw: string) => {
      try { void this.local.publish(JSON.parse(raw) as DomainEvent); } catch { /* ignore foreign payloads */ }
    });
    this.ready = this.sub.subscribe(this.channel);
  }

  async publish(event: DomainEvent): Promise<void> {
    await this.ready;
    await this.pub.publish(this.channel, JSON.stringify(event));
  }

  subscribe(handler: EventHandler): () => void {
    return this.local.subscribe(handler);
  }

  async close(): Promise<void> {
    await this.local.close();
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
