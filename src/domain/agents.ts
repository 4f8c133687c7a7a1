import { randomBytes } from 'node:crypto';
import type { AgentTable } from '../store/schema.js';
import type { Db } from '../store/db.js';
import type { ServiceDeps } from './deps.js';
import { event, isUniqueViolation } from './deps.js';
import { DomainError, conflict, notFound } from './errors.js';
import { Permission, scopeOf, type Principal, type Scope } from './principal.js';

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
  llmModel: string | null;
  contextData: Record<string, unknown>;
  deployStatus: DeployStatus;
  username: string | null;
  presence: Presence;
  ringMethod: RingMethod;
  permission: number;
  directHash: string | null;
  handler: string | null;
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
  llmModel?: string | null;
  contextData?: Record<string, unknown>;
  deployStatus?: DeployStatus;
  username?: string | null;
  passwordHash?: string | null;
  ringMethod?: RingMethod;
  permission?: number;
  handler?: string | null;
}

export type AgentPatch = Partial<Omit<NewAgent, 'username'>> & { presence?: Presence; username?: string | null };

export interface AgentFilter {
  deployStatus?: DeployStatus;
  kind?: AgentKind;
  /** Keyset paging over (created_at, id), newest first when set. */
  pageSize?: number;
  pageToken?: string;
}

