import type { CallHandler } from './call-handler.js';
import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import { domainEvent } from './events.js';
import type { Scope } from './principal.js';
import { offsetOf, pageSizeOf } from './paging.js';
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
  /** SIP calls: who answered (Twilio calls: null). */
  handler: CallHandler | null;
  /** SIP calls: the registration the call came in on. */
  lineId: string | null;
  /** SIP calls: the trunk the call went out through. */
  trunkId: string | null;
  /** SIP calls: the status of the final response or the BYE's reason that ended it. */
  sipStatus: number | null;
}

export interface CallTurn {
  role: TurnRole;
  text: string;
  interrupted: boolean;
  createdAt: string;
}

/** What a caller gives to open a call; the sid is generated and the context empty when left out. */
export type NewCall = Pick<Call, 'agentId' | 'phoneNumber' | 'direction' | 'fromNumber' | 'toNumber' | 'status'>
  & Partial<Pick<Call, 'callSid' | 'context' | 'handler' | 'lineId' | 'trunkId'>>;

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
  sipStatus?: number;
}

export interface HistoryFilter {
  agentId?: string;
  startDate?: string;
  endDate?: string;
  limit: number;
  offset: number;
}

export const isLive = (s: CallStatus): boolean => LIVE_STATUSES.includes(s);

/** How far a call has got; a call never goes back (a late or replayed callback cannot undo an answer). */
const PROGRESS: Record<CallStatus, number> = {
  queued: 0, ringing: 1, 'in-progress': 2, completed: 3, busy: 3, 'no-answer': 3, failed: 3, canceled: 3,
};
/** The live statuses a call may be in for `to` to apply. */
export const statusesBefore = (to: CallStatus): CallStatus[] => LIVE_STATUSES.filter((s) => PROGRESS[s] <= PROGRESS[to]);
export const isFinal = (s: CallStatus): boolean => FINAL_STATUSES.includes(s);

/** The fields a status change writes; those left out keep their value. */
export interface CallStatusUpdate {
  status: CallStatus;
  /** Applies only while the call is in one of these (never a final one). */
  from: readonly CallStatus[];
  updatedAt: string;
  answeredAt?: string;
  endedAt?: string;
  durationSeconds?: number;
  cost?: number;
  endReason?: string;
  handoff?: Record<string, unknown>;
  sipStatus?: number;
}

/** What a late carrier callback may still fill in on a finished call. */
export interface CallAmendment {
  cost?: number;
  durationSeconds?: number;
  updatedAt: string;
}

