import { sql } from 'kysely';
import type { AddressType, AgentAddress, AgentDetails, AgentDirectoryRepository } from '../../domain/agent-directory.js';
import type {
  Agent, AgentChanges, AgentKind, AgentRepository, AgentWithPassword, DeployStatus, Presence, RingMethod,
} from '../../domain/agents.js';
import type { Keyset } from '../../domain/paging.js';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { VoiceEngineKind } from '../../domain/voice-engine.js';
import type { AgentTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { storedHandler } from './call-handler-column.js';
import { isUniqueViolation } from '../unique-violation.js';

function toAgent(r: AgentTable): Agent {
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
    personality: r.personality,
    llmModel: r.llm_model,
    contextData: JSON.parse(r.context_data) as Record<string, unknown>,
    deployStatus: r.deploy_status as DeployStatus,
    username: r.username,
    presence: r.presence as Presence,
    ringMethod: r.ring_method as RingMethod,
    permission: r.permission,
    directHash: r.direct_hash,
    handler: storedHandler(r.handler),
    voiceEngine: r.voice_engine as VoiceEngineKind | null,
    totalCalls: r.total_calls,
    totalMinutes: r.total_minutes,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const withPassword = (r: AgentTable): AgentWithPassword => ({ ...toAgent(r), passwordHash: r.password_hash });

/** The update columns of the changes that are set; undefined means "leave it". */
function toColumns(c: AgentChanges): Partial<AgentTable> {
  const set: Partial<AgentTable> = { updated_at: c.updatedAt };
  if (c.name !== undefined) set.name = c.name;
  if (c.detail !== undefined) set.detail = c.detail;
  if (c.kind !== undefined) set.kind = c.kind;
  if (c.systemPrompt !== undefined) set.system_prompt = c.systemPrompt;
  if (c.voice !== undefined) set.voice = c.voice;
  if (c.language !== undefined) set.language = c.language;
  if (c.greeting !== undefined) set.greeting = c.greeting;
  if (c.personality !== undefined) set.personality = c.personality;
  if (c.llmModel !== undefined) set.llm_model = c.llmModel;
  if (c.contextData !== undefined) set.context_data = JSON.stringify(c.contextData);
  if (c.deployStatus !== undefined) set.deploy_status = c.deployStatus;
  if (c.username !== undefined) set.username = c.username;
  if (c.passwordHash !== undefined) set.password_hash = c.passwordHash;
  if (c.presence !== undefined) set.presence = c.presence;
  if (c.ringMethod !== undefined) set.ring_method = c.ringMethod;
  if (c.permission !== undefined) set.permission = c.permission;
  if (c.directHash !== undefined) set.direct_hash = c.directHash;
  if (c.handler !== undefined) set.handler = c.handler;
  if (c.voiceEngine !== undefined) set.voice_engine = c.voiceEngine;
  return set;
}

/** The `agents` table with its `agent_addresses` and `agent_tags`. */
export class SqlAgentRepository implements AgentRepository, AgentDirectoryRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx, a: AgentWithPassword): Promise<'inserted' | 'username taken'> {
    try {
      await on(this.store, tx).insertInto('agents').values({
        id: a.id, tenant_id: a.tenantId, name: a.name, detail: a.detail, kind: a.kind, system_prompt: a.systemPrompt,
        voice: a.voice, language: a.language, greeting: a.greeting, personality: a.personality, llm_model: a.llmModel,
        context_data: JSON.stringify(a.contextData), deploy_status: a.deployStatus, username: a.username,
        password_hash: a.passwordHash, presence: a.presence, ring_method: a.ringMethod, permission: a.permission,
        direct_hash: a.directHash, handler: a.handler, voice_engine: a.voiceEngine, total_calls: a.totalCalls, total_minutes: a.totalMinutes,
        created_at: a.createdAt, updated_at: a.updatedAt,
      }).execute();
      return 'inserted';
    } catch (err) {
      // (tenant_id, username) is the only unique key a caller can collide with.
      if (isUniqueViolation(err)) return 'username taken';
      throw err;
    }
  }

  async count(tx: Tx, scope: Scope): Promise<number> {
    const { n } = await on(this.store, tx).selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', scope.tenantId).executeTakeFirstOrThrow();
    return Number(n);
  }

  async get(scope: Scope, id: string, tx?: Tx): Promise<Agent | null> {
    const row = await on(this.store, tx).selectFrom('agents').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toAgent(row) : null;
  }

  async findByUsername(scope: Scope, username: string): Promise<AgentWithPassword | null> {
    const row = await this.store.db.selectFrom('agents').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('username', '=', username).executeTakeFirst();
    return row ? withPassword(row) : null;
  }

  async findByUsernameAnyTenant(username: string): Promise<AgentWithPassword[]> {
    return (await this.store.db.selectFrom('agents').selectAll().where('username', '=', username).execute()).map(withPassword);
  }

  async findByDirectHash(hash: string): Promise<Agent | null> {
    const row = await this.store.db.selectFrom('agents').selectAll().where('direct_hash', '=', hash).executeTakeFirst();
    return row ? toAgent(row) : null;
  }

  async listNewestFirst(scope: Scope | null, opts: {
    deployStatus?: DeployStatus; kind?: AgentKind; presence?: Presence; anyTagIds?: readonly string[]; before?: Keyset; limit?: number; offset?: number;
  }): Promise<Agent[]> {
    let q = this.store.db.selectFrom('agents').selectAll();
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    if (opts.deployStatus) q = q.where('deploy_status', '=', opts.deployStatus);
    if (opts.kind) q = q.where('kind', '=', opts.kind);
    if (opts.presence) q = q.where('presence', '=', opts.presence);
    const tagIds = opts.anyTagIds;
    if (tagIds) {
      if (tagIds.length === 0) return [];
      q = q.where('id', 'in', (eb) => eb.selectFrom('agent_tags').select('agent_id')
        .where('tag_id', 'in', [...tagIds]).$if(scope !== null, (sq) => sq.where('tenant_id', '=', scope!.tenantId)));
    }
    const before = opts.before;
    if (before) {
      q = q.where((eb) => eb.or([
        eb('created_at', '<', before.createdAt),
        eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
      ]));
    }
    q = q.orderBy('created_at', 'desc').orderBy('id', 'desc');
    if (opts.limit) q = q.limit(opts.limit);
    if (opts.offset) q = q.offset(opts.offset);
    return (await q.execute()).map(toAgent);
  }

  async update(tx: Tx | undefined, scope: Scope, id: string, changes: AgentChanges): Promise<'updated' | 'username taken'> {
    try {
      await on(this.store, tx).updateTable('agents').set(toColumns(changes))
        .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
      return 'updated';
    } catch (err) {
      if (isUniqueViolation(err)) return 'username taken';
      throw err;
    }
  }

  async delete(tx: Tx, scope: Scope, id: string): Promise<void> {
    const db = on(this.store, tx);
    // The foreign keys cascade too; saying it here keeps the delete independent of that.
    await db.deleteFrom('agent_addresses').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', id).execute();
    await db.deleteFrom('agent_tags').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', id).execute();
    await db.deleteFrom('agents').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async touch(tx: Tx, scope: Scope, id: string, at: string): Promise<void> {
    await on(this.store, tx).updateTable('agents').set({ updated_at: at })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async countHolding(tx: Tx, scope: Scope, bits: number, opts: { except: string }): Promise<number> {
    const { n } = await on(this.store, tx).selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', scope.tenantId).where('id', '!=', opts.except)
      .where(sql<boolean>`(permission & ${sql.lit(bits)}) <> 0`)
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  async takenAddress(tx: Tx | undefined, scope: Scope, ownerId: string | null, addresses: readonly AgentAddress[]): Promise<AgentAddress | null> {
    if (addresses.length === 0) return null;
    let q = on(this.store, tx).selectFrom('agent_addresses').select(['type', 'target']).where('tenant_id', '=', scope.tenantId)
      .where((eb) => eb.or(addresses.map((a) => eb.and([eb('type', '=', a.type), eb('target', '=', a.target)]))));
    if (ownerId) q = q.where('agent_id', '!=', ownerId);
    const row = await q.executeTakeFirst();
    return row ? { type: row.type as AddressType, target: row.target } : null;
  }

  async replaceAddresses(tx: Tx, scope: Scope, agentId: string, addresses: ReadonlyArray<AgentAddress & { id: string }>): Promise<'replaced' | 'address taken'> {
    const db = on(this.store, tx);
    await db.deleteFrom('agent_addresses').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
    if (addresses.length === 0) return 'replaced';
    try {
      await db.insertInto('agent_addresses').values(addresses.map((a, position) => ({
        id: a.id, tenant_id: scope.tenantId, agent_id: agentId, type: a.type, target: a.target, position,
      }))).execute();
      return 'replaced';
    } catch (err) {
      if (isUniqueViolation(err)) return 'address taken';
      throw err;
    }
  }

  async replaceTags(tx: Tx, scope: Scope, agentId: string, tagIds: readonly string[]): Promise<void> {
    const db = on(this.store, tx);
    await db.deleteFrom('agent_tags').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
    if (tagIds.length === 0) return;
    await db.insertInto('agent_tags').values(tagIds.map((tagId) => ({ tenant_id: scope.tenantId, agent_id: agentId, tag_id: tagId }))).execute();
  }

  async details(scope: Scope, agentIds: readonly string[]): Promise<Map<string, AgentDetails>> {
    const result = new Map<string, AgentDetails>(agentIds.map((id) => [id, { addresses: [], tagIds: [] }]));
    if (agentIds.length === 0) return result;
    const ids = [...agentIds];
    const [addressRows, tagRows] = await Promise.all([
      this.store.db.selectFrom('agent_addresses').select(['agent_id', 'type', 'target'])
        .where('tenant_id', '=', scope.tenantId).where('agent_id', 'in', ids).orderBy('position').execute(),
      this.store.db.selectFrom('agent_tags').select(['agent_id', 'tag_id'])
        .where('tenant_id', '=', scope.tenantId).where('agent_id', 'in', ids).orderBy('tag_id').execute(),
    ]);
    for (const r of addressRows) result.get(r.agent_id)?.addresses.push({ type: r.type as AddressType, target: r.target });
    for (const r of tagRows) result.get(r.agent_id)?.tagIds.push(r.tag_id);
    return result;
  }

  /** Adds to the agent's running totals: `calls` more calls and `seconds` more talk time. */
  async addCallTotals(tx: Tx, scope: Scope, agentId: string, totals: { calls: number; seconds: number }): Promise<void> {
    await on(this.store, tx).updateTable('agents')
      .set({ total_calls: sql`total_calls + ${totals.calls}`, total_minutes: sql`total_minutes + ${totals.seconds / 60}` })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).execute();
  }
}
