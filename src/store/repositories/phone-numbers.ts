import type { Provider } from '../../domain/credentials.js';
import { duplicateNumber, type AgentMove, type PhoneNumber, type PhoneNumberRepository } from '../../domain/numbers.js';
import type { Keyset, OffsetWindow } from '../../domain/paging.js';
import type { Scope } from '../../domain/principal.js';
import type { NumberEndpoint, NumberEndpointReader } from '../../domain/registrations.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { PhoneNumberTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { storedHandler } from './call-handler-column.js';
import { isForeignKeyViolation, isUniqueViolation } from '../violations.js';

function toPhoneNumber(r: PhoneNumberTable): PhoneNumber {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    e164: r.e164,
    provider: r.provider as Provider | null,
    credentialsId: r.credentials_id,
    agentId: r.agent_id,
    inboundEnabled: r.inbound_enabled === 1,
    outboundEnabled: r.outbound_enabled === 1,
    friendlyName: r.friendly_name,
    carrierSid: r.carrier_sid,
    capabilities: JSON.parse(r.capabilities) as string[],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

type EndpointRow = Pick<PhoneNumberTable, 'id' | 'tenant_id' | 'e164' | 'friendly_name' | 'agent_id' | 'created_at'> & { agent_handler: string | null };

function toNumberEndpoint(r: EndpointRow): NumberEndpoint {
  return {
    id: r.id, tenantId: r.tenant_id, number: r.e164, name: r.friendly_name,
    agentId: r.agent_id, agentHandler: storedHandler(r.agent_handler), createdAt: r.created_at,
  };
}

/** The `phone_numbers` table: its only writer. */
export class SqlPhoneNumberRepository implements PhoneNumberRepository, NumberEndpointReader {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, n: PhoneNumber): Promise<boolean> {
    try {
      await on(this.store, tx).insertInto('phone_numbers').values({
        id: n.id, tenant_id: n.tenantId, e164: n.e164, provider: n.provider, credentials_id: n.credentialsId, agent_id: n.agentId,
        inbound_enabled: n.inboundEnabled ? 1 : 0, outbound_enabled: n.outboundEnabled ? 1 : 0, friendly_name: n.friendlyName,
        carrier_sid: n.carrierSid, capabilities: JSON.stringify(n.capabilities), created_at: n.createdAt, updated_at: n.updatedAt,
      }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateNumber(n.e164);
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  async get(scope: Scope, id: string, tx?: Tx): Promise<PhoneNumber | null> {
    const row = await on(this.store, tx).selectFrom('phone_numbers').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toPhoneNumber(row) : null;
  }

  async getByE164(scope: Scope, e164: string): Promise<PhoneNumber | null> {
    const row = await this.store.db.selectFrom('phone_numbers').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('e164', '=', e164).executeTakeFirst();
    return row ? toPhoneNumber(row) : null;
  }

  async findByE164(e164: string): Promise<PhoneNumber | null> {
    const row = await this.store.db.selectFrom('phone_numbers').selectAll().where('e164', '=', e164).executeTakeFirst();
    return row ? toPhoneNumber(row) : null;
  }

  async list(scope: Scope, filter: { agentId?: string; unassigned?: boolean } = {}, window?: OffsetWindow): Promise<PhoneNumber[]> {
    let q = this.store.db.selectFrom('phone_numbers').selectAll().where('tenant_id', '=', scope.tenantId);
    if (filter.agentId !== undefined) q = q.where('agent_id', '=', filter.agentId);
    if (filter.unassigned) q = q.where('agent_id', 'is', null);
    q = q.orderBy('created_at').orderBy('id');
    if (window) q = q.limit(window.limit + 1).offset(window.offset);
    return (await q.execute()).map(toPhoneNumber);
  }

  async setRouting(tx: Tx, scope: Scope, id: string, c: { provider?: Provider | null; credentialsId?: string | null; inboundEnabled?: boolean; outboundEnabled?: boolean; at: string }): Promise<boolean> {
    try {
      await on(this.store, tx).updateTable('phone_numbers').set({
        updated_at: c.at,
        ...(c.provider !== undefined && { provider: c.provider }),
        ...(c.credentialsId !== undefined && { credentials_id: c.credentialsId }),
        ...(c.inboundEnabled !== undefined && { inbound_enabled: c.inboundEnabled ? 1 : 0 }),
        ...(c.outboundEnabled !== undefined && { outbound_enabled: c.outboundEnabled ? 1 : 0 }),
      }).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
      return true;
    } catch (err) {
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  async setAgent(tx: Tx | undefined, scope: Scope, id: string, agentId: string | null, opts: { at: string; onlyIfFreeFor?: string }): Promise<AgentMove> {
    let q = on(this.store, tx).updateTable('phone_numbers').set({ agent_id: agentId, updated_at: opts.at })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id);
    const owner = opts.onlyIfFreeFor;
    if (owner !== undefined) q = q.where((eb) => eb.or([eb('agent_id', 'is', null), eb('agent_id', '=', owner)]));
    try {
      return (await q.executeTakeFirst()).numUpdatedRows > 0n ? 'moved' : 'taken';
    } catch (err) {
      // The agent was deleted between the caller's check and this update.
      if (isForeignKeyViolation(err)) return 'no_agent';
      throw err;
    }
  }

  async delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void> {
    await on(this.store, tx).deleteFrom('phone_numbers').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async agentExists(scope: Scope, agentId: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('agents').select('id')
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).executeTakeFirst();
    return row !== undefined;
  }

  // Numbers as the registrations API shows them: with the handler of the agent answering each.

  private endpoints(scope: Scope) {
    return this.store.db.selectFrom('phone_numbers')
      .leftJoin('agents', 'agents.id', 'phone_numbers.agent_id')
      .select([
        'phone_numbers.id', 'phone_numbers.tenant_id', 'phone_numbers.e164', 'phone_numbers.friendly_name',
        'phone_numbers.agent_id', 'phone_numbers.created_at', 'agents.handler as agent_handler',
      ])
      .where('phone_numbers.tenant_id', '=', scope.tenantId);
  }

  async endpoint(scope: Scope, by: { id: string } | { e164: string }): Promise<NumberEndpoint | null> {
    const q = 'id' in by ? this.endpoints(scope).where('phone_numbers.id', '=', by.id) : this.endpoints(scope).where('phone_numbers.e164', '=', by.e164);
    const row = await q.executeTakeFirst();
    return row ? toNumberEndpoint(row) : null;
  }

  async endpointsAfter(scope: Scope, after: Keyset | null, limit: number): Promise<NumberEndpoint[]> {
    let q = this.endpoints(scope);
    if (after) {
      const { createdAt: at, id } = after;
      q = q.where((eb) => eb.or([
        eb('phone_numbers.created_at', '>', at),
        eb.and([eb('phone_numbers.created_at', '=', at), eb('phone_numbers.id', '>', id)]),
      ]));
    }
    const rows = await q.orderBy('phone_numbers.created_at').orderBy('phone_numbers.id').limit(limit).execute();
    return rows.map(toNumberEndpoint);
  }

  // On behalf of agents (identity area).
  async releaseAgent(tx: Tx, scope: Scope, agentId: string): Promise<void> {
    await on(this.store, tx).updateTable('phone_numbers').set({ agent_id: null })
      .where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
  }

  /** Agent id → the first number linked to it (oldest), for many agents in one query. */
  async primaryNumbers(agents: Array<{ id: string; tenantId: string }>): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    if (agents.length === 0) return result;
    const rows = await this.store.db.selectFrom('phone_numbers').select(['agent_id', 'e164'])
      .where('tenant_id', 'in', [...new Set(agents.map((a) => a.tenantId))]).where('agent_id', 'in', agents.map((a) => a.id))
      .orderBy('created_at', 'desc').execute();
    // Newest first, so the oldest number per agent is written last and wins.
    for (const r of rows) if (r.agent_id) result.set(r.agent_id, r.e164);
    return result;
  }

  async primaryNumber(scope: Scope, agentId: string): Promise<string | null> {
    const row = await this.store.db.selectFrom('phone_numbers').select('e164')
      .where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).orderBy('created_at').limit(1).executeTakeFirst();
    return row?.e164 ?? null;
  }
}
