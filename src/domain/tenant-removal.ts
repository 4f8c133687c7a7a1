import { conflict, DomainError, notFound } from './errors.js';
import { domainEvent } from './events.js';
import type { WallClock } from './ids.js';
import type { Principal, Scope } from './principal.js';
import type { Registration } from './registrations.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';

export interface TenantRemovalDeps {
  tenants: { exists(scope: Scope): Promise<boolean>; delete(tx: Tx, scope: Scope): Promise<void> };
  known: { forget(id: string): void };
  keys: { forgetTenant(id: string): void };
  lines: { linesOf(scope: Scope): Promise<Registration[]> };
  calls: { listActive(scope: Scope): Promise<unknown[]> };
  uow: UnitOfWork;
  clock: WallClock;
}

/**
 * Deletes a tenant with everything it owns (the foreign keys cascade: keys, agents, numbers,
 * credentials, lines, trunks, calls, analytics). Its lines are announced as deleted, so every
 * instance's registration engine de-registers them as it does for a single DELETE.
 */
export class TenantRemoval {
  constructor(private readonly deps: TenantRemovalDeps) {}

  async delete(principal: Principal, tenantId: string): Promise<void> {
    if (!principal.isPlatformAdmin || principal.tenantId) throw new DomainError('forbidden', 'only the platform admin may delete a tenant');
    const scope = { tenantId };
    if (!(await this.deps.tenants.exists(scope))) throw notFound('tenant');
    // Cutting live calls off mid-sentence is not something a cleanup should do by surprise.
    const live = await this.deps.calls.listActive(scope);
    if (live.length > 0) throw conflict(`the tenant has ${live.length} live call(s); end them or wait, then delete`, 'tenant_id');
    const lines = await this.deps.lines.linesOf(scope);
    await this.deps.uow.run(async (tx) => {
      await this.deps.tenants.delete(tx, scope);
      for (const line of lines) {
        tx.emit(domainEvent(this.deps.clock, 'registration.deleted', tenantId, { registration_id: line.id, generation: line.generation }));
      }
    });
    this.deps.known.forget(tenantId);
    this.deps.keys.forgetTenant(tenantId);
  }
}
