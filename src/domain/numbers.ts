import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { conflict, invalid, notFound, type DomainError } from './errors.js';
import { offsetPage, type OffsetPage, type OffsetWindow } from './paging.js';
import { domainEvent } from './events.js';
import { PROVIDERS, type ProviderCredentialRepository, type Provider } from './credentials.js';
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
  friendlyName?: string | null;
}

/**
 * The one refusal of a number that exists already, whichever API adds it. Numbers are unique
 * across tenants: an inbound call to a number must find one owner.
 */
export const duplicateNumber = (e164: string): DomainError => conflict(`e164 number ${e164} is already registered`, 'e164');

/** What PATCH may change on a number; a field left out keeps its value. */
export interface NumberChanges {
  agentId?: string | null;
  credentialsId?: string | null;
  inboundEnabled?: boolean;
  outboundEnabled?: boolean;
}

/** What moving a number's agent came to. */
export type AgentMove = 'moved' | 'taken' | 'no_agent';

/** Where phone numbers are kept; the only writer of the phone_numbers table. */
export interface PhoneNumberRepository {
  /** Throws `duplicateNumber` when the number exists in any tenant; false when a referenced agent or credential is gone. */
  insert(tx: Tx | undefined, number: PhoneNumber): Promise<boolean>;
  get(scope: Scope, id: string, tx?: Tx): Promise<PhoneNumber | null>;
  getByE164(scope: Scope, e164: string): Promise<PhoneNumber | null>;
  /** Across tenants. */
  findByE164(e164: string): Promise<PhoneNumber | null>;
  /** Oldest first. */
  /** Oldest first; fetches one row past `window.limit` when a window is given. */
  list(scope: Scope, filter?: { agentId?: string; unassigned?: boolean }, window?: OffsetWindow): Promise<PhoneNumber[]>;
  /**
   * Points the number at `agentId` (null: nobody). With `onlyIfFreeFor` it only applies while
   * the number is free or already that agent's, so two concurrent assigns cannot both win.
   */
  setAgent(tx: Tx | undefined, scope: Scope, id: string, agentId: string | null, opts: { at: string; onlyIfFreeFor?: string }): Promise<AgentMove>;
  /** Writes the credential and direction flags given; false when the credential was deleted meanwhile. */
  setRouting(tx: Tx, scope: Scope, id: string, changes: Omit<NumberChanges, 'agentId'> & { provider?: Provider | null; at: string }): Promise<boolean>;
  delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void>;
  agentExists(scope: Scope, agentId: string): Promise<boolean>;
}

export interface PhoneNumberServiceDeps {
  numbers: PhoneNumberRepository;
  credentials: ProviderCredentialRepository;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

export class PhoneNumberService {
  constructor(private readonly deps: PhoneNumberServiceDeps) {}

  /**
   * Registers a number. References in the body (agent, credential) that do not exist in the
   * tenant are bad input, named by field; the provider defaults to the credential's.
   */
  async create(scope: Scope, input: NewPhoneNumber): Promise<PhoneNumber> {
    const e164 = requireE164('e164', input.e164);
    let provider = input.provider == null ? null : requireOneOf('provider', input.provider, PROVIDERS);
    const credentialsId = input.credentialsId ?? null;
    if (credentialsId !== null) {
      const cred = await this.deps.credentials.get(scope, credentialsId);
      if (!cred) throw invalid('credentials_id', `credentials_id ${credentialsId} is not a credential of this account`);
      if (provider !== null && cred.provider !== provider) {
        throw invalid('credentials_id', `credentials_id ${credentialsId} is a ${cred.provider} credential but provider is ${provider}`);
      }
      provider = cred.provider;
    }
    const agentId = input.agentId ?? null;
    if (agentId !== null && !(await this.deps.numbers.agentExists(scope, agentId))) {
      throw invalid('agent_id', `agent_id ${agentId} is not an agent of this account`);
    }
    const now = this.deps.clock.now().toISOString();
    const number: PhoneNumber = {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      e164,
      provider,
      credentialsId,
      agentId,
      inboundEnabled: input.inboundEnabled !== false,
      outboundEnabled: input.outboundEnabled !== false,
      friendlyName: input.friendlyName ?? null,
      carrierSid: null,
      capabilities: ['voice'],
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      if (!(await this.deps.numbers.insert(tx, number))) throw invalid('agent_id', 'agent_id or credentials_id was deleted meanwhile');
      tx.emit(domainEvent(this.deps.clock, 'phone_number.created', scope.tenantId, { phone_number_id: number.id, phone_number: e164, agent_id: agentId }));
    });
    return number;
  }

