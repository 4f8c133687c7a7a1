/**
 * The Prometheus metrics of one process (`GET /metrics`, or METRICS_LISTEN). Platform state
 * (lines by state, live calls) is read from the database at scrape time, so every instance
 * reports the same numbers for it; what this process does (REGISTERs, calls it started, HTTP
 * requests, sessions it holds) is counted here, per instance.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DomainEvent } from '../events/catalog.js';

export interface MetricsSources {
  linesByState(): Promise<{ status: string; state: string; n: number }[]>;
  liveCallsByRoute(): Promise<{ direction: string; handler: string | null; n: number }[]>;
  /** Live ConversationRelay sessions in this process. */
  relaySessions(): number;
  /** SIP calls held by this process, once the SIP edge runs. */
  sipCalls(): { bridged: number; voice: number } | null;
  /** PostgreSQL's pool; absent on SQLite. */
  pool?: { totalCount: number; idleCount: number; waitingCount: number };
  dbKind: string;
}

/** Seconds; HTTP answers here are mostly a few ms, a slow database or Twilio call a second or more. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  private readonly registers: Counter<'outcome'>;
  private readonly callsStarted: Counter<'direction' | 'handler'>;
  private readonly lineChanges: Counter<'state'>;

  constructor(sources: MetricsSources, private readonly onScrapeError: (what: string, err: Error) => void = () => {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.http = new Histogram({
      name: 'dialtone_http_request_duration_seconds', help: 'HTTP answers by route (the route pattern, not the path), method and status',
      labelNames: ['method', 'route', 'status'], buckets: HTTP_BUCKETS, registers,
    });
    this.registers = new Counter({ name: 'dialtone_register_outcomes_total', help: 'REGISTER transactions sent by this process, by outcome', labelNames: ['outcome'], registers });
    this.callsStarted = new Counter({ name: 'dialtone_calls_started_total', help: 'Calls this process started, by direction and handler', labelNames: ['direction', 'handler'], registers });
    this.lineChanges = new Counter({ name: 'dialtone_line_state_changes_total', help: 'Line state changes recorded by this process, by new state', labelNames: ['state'], registers });

    const dbUp = new Gauge({ name: 'dialtone_database_up', help: '1 when the last scrape could read the database', registers });
    const guarded = async (what: string, read: () => Promise<void>) => {
      try {
        await read();
        dbUp.set(1);
      } catch (err) {
        dbUp.set(0);
        this.onScrapeError(what, err as Error);
      }
    };
    new Gauge({
      name: 'dialtone_lines', help: 'Lines (registrations) of all tenants by status and state', labelNames: ['status', 'state'], registers,
      async collect() {
        await guarded('lines', async () => {
          const rows = await sources.linesByState();
          this.reset();
          for (const r of rows) this.set({ status: r.status, state: r.state }, r.n);
        });
      },
    });
    new Gauge({
      name: 'dialtone_calls_active', help: 'Live calls of all tenants by direction and handler (none: Twilio calls)', labelNames: ['direction', 'handler'], registers,
      async collect() {
        await guarded('calls', async () => {
          const rows = await sources.liveCallsByRoute();
          this.reset();
          for (const r of rows) this.set({ direction: r.direction, handler: r.handler ?? 'none' }, r.n);
        });
      },
    });
    new Gauge({
      name: 'dialtone_relay_sessions', help: 'ConversationRelay sessions open in this process', registers,
      collect() { this.set(sources.relaySessions()); },
    });
    new Gauge({
      name: 'dialtone_sip_calls', help: 'SIP calls held by this process: bridged to another side, or answered by Dialtone itself (voice)', labelNames: ['kind'], registers,
      collect() {
        const c = sources.sipCalls() ?? { bridged: 0, voice: 0 };
        this.set({ kind: 'bridged' }, c.bridged);
        this.set({ kind: 'voice' }, c.voice);
      },
    });
    new Gauge({
      name: 'dialtone_db_pool_connections', help: 'Database connections by state (SQLite: one connection, never waiting)', labelNames: ['kind', 'state'], registers,
      collect() {
        const p = sources.pool ?? { totalCount: 1, idleCount: 0, waitingCount: 0 };
        this.set({ kind: sources.dbKind, state: 'total' }, p.totalCount);
        this.set({ kind: sources.dbKind, state: 'idle' }, p.idleCount);
        this.set({ kind: sources.dbKind, state: 'waiting' }, p.waitingCount);
      },
    });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
  }

  registerOutcome(outcome: string): void {
    this.registers.inc({ outcome });
  }

  /** Events of transactions this process committed. */
  committed(e: DomainEvent): void {
    if (e.type === 'call.started') this.callsStarted.inc({ direction: e.data.direction, handler: e.data.handler ?? 'none' });
    else if (e.type === 'registration.state') this.lineChanges.inc({ state: e.data.state });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Whether an Authorization header carries the metrics token; compared in constant time. */
export function metricsTokenMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1].trim()), digest(token));
}
