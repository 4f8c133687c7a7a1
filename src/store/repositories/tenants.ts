import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import { on, type StoreHandle } from '../transactions.js';

/** The limits a create must stay under, read while the tenant row is held. */
export interface TenantLimits {
  status: string;
  maxAgents: number;
  maxConcurrentCalls: number;
}

/** The `tenants` table. */
export class SqlTenantRepository {
  constructor(private readonly store: StoreHandle) {}

  /**
   * Reads the tenant's limits and holds its row until `tx` ends (PostgreSQL) — SQLite's single
   * writer holds everything already — so two creates cannot both take the last slot. FOR NO KEY
   * UPDATE, not FOR UPDATE: it still excludes the other limit checks, but lets foreign-key checks
   * against the tenant (the analytics triggers' inserts) through, which otherwise deadlocked
   * with status updates.
   */
  async lockLimits(tx: Tx, scope: Scope): Promise<TenantLimits | null> {
    let q = on(this.store, tx).selectFrom('tenants').select(['status', 'max_agents', 'max_concurrent_calls']).where('id', '=', scope.tenantId);
    if (this.store.kind === 'postgres') q = q.forNoKeyUpdate();
    const row = await q.executeTakeFirst();
    return row ? { status: row.status, maxAgents: row.max_agents, maxConcurrentCalls: row.max_concurrent_calls } : null;
  }
}
