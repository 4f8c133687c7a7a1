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

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function iso(d: Date): string {
  return d.toISOString();
}