/** History bounds as stored (ISO UTC text), both inclusive. */
export interface HistoryQuery {
  agentId?: string;
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

/** Where calls and their turns are kept; the only writer of `calls` and `call_turns`. */
export interface CallRepository {
  /** False when the call sid is taken already (sids are unique across tenants). */
  insert(tx: Tx, call: Call): Promise<boolean>;
  countLive(tx: Tx, scope: Scope): Promise<number>;
  /** Records which instance holds the live call (cluster mode); a call that ended is left alone. */
  setOwner(tx: Tx | undefined, callSid: string, owner: string): Promise<void>;
  /** Live calls held by an instance other than `self` that has no unexpired row in `instances` at `now`. */
  orphaned(self: string, now: string): Promise<string[]>;
  /** The one lookup without a tenant: carrier callbacks and the relay know only the sid. */
  findBySid(callSid: string, tx?: Tx): Promise<Call | null>;
  get(scope: Scope, callSid: string, tx?: Tx): Promise<Call | null>;
  /**
   * Records that the carrier callback numbered `sequence` was applied; false when one with this
   * number or a later one was already (a replay, or a delivery overtaken by a later one).
   */
  acceptSequence(callSid: string, sequence: number): Promise<boolean>;
  /** Marks the call's relay session as opened; false when one was opened before. */
  claimRelaySession(callSid: string, at: string): Promise<boolean>;
  /** Writes the change while the call is in one of `update.from`; false when it was not (ended, or further along). */
  updateLive(tx: Tx, scope: Scope, callSid: string, update: CallStatusUpdate): Promise<boolean>;
  /** Writes the amendment only if the call still has the cost and duration `read` has; false otherwise. */
  amendFinished(tx: Tx, scope: Scope, read: Pick<Call, 'callSid' | 'cost' | 'durationSeconds'>, amendment: CallAmendment): Promise<boolean>;
  /** The call's status and context, held until `tx` ends so concurrent merges apply one after another. */
  lockContext(tx: Tx, scope: Scope, callSid: string): Promise<Pick<Call, 'status' | 'context'> | null>;
  setContext(tx: Tx, scope: Scope, callSid: string, context: Record<string, unknown>, updatedAt: string): Promise<void>;
  /** When the call's latest turn was recorded; null before the first. */
  lastTurnAt(tx: Tx, scope: Scope, callId: string): Promise<string | null>;
  insertTurn(tx: Tx, scope: Scope, callId: string, turn: CallTurn & { id: string }): Promise<void>;
  /** The call's turns, oldest first. */
  turns(scope: Scope, callId: string): Promise<CallTurn[]>;
  /** Live calls, newest first. */
  listLive(scope: Scope): Promise<Call[]>;
  /** One page of calls, newest first, and how many match in all. */
  history(scope: Scope, query: HistoryQuery): Promise<{ calls: Call[]; total: number }>;
}

/** The tenant's concurrent-call limit, read while its row is held until `tx` ends (null: no such tenant). */
export interface CallLimits {
  lockLimits(tx: Tx, scope: Scope): Promise<{ maxConcurrentCalls: number } | null>;
}

/** The running totals kept on each agent. */
export interface AgentCallTotals {
  addCallTotals(tx: Tx, scope: Scope, agentId: string, totals: { calls: number; seconds: number }): Promise<void>;
}

export interface CallServiceDeps {
  calls: CallRepository;
  limits: CallLimits;
  agentTotals: AgentCallTotals;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
  /** This instance's name, recorded as the holder of the calls it opens or relays. */
  instanceId?: string;
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
/** Call history pages by limit/offset; the dialect's schema defaults the limit. */
const HISTORY_PAGE = { default: 100, max: 1000 } as const;

const TENANT_CACHE_MAX = 10_000;

/** The row as `updateLive` leaves it. */
function applyUpdate(call: Call, u: CallStatusUpdate): Call {
  return {
    ...call,
    status: u.status,
    ...(u.answeredAt !== undefined && { answeredAt: u.answeredAt }),
    ...(u.endedAt !== undefined && { endedAt: u.endedAt }),
    ...(u.durationSeconds !== undefined && { durationSeconds: u.durationSeconds }),
    ...(u.cost !== undefined && { cost: u.cost }),
    ...(u.endReason !== undefined && { endReason: u.endReason }),
    ...(u.handoff !== undefined && { handoff: u.handoff }),
    ...(u.sipStatus !== undefined && { sipStatus: u.sipStatus }),
  };
}

/**
 * Calls and their transcripts. The call runtime and the carrier webhooks drive state through this
 * service; every change is published, through the outbox, for the events stream.
 */
export class CallService {
  private readonly tenantBySid = new Map<string, string>();

  constructor(private readonly deps: CallServiceDeps) {}

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

  private newCall(scope: Scope, input: Omit<NewCall, 'status'>, status: CallStatus, now: string): Call {
    return {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      callSid: input.callSid ?? this.newSid(),
      agentId: input.agentId,
      phoneNumber: input.phoneNumber,
      direction: input.direction,
      fromNumber: input.fromNumber,
      toNumber: input.toNumber,
      status,
      context: input.context ?? {},
      startedAt: now,
      answeredAt: status === 'in-progress' ? now : null,
      endedAt: null,
      durationSeconds: null,
      cost: null,
      endReason: null,
      handoff: null,
      handler: input.handler ?? null,
      lineId: input.lineId ?? null,
      trunkId: input.trunkId ?? null,
      sipStatus: null,
    };
  }

