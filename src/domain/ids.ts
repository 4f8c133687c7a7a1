import { randomBytes, randomUUID } from 'node:crypto';

/** Ids are made outside services so tests can make them predictable. */
export interface IdSource {
  uuid(): string;
  /** `prefix` + `bytes` random bytes in lowercase hex, e.g. trunk ids `ST_…`, call sids `CA…`. */
  hex(prefix: string, bytes: number): string;
}

export const randomIds: IdSource = {
  uuid: () => randomUUID(),
  hex: (prefix, bytes) => prefix + randomBytes(bytes).toString('hex'),
};

/**
 * The date and time records carry (created_at, event times). Named apart from the SIP stack's
 * `Clock` (src/sip/transaction/timers.ts), which schedules timers in milliseconds and must not
 * depend on the domain; one object never needs to be both.
 */
export interface WallClock {
  now(): Date;
}

export const systemClock: WallClock = { now: () => new Date() };

export function iso(d: Date): string {
  return d.toISOString();
}
