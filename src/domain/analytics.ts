import { sql } from 'kysely';
import type { ServiceDeps } from './deps.js';
import { invalid, notFound } from './errors.js';
import type { Principal, Scope } from './principal.js';
import { FINAL_STATUSES } from './calls.js';
import { TenantService } from './tenants.js';

export type Period = 'day' | 'week' | 'month' | 'year';
export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'year'];
export const DEFAULT_PERIOD: Period = 'month';
const PERIOD_DAYS: Record<Period, number> = { day: 1, week: 7, month: 30, year: 365 };
const TOP_AGENTS = 5;
const TREND_DAYS = 30;
const DAY_MS = 86_400_000;

export interface AgentCallCount {
  agentId: string;
  name: string;
  calls: number;
  minutes: number;
}

export interface Summary {
  totalAgents: number;
  totalCalls: number;
  totalMinutes: number;
  averageCallDuration: number;
  successRate: number;
  /** Hour of day (UTC, 0-23) with the most calls; null when there were none. */
  busiestHour: number | null;
  topAgents: AgentCallCount[];
}

export interface AgentStats {
  agentId: string;
  name: string;
  totalCalls: number;
  totalMinutes: number;
  averageCallDuration: number;
  successRate: number;
  /** Calls per UTC hour of day, only hours that had calls. */
  hourlyDistribution: Record<string, number>;
  /** One entry per UTC day for the last 30 days (today included), oldest first. */
  dailyTrend: Array<{ date: string; calls: number; minutes: number }>;
}

const minutes = (seconds: unknown): number => Math.round((Number(seconds ?? 0) / 60) * 100) / 100;

/** Calls grouped by hour of day and status (and agent, when the source has it). */
interface Bucket { agent_id?: string | null; hour: string; status: string; n: unknown; seconds: unknown }

/** Adds up grouped rows: the database did the per-call work, these are a few thousand rows at most. */
function fold(buckets: Bucket[]) {
  let calls = 0; let seconds = 0; let completed = 0; let completedSeconds = 0; let finished = 0;
  const byHour = new Map<number, number>();
  for (const b of buckets) {
    const n = Number(b.n); const s = Number(b.seconds ?? 0);
    if (n === 0) continue;
    calls += n; seconds += s;
    if (b.status === 'completed') { completed += n; completedSeconds += s; }
    if ((FINAL_STATUSES as string[]).includes(b.status)) finished += n;
    const h = Number(b.hour);
    byHour.set(h, (byHour.get(h) ?? 0) + n);
  }
  return {
    totals: {
      totalCalls: calls,
      totalMinutes: minutes(seconds),
      // Average length of a conversation: only calls that connected and completed.
      averageCallDuration: completed === 0 ? 0 : Math.round(completedSeconds / completed),
      successRate: finished === 0 ? 0 : Math.round((completed / finished) * 10_000) / 10_000,
    },
    byHour,
  };
}

function addAgents(into: Map<string, { calls: number; seconds: number }>, rows: Array<{ agent_id?: string | null; n: unknown; seconds: unknown }>): void {
  for (const r of rows) {
    if (!r.agent_id || Number(r.n) === 0) continue;
    const a = into.get(r.agent_id) ?? { calls: 0, seconds: 0 };
    a.calls += Number(r.n); a.seconds += Number(r.seconds ?? 0);
    into.set(r.agent_id, a);
  }
}

/** Call statistics, computed with SQL aggregates over calls and the running totals the database keeps of them. */
export class AnalyticsService {
  private readonly tenants: TenantService;

  constructor(private readonly deps: ServiceDeps) {
    this.tenants = new TenantService(deps);
  }

  /**
   * Whose numbers a principal may read: its own tenant's; a tenant key naming another tenant finds
   * nothing (404). The platform admin names one with X-Account-ID or `tenantId`, or gets the whole platform.
   */
  async summaryFor(principal: Principal, opts: { period?: string; tenantId?: string }): Promise<Summary> {
    const platformWide = principal.isPlatformAdmin && !principal.tenantId && opts.tenantId === undefined;
    const scope = platformWide ? null : await this.tenants.scopeFor(principal, opts.tenantId);
    return this.summary(scope, opts.period);
  }