  private async insert(tx: Tx, scope: Scope, call: Call): Promise<void> {
    if (!(await this.deps.calls.insert(tx, call))) throw conflict(`call ${call.callSid} already exists`, 'call_sid');
    if (call.endedAt && call.agentId) await this.deps.agentTotals.addCallTotals(tx, scope, call.agentId, { calls: 1, seconds: call.durationSeconds ?? 0 });
  }

  /** Counted while the tenant row is held, so two calls arriving together cannot both take the last slot. */
  private async assertBelowCallLimit(tx: Tx, scope: Scope): Promise<void> {
    const limits = await this.deps.limits.lockLimits(tx, scope);
    if (!limits) throw notFound('tenant');
    if (await this.deps.calls.countLive(tx, scope) >= limits.maxConcurrentCalls) {
      throw new DomainError('limit', `tenant concurrent call limit reached (max_concurrent_calls ${limits.maxConcurrentCalls})`, 'max_concurrent_calls');
    }
  }

  async open(scope: Scope, input: NewCall): Promise<Call> {
    this.checkNew(input);
    requireOneOf('status', input.status, LIVE_STATUSES);
    if (input.context !== undefined) requireObject('context', input.context);
    const call = this.newCall(scope, input, input.status, this.now());
    await this.deps.uow.run(async (tx) => {
      await this.assertBelowCallLimit(tx, scope);
      await this.insert(tx, scope, call);
      if (this.deps.instanceId) await this.deps.calls.setOwner(tx, call.callSid, this.deps.instanceId);
      tx.emit(domainEvent(this.deps.clock, 'call.started', scope.tenantId, {
        agent_id: call.agentId, direction: call.direction, from_number: call.fromNumber, to_number: call.toNumber, status: call.status,
        handler: call.handler,
      }, call.callSid));
    });
    this.remember(call);
    return call;
  }

  async recordRejected(scope: Scope, input: RejectedCall): Promise<Call> {
    this.checkNew(input);
    requireOneOf('status', input.status, ['busy', 'failed'] as const);
    const now = this.now();
    const call: Call = { ...this.newCall(scope, input, input.status, now), endedAt: now, durationSeconds: 0, endReason: input.endReason };
    await this.deps.uow.run(async (tx) => {
      await this.insert(tx, scope, call);
      tx.emit(domainEvent(this.deps.clock, 'call.ended', scope.tenantId, {
        agent_id: call.agentId, status: call.status, duration: 0, end_reason: call.endReason, cost: null,
      }, call.callSid));
    });
    this.remember(call);
    return call;
  }

  async findBySid(callSid: string): Promise<Call | null> {
    return this.deps.calls.findBySid(callSid);
  }

  private withLiveDuration(call: Call): Call {
    if (!isLive(call.status)) return call;
    const since = Date.parse(call.answeredAt ?? call.startedAt);
    return { ...call, durationSeconds: Math.max(0, Math.round((this.deps.clock.now().getTime() - since) / 1000)) };
  }

  async get(scope: Scope, callSid: string): Promise<Call> {
    const call = await this.deps.calls.get(scope, callSid);
    if (!call) throw notFound('call');
    return this.withLiveDuration(call);
  }

  async updateStatus(callSid: string, change: StatusChange): Promise<Call> {
    this.checkChange(change);
    const current = await this.findBySid(callSid);
    if (!current) throw notFound('call');
    if (isFinal(current.status)) return this.amendFinished(current, change);
    // An earlier live status after a later one changes nothing: the call stays where it got to.
    if (!statusesBefore(change.status).includes(current.status)) return this.withLiveDuration(current);
    const call = await this.deps.uow.run((tx) => this.applyLive(tx, current, change, false));
    if (isFinal(change.status)) this.tenantBySid.delete(callSid);
    return call;
  }

