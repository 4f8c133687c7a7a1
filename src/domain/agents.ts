import { randomBytes } from 'node:crypto';
import { optionalHandler, type CallHandler } from './call-handler.js';
import { DomainError, conflict, forbidden, notFound } from './errors.js';
import { domainEvent } from './events.js';
import type { WallClock, IdSource } from './ids.js';
import { Permission, canManage, scopeOf, type Principal, type Scope } from './principal.js';
import type { TenantLimits } from './tenants.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import type { Keyset } from './paging.js';
import { voiceEngineOf, type VoiceEngineKind } from './voice-engine.js';

export type AgentKind = 'inbound' | 'outbound';
export type DeployStatus = 'active' | 'inactive';
export type Presence = 'available' | 'away' | 'busy' | 'offline' | 'ringing';
export type RingMethod = 'ringall' | 'linear';
export const AGENT_KINDS: readonly AgentKind[] = ['inbound', 'outbound'];
export const DEPLOY_STATUSES: readonly DeployStatus[] = ['active', 'inactive'];
export const PRESENCES: readonly Presence[] = ['available', 'away', 'busy', 'offline', 'ringing'];
export const RING_METHODS: readonly RingMethod[] = ['ringall', 'linear'];

/**
 * One agent, whatever dialect made it: an AI agent (prompt, voice) for the deployment API, a
 * call-center agent (username, presence, addresses) for agents v1.0, a listener for
 * registrations. Each dialect shows the fields it knows.
 */
export interface Agent {
  id: string;
  tenantId: string;
  name: string;
  detail: string;
  kind: AgentKind;
  systemPrompt: string;
  voice: string;
  language: string;
  greeting: string;
  personality: string;
  llmModel: string | null;
  contextData: Record<string, unknown>;
  deployStatus: DeployStatus;
  username: string | null;
  presence: Presence;
  ringMethod: RingMethod;
  permission: number;
  directHash: string | null;
  handler: CallHandler | null;
  /** Speech engine of calls Dialtone answers for it; null follows `VOICE_ENGINE`. */
  voiceEngine: VoiceEngineKind | null;
  totalCalls: number;
  totalMinutes: number;
  createdAt: string;
  updatedAt: string;
}

export interface NewAgent {
  name: string;
  detail?: string;
  kind?: AgentKind;
  systemPrompt?: string;
  voice?: string;
  language?: string;
  greeting?: string;
  personality?: string;
  llmModel?: string | null;
  contextData?: Record<string, unknown>;
  deployStatus?: DeployStatus;
  username?: string | null;
  passwordHash?: string | null;
  ringMethod?: RingMethod;
  permission?: number;
  handler?: CallHandler | null;
  voiceEngine?: VoiceEngineKind | null;
}

export type AgentPatch = Partial<Omit<NewAgent, 'username'>> & { presence?: Presence; username?: string | null };

export interface AgentFilter {
  deployStatus?: DeployStatus;
  kind?: AgentKind;
  presence?: Presence;
  /** Agents carrying at least one of these tags; an empty list matches none. */
  anyTagIds?: readonly string[];
  /** Newest first; continues after `before` (see paging.ts). */
  pageSize?: number;
  before?: Keyset;
  /** Rows to skip (offset-paged listings; fetch `pageSize: limit + 1` to learn whether more follow). */
  offset?: number;
}

/** An agent with the password hash login checks; never leaves the domain. */
export type AgentWithPassword = Agent & { passwordHash: string | null };

/** The columns an update may set; `updatedAt` always. */
export type AgentChanges = Partial<Omit<Agent, 'id' | 'tenantId' | 'createdAt' | 'updatedAt' | 'totalCalls' | 'totalMinutes'>>
  & { passwordHash?: string | null; updatedAt: string };

/** Where agents are kept; the only writer of the agents table. */
export interface AgentRepository {
  /** 'username taken' leaves `tx` unusable: the caller ends it by throwing. */
  insert(tx: Tx, agent: AgentWithPassword): Promise<'inserted' | 'username taken'>;
  count(tx: Tx, scope: Scope): Promise<number>;
  get(scope: Scope, id: string, tx?: Tx): Promise<Agent | null>;
  findByUsername(scope: Scope, username: string): Promise<AgentWithPassword | null>;
  /** Across tenants, for login where only a username is given. */
  findByUsernameAnyTenant(username: string): Promise<AgentWithPassword[]>;
  findByDirectHash(hash: string): Promise<Agent | null>;
  /** Newest first; `before` continues after that (createdAt, id); a null scope spans tenants. */
  listNewestFirst(scope: Scope | null, opts: {
    deployStatus?: DeployStatus; kind?: AgentKind; presence?: Presence; anyTagIds?: readonly string[]; before?: Keyset; limit?: number; offset?: number;
  }): Promise<Agent[]>;
  /** 'username taken' leaves `tx` (when given) unusable. */
  update(tx: Tx | undefined, scope: Scope, id: string, changes: AgentChanges): Promise<'updated' | 'username taken'>;
  /** With its addresses and tags. */
  delete(tx: Tx, scope: Scope, id: string): Promise<void>;
}