export function toAgent(r: AgentTable): Agent {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    detail: r.detail,
    kind: r.kind as AgentKind,
    systemPrompt: r.system_prompt,
    voice: r.voice,
    language: r.language,
    greeting: r.greeting,
    llmModel: r.llm_model,
    contextData: JSON.parse(r.context_data) as Record<string, unknown>,
    deployStatus: r.deploy_status as DeployStatus,
    username: r.username,
    presence: r.presence as Presence,
    ringMethod: r.ring_method as RingMethod,
    permission: r.permission,
    directHash: r.direct_hash,
    handler: r.handler,
    totalCalls: r.total_calls,
    totalMinutes: r.total_minutes,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function newDirectHash(): string {
  return randomBytes(6).toString('hex');
}

export class AgentService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(scope: Scope, input: NewAgent): Promise<Agent> {
    const now = this.deps.clock.now().toISOString();
    const row: AgentTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      name: input.name,
      detail: input.detail ?? '',
      kind: input.kind ?? 'inbound',
      system_prompt: input.systemPrompt ?? '',
      voice: input.voice ?? 'alloy',
      language: input.language ?? 'en-US',
      greeting: input.greeting ?? '',
      llm_model: input.llmModel ?? null,
      context_data: JSON.stringify(input.contextData ?? {}),
      deploy_status: input.deployStatus ?? 'active',
      username: input.username ?? null,
      password_hash: input.passwordHash ?? null,
      presence: 'offline',
      ring_method: input.ringMethod ?? 'ringall',
      permission: input.permission ?? Permission.none,
      direct_hash: newDirectHash(),
      handler: input.handler ?? null,
      total_calls: 0,
      total_minutes: 0,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        await this.assertBelowAgentLimit(trx, scope);
        await trx.insertInto('agents').values(row).execute();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`username ${input.username} is already taken`, 'username');
      throw err;
    }
    const agent = toAgent(row);
    await this.deps.bus.publish(event(this.deps, 'agent.created', scope.tenantId, { agent_id: agent.id }));
    return agent;
  }

  /** Counts under the tenant row's lock (PostgreSQL) or SQLite's single writer, so two creates cannot both squeeze in. */
  private async assertBelowAgentLimit(trx: Db, scope: Scope): Promise<void> {
    let tq = trx.selectFrom('tenants').select(['max_agents', 'status']).where('id', '=', scope.tenantId);
    if (this.deps.dbKind === 'postgres') tq = tq.forNoKeyUpdate();
    const tenant = await tq.executeTakeFirst();
    if (!tenant) throw notFound('tenant');
    if (tenant.status === 'suspended') throw new DomainError('forbidden', 'tenant is suspended');
    const { n } = await trx.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', scope.tenantId).executeTakeFirstOrThrow();
    if (Number(n) >= tenant.max_agents) {
      throw new DomainError('limit', `tenant agent limit reached (max_agents ${tenant.max_agents})`, 'max_agents');
    }
  }

  async get(scope: Scope, id: string): Promise<Agent> {
    const row = await this.deps.db.selectFrom('agents').selectAll().where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('agent');
    return toAgent(row);
  }

  async findByUsername(scope: Scope, username: string): Promise<(Agent & { passwordHash: string | null }) | null> {
    const row = await this.deps.db.selectFrom('agents').selectAll().where('tenant_id', '=', scope.tenantId).where('username', '=', username).executeTakeFirst();
    return row ? { ...toAgent(row), passwordHash: row.password_hash } : null;
  }

  /** Across tenants, for login where only a username is given. */
  async findLoginCandidates(username: string): Promise<Array<Agent & { passwordHash: string | null }>> {
    const rows = await this.deps.db.selectFrom('agents').selectAll().where('username', '=', username).execute();
    return rows.map((r) => ({ ...toAgent(r), passwordHash: r.password_hash }));
  }

  async findByDirectHash(hash: string): Promise<Agent | null> {
    const row = await this.deps.db.selectFrom('agents').selectAll().where('direct_hash', '=', hash).executeTakeFirst();
    return row ? toAgent(row) : null;
  }

  async list(scope: Scope | null, filter: AgentFilter = {}): Promise<Agent[]> {
    let q = this.deps.db.selectFrom('agents').selectAll();
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    if (filter.deployStatus) q = q.where('deploy_status', '=', filter.deployStatus);
    if (filter.kind) q = q.where('kind', '=', filter.kind);
    if (filter.pageToken) {
      const [at, id] = splitPageToken(filter.pageToken);
      q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
    }
    q = q.orderBy('created_at', 'desc').orderBy('id', 'desc');
    if (filter.pageSize) q = q.limit(filter.pageSize);
    return (await q.execute()).map(toAgent);
  }

  async update(scope: Scope, id: string, patch: AgentPatch): Promise<Agent> {
    await this.get(scope, id);
    const set: Partial<AgentTable> = { updated_at: this.deps.clock.now().toISOString() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.detail !== undefined) set.detail = patch.detail;
    if (patch.kind !== undefined) set.kind = patch.kind;
    if (patch.systemPrompt !== undefined) set.system_prompt = patch.systemPrompt;
    if (patch.voice !== undefined) set.voice = patch.voice;
    if (patch.language !== undefined) set.language = patch.language;
    if (patch.greeting !== undefined) set.greeting = patch.greeting;
    if (patch.llmModel !== undefined) set.llm_model = patch.llmModel;
    if (patch.contextData !== undefined) set.context_data = JSON.stringify(patch.contextData);
    if (patch.deployStatus !== undefined) set.deploy_status = patch.deployStatus;
    if (patch.username !== undefined) set.username = patch.username;
    if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
    if (patch.ringMethod !== undefined) set.ring_method = patch.ringMethod;
    if (patch.permission !== undefined) set.permission = patch.permission;
    if (patch.presence !== undefined) set.presence = patch.presence;
    if (patch.handler !== undefined) set.handler = patch.handler;
    try {
      await this.deps.db.updateTable('agents').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`username ${patch.username} is already taken`, 'username');
      throw err;
    }
    const agent = await this.get(scope, id);
    await this.deps.bus.publish(event(this.deps, 'agent.updated', scope.tenantId, { agent_id: id }));
    return agent;
  }

  async regenerateDirectHash(scope: Scope, id: string): Promise<Agent> {
    await this.get(scope, id);
    await this.deps.db.updateTable('agents').set({ direct_hash: newDirectHash(), updated_at: this.deps.clock.now().toISOString() })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    return this.get(scope, id);
  }

  /** `guard` runs inside the deleting transaction, so a rule it checks cannot be raced (e.g. last admin). */
  async delete(scope: Scope, id: string, guard?: (trx: Db, agent: Agent) => Promise<void>): Promise<Agent> {
    const agent = await this.get(scope, id);
    await this.deps.db.transaction().execute(async (trx) => {
      if (guard) await guard(trx, agent);
      await trx.deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', id).execute();
      await trx.updateTable('phone_numbers').set({ agent_id: null }).where('tenant_id', '=', scope.tenantId).where('agent_id', '=', id).execute();
      await trx.updateTable('registrations').set({ listener_agent_id: null }).where('tenant_id', '=', scope.tenantId).where('listener_agent_id', '=', id).execute();
      await trx.deleteFrom('agents').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    });
    await this.deps.bus.publish(event(this.deps, 'agent.deleted', scope.tenantId, { agent_id: id }));
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
    const result = new Map<string, string>();
    if (agents.length === 0) return result;
    const tenantIds = [...new Set(agents.map((a) => a.tenantId))];
    const rows = await this.deps.db.selectFrom('phone_numbers').select(['agent_id', 'e164'])
      .where('tenant_id', 'in', tenantIds).where('agent_id', 'in', agents.map((a) => a.id))
      .orderBy('created_at', 'desc').execute();
    // Newest first, so the oldest number per agent is written last and wins.
    for (const r of rows) if (r.agent_id) result.set(r.agent_id, r.e164);
    return result;
  }

  /** The first number linked to the agent, for dialects that show one `phone_number`. */
  async primaryNumber(scope: Scope, agentId: string): Promise<string | null> {
    const row = await this.deps.db.selectFrom('phone_numbers').select('e164').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).orderBy('created_at').limit(1).executeTakeFirst();
    return row?.e164 ?? null;
  }
}

export function pageTokenOf(a: Pick<Agent, 'createdAt' | 'id'>): string {
  return `${a.createdAt}|${a.id}`;
}

function splitPageToken(token: string): [string, string] {
  const i = token.lastIndexOf('|');
  return i < 0 ? [token, '\uffff'] : [token.slice(0, i), token.slice(i + 1)];
}