  /**
   * Several status changes in one transaction, in order (the same call may appear twice), each
   * with what `updateStatus` would give or throw for it. Callers on a hot path (the SIP edge)
   * gather the changes of a few milliseconds here, so the writer commits once for all of them.
   * If the transaction itself fails, each change is tried again on its own.
   */
  async updateStatuses(changes: { callSid: string; change: StatusChange }[]): Promise<(Call | Error)[]> {
    const results: (Call | Error)[] = new Array(changes.length);
    const live: number[] = [];
    for (const [i, { change }] of changes.entries()) {
      try {
        this.checkChange(change);
        live.push(i);
      } catch (err) {
        results[i] = err as Error;
      }
    }
    const finished: number[] = [];
    if (live.length) {
      try {
        await this.deps.uow.run(async (tx) => {
          for (const i of live) {
            const { callSid, change } = changes[i]!;
            const current = await this.deps.calls.findBySid(callSid, tx);
            if (!current) results[i] = notFound('call');
            else if (isFinal(current.status)) finished.push(i);
            else if (!statusesBefore(change.status).includes(current.status)) results[i] = this.withLiveDuration(current);
            else results[i] = await this.applyLive(tx, current, change, true);
          }
        });
      } catch {
        finished.length = 0;
        for (const i of live) results[i] = await this.updateStatus(changes[i]!.callSid, changes[i]!.change).catch((e: Error) => e);
        return results;
      }
    }
    // Amending a finished call is its own (rare) transaction.
    for (const i of finished) results[i] = await this.updateStatus(changes[i]!.callSid, changes[i]!.change).catch((e: Error) => e);
    for (const [i, { callSid, change }] of changes.entries()) if (isFinal(change.status) && !(results[i] instanceof Error)) this.tenantBySid.delete(callSid);
    return results;
  }

  private checkChange(change: StatusChange): void {
    requireOneOf('status', change.status, CALL_STATUSES);
    if (change.durationSeconds !== undefined && !(Number.isFinite(change.durationSeconds) && change.durationSeconds >= 0)) {
      throw invalid('duration', 'duration must be a non-negative number of seconds');
    }
    if (change.cost !== undefined && !Number.isFinite(change.cost)) throw invalid('cost', 'cost must be a number');
  }

  /**
   * A live call moves forward: the row, and at the end the agent's totals, with their event.
   * `readInTx`: `current` was read in this transaction, so the row after the update is known
   * without reading it again.
   */
  private async applyLive(tx: Tx, current: Call, change: StatusChange, readInTx: boolean): Promise<Call> {
    const callSid = current.callSid;
    const scope: Scope = { tenantId: current.tenantId };
    const now = this.now();
    const final = isFinal(change.status);
    const update: CallStatusUpdate = { status: change.status, from: statusesBefore(change.status), updatedAt: now };
    const answeredAt = current.answeredAt ?? (change.status === 'in-progress' ? now : null);
    if (answeredAt !== current.answeredAt && answeredAt !== null) update.answeredAt = answeredAt;
    if (change.cost !== undefined) update.cost = change.cost;
    if (change.endReason !== undefined) update.endReason = change.endReason;
    if (change.handoff !== undefined) update.handoff = change.handoff;
    if (change.sipStatus !== undefined) update.sipStatus = change.sipStatus;
    if (final) {
      const endedAt = current.endedAt ?? now;
      update.endedAt = endedAt;
      // Twilio counts from the answer; a call that never connected lasted nothing.
      const from = answeredAt ?? (change.status === 'completed' ? current.startedAt : null);
      update.durationSeconds = Math.round(change.durationSeconds
        ?? (from ? Math.max(0, (Date.parse(endedAt) - Date.parse(from)) / 1000) : 0));
    }

    // The repository writes only while the call is live, so the final transition (and the agent
    // totals) happen once even when the carrier callback and the relay session report the end together.
    const applied = await this.deps.calls.updateLive(tx, scope, callSid, update);
    if (!applied) return (await this.deps.calls.get(scope, callSid, tx))!;
    const after: Call = readInTx ? applyUpdate(current, update) : (await this.deps.calls.get(scope, callSid, tx))!;
    if (final) {
      if (current.agentId) await this.deps.agentTotals.addCallTotals(tx, scope, current.agentId, { calls: 1, seconds: update.durationSeconds ?? 0 });
      tx.emit(domainEvent(this.deps.clock, 'call.ended', scope.tenantId, {
        agent_id: after.agentId, status: after.status, duration: after.durationSeconds, end_reason: after.endReason, cost: after.cost,
      }, callSid));
    } else {
      tx.emit(domainEvent(this.deps.clock, 'call.updated', scope.tenantId, { agent_id: after.agentId, status: after.status }, callSid));
    }
    return after;
  }

