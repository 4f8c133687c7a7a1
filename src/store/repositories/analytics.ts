import { sql } from 'kysely';
import type { AgentTotal, AnalyticsRepository, CallBucket, DayTotal } from '../../domain/analytics.js';
import type { CallStatus } from '../../domain/calls.js';
import type { Scope } from '../../domain/principal.js';
import { type StoreHandle } from '../transactions.js';

/** A grouped row as both engines return it: PostgreSQL gives sums and counts back as strings. */
interface BucketRow { agent_id?: string | null; hour: string; status: string; n: unknown; seconds: unknown }

function toBucket(r: BucketRow): CallBucket {
  return { agentId: r.agent_id ?? null, hour: Number(r.hour), status: r.status as CallStatus, calls: Number(r.n), seconds: Number(r.seconds ?? 0) };
}

// Timestamps are ISO text in both engines, so substr() gives the hour and the date everywhere.
const hourOfRollup = sql<string>`substr(hour, 12, 2)`;
const startHour = sql<string>`substr(started_at, 12, 2)`;
const startDay = sql<string>`substr(started_at, 1, 10)`;

/**
 * The analytics reads: the `call_hourly_totals` and `call_agent_daily_totals` rollups (kept by
 * triggers on `calls`, migration 060), aggregates over `calls`, and the agent names they show.
 */
export class SqlAnalyticsRepository implements AnalyticsRepository {
  constructor(private readonly store: StoreHandle) {}

  private agents(scope: Scope | null) {
    const q = this.store.db.selectFrom('agents');
    return scope ? q.where('tenant_id', '=', scope.tenantId) : q;
  }

  async agentCount(scope: Scope | null): Promise<number> {
    const { n } = await this.agents(scope).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(n);
  }

  async agentNames(scope: Scope | null, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.agents(scope).select(['id', 'name']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((a) => [a.id, a.name]));
  }

  async agent(scope: Scope, agentId: string): Promise<{ id: string; name: string } | null> {
    return (await this.agents(scope).select(['id', 'name']).where('id', '=', agentId).executeTakeFirst()) ?? null;
  }

  async hourlyTotals(scope: Scope | null, fromDay: string): Promise<CallBucket[]> {
    let q = this.store.db.selectFrom('call_hourly_totals').where('hour', '>=', fromDay);
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    const rows = await q.select([hourOfRollup.as('hour'), 'status', sql<number>`sum(calls)`.as('n'), sql<number>`sum(seconds)`.as('seconds')])
      .groupBy([hourOfRollup, 'status']).execute();
    return rows.map(toBucket);
  }

  async agentTotals(scope: Scope | null, fromDay: string): Promise<AgentTotal[]> {
    let q = this.store.db.selectFrom('call_agent_daily_totals').where('day', '>=', fromDay);
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    const rows = await q.select(['agent_id', sql<number>`sum(calls)`.as('n'), sql<number>`sum(seconds)`.as('seconds')])
      .groupBy('agent_id').execute();
    return rows.map((r) => ({ agentId: r.agent_id, calls: Number(r.n), seconds: Number(r.seconds ?? 0) }));
  }

  async dayTotals(scope: Scope | null, fromDay: string): Promise<DayTotal[]> {
    const day = sql<string>`substr(hour, 1, 10)`;
    let q = this.store.db.selectFrom('call_hourly_totals').where('hour', '>=', fromDay);
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    const rows = await q.select([day.as('day'), sql<number>`sum(calls)`.as('n'), sql<number>`sum(seconds)`.as('seconds')]).groupBy(day).execute();
    return rows.map((r) => ({ date: r.day, calls: Number(r.n), seconds: Number(r.seconds ?? 0) }));
  }

  async callBuckets(scope: Scope | null, range: { from: string; to: string }): Promise<CallBucket[]> {
    let q = this.store.db.selectFrom('calls').where('started_at', '>=', range.from).where('started_at', '<', range.to);
    if (scope) q = q.where('tenant_id', '=', scope.tenantId);
    const rows = await q.select(['agent_id', startHour.as('hour'), 'status', sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
      .groupBy(['agent_id', startHour, 'status']).execute();
    return rows.map(toBucket);
  }

  private agentCalls(scope: Scope, agentId: string) {
    return this.store.db.selectFrom('calls').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId);
  }

  async agentCallBuckets(scope: Scope, agentId: string): Promise<CallBucket[]> {
    const rows = await this.agentCalls(scope, agentId)
      .select(['agent_id', startHour.as('hour'), 'status', sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
      .groupBy(['agent_id', startHour, 'status']).execute();
    return rows.map(toBucket);
  }

  async agentDays(scope: Scope, agentId: string, from: string): Promise<DayTotal[]> {
    const rows = await this.agentCalls(scope, agentId).where('started_at', '>=', from)
      .select([startDay.as('day'), sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
      .groupBy(startDay).execute();
    return rows.map((r) => ({ date: r.day, calls: Number(r.n), seconds: Number(r.seconds ?? 0) }));
  }
}
