import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventBus, DomainEvent } from '../events/bus.js';
import type { Db, DbKind } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import type { Clock, IdSource } from './ids.js';

/** What every service is built from; the composition root makes one and tests make their own. */
export interface ServiceDeps {
  db: Db;
  dbKind: DbKind;
  vault: Vault;
  bus: EventBus;
  clock: Clock;
  ids: IdSource;
  config: Config;
  logger: Logger;
}

export function event(deps: ServiceDeps, type: string, tenantId: string, data: Record<string, unknown>, callSid?: string): DomainEvent {
  return { type, tenantId, callSid, timestamp: deps.clock.now().toISOString(), data };
}

/** True when a database error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
