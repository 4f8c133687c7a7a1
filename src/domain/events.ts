import type { DomainEvent, EventPayloads, EventType } from '../events/catalog.js';
import type { WallClock } from './ids.js';

/** An event of `type` stamped with the service's clock. */
export function domainEvent<T extends EventType>(clock: WallClock, type: T, tenantId: string, data: EventPayloads[T], callSid?: string): DomainEvent<T> {
  return { type, tenantId, callSid, timestamp: clock.now().toISOString(), data } as DomainEvent<T>;
}
