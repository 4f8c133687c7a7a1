import { invalid, notFound } from './errors.js';
import type { WallClock } from './ids.js';
import type { Principal, Scope } from './principal.js';
import { FINAL_STATUSES, type CallStatus } from './calls.js';

export type Period = 'day' | 'week' | 'month' | 'year';
export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'year'];
export const DEFAULT_PERIOD: Period = 'month';
const PERIOD_DAYS: Record<Period, number> = { day: 1, week: 7, month: 30, year: 365 };
const TOP_AGENTS = 5;
/** What top_agents calls an agent that was deleted after it took calls. */
export const DELETED_AGENT_NAME = '(deleted agent)';
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
  /** Calls per UTC hour of day over the period, only hours that had calls (what busiestHour is the top of). */
  hourlyDistribution: Record<string, number>;
  topAgents: AgentCallCount[];
  /** The last 30 UTC days, today included, whatever the period: calls and minutes per day. */
  dailyTrend: DayTrend[];
}

export interface DayTrend { date: string; calls: number; minutes: number }

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

const minutes = (seconds: number): number => Math.round((seconds / 60) * 100) / 100;

/** Calls (and their talk time) grouped by UTC hour of day and status, and by agent when the source knows it. */
export interface CallBucket {
  agentId: string | null;
  /** 0-23 */
  hour: number;
  status: CallStatus;
  calls: number;
  seconds: number;
}

export interface AgentTotal { agentId: string; calls: number; seconds: number }
export interface DayTotal { date: string; calls: number; seconds: number }

/**
 * The analytics reads: running totals the database keeps of calls (migration 060) and aggregates
 * over `calls` itself. A null scope is the whole platform.
 */
export interface AnalyticsRepository {
  agentCount(scope: Scope | null): Promise<number>;
  /** Agent names by id, for those of `ids` that still exist. */
  agentNames(scope: Scope | null, ids: readonly string[]): Promise<Map<string, string>>;
  agent(scope: Scope, agentId: string): Promise<{ id: string; name: string } | null>;
  /** Rollup of whole days from `fromDay` (YYYY-MM-DD) on, by hour of day and status (agentId null). */
  hourlyTotals(scope: Scope | null, fromDay: string): Promise<CallBucket[]>;
  /** Rollup per UTC day from `fromDay` on, every call counted (agent or not). */
  dayTotals(scope: Scope | null, fromDay: string): Promise<DayTotal[]>;
  /** Rollup of whole days from `fromDay` on, per agent. */
  agentTotals(scope: Scope | null, fromDay: string): Promise<AgentTotal[]>;
  /** Buckets over the calls that started in [from, to). */
  callBuckets(scope: Scope | null, range: { from: string; to: string }): Promise<CallBucket[]>;
  /** Buckets over all of one agent's calls. */
  agentCallBuckets(scope: Scope, agentId: string): Promise<CallBucket[]>;
  /** One agent's calls per UTC day from `from` on; only days that had calls. */
  agentDays(scope: Scope, agentId: string, from: string): Promise<DayTotal[]>;
}

/** Whose numbers a principal may read (the tenant service answers it). */
export interface TenantScopes {
  scopeFor(principal: Principal, requested: string | undefined): Promise<Scope>;
}

export interface AnalyticsServiceDeps {
  analytics: AnalyticsRepository;
  tenants: TenantScopes;
  clock: WallClock;
}

