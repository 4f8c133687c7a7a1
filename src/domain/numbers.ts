import type { PhoneNumberTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { event, isUniqueViolation } from './deps.js';
import { conflict, invalid, notFound } from './errors.js';
import { PROVIDERS, isForeignKeyViolation, type Provider } from './credentials.js';
import type { Scope } from './principal.js';
import { requireE164, requireOneOf } from './validate.js';

/**
 * A carrier number a tenant owns. The telephony dialect's pin/unpin and the deployment dialect's
 * assign/release both move the same `agentId`: the agent that answers calls to the number.
 */
export interface PhoneNumber {
  id: string;
  tenantId: string;
  e164: string;
  provider: Provider | null;
  credentialsId: string | null;
  agentId: string | null;
  inboundEnabled: boolean;
  outboundEnabled: boolean;
  friendlyName: string | null;
  /** The carrier's own id for the number (Twilio PN… sid), when known. */
  carrierSid: string | null;
  capabilities: string[];
  createdAt: string;
  updatedAt: string;
}

export interface NewPhoneNumber {
  e164: unknown;
  provider?: unknown;
  credentialsId?: string | null;
  agentId?: string | null;
  inboundEnabled?: boolean;
  outboundEnabled?: boolean;
}

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

export class PhoneNumberService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Registers a number. References in the body (agent, credential) that do not exist in the
   * tenant are bad input, named by field; the provider defaults to the credential's.
   */
  async create(scope: Scope, input: NewPhoneNumber): Promise<PhoneNumber> {
    const e164 = requireE164('e164', input.e164);
    let provider = input.provider == null ? null : requireOneOf('provider', input.provider, PROVIDERS);
    const credentialsId = input.credentialsId ?? null;
    if (credentialsId !== null) {
      const cred = await this.deps.db.selectFrom('provider_credentials').select('provider')
        .where('tenant_id', '=', scope.tenantId).where('id', '=', credentialsId).executeTakeFirst();
      if (!cred) throw invalid('credentials_id', `credentials_id ${credentialsId} is not a credential of this account`);
      if (provider !== null && cred.provider !== provider) {
        throw invalid('credentials_id', `credentials_id ${credentialsId} is a ${cred.provider} credential but provider is ${provider}`);
      }
      provider = cred.provider as Provider;
    }
    const agentId = input.agentId ?? null;
    if (agentId !== null && !(await this.agentExists(scope, agentId))) {
      throw invalid('agent_id', `agent_id ${agentId} is not an agent of this account`);
    }
    const now = this.deps.clock.now().toISOString();
    const row: PhoneNumberTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      e164,
      provider,
      credentials_id: credentialsId,
      agent_id: agentId,
      inbound_enabled: input.inboundEnabled === false ? 0 : 1,
      outbound_enabled: input.outboundEnabled === false ? 0 : 1,
      friendly_name: null,
      carrier_sid: null,
      capabilities: JSON.stringify(['voice']),
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.db.insertInto('phone_numbers').values(row).execute();
    } catch (err) {
      // Numbers are unique across tenants: an inbound call to a number must find one owner.
      if (isUniqueViolation(err)) throw invalid('e164', `e164 ${e164} is already registered`);
      if (isForeignKeyViolation(err)) throw invalid('agent_id', 'agent_id or credentials_id was deleted meanwhile');
      throw err;
    }
    await this.deps.bus.publish(event(this.deps, 'phone_number.created', scope.tenantId, { phone_number_id: row.id, phone_number: e164, agent_id: agentId }));
    return toPhoneNumber(row);
  }

  async list(scope: Scope, filter: { agentId?: string } = {}): Promise<PhoneNumber[]> {
    let q = this.deps.db.selectFrom('phone_numbers').selectAll().where('tenant_id', '=', scope.tenantId);
    if (filter.agentId !== undefined) q = q.where('agent_id', '=', filter.agentId);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map(toPhoneNumber);
  }

  /** Numbers no agent answers yet. */
  async listUnassigned(scope: Scope): Promise<PhoneNumber[]> {
    const rows = await this.deps.db.selectFrom('phone_numbers').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('agent_id', 'is', null)
      .orderBy('created_at').orderBy('id').execute();
    return rows.map(toPhoneNumber);
  }

  async forAgent(scope: Scope, agentId: string): Promise<PhoneNumber[]> {
    return this.list(scope, { agentId });
  }

  async get(scope: Scope, id: string): Promise<PhoneNumber> {
    const row = await this.deps.db.selectFrom('phone_numbers').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('phone number');
    return toPhoneNumber(row);
  }

  async getByE164(scope: Scope, e164: string): Promise<PhoneNumber> {
    requireE164('phone_number', e164);
    const row = await this.deps.db.selectFrom('phone_numbers').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('e164', '=', e164).executeTakeFirst();
    if (!row) throw notFound(`phone number ${e164}`);
    return toPhoneNumber(row);
  }

  /** Across tenants: an inbound carrier webhook only knows the dialled number. */
  async findByE164(e164: string): Promise<PhoneNumber | null> {
    const row = await this.deps.db.selectFrom('phone_numbers').selectAll().where('e164', '=', e164).executeTakeFirst();
    return row ? toPhoneNumber(row) : null;
  }

  /** Pins the number to an agent (replacing any other) or, with null, unpins it. */
  async pin(scope: Scope, id: string, agentId: string | null): Promise<PhoneNumber> {
    const number = await this.get(scope, id);
    return this.setAgent(scope, number, agentId, null);
  }

  /**
   * Assigns the number to an agent unless another agent already has it; assigning it to the
   * agent that already has it succeeds again.
   */
  async assign(scope: Scope, e164: string, agentId: string): Promise<PhoneNumber> {
    const number = await this.getByE164(scope, e164);
    return this.setAgent(scope, number, agentId, agentId);
  }

  /** Releases the number from its agent; releasing a free number is a no-op, so retries are safe. */
  async release(scope: Scope, e164: string): Promise<PhoneNumber> {
    const number = await this.getByE164(scope, e164);
    if (number.agentId === null) return number;
    return this.setAgent(scope, number, null, null);
  }

  async delete(scope: Scope, id: string): Promise<void> {
    const number = await this.get(scope, id);
    await this.deps.db.deleteFrom('phone_numbers').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    await this.deps.bus.publish(event(this.deps, 'phone_number.deleted', scope.tenantId, { phone_number_id: id, phone_number: number.e164 }));
  }

  /**
   * Moves the agent link. With `onlyIfFreeFor`, the update only applies while the number is free
   * or already that agent's, so two concurrent assigns cannot both win.
   */
  private async setAgent(scope: Scope, number: PhoneNumber, agentId: string | null, onlyIfFreeFor: string | null): Promise<PhoneNumber> {
    if (agentId !== null && !(await this.agentExists(scope, agentId))) throw notFound(`agent ${agentId}`);
    const now = this.deps.clock.now().toISOString();
    let q = this.deps.db.updateTable('phone_numbers').set({ agent_id: agentId, updated_at: now })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', number.id);
    if (onlyIfFreeFor !== null) q = q.where((eb) => eb.or([eb('agent_id', 'is', null), eb('agent_id', '=', onlyIfFreeFor)]));
    let changed: bigint;
    try {
      changed = (await q.executeTakeFirst()).numUpdatedRows;
    } catch (err) {
      if (isForeignKeyViolation(err)) throw notFound(`agent ${agentId}`);
      throw err;
    }
    if (changed === 0n) {
      const current = await this.get(scope, number.id);
      throw conflict(`phone number ${number.e164} is assigned to agent ${current.agentId}; release it first`, 'phone_number');
    }
    const updated = await this.get(scope, number.id);
    await this.deps.bus.publish(event(this.deps, 'phone_number.updated', scope.tenantId, {
      phone_number_id: number.id, phone_number: number.e164, agent_id: agentId, previous_agent_id: number.agentId,
    }));
    return updated;
  }

  private async agentExists(scope: Scope, agentId: string): Promise<boolean> {
    const row = await this.deps.db.selectFrom('agents').select('id')
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).executeTakeFirst();
    return row !== undefined;
  }
}