  /**
   * Whole days of the period come from the running totals the database keeps (migration 060);
   * the partial first day, from `calls` itself. Together: every call with started_at ≥ now − period.
   */
  async summary(scope: Scope | null, period: string = DEFAULT_PERIOD): Promise<Summary> {
    if (!PERIODS.includes(period as Period)) throw invalid('period', `period must be one of ${PERIODS.join(', ')}`);
    const sinceMs = this.deps.clock.now().getTime() - PERIOD_DAYS[period as Period] * DAY_MS;
    const since = new Date(sinceMs).toISOString();
    const wholeDaysFrom = new Date((Math.floor(sinceMs / DAY_MS) + 1) * DAY_MS).toISOString();
    const firstWholeDay = wholeDaysFrom.slice(0, 10);
    const db = this.deps.db;
    let agents = db.selectFrom('agents');
    let hourly = db.selectFrom('call_hourly_totals').where('hour', '>=', firstWholeDay);
    let daily = db.selectFrom('call_agent_daily_totals').where('day', '>=', firstWholeDay);
    let edge = db.selectFrom('calls').where('started_at', '>=', since).where('started_at', '<', wholeDaysFrom);
    if (scope) {
      agents = agents.where('tenant_id', '=', scope.tenantId);
      hourly = hourly.where('tenant_id', '=', scope.tenantId);
      daily = daily.where('tenant_id', '=', scope.tenantId);
      edge = edge.where('tenant_id', '=', scope.tenantId);
    }
    const hourOfDay = sql<string>`substr(hour, 12, 2)`;
    const startHour = sql<string>`substr(started_at, 12, 2)`;
    const [agentCount, hours, agentDays, edgeRows] = await Promise.all([
      agents.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      hourly.select([hourOfDay.as('hour'), 'status', sql<number>`sum(calls)`.as('n'), sql<number>`sum(seconds)`.as('seconds')])
        .groupBy([hourOfDay, 'status']).execute(),
      daily.select(['agent_id', sql<number>`sum(calls)`.as('n'), sql<number>`sum(seconds)`.as('seconds')]).groupBy('agent_id').execute(),
      edge.select(['agent_id', startHour.as('hour'), 'status', sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
        .groupBy(['agent_id', startHour, 'status']).execute(),
    ]);
    const { totals, byHour } = fold([...hours, ...edgeRows]);
    let busiestHour: number | null = null;
    for (const [h, n] of byHour) {
      if (busiestHour === null || n > byHour.get(busiestHour)! || (n === byHour.get(busiestHour) && h < busiestHour)) busiestHour = h;
    }
    const byAgent = new Map<string, { calls: number; seconds: number }>();
    addAgents(byAgent, agentDays);
    addAgents(byAgent, edgeRows);
    // Deleted agents keep their calls in the totals but are not listed; look a little further down for them.
    const ranked = [...byAgent].sort(([ia, a], [ib, b]) => b.calls - a.calls || (ia < ib ? -1 : 1)).slice(0, TOP_AGENTS * 4);
    const names = ranked.length === 0 ? [] : await agents.select(['id', 'name']).where('id', 'in', ranked.map(([id]) => id)).execute();
    const nameOf = new Map(names.map((a) => [a.id, a.name]));
    const top = ranked.filter(([id]) => nameOf.has(id)).slice(0, TOP_AGENTS);
    return {
      totalAgents: Number(agentCount.n),
      ...totals,
      busiestHour,
      topAgents: top.map(([agentId, a]) => ({ agentId, name: nameOf.get(agentId)!, calls: a.calls, minutes: minutes(a.seconds) })),
    };
  }

  async agent(scope: Scope, agentId: string): Promise<AgentStats> {
    const db = this.deps.db;
    const agent = await db.selectFrom('agents').select(['id', 'name'])
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).executeTakeFirst();
    if (!agent) throw notFound('agent');
    const calls = db.selectFrom('calls').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId);
    const hour = sql<string>`substr(started_at, 12, 2)`;
    const day = sql<string>`substr(started_at, 1, 10)`;
    const today = new Date(Math.floor(this.deps.clock.now().getTime() / DAY_MS) * DAY_MS);
    const firstDay = new Date(today.getTime() - (TREND_DAYS - 1) * DAY_MS).toISOString();
    const [buckets, days] = await Promise.all([
      calls.select(['agent_id', hour.as('hour'), 'status', sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
        .groupBy(['agent_id', hour, 'status']).execute(),
      calls.where('started_at', '>=', firstDay)
        .select([day.as('day'), sql<number>`count(*)`.as('n'), sql<number | null>`sum(duration_seconds)`.as('seconds')])
        .groupBy(day).execute(),
    ]);
    const byDay = new Map(days.map((d) => [d.day, d]));
    const dailyTrend = Array.from({ length: TREND_DAYS }, (_, i) => {
      const date = new Date(Date.parse(firstDay) + i * DAY_MS).toISOString().slice(0, 10);
      const d = byDay.get(date);
      return { date, calls: Number(d?.n ?? 0), minutes: minutes(d?.seconds) };
    });
    const { totals, byHour } = fold(buckets);
    return {
      agentId: agent.id,
      name: agent.name,
      ...totals,
      hourlyDistribution: Object.fromEntries([...byHour].sort(([a], [b]) => a - b).map(([h, n]) => [String(h), n])),
      dailyTrend,
    };
  }
}