/** The tenant's limits, held for the rest of the transaction (the tenants repository). */
export interface AgentLimits {
  lockLimits(tx: Tx, scope: Scope): Promise<TenantLimits | null>;
}

/** The phone numbers linked to agents (the phone-numbers repository). */
export interface AgentNumbers {
  /** Unlinks every number from the agent. */
  releaseAgent(tx: Tx, scope: Scope, agentId: string): Promise<void>;
  /** Agent id → its first linked number, for many agents at once. */
  primaryNumbers(agents: Array<Pick<Agent, 'id' | 'tenantId'>>): Promise<Map<string, string>>;
  primaryNumber(scope: Scope, agentId: string): Promise<string | null>;
}

/** Registrations agents listen on (the registrations repository). */
export interface AgentListeners {
  /** Stops the agent listening on any registration. */
  releaseListener(tx: Tx, scope: Scope, agentId: string): Promise<void>;
}

/** Keys acting as an agent: its login tokens (the api-keys repository). */
export interface AgentTokens {
  deleteForAgent(tx: Tx, scope: Scope, agentId: string): Promise<void>;
}

export interface AgentServiceDeps {
  agents: AgentRepository;
  limits: AgentLimits;
  numbers: AgentNumbers;
  listeners: AgentListeners;
  tokens: AgentTokens;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

export function newDirectHash(): string {
  return randomBytes(6).toString('hex');
}

function usernameTaken(username: string | null | undefined): DomainError {
  return conflict(`username ${username} is already taken`, 'username');
}

export class AgentService {
  constructor(private readonly deps: AgentServiceDeps) {}

  /** `within` runs in the creating transaction, so whatever it adds is made with the agent or not at all. */
  async create(scope: Scope, input: NewAgent, within?: (tx: Tx, agent: Agent) => Promise<void>): Promise<Agent> {
    const now = this.deps.clock.now().toISOString();
    const agent: Agent = {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      name: input.name,
      detail: input.detail ?? '',
      kind: input.kind ?? 'inbound',
      systemPrompt: input.systemPrompt ?? '',
      voice: input.voice ?? 'alloy',
      language: input.language ?? 'en-US',
      greeting: input.greeting ?? '',
      personality: input.personality ?? '',
      llmModel: input.llmModel ?? null,
      contextData: input.contextData ?? {},
      deployStatus: input.deployStatus ?? 'active',
      username: input.username ?? null,
      presence: 'offline',
      ringMethod: input.ringMethod ?? 'ringall',
      permission: input.permission ?? Permission.none,
      directHash: newDirectHash(),
      handler: input.handler === undefined ? null : optionalHandler(input.handler),
      voiceEngine: input.voiceEngine === undefined ? null : voiceEngineOf(input.voiceEngine),
      totalCalls: 0,
      totalMinutes: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      await this.assertBelowAgentLimit(tx, scope);
      const inserted = await this.deps.agents.insert(tx, { ...agent, passwordHash: input.passwordHash ?? null });
      if (inserted === 'username taken') throw usernameTaken(input.username);
      if (within) await within(tx, agent);
      tx.emit(domainEvent(this.deps.clock, 'agent.created', scope.tenantId, { agent_id: agent.id }));
    });
    return agent;
  }

  /** Counts with the tenant row held (PostgreSQL) or under SQLite's single writer, so two creates cannot both squeeze in. */
  private async assertBelowAgentLimit(tx: Tx, scope: Scope): Promise<void> {
    const tenant = await this.deps.limits.lockLimits(tx, scope);
    if (!tenant) throw notFound('tenant');
    if (tenant.status === 'suspended') throw new DomainError('forbidden', 'tenant is suspended');
    if ((await this.deps.agents.count(tx, scope)) >= tenant.maxAgents) {
      throw new DomainError('limit', `tenant agent limit reached (max_agents ${tenant.maxAgents})`, 'max_agents');
    }
  }

  async get(scope: Scope, id: string, tx?: Tx): Promise<Agent> {
    const agent = await this.deps.agents.get(scope, id, tx);
    if (!agent) throw notFound('agent');
    return agent;
  }

