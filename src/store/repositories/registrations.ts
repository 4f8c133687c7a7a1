import type { CallHandler } from '../../domain/call-handler.js';
import type { AgentMove } from '../../domain/numbers.js';
import type { Keyset } from '../../domain/paging.js';
import type { Scope } from '../../domain/principal.js';
import type {
  AppliedState, Registration, RegistrationChanges, RegistrationRepository, RegistrationState, RegistrationStatus, StoredRegistration,
} from '../../domain/registrations.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { RegistrationTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { storedHandler } from './call-handler-column.js';
import { isForeignKeyViolation, isUniqueViolation } from '../violations.js';

function toRegistration(r: RegistrationTable): StoredRegistration {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    handler: storedHandler(r.handler),
    outbound: r.outbound === 1,
    registrar: r.registrar,
    username: r.username,
    sealedPassword: r.sealed_password,
    options: JSON.parse(r.options) as Record<string, unknown>,
    status: r.status as RegistrationStatus,
    state: r.state as RegistrationState,
    error: r.error,
    listenerAgentId: r.listener_agent_id,
    generation: r.generation,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toListed(r: RegistrationTable): Registration {
  const { sealedPassword: _, ...registration } = toRegistration(r);
  return registration;
}

/** The `registrations` table, apart from its lease columns (see registration-leases.ts). */
export class SqlRegistrationRepository implements RegistrationRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, r: StoredRegistration): Promise<boolean> {
    try {
      await on(this.store, tx).insertInto('registrations').values({
        id: r.id, tenant_id: r.tenantId, name: r.name, handler: r.handler, outbound: r.outbound ? 1 : 0, registrar: r.registrar,
        username: r.username, sealed_password: r.sealedPassword, options: JSON.stringify(r.options), status: r.status, state: r.state,
        error: r.error, listener_agent_id: r.listenerAgentId, generation: r.generation, lease_owner: null, lease_expires_at: null,
        created_at: r.createdAt, updated_at: r.updatedAt,
      }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async get(scope: Scope, id: string, tx?: Tx): Promise<StoredRegistration | null> {
    const row = await on(this.store, tx).selectFrom('registrations').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toRegistration(row) : null;
  }

  async listAfter(scope: Scope, after: Keyset | null, limit: number): Promise<Registration[]> {
    let q = this.store.db.selectFrom('registrations').selectAll().where('tenant_id', '=', scope.tenantId);
    if (after) {
      const { createdAt: at, id } = after;
      q = q.where((eb) => eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])]));
    }
    return (await q.orderBy('created_at').orderBy('id').limit(limit).execute()).map(toListed);
  }

  async update(tx: Tx | undefined, scope: Scope, id: string, c: RegistrationChanges): Promise<boolean> {
    const set: Partial<RegistrationTable> = {
      updated_at: c.updatedAt,
      ...(c.name !== undefined && { name: c.name }),
      ...(c.handler !== undefined && { handler: c.handler }),
      ...(c.outbound !== undefined && { outbound: c.outbound ? 1 : 0 }),
      ...(c.registrar !== undefined && { registrar: c.registrar }),
      ...(c.username !== undefined && { username: c.username }),
      ...(c.sealedPassword !== undefined && { sealed_password: c.sealedPassword }),
      ...(c.options !== undefined && { options: JSON.stringify(c.options) }),
      ...(c.state !== undefined && { state: c.state }),
      ...(c.error !== undefined && { error: c.error }),
    };
    try {
      // The generation moves in SQL so two concurrent edits cannot hand out the same one.
      await on(this.store, tx).updateTable('registrations')
        .set((eb) => (c.restart ? { ...set, generation: eb('generation', '+', 1) } : set))
        .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async activate(tx: Tx | undefined, scope: Scope, id: string, at: string): Promise<void> {
    await on(this.store, tx).updateTable('registrations')
      .set((eb) => ({ status: 'active', state: 'initial', error: null, generation: eb('generation', '+', 1), updated_at: at }))
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async disable(tx: Tx | undefined, scope: Scope, id: string, at: string): Promise<void> {
    await on(this.store, tx).updateTable('registrations')
      .set({ status: 'disabled', state: 'initial', error: null, updated_at: at })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void> {
    await on(this.store, tx).deleteFrom('registrations').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async bindListener(tx: Tx | undefined, scope: Scope, id: string, agentId: string, at: string): Promise<AgentMove> {
    try {
      const res = await on(this.store, tx).updateTable('registrations')
        .set({ listener_agent_id: agentId, updated_at: at })
        .where('tenant_id', '=', scope.tenantId).where('id', '=', id)
        .where((eb) => eb.or([eb('listener_agent_id', 'is', null), eb('listener_agent_id', '=', agentId)]))
        .executeTakeFirst();
      return res.numUpdatedRows > 0n ? 'moved' : 'taken';
    } catch (err) {
      // The agent was deleted between the caller's check and this update.
      if (isForeignKeyViolation(err)) return 'no_agent';
      throw err;
    }
  }

  async unbindListener(tx: Tx | undefined, scope: Scope, id: string, agentId: string, at: string): Promise<boolean> {
    const res = await on(this.store, tx).updateTable('registrations')
      .set({ listener_agent_id: null, updated_at: at })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).where('listener_agent_id', '=', agentId)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async agentHandler(scope: Scope, agentId: string): Promise<{ handler: CallHandler | null } | null> {
    const agent = await this.store.db.selectFrom('agents').select('handler')
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).executeTakeFirst();
    return agent ? { handler: storedHandler(agent.handler) } : null;
  }

  async listActive(): Promise<StoredRegistration[]> {
    const rows = await this.store.db.selectFrom('registrations').selectAll()
      .where('status', '=', 'active').orderBy('created_at').orderBy('id').execute();
    return rows.map(toRegistration);
  }

  async find(id: string): Promise<StoredRegistration | null> {
    const row = await this.store.db.selectFrom('registrations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRegistration(row) : null;
  }

  async applyState(tx: Tx | undefined, id: string, generation: number, change: { state: RegistrationState; error?: string | null; failed: boolean; at: string }): Promise<AppliedState | null> {
    const row = await on(this.store, tx).updateTable('registrations')
      .set({
        state: change.state,
        updated_at: change.at,
        ...(change.error !== undefined && { error: change.error }),
        ...(change.failed && { status: 'failed' }),
      })
      .where('id', '=', id).where('generation', '=', generation).where('status', '=', 'active')
      .returning(['tenant_id', 'status', 'state', 'error'])
      .executeTakeFirst();
    return row ? { tenantId: row.tenant_id, status: row.status as RegistrationStatus, state: row.state as RegistrationState, error: row.error } : null;
  }

  // On behalf of agents (identity area).
  async releaseListener(tx: Tx, scope: Scope, agentId: string): Promise<void> {
    await on(this.store, tx).updateTable('registrations').set({ listener_agent_id: null })
      .where('tenant_id', '=', scope.tenantId).where('listener_agent_id', '=', agentId).execute();
  }
}