  /** See `CallRepository.acceptSequence`: false means the callback was seen already and must not apply. */
  async acceptCarrierSequence(callSid: string, sequence: number): Promise<boolean> {
    if (!Number.isSafeInteger(sequence) || sequence < 0) throw invalid('SequenceNumber', 'SequenceNumber must be a non-negative integer');
    return this.deps.calls.acceptSequence(callSid, sequence);
  }

  /** A call has one relay session: false when one was opened for it already (a replayed handshake). */
  async claimRelaySession(callSid: string): Promise<boolean> {
    const claimed = await this.deps.calls.claimRelaySession(callSid, this.now());
    // The relay socket may reach another instance than the webhook that opened the call: the session's holds it.
    if (claimed && this.deps.instanceId) await this.deps.calls.setOwner(undefined, callSid, this.deps.instanceId);
    return claimed;
  }

  /**
   * Ends the live calls whose instance is gone (its lease ran out): `completed` when answered,
   * `failed` otherwise, with `reason`. Conditional like every end, so two survivors sweeping
   * together end each call once. `now` is the leases' clock (wall time), not the call clock. Returns the sids this sweep ended.
   */
  async endOrphaned(reason: string, now: string): Promise<string[]> {
    if (!this.deps.instanceId) return [];
    const ended: string[] = [];
    for (const sid of await this.deps.calls.orphaned(this.deps.instanceId, now)) {
      const call = await this.findBySid(sid);
      if (!call || !isLive(call.status)) continue;
      const after = await this.updateStatus(sid, { status: call.answeredAt ? 'completed' : 'failed', endReason: reason });
      if (after.endReason === reason) ended.push(sid);
    }
    return ended;
  }

  /**
   * The carrier's final callback often comes after the relay session already ended the call; its
   * billed duration and price still belong on the record (the status and end reason stay).
   */
  private async amendFinished(current: Call, change: StatusChange): Promise<Call> {
    const amendment: CallAmendment = { updatedAt: this.now() };
    if (change.cost !== undefined && current.cost === null) amendment.cost = change.cost;
    const duration = change.durationSeconds === undefined ? undefined : Math.round(change.durationSeconds);
    if (duration !== undefined && duration !== current.durationSeconds) amendment.durationSeconds = duration;
    if (amendment.cost === undefined && amendment.durationSeconds === undefined) return current;
    const scope: Scope = { tenantId: current.tenantId };
    return this.deps.uow.run(async (tx) => {
      // Conditioned on what was read, so two late callbacks cannot both shift the agent's minutes.
      const applied = await this.deps.calls.amendFinished(tx, scope, current, amendment);
      if (applied && amendment.durationSeconds !== undefined && current.agentId) {
        const seconds = amendment.durationSeconds - (current.durationSeconds ?? 0);
        await this.deps.agentTotals.addCallTotals(tx, scope, current.agentId, { calls: 0, seconds });
      }
      const call = (await this.deps.calls.get(scope, current.callSid, tx))!;
      if (applied) {
        tx.emit(domainEvent(this.deps.clock, 'call.updated', call.tenantId, {
          agent_id: call.agentId, status: call.status, duration: call.durationSeconds, cost: call.cost,
        }, call.callSid));
      }
      return call;
    });
  }