/** Adds up grouped rows: the database did the per-call work, these are a few thousand rows at most. */
function fold(buckets: CallBucket[]) {
  let calls = 0; let seconds = 0; let completed = 0; let completedSeconds = 0; let finished = 0;
  const byHour = new Map<number, number>();
  for (const b of buckets) {
    if (b.calls === 0) continue;
    calls += b.calls; seconds += b.seconds;
    if (b.status === 'completed') { completed += b.calls; completedSeconds += b.seconds; }
    if (FINAL_STATUSES.includes(b.status)) finished += b.calls;
    byHour.set(b.hour, (byHour.get(b.hour) ?? 0) + b.calls);
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

const byHourRecord = (byHour: Map<number, number>): Record<string, number> =>
  Object.fromEntries([...byHour].sort(([a], [b]) => a - b).map(([h, n]) => [String(h), n]));

function addAgents(into: Map<string, { calls: number; seconds: number }>, rows: Array<{ agentId: string | null; calls: number; seconds: number }>): void {
  for (const r of rows) {
    if (!r.agentId || r.calls === 0) continue;
    const a = into.get(r.agentId) ?? { calls: 0, seconds: 0 };
    a.calls += r.calls; a.seconds += r.seconds;
    into.set(r.agentId, a);
  }
}

/** Call statistics, computed with SQL aggregates over calls and the running totals the database keeps of them. */
export class AnalyticsService {
  constructor(private readonly deps: AnalyticsServiceDeps) {}

  /**
   * Whose numbers a principal may read: its own tenant's; a tenant key naming another tenant finds
   * nothing (404). The platform admin names one with X-Account-ID or `tenantId`, or gets the whole platform.
   */
  async summaryFor(principal: Principal, opts: { period?: string; tenantId?: string }): Promise<Summary> {
    const platformWide = principal.isPlatformAdmin && !principal.tenantId && opts.tenantId === undefined;
    const scope = platformWide ? null : await this.deps.tenants.scopeFor(principal, opts.tenantId);
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
    const repo = this.deps.analytics;
    const trendFrom = this.trendStart();
    const [agentCount, hours, agentDays, edge, days] = await Promise.all([
      repo.agentCount(scope),
      repo.hourlyTotals(scope, firstWholeDay),
      repo.agentTotals(scope, firstWholeDay),
      repo.callBuckets(scope, { from: since, to: wholeDaysFrom }),
      repo.dayTotals(scope, trendFrom.slice(0, 10)),
    ]);
    const { totals, byHour } = fold([...hours, ...edge]);
    let busiestHour: number | null = null;
    for (const [h, n] of byHour) {
      if (busiestHour === null || n > byHour.get(busiestHour)! || (n === byHour.get(busiestHour) && h < busiestHour)) busiestHour = h;
    }
    const byAgent = new Map<string, { calls: number; seconds: number }>();
    addAgents(byAgent, agentDays);
    addAgents(byAgent, edge);
    // A deleted agent's calls stay in total_calls, so it keeps its place here too (decisions.md).
    const top = [...byAgent].sort(([ia, a], [ib, b]) => b.calls - a.calls || (ia < ib ? -1 : 1)).slice(0, TOP_AGENTS);
    const nameOf = top.length === 0 ? new Map<string, string>() : await repo.agentNames(scope, top.map(([id]) => id));
    return {
      totalAgents: agentCount,
      ...totals,
      busiestHour,
      hourlyDistribution: byHourRecord(byHour),
      topAgents: top.map(([agentId, a]) => ({ agentId, name: nameOf.get(agentId) ?? DELETED_AGENT_NAME, calls: a.calls, minutes: minutes(a.seconds) })),
      dailyTrend: trendOf(days, trendFrom),
    };
  }

  /** Midnight UTC starting the 30-day trend that ends today, as an ISO time. */
  private trendStart(): string {
    const today = Math.floor(this.deps.clock.now().getTime() / DAY_MS) * DAY_MS;
    return new Date(today - (TREND_DAYS - 1) * DAY_MS).toISOString();
  }

  async agent(scope: Scope, agentId: string): Promise<AgentStats> {
    const repo = this.deps.analytics;
    const agent = await repo.agent(scope, agentId);
    if (!agent) throw notFound('agent');
    const firstDay = this.trendStart();
    const [buckets, days] = await Promise.all([repo.agentCallBuckets(scope, agentId), repo.agentDays(scope, agentId, firstDay)]);
    const dailyTrend = trendOf(days, firstDay);
    const { totals, byHour } = fold(buckets);
    return {
      agentId: agent.id,
      name: agent.name,
      ...totals,
      hourlyDistribution: byHourRecord(byHour),
      dailyTrend,
    };
  }
}

/** Every day of the trend from `firstDay`, days without calls as zeros. */
function trendOf(days: DayTotal[], firstDay: string): DayTrend[] {
  const byDay = new Map(days.map((d) => [d.date, d]));
  return Array.from({ length: TREND_DAYS }, (_, i) => {
    const date = new Date(Date.parse(firstDay) + i * DAY_MS).toISOString().slice(0, 10);
    const d = byDay.get(date);
    return { date, calls: d?.calls ?? 0, minutes: minutes(d?.seconds ?? 0) };
  });
}
