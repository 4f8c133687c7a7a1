import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventBus } from '../events/bus.js';
import type { DomainEvent, EventPayloads, EventType } from '../events/catalog.js';
import type { Db, DbKind } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import type { UnitOfWork } from './unit-of-work.js';
import type { ServiceRepositories } from './services.js';
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
  uow: UnitOfWork;
  repos: ServiceRepositories;
}

export function event<T extends EventType>(deps: ServiceDeps, type: T, tenantId: string, data: EventPayloads[T], callSid?: string): DomainEvent<T> {
  return { type, tenantId, callSid, timestamp: deps.clock.now().toISOString(), data } as DomainEvent<T>;
}

/** True when a database error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