  async mergeContext(scope: Scope, callSid: string, patch: Record<string, unknown>): Promise<Call> {
    requireObject('context', patch);
    await this.deps.uow.run(async (tx) => {
      const held = await this.deps.calls.lockContext(tx, scope, callSid);
      if (!held) throw notFound('call');
      if (isFinal(held.status)) throw conflict(`call ${callSid} has ended; its context can no longer change`);
      const context = { ...held.context, ...patch };
      await this.deps.calls.setContext(tx, scope, callSid, context, this.now());
      tx.emit(domainEvent(this.deps.clock, 'context.updated', scope.tenantId, { context }, callSid));
    });
    return this.get(scope, callSid);
  }

  async addTurn(callSid: string, turn: { role: TurnRole; text: string; interrupted?: boolean }): Promise<void> {
    requireOneOf('role', turn.role, TURN_ROLES);
    if (typeof turn.text !== 'string') throw invalid('text', 'text must be a string');
    const call = await this.findBySid(callSid);
    if (!call) throw notFound('call');
    const scope: Scope = { tenantId: call.tenantId };
    const interrupted = turn.interrupted ?? false;
    await this.deps.uow.run(async (tx) => {
      const last = await this.deps.calls.lastTurnAt(tx, scope, call.id);
      // Turns are ordered by time; keep them strictly increasing so two turns in one millisecond keep their order.
      let at = this.now();
      if (last && at <= last) at = new Date(Date.parse(last) + 1).toISOString();
      await this.deps.calls.insertTurn(tx, scope, call.id, { id: this.deps.ids.uuid(), role: turn.role, text: turn.text, interrupted, createdAt: at });
      tx.emit(domainEvent(this.deps.clock, 'transcript.final', scope.tenantId, { role: turn.role, text: turn.text, interrupted }, callSid));
    });
  }

  async transcript(callSid: string): Promise<CallTurn[]> {
    const call = await this.findBySid(callSid);
    return call ? this.deps.calls.turns({ tenantId: call.tenantId }, call.id) : [];
  }

  async publishPartial(callSid: string, text: string): Promise<void> {
    const tenantId = await this.tenantOf(callSid);
    await this.deps.uow.publish(domainEvent(this.deps.clock, 'transcript.partial', tenantId, { text }, callSid));
  }

  async publishError(callSid: string, message: string): Promise<void> {
    const tenantId = await this.tenantOf(callSid);
    await this.deps.uow.publish(domainEvent(this.deps.clock, 'error', tenantId, { message }, callSid));
  }

  async listActive(scope: Scope): Promise<Call[]> {
    return (await this.deps.calls.listLive(scope)).map((c) => this.withLiveDuration(c));
  }

  async history(scope: Scope, filter: HistoryFilter): Promise<{ calls: Call[]; total: number }> {
    const from = filter.startDate !== undefined ? isoBound('start_date', filter.startDate, false) : undefined;
    const to = filter.endDate !== undefined ? isoBound('end_date', filter.endDate, true) : undefined;
    if (from && to && from > to) throw invalid('end_date', 'end_date must not be before start_date');
    const limit = pageSizeOf(filter.limit, HISTORY_PAGE, 'limit');
    const offset = offsetOf(filter.offset);
    const page = await this.deps.calls.history(scope, { agentId: filter.agentId, from, to, limit, offset });
    return { calls: page.calls.map((c) => this.withLiveDuration(c)), total: page.total };
  }
}