  async list(scope: Scope, filter: { agentId?: string } = {}): Promise<PhoneNumber[]> {
    return this.deps.numbers.list(scope, filter);
  }

  async page(scope: Scope, filter: { agentId?: string }, window: OffsetWindow): Promise<OffsetPage<PhoneNumber>> {
    return offsetPage(await this.deps.numbers.list(scope, filter, window), window);
  }

  /** Numbers no agent answers yet. */
  async listUnassigned(scope: Scope): Promise<PhoneNumber[]> {
    return this.deps.numbers.list(scope, { unassigned: true });
  }

  async forAgent(scope: Scope, agentId: string): Promise<PhoneNumber[]> {
    return this.list(scope, { agentId });
  }

  async get(scope: Scope, id: string): Promise<PhoneNumber> {
    const number = await this.deps.numbers.get(scope, id);
    if (!number) throw notFound('phone number');
    return number;
  }

  async getByE164(scope: Scope, e164: string): Promise<PhoneNumber> {
    requireE164('phone_number', e164);
    const number = await this.deps.numbers.getByE164(scope, e164);
    if (!number) throw notFound(`phone number ${e164}`);
    return number;
  }

  /** Across tenants: an inbound carrier webhook only knows the dialled number. */
  async findByE164(e164: string): Promise<PhoneNumber | null> {
    return this.deps.numbers.findByE164(e164);
  }

  /** Pins the number to an agent (replacing any other) or, with null, unpins it. */
  async pin(scope: Scope, id: string, agentId: string | null): Promise<PhoneNumber> {
    const number = await this.get(scope, id);
    return this.setAgent(scope, number, agentId, null);
  }

  /**
   * Changes what PATCH names: the agent (as `pin`), the credential the number's calls use (moving
   * it off a credential that is to be deleted), and whether it takes inbound or places outbound calls.
   */
  async update(scope: Scope, id: string, changes: NumberChanges): Promise<PhoneNumber> {
    const number = await this.get(scope, id);
    const routing: Omit<NumberChanges, 'agentId'> & { provider?: Provider | null } = {};
    if (changes.credentialsId !== undefined && changes.credentialsId !== number.credentialsId) {
      if (changes.credentialsId !== null) {
        const cred = await this.deps.credentials.get(scope, changes.credentialsId);
        if (!cred) throw invalid('credentials_id', `credentials_id ${changes.credentialsId} is not a credential of this account`);
        // The number is rented from one carrier; another carrier's credential cannot place its calls.
        if (number.provider !== null && cred.provider !== number.provider) {
          throw invalid('credentials_id', `credentials_id ${changes.credentialsId} is a ${cred.provider} credential but the number is a ${number.provider} number`);
        }
        routing.provider = cred.provider;
      }
      routing.credentialsId = changes.credentialsId;
    }
    if (changes.inboundEnabled !== undefined) routing.inboundEnabled = changes.inboundEnabled;
    if (changes.outboundEnabled !== undefined) routing.outboundEnabled = changes.outboundEnabled;
    const agentId = changes.agentId;
    if (typeof agentId === 'string' && !(await this.deps.numbers.agentExists(scope, agentId))) throw notFound(`agent ${agentId}`);
    const at = this.deps.clock.now().toISOString();
    return this.deps.uow.run(async (tx) => {
      if (agentId !== undefined) {
        const move = await this.deps.numbers.setAgent(tx, scope, number.id, agentId, { at });
        if (move === 'no_agent') throw notFound(`agent ${agentId}`);
      }
      if (Object.keys(routing).length > 0 && !(await this.deps.numbers.setRouting(tx, scope, number.id, { ...routing, at }))) {
        throw invalid('credentials_id', `credentials_id ${changes.credentialsId} was deleted meanwhile`);
      }
      const current = await this.deps.numbers.get(scope, number.id, tx);
      if (!current) throw notFound('phone number');
      tx.emit(domainEvent(this.deps.clock, 'phone_number.updated', scope.tenantId, {
        phone_number_id: number.id, phone_number: number.e164, agent_id: current.agentId, previous_agent_id: number.agentId,
      }));
      return current;
    });
  }