  /** A plain agent reads itself only; another tenant's agent is not found rather than forbidden. */
  async getFor(actor: Principal, id: string): Promise<Agent> {
    const agent = await this.get(scopeOf(actor), id);
    if (actor.agentId !== id && !canManage(actor)) throw forbidden('an agent may only read itself');
    return agent;
  }

  async findByUsername(scope: Scope, username: string): Promise<AgentWithPassword | null> {
    return this.deps.agents.findByUsername(scope, username);
  }

  /** Across tenants, for login where only a username is given. */
  async findLoginCandidates(username: string): Promise<AgentWithPassword[]> {
    return this.deps.agents.findByUsernameAnyTenant(username);
  }

  async findByDirectHash(hash: string): Promise<Agent | null> {
    return this.deps.agents.findByDirectHash(hash);
  }

  async list(scope: Scope | null, filter: AgentFilter = {}): Promise<Agent[]> {
    return this.deps.agents.listNewestFirst(scope, {
      deployStatus: filter.deployStatus,
      kind: filter.kind,
      presence: filter.presence,
      anyTagIds: filter.anyTagIds,
      before: filter.before,
      limit: filter.pageSize,
      offset: filter.offset,
    });
  }

  async update(scope: Scope, id: string, patch: AgentPatch): Promise<Agent> {
    await this.get(scope, id);
    const changes: AgentChanges = {
      ...patch,
      ...(patch.handler !== undefined && { handler: optionalHandler(patch.handler) }),
      ...(patch.voiceEngine !== undefined && { voiceEngine: voiceEngineOf(patch.voiceEngine) }),
      updatedAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.uow.run(async (tx) => {
      if ((await this.deps.agents.update(tx, scope, id, changes)) === 'username taken') throw usernameTaken(patch.username);
      tx.emit(domainEvent(this.deps.clock, 'agent.updated', scope.tenantId, { agent_id: id }));
    });
    return this.get(scope, id);
  }

  /** Inside the caller's transaction, which also decides what else a permission change implies. */
  async setPermission(tx: Tx, scope: Scope, id: string, permission: number): Promise<void> {
    await this.deps.agents.update(tx, scope, id, { permission, updatedAt: this.deps.clock.now().toISOString() });
  }

  async regenerateDirectHash(scope: Scope, id: string): Promise<Agent> {
    await this.get(scope, id);
    await this.deps.agents.update(undefined, scope, id, { directHash: newDirectHash(), updatedAt: this.deps.clock.now().toISOString() });
    return this.get(scope, id);
  }

  /**
   * Also revokes the agent's login tokens and unlinks its numbers and registrations. `guard` runs
   * inside the deleting transaction, so a rule it checks cannot be raced (e.g. last admin).
   */
  async delete(scope: Scope, id: string, guard?: (tx: Tx, agent: Agent) => Promise<void>): Promise<Agent> {
    const agent = await this.get(scope, id);
    await this.deps.uow.run(async (tx) => {
      if (guard) await guard(tx, agent);
      await this.deps.tokens.deleteForAgent(tx, scope, id);
      await this.deps.numbers.releaseAgent(tx, scope, id);
      await this.deps.listeners.releaseListener(tx, scope, id);
      await this.deps.agents.delete(tx, scope, id);
      tx.emit(domainEvent(this.deps.clock, 'agent.deleted', scope.tenantId, { agent_id: id }));
    });
    return agent;
  }

  /**
   * Agents as a principal may see them: its own tenant's, narrowed to `tenantId` when given (another
   * tenant's id matches nothing). Only the platform admin acting for no tenant lists across tenants.
   */
  async listFor(principal: Principal, tenantId: string | undefined, filter: AgentFilter = {}): Promise<Agent[]> {
    if (principal.isPlatformAdmin && !principal.tenantId) {
      return this.list(tenantId ? { tenantId } : null, filter);
    }
    const scope = scopeOf(principal);
    if (tenantId !== undefined && tenantId !== scope.tenantId) return [];
    return this.list(scope, filter);
  }

  /** `primaryNumber` for many agents in one query: agent id → first linked number. */
  async primaryNumbers(agents: Array<Pick<Agent, 'id' | 'tenantId'>>): Promise<Map<string, string>> {
    if (agents.length === 0) return new Map();
    return this.deps.numbers.primaryNumbers(agents);
  }

  /** The first number linked to the agent, for dialects that show one `phone_number`. */
  async primaryNumber(scope: Scope, agentId: string): Promise<string | null> {
    return this.deps.numbers.primaryNumber(scope, agentId);
  }
}
