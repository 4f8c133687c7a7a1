import type { Scope } from '../../domain/principal.js';
import type { Tenant, TenantChanges, TenantLimits, TenantRepository, TenantStatus } from '../../domain/tenants.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { TenantTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { isUniqueViolation } from '../unique-violation.js';

export type { TenantLimits } from '../../domain/tenants.js';

function toTenant(r: TenantTable): Tenant {
  return {
    id: r.id,
    name: r.name,
    subdomain: r.subdomain,
    status: r.status as TenantStatus,
    billingEmail: r.billing_email,
    limits: { maxAgents: r.max_agents, maxConcurrentCalls: r.max_concurrent_calls },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The `tenants` table. */
export class SqlTenantRepository implements TenantRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx, t: Tenant): Promise<'inserted' | 'subdomain taken'> {
    try {
      await on(this.store, tx).insertInto('tenants').values({
        id: t.id, name: t.name, subdomain: t.subdomain, status: t.status, billing_email: t.billingEmail,
        max_agents: t.limits.maxAgents, max_concurrent_calls: t.limits.maxConcurrentCalls,
        created_at: t.createdAt, updated_at: t.updatedAt,
      }).execute();
      return 'inserted';
    } catch (err) {
      // The only unique column besides the generated id.
      if (isUniqueViolation(err)) return 'subdomain taken';
      throw err;
    }
  }

  async get(scope: Scope, tx?: Tx): Promise<Tenant | null> {
    const row = await on(this.store, tx).selectFrom('tenants').selectAll().where('id', '=', scope.tenantId).executeTakeFirst();
    return row ? toTenant(row) : null;
  }

  async exists(scope: Scope): Promise<boolean> {
    return !!(await this.store.db.selectFrom('tenants').select('id').where('id', '=', scope.tenantId).executeTakeFirst());
  }

  async listOldestFirst(): Promise<Tenant[]> {
    return (await this.store.db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute()).map(toTenant);
  }

  async delete(tx: Tx, scope: Scope): Promise<void> {
    await on(this.store, tx).deleteFrom('tenants').where('id', '=', scope.tenantId).execute();
  }

  async update(tx: Tx, scope: Scope, changes: TenantChanges): Promise<void> {
    await on(this.store, tx).updateTable('tenants').set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.status !== undefined && { status: changes.status }),
      ...(changes.maxAgents !== undefined && { max_agents: changes.maxAgents }),
      ...(changes.maxConcurrentCalls !== undefined && { max_concurrent_calls: changes.maxConcurrentCalls }),
      ...(changes.billingEmail !== undefined && { billing_email: changes.billingEmail }),
      updated_at: changes.updatedAt,
    }).where('id', '=', scope.tenantId).execute();
  }

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
    return row ? { status: row.status as TenantStatus, maxAgents: row.max_agents, maxConcurrentCalls: row.max_concurrent_calls } : null;
  }
}