  /**
   * Assigns the number to an agent unless another agent already has it; assigning it to the
   * agent that already has it succeeds again.
   */
  async assign(scope: Scope, e164: string, agentId: string): Promise<PhoneNumber> {
    const number = await this.getByE164(scope, e164);
    return this.setAgent(scope, number, agentId, agentId);
  }

  /**
   * `assign` inside the caller's transaction, for an agent made in it (Phony creates an inbound
   * agent with its number in one request): a taken number undoes the agent too.
   */
  async assignWithin(tx: Tx, scope: Scope, number: PhoneNumber, agentId: string): Promise<void> {
    const move = await this.deps.numbers.setAgent(tx, scope, number.id, agentId, { at: this.deps.clock.now().toISOString(), onlyIfFreeFor: agentId });
    if (move === 'no_agent') throw notFound(`agent ${agentId}`);
    if (move === 'taken') throw conflict(`phone number ${number.e164} is assigned to another agent; release it first`, 'phone_number');
    tx.emit(domainEvent(this.deps.clock, 'phone_number.updated', scope.tenantId, {
      phone_number_id: number.id, phone_number: number.e164, agent_id: agentId, previous_agent_id: number.agentId,
    }));
  }

  /** Releases the number from its agent; releasing a free number is a no-op, so retries are safe. */
  async release(scope: Scope, e164: string): Promise<PhoneNumber> {
    const number = await this.getByE164(scope, e164);
    if (number.agentId === null) return number;
    return this.setAgent(scope, number, null, null);
  }

  async delete(scope: Scope, id: string): Promise<PhoneNumber> {
    const number = await this.get(scope, id);
    await this.deps.uow.run(async (tx) => {
      await this.deps.numbers.delete(tx, scope, id);
      tx.emit(domainEvent(this.deps.clock, 'phone_number.deleted', scope.tenantId, { phone_number_id: id, phone_number: number.e164 }));
    });
    return number;
  }

  private async setAgent(scope: Scope, number: PhoneNumber, agentId: string | null, onlyIfFreeFor: string | null): Promise<PhoneNumber> {
    if (agentId !== null && !(await this.deps.numbers.agentExists(scope, agentId))) throw notFound(`agent ${agentId}`);
    const at = this.deps.clock.now().toISOString();
    return this.deps.uow.run(async (tx) => {
      const move = await this.deps.numbers.setAgent(tx, scope, number.id, agentId, { at, ...(onlyIfFreeFor !== null && { onlyIfFreeFor }) });
      if (move === 'no_agent') throw notFound(`agent ${agentId}`);
      const current = await this.deps.numbers.get(scope, number.id, tx);
      if (!current) throw notFound('phone number');
      if (move === 'taken') throw conflict(`phone number ${number.e164} is assigned to agent ${current.agentId}; release it first`, 'phone_number');
      tx.emit(domainEvent(this.deps.clock, 'phone_number.updated', scope.tenantId, {
        phone_number_id: number.id, phone_number: number.e164, agent_id: agentId, previous_agent_id: number.agentId,
      }));
      return current;
    });
  }
}
