import type {
  Call, CallAmendment, CallDirection, CallRepository, CallStatus, CallStatusUpdate, CallTurn, HistoryQuery, TurnRole,
} from '../../domain/calls.js';
import { LIVE_STATUSES } from '../../domain/calls.js';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { CallTable, CallTurnTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { storedHandler } from './call-handler-column.js';

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toCall(r: CallTable): Call {
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
    // PostgreSQL hands numeric columns back as strings.
    durationSeconds: r.duration_seconds === null ? null : Number(r.duration_seconds),
    cost: r.cost === null ? null : Number(r.cost),
    endReason: r.end_reason,
    handoff: parseJson<Record<string, unknown>>(r.handoff),
    handler: storedHandler(r.handler),
    lineId: r.line_id,
    trunkId: r.trunk_id,
    sipStatus: r.sip_status === null ? null : Number(r.sip_status),
  };
}

function toTurn(r: Pick<CallTurnTable, 'role' | 'text' | 'interrupted' | 'created_at'>): CallTurn {
  return { role: r.role as TurnRole, text: r.text, interrupted: Number(r.interrupted) === 1, createdAt: r.created_at };
}

/** The `calls` and `call_turns` tables. */
export class SqlCallRepository implements CallRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx, call: Call): Promise<boolean> {
    // DO NOTHING instead of catching the violation: on PostgreSQL a failed statement would poison the transaction.
    const res = await on(this.store, tx).insertInto('calls').values({
      id: call.id,
      tenant_id: call.tenantId,
      call_sid: call.callSid,
      agent_id: call.agentId,
      phone_number: call.phoneNumber,
      direction: call.direction,
      from_number: call.fromNumber,
      to_number: call.toNumber,
      status: call.status,
      context: JSON.stringify(call.context),
      started_at: call.startedAt,
      answered_at: call.answeredAt,
      ended_at: call.endedAt,
      duration_seconds: call.durationSeconds,
      cost: call.cost,
      end_reason: call.endReason,
      handoff: call.handoff === null ? null : JSON.stringify(call.handoff),
      handler: call.handler,
      line_id: call.lineId,
      trunk_id: call.trunkId,
      sip_status: call.sipStatus,
      owner_instance: null,
      created_at: call.startedAt,
      updated_at: call.startedAt,
    }).onConflict((oc) => oc.column('call_sid').doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async setOwner(tx: Tx | undefined, callSid: string, owner: string): Promise<void> {
    await on(this.store, tx).updateTable('calls').set({ owner_instance: owner })
      .where('call_sid', '=', callSid).where('status', 'in', LIVE_STATUSES).execute();
  }

  async orphaned(self: string, now: string): Promise<string[]> {
    // Across tenants on purpose: a platform sweep, each call then ended in its own tenant's scope.
    const rows = await this.store.db.selectFrom('calls').select('call_sid')
      .where('status', 'in', LIVE_STATUSES)
      .where('owner_instance', 'is not', null)
      .where('owner_instance', '<>', self)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('instances').select('instances.id')
        .whereRef('instances.id', '=', 'calls.owner_instance').where('instances.expires_at', '>', now))))
      .execute();
    return rows.map((r) => r.call_sid);
  }

  async countLive(tx: Tx, scope: Scope): Promise<number> {
    const { n } = await on(this.store, tx).selectFrom('calls').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', scope.tenantId).where('status', 'in', LIVE_STATUSES).executeTakeFirstOrThrow();
    return Number(n);
  }

  async findBySid(callSid: string, tx?: Tx): Promise<Call | null> {
    const row = await on(this.store, tx).selectFrom('calls').selectAll().where('call_sid', '=', callSid).executeTakeFirst();
    return row ? toCall(row) : null;
  }

  async get(scope: Scope, callSid: string, tx?: Tx): Promise<Call | null> {
    const row = await on(this.store, tx).selectFrom('calls').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid).executeTakeFirst();
    return row ? toCall(row) : null;
  }

  async acceptSequence(callSid: string, sequence: number): Promise<boolean> {
    const res = await this.store.db.insertInto('call_replay_guards').values({ call_sid: callSid, last_sequence: sequence, relay_opened_at: null })
      .onConflict((oc) => oc.column('call_sid').doUpdateSet({ last_sequence: sequence })
        .where((eb) => eb.or([eb('call_replay_guards.last_sequence', 'is', null), eb('call_replay_guards.last_sequence', '<', sequence)])))
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async claimRelaySession(callSid: string, at: string): Promise<boolean> {
    const res = await this.store.db.insertInto('call_replay_guards').values({ call_sid: callSid, last_sequence: null, relay_opened_at: at })
      .onConflict((oc) => oc.column('call_sid').doUpdateSet({ relay_opened_at: at })
        .where('call_replay_guards.relay_opened_at', 'is', null))
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async updateLive(tx: Tx, scope: Scope, callSid: string, u: CallStatusUpdate): Promise<boolean> {
    const res = await on(this.store, tx).updateTable('calls').set({
      status: u.status,
      updated_at: u.updatedAt,
      ...(u.answeredAt !== undefined && { answered_at: u.answeredAt }),
      ...(u.endedAt !== undefined && { ended_at: u.endedAt }),
      ...(u.durationSeconds !== undefined && { duration_seconds: u.durationSeconds }),
      ...(u.cost !== undefined && { cost: u.cost }),
      ...(u.endReason !== undefined && { end_reason: u.endReason }),
      ...(u.handoff !== undefined && { handoff: JSON.stringify(u.handoff) }),
      ...(u.sipStatus !== undefined && { sip_status: u.sipStatus }),
    }).where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid)
      .where('status', 'in', [...u.from]).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async amendFinished(tx: Tx, scope: Scope, read: Pick<Call, 'callSid' | 'cost' | 'durationSeconds'>, a: CallAmendment): Promise<boolean> {
    let q = on(this.store, tx).updateTable('calls').set({
      updated_at: a.updatedAt,
      ...(a.cost !== undefined && { cost: a.cost }),
      ...(a.durationSeconds !== undefined && { duration_seconds: a.durationSeconds }),
    }).where('tenant_id', '=', scope.tenantId).where('call_sid', '=', read.callSid);
    if (a.cost !== undefined) q = q.where('cost', 'is', null);
    if (a.durationSeconds !== undefined) q = q.where('duration_seconds', read.durationSeconds === null ? 'is' : '=', read.durationSeconds);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async lockContext(tx: Tx, scope: Scope, callSid: string): Promise<Pick<Call, 'status' | 'context'> | null> {
    let q = on(this.store, tx).selectFrom('calls').select(['status', 'context'])
      .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid);
    // SQLite's single writer serializes the merges already.
    if (this.store.kind === 'postgres') q = q.forNoKeyUpdate();
    const row = await q.executeTakeFirst();
    return row ? { status: row.status as CallStatus, context: JSON.parse(row.context) as Record<string, unknown> } : null;
  }

  async setContext(tx: Tx, scope: Scope, callSid: string, context: Record<string, unknown>, updatedAt: string): Promise<void> {
    await on(this.store, tx).updateTable('calls').set({ context: JSON.stringify(context), updated_at: updatedAt })
      .where('tenant_id', '=', scope.tenantId).where('call_sid', '=', callSid).execute();
  }

  async lastTurnAt(tx: Tx, scope: Scope, callId: string): Promise<string | null> {
    const row = await on(this.store, tx).selectFrom('call_turns').select((eb) => eb.fn.max('created_at').as('at'))
      .where('tenant_id', '=', scope.tenantId).where('call_id', '=', callId).executeTakeFirst();
    return row?.at ?? null;
  }

  async insertTurn(tx: Tx, scope: Scope, callId: string, turn: CallTurn & { id: string }): Promise<void> {
    await on(this.store, tx).insertInto('call_turns').values({
      id: turn.id, tenant_id: scope.tenantId, call_id: callId, role: turn.role, text: turn.text,
      interrupted: turn.interrupted ? 1 : 0, created_at: turn.createdAt,
    }).execute();
  }

  async turns(scope: Scope, callId: string): Promise<CallTurn[]> {
    const rows = await this.store.db.selectFrom('call_turns').select(['role', 'text', 'interrupted', 'created_at'])
      .where('tenant_id', '=', scope.tenantId).where('call_id', '=', callId).orderBy('created_at').execute();
    return rows.map(toTurn);
  }

  async listLive(scope: Scope): Promise<Call[]> {
    const rows = await this.store.db.selectFrom('calls').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('status', 'in', LIVE_STATUSES)
      .orderBy('started_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toCall);
  }

  async history(scope: Scope, query: HistoryQuery): Promise<{ calls: Call[]; total: number }> {
    let q = this.store.db.selectFrom('calls').where('tenant_id', '=', scope.tenantId);
    if (query.agentId !== undefined) q = q.where('agent_id', '=', query.agentId);
    if (query.from) q = q.where('started_at', '>=', query.from);
    if (query.to) q = q.where('started_at', '<=', query.to);
    const [{ n }, rows] = await Promise.all([
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      q.selectAll().orderBy('started_at', 'desc').orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute(),
    ]);
    return { calls: rows.map(toCall), total: Number(n) };
  }
}
