import { sql } from 'kysely';
import type { CallTable } from '../store/schema.js';
import type { Db } from '../store/db.js';
import type { ServiceDeps } from './deps.js';
import { event, isUniqueViolation } from './deps.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import type { Scope } from './principal.js';
import { requireObject, requireOneOf } from './validate.js';

export type CallStatus = 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export const CALL_STATUSES: readonly CallStatus[] = ['queued', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'];
export const LIVE_STATUSES: CallStatus[] = ['queued', 'ringing', 'in-progress'];
export const FINAL_STATUSES: CallStatus[] = ['completed', 'busy', 'no-answer', 'failed', 'canceled'];
export type CallDirection = 'inbound' | 'outbound';
export const CALL_DIRECTIONS: readonly CallDirection[] = ['inbound', 'outbound'];
export type TurnRole = 'caller' | 'agent' | 'supervisor' | 'system';
export const TURN_ROLES: readonly TurnRole[] = ['caller', 'agent', 'supervisor', 'system'];

/** One phone call handled by an agent, live or finished. */
export interface Call {
  id: string;
  tenantId: string;
  callSid: string;
  agentId: string | null;
  phoneNumber: string | null;
  direction: CallDirection;
  fromNumber: string;
  toNumber: string;
  status: CallStatus;
  context: Record<string, unknown>;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** Final once the call ended; for a live call read through `get`/`listActive`, the time elapsed so far. */
  durationSeconds: number | null;
  cost: number | null;
  endReason: string | null;
  handoff: Record<string, unknown> | null;
}

export interface CallTurn {
  role: TurnRole;
  text: string;
  interrupted: boolean;
  createdAt: string;
}

/** What a caller gives to open a call; the sid is generated and the context empty when left out. */
export type NewCall = Pick<Call, 'agentId' | 'phoneNumber' | 'direction' | 'fromNumber' | 'toNumber' | 'status'>
  & Partial<Pick<Call, 'callSid' | 'context'>>;

export interface RejectedCall extends Omit<NewCall, 'status' | 'context'> {
  status: 'busy' | 'failed';
  endReason: string;
}

export interface StatusChange {
  status: CallStatus;
  durationSeconds?: number;
  cost?: number;
  endReason?: string;
  handoff?: Record<string, unknown>;
}

export interface HistoryFilter {
  agentId?: string;
  startDate?: string;
  endDate?: string;
  limit: number;
  offset: number;
}

export const isLive = (s: CallStatus): boolean => LIVE_STATUSES.includes(s);
export const isFinal = (s: CallStatus): boolean => FINAL_STATUSES.includes(s);

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toCall(r: CallTable): Call {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    callSid: r.call_sid,
    agentId: r.agent_id,
    phoneNumber: r.phone_number,
    direction: r.direction as CallDirection,
    fromNumber: r.from_number,
    toNumber: r.to_number,
    status: r.status as CallStatus,
    context: parseJson<Record<string, unknown>>(r.context) ?? {},
    startedAt: r.started_at,
    answeredAt: r.answered_at,
    endedAt: r.ended_at,
    durationSeconds: r.duration_seconds === null ? null : Number(r.duration_seconds),
    cost: r.cost === null ? null : Number(r.cost),
    endReason: r.end_reason,
    handoff: parseJson<Record<string, unknown>>(r.handoff),
  };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO-8601 date or timestamp as the UTC text calls are stored with. A bare date used as an
 * upper bound means the whole of that day, which is what someone asking for "until the 5th" means.
 */
function isoBound(field: string, value: string, endOfDay: boolean): string {
  const ms = ISO_8601.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw invalid(field, `${field} must be an ISO 8601 date or timestamp like 2024-01-01T12:00:00Z`);
  const dateOnly = value.length === 10;
  return new Date(dateOnly && endOfDay ? ms + 86_400_000 - 1 : ms).toISOString();
}

/** Bounds the number of call sids remembered for tenant lookups on hot paths (partial transcripts). */
const TENANT_CACHE_MAX = 10_000;

/**
 * Calls and their transcripts. The call runtime and the carrier webhooks drive state through this
 * service; every change is published on the bus for the events stream.
 */
export class CallService {
  private readonly tenantBySid = new Map<string, string>();

  constructor(private readonly deps: ServiceDeps) {}

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private newSid(): string {
    return this.deps.ids.hex('CA', 16);
  }

  private remember(call: { callSid: string; tenantId: string }): void {
    if (this.tenantBySid.size >= TENANT_CACHE_MAX) this.tenantBySid.clear();
    this.tenantBySid.set(call.callSid, call.tenantId);
  }

  private async tenantOf(callSid: string): Promise<string> {
    const cached = this.tenantBySid.get(callSid);
    if (cached) return cached;
    const call = await this.findBySid(callSid);
    if (!call) throw notFound('call');
    return call.tenantId;
  }

  private checkNew(input: Pick<NewCall, 'direction' | 'fromNumber' | 'toNumber'>): void {
    requireOneOf('direction', input.direction, CALL_DIRECTIONS);
    if (typeof input.fromNumber !== 'string' || input.fromNumber.length > 256) throw invalid('from_number', 'from_number must be a string of at most 256 characters');
    if (typeof input.toNumber !== 'string' || input.toNumber.length > 256) throw invalid('to_number', 'to_number must be a string of at most 256 characters');
  }

  private baseRow(scope: Scope, input: Omit<NewCall, 'status'>, status: CallStatus, now: string): CallTable {
    return {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      call_sid: input.callSid ?? this.newSid(),
      agent_id: input.agentId,
      phone_number: input.phoneNumber,
      direction: input.direction,
      from_number: input.fromNumber,
      to_number: input.toNumber,
      status,
      context: JSON.stringify(input.context ?? {}),
      started_at: now,
      answered_at: status === 'in-progress' ? now : null,
      ended_at: null,
      duration_seconds: null,
      cost: null,
      end_reason: null,
      handoff: null,
      created_at: now,
      updated_at: now,
    };
  }

  private async insert(row: CallTable, guard?: (trx: Db) => Promise<void>): Promise<void> {
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        if (guard) await guard(trx);
        await trx.insertInto('calls').values(row).execute();
        if (row.ended_at && row.agent_id) await this.addToAgentTotals(trx, row.tenant_id, row.agent_id, row.duration_seconds ?? 0);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`call ${row.call_sid} already exists`, 'call_sid');
      throw err;
    }
  }

  /**
   * Counts live calls while holding the tenant row (PostgreSQL) or SQLite's single writer, so two
   * calls arriving together cannot both take the last slot. FOR NO KEY UPDATE, not FOR UPDATE:
   * it still excludes the other limit checks, but lets foreign-key checks against the tenant
   * (the analytics triggers' inserts) through, which otherwise deadlocked with status updates.
   */
  private async assertBelowCallLimit(trx: Db, scope: Scope): Promise<void> {
    let tq = trx.selectFrom('tenants').select(['max_concurrent_calls']).where('id', '=', scope.tenantId);
    if (this.deps.dbKind === 'postgres') tq = tq.forNoKeyUpdate();
    const tenant = await tq.executeTakeFirst();
    if (!tenant) throw notFound('tenant');
    const { n } = await trx.selectFrom('calls').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', scope.tenantId).where('status', 'in', LIVE_STATUSES).executeTakeFirstOrThrow();
    if (Number(n) >= tenant.max_concurrent_calls) {
      throw new DomainError('limit', `tenant concurrent call limit reached (max_concurrent_calls ${tenant.max_concurrent_calls})`, 'max_concurrent_calls');
    }
  }

  private async addToAgentTotals(trx: Db, tenantId: string, agentId: string, seconds: number): Promise<void> {
    await trx.updateTable('agents')
      .set({ total_calls: sql`total_calls + 1`, total_minutes: sql`total_minutes + ${seconds / 60}` })
      .where('tenant_id', '=', tenantId).where('id', '=', agentId).execute();
  }

  async open(scope: Scope, input: NewCall): Promise<Call> {
    this.checkNew(input);
    requireOneOf('status', input.status, LIVE_STATUSES);
    if (input.context !== undefined) requireObject('context', input.context);
    const row = this.baseRow(scope, input, input.status, this.now());
    await this.insert(row, (trx) => this.assertBelowCallLimit(trx, scope));
    const call = toCall(row);
    this.remember(call);
    await this.deps.bus.publish(event(this.deps, 'call.started', scope.tenantId, {
      agent_id: call.agentId, direction: call.direction, from_number: call.fromNumber, to_number: call.toNumber, status: call.status,
    }, call.callSid));
    return call;
  }

  async recordRejected(scope: Scope, input: RejectedCall): Promise<Call> {
    this.checkNew(input);
    requireOneOf('status', input.status, ['busy', 'failed'] as const);
    const now = this.now();
    const row: CallTable = { ...this.baseRow(scope, input, input.status, now), ended_at: now, duration_seconds: 0, end_reason: input.endReason };
    await this.insert(row);
    const call = toCall(row);
    this.remember(call);
    await this.deps.bus.publish(event(this.deps, 'call.ended', scope.tenantId, {
      agent_id: call.agentId, status: call.status, duration: 0, end_reason: call.endReason, cost: null,
    }, call.callSid));
    return call;
  }

  async findBySid(callSid: string): Promise<Call | null> {
    const row = await this.deps.db.selectFrom('calls').selectAll().where('call_sid', '=', callSid).executeTakeFirst();
    return row ? toCall(row) : null;
  }

  private withLiveDuration(call: Call): Call {
    if (!isLive(call.status)) return call;
    const since = Date.parse(call.answeredAt ?? call.startedAt);
    return { ...call, durationSeconds: Math.max(0, Math.round((this.deps.clock.now().getTime() - since) / 1000)) };
  }

  async get(scope: Scope, callSid: string): Promise<Call> {
    const row = await this.deps.db.selectFrom('calls').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid).executeTakeFirst();
    if (!row) throw notFound('call');
    return this.withLiveDuration(toCall(row));
  }

  async updateStatus(callSid: string, change: StatusChange): Promise<Call> {
    requireOneOf('status', change.status, CALL_STATUSES);
    if (change.durationSeconds !== undefined && !(Number.isFinite(change.durationSeconds) && change.durationSeconds >= 0)) {
      throw invalid('duration', 'duration must be a non-negative number of seconds');
    }
    if (change.cost !== undefined && !Number.isFinite(change.cost)) throw invalid('cost', 'cost must be a number');
    const current = await this.findBySid(callSid);
    if (!current) throw notFound('call');
    if (isFinal(current.status)) return this.amendFinished(current, change);

    const now = this.now();
    const final = isFinal(change.status);
    const set: Partial<CallTable> = { status: change.status, updated_at: now };
    const answeredAt = current.answeredAt ?? (change.status === 'in-progress' ? now : null);
    if (answeredAt !== current.answeredAt) set.answered_at = answeredAt;
    if (change.cost !== undefined) set.cost = change.cost;
    if (change.endReason !== undefined) set.end_reason = change.endReason;
    if (change.handoff !== undefined) set.handoff = JSON.stringify(change.handoff);
    if (final) {
      const endedAt = current.endedAt ?? now;
      set.ended_at = endedAt;
      // Twilio counts from the answer; a call that never connected lasted nothing.
      const from = answeredAt ?? (change.status === 'completed' ? current.startedAt : null);
      set.duration_seconds = Math.round(change.durationSeconds
        ?? (from ? Math.max(0, (Date.parse(endedAt) - Date.parse(from)) / 1000) : 0));
    }

    // The status guard in the WHERE makes the final transition (and the agent totals) happen once,
    // even when the carrier callback and the relay session report the end together.
    const applied = await this.deps.db.transaction().execute(async (trx) => {
      const res = await trx.updateTable('calls').set(set).where('call_sid', '=', callSid)
        .where('status', 'not in', FINAL_STATUSES).executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      if (final && current.agentId) await this.addToAgentTotals(trx, current.tenantId, current.agentId, set.duration_seconds ?? 0);
      return true;
    });
    const call = (await this.findBySid(callSid))!;
    if (!applied) return call;
    if (final) {
      this.tenantBySid.delete(callSid);
      await this.deps.bus.publish(event(this.deps, 'call.ended', call.tenantId, {
        agent_id: call.agentId, status: call.status, duration: call.durationSeconds, end_reason: call.endReason, cost: call.cost,
      }, callSid));
    } else {
      await this.deps.bus.publish(event(this.deps, 'call.updated', call.tenantId, { agent_id: call.agentId, status: call.status }, callSid));
    }
    return call;
  }

  /**
   * The carrier's final callback often comes after the relay session already ended the call; its
   * billed duration and price still belong on the record (the status and end reason stay).
   */
  private async amendFinished(current: Call, change: StatusChange): Promise<Call> {
    const set: Partial<CallTable> = {};
    if (change.cost !== undefined && current.cost === null) set.cost = change.cost;
    const duration = change.durationSeconds === undefined ? undefined : Math.round(change.durationSeconds);
    if (duration !== undefined && duration !== current.durationSeconds) set.duration_seconds = duration;
    if (Object.keys(set).length === 0) return current;
    set.updated_at = this.now();
    const applied = await this.deps.db.transaction().execute(async (trx) => {
      let q = trx.updateTable('calls').set(set).where('call_sid', '=', current.callSid);
      // Conditioned on what was read, so two late callbacks cannot both shift the agent's minutes.
      if (set.cost !== undefined) q = q.where('cost', 'is', null);
      if (set.duration_seconds !== undefined) q = q.where('duration_seconds', current.durationSeconds === null ? 'is' : '=', current.durationSeconds);
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      if (duration !== undefined && set.duration_seconds !== undefined && current.agentId) {
        const delta = (duration - (current.durationSeconds ?? 0)) / 60;
        await trx.updateTable('agents').set({ total_minutes: sql`total_minutes + ${delta}` })
          .where('tenant_id', '=', current.tenantId).where('id', '=', current.agentId).execute();
      }
      return true;
    });
    const call = (await this.findBySid(current.callSid))!;
    if (applied) {
      await this.deps.bus.publish(event(this.deps, 'call.updated', call.tenantId, {
        agent_id: call.agentId, status: call.status, duration: call.durationSeconds, cost: call.cost,
      }, call.callSid));
    }
    return call;
  }

  async mergeContext(scope: Scope, callSid: string, patch: Record<string, unknown>): Promise<Call> {
    requireObject('context', patch);
    const context = await this.deps.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('calls').select(['status', 'context'])
        .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid);
      if (this.deps.dbKind === 'postgres') q = q.forNoKeyUpdate();
      const row = await q.executeTakeFirst();
      if (!row) throw notFound('call');
      if (isFinal(row.status as CallStatus)) throw conflict(`call ${callSid} has ended; its context can no longer change`);
      const merged = { ...(JSON.parse(row.context) as Record<string, unknown>), ...patch };
      await trx.updateTable('calls').set({ context: JSON.stringify(merged), updated_at: this.now() })
        .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid).execute();
      return merged;
    });
    await this.deps.bus.publish(event(this.deps, 'context.updated', scope.tenantId, { context }, callSid));
    return this.get(scope, callSid);
  }

  async addTurn(callSid: string, turn: { role: TurnRole; text: string; interrupted?: boolean }): Promise<void> {
    requireOneOf('role', turn.role, TURN_ROLES);
    if (typeof turn.text !== 'string') throw invalid('text', 'text must be a string');
    const call = await this.deps.db.selectFrom('calls').select(['id', 'tenant_id']).where('call_sid', '=', callSid).executeTakeFirst();
    if (!call) throw notFound('call');
    const last = await this.deps.db.selectFrom('call_turns').select((eb) => eb.fn.max('created_at').as('at'))
      .where('call_id', '=', call.id).executeTakeFirst();
    // Turns are ordered by time; keep them strictly increasing so two turns in one millisecond keep their order.
    let at = this.now();
    if (last?.at && at <= last.at) at = new Date(Date.parse(last.at) + 1).toISOString();
    const interrupted = turn.interrupted ?? false;
    await this.deps.db.insertInto('call_turns').values({
      id: this.deps.ids.uuid(), tenant_id: call.tenant_id, call_id: call.id, role: turn.role, text: turn.text,
      interrupted: interrupted ? 1 : 0, created_at: at,
    }).execute();
    await this.deps.bus.publish(event(this.deps, 'transcript.final', call.tenant_id, { role: turn.role, text: turn.text, interrupted }, callSid));
  }

  async transcript(callSid: string): Promise<CallTurn[]> {
    const rows = await this.deps.db.selectFrom('call_turns').innerJoin('calls', 'calls.id', 'call_turns.call_id')
      .select(['call_turns.role', 'call_turns.text', 'call_turns.interrupted', 'call_turns.created_at'])
      .where('calls.call_sid', '=', callSid).orderBy('call_turns.created_at').execute();
    return rows.map((r) => ({ role: r.role as TurnRole, text: r.text, interrupted: Number(r.interrupted) === 1, createdAt: r.created_at }));
  }

  async publishPartial(callSid: string, text: string): Promise<void> {
    const tenantId = await this.tenantOf(callSid);
    await this.deps.bus.publish(event(this.deps, 'transcript.partial', tenantId, { text }, callSid));
  }

  async publishError(callSid: string, message: string): Promise<void> {
    const tenantId = await this.tenantOf(callSid);
    await this.deps.bus.publish(event(this.deps, 'error', tenantId, { message }, callSid));
  }

  async listActive(scope: Scope): Promise<Call[]> {
    const rows = await this.deps.db.selectFrom('calls').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('status', 'in', LIVE_STATUSES)
      .orderBy('started_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map((r) => this.withLiveDuration(toCall(r)));
  }

  async history(scope: Scope, filter: HistoryFilter): Promise<{ calls: Call[]; total: number }> {
    const start = filter.startDate !== undefined ? isoBound('start_date', filter.startDate, false) : undefined;
    const end = filter.endDate !== undefined ? isoBound('end_date', filter.endDate, true) : undefined;
    if (start && end && start > end) throw invalid('end_date', 'end_date must not be before start_date');
    if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > 1000) throw invalid('limit', 'limit must be an integer from 1 to 1000');
    if (!Number.isInteger(filter.offset) || filter.offset < 0) throw invalid('offset', 'offset must be a non-negative integer');
    let q = this.deps.db.selectFrom('calls').where('tenant_id', '=', scope.tenantId);
    if (filter.agentId !== undefined) q = q.where('agent_id', '=', filter.agentId);
    if (start) q = q.where('started_at', '>=', start);
    if (end) q = q.where('started_at', '<=', end);
    const [{ n }, rows] = await Promise.all([
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      q.selectAll().orderBy('started_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute(),
    ]);
    return { calls: rows.map((r) => this.withLiveDuration(toCall(r))), total: Number(n) };
  }
}
