import type { Logger } from 'pino';
import { DEFAULT_CALL_HANDLER } from '../domain/call-handler.js';
import type { DomainEvent } from '../events/catalog.js';
import type { LiveKitProvisioner } from './provisioner.js';

export interface LiveKitLine {
  id: string;
  handler: string;
}

export interface LiveKitAgentView {
  id: string;
  tenantId: string;
  name: string;
  /** null: the agent takes calls from any handler, and its direct URI uses the default one. */
  handler: string | null;
  /** The lines (registrations) the agent listens on. */
  lines: LiveKitLine[];
}

/** What the sync reads about agents and lines; the composition root wires it to the store. */
export interface LiveKitAgentSource {
  /** null when the tenant has no such agent (any more). */
  agent(tenantId: string, agentId: string): Promise<LiveKitAgentView | null>;
  /** The agent listening on the line; null when none, or the line is gone. */
  lineListener(tenantId: string, lineId: string): Promise<string | null>;
  /** Every agent of every tenant, for the reconciliation at start. */
  allAgents(): Promise<Array<{ tenantId: string; agentId: string }>>;
}

export type LiveKitRules = Pick<LiveKitProvisioner, 'ensureInboundTrunk' | 'syncAgent' | 'removeAgent' | 'agentsWithRules'>;

/**
 * Whether calls reaching the agent go to LiveKit. Its direct URI uses the agent's handler, or the
 * default (livekit) when it has none; a line's handler must match the agent's when the agent has
 * one, so a livekit line implies an agent with no handler or with livekit.
 */
export function routesToLiveKit(agent: Pick<LiveKitAgentView, 'handler'>): boolean {
  return (agent.handler ?? DEFAULT_CALL_HANDLER) === 'livekit';
}

type Job =
  | { kind: 'all' }
  | { kind: 'agent'; tenantId: string; agentId: string }
  | { kind: 'line'; tenantId: string; lineId: string };

const keyOf = (job: Job) => job.kind === 'all' ? 'all' : job.kind === 'agent' ? `agent:${job.tenantId}/${job.agentId}` : `line:${job.tenantId}/${job.lineId}`;

export interface LiveKitSyncOptions {
  /** First retry delay after a failure; doubles per failure up to `backoffMaxMs` (with jitter). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
}

/**
 * Keeps LiveKit's dispatch rules in step with agents and their lines. Each event names an agent
 * (or a line, whose listener is looked up), and the job re-reads that agent's current state, so
 * jobs are idempotent, coalesce, and arrive in any order. Jobs run one at a time. A failed job is
 * logged and retried with backoff; nothing here throws into the bus or the process.
 */
export class LiveKitSync {
  private readonly pending = new Map<string, Job>();
  private readonly retries = new Map<string, { attempt: number; timer: NodeJS.Timeout | null }>();
  /** Line → agent last seen listening on it: a deleted line can no longer be asked. */
  private readonly lineAgents = new Map<string, string>();
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(
    private readonly rules: LiveKitRules,
    private readonly source: LiveKitAgentSource,
    private readonly logger: Logger,
    opts: LiveKitSyncOptions = {},
  ) {
    this.baseMs = opts.backoffBaseMs ?? 1_000;
    this.maxMs = opts.backoffMaxMs ?? 5 * 60_000;
    this.random = opts.random ?? Math.random;
  }

  /** Listens to the bus and reconciles every agent once. */
  start(subscribe: (handler: (event: DomainEvent) => void) => () => void): void {
    if (this.unsubscribe || this.stopped) return;
    this.unsubscribe = subscribe((event) => this.onEvent(event));
    this.enqueue({ kind: 'all' });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const r of this.retries.values()) if (r.timer) clearTimeout(r.timer);
    this.retries.clear();
    this.pending.clear();
    await this.running;
    this.wakeIdle();
  }

  /** Resolves once no job is queued or running (retries waiting on their timer do not count). */
  idle(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Jobs waiting for a retry, by key, with how many times each failed. */
  failing(): Map<string, number> {
    return new Map([...this.retries].map(([k, r]) => [k, r.attempt]));
  }

  onEvent(event: DomainEvent): void {
    const tenantId = event.tenantId;
    switch (event.type) {
      case 'agent.created':
      case 'agent.updated':
      case 'agent.deleted':
        this.enqueue({ kind: 'agent', tenantId, agentId: event.data.agent_id });
        break;
      case 'registration.listener_bound':
        for (const agentId of [event.data.agent_id, event.data.previous_agent_id]) {
          if (agentId) this.enqueue({ kind: 'agent', tenantId, agentId });
        }
        this.enqueue({ kind: 'line', tenantId, lineId: event.data.registration_id });
        break;
      case 'registration.created':
      case 'registration.updated':
      case 'registration.activated':
      case 'registration.disabled':
      case 'registration.deleted':
        this.enqueue({ kind: 'line', tenantId, lineId: event.data.registration_id });
        break;
      default:
        break;
    }
  }

  private enqueue(job: Job): void {
    if (this.stopped) return;
    const key = keyOf(job);
    const retry = this.retries.get(key);
    // News about a failing job runs it now; its failure count (and so its next delay) stays.
    if (retry?.timer) { clearTimeout(retry.timer); retry.timer = null; }
    this.pending.set(key, job);
    if (!this.running) this.running = this.drain();
  }

  private async drain(): Promise<void> {
    // Let the events of one transaction arrive before the first job runs.
    await new Promise((resolve) => setImmediate(resolve));
    while (!this.stopped && this.pending.size) {
      const [key, job] = this.pending.entries().next().value as [string, Job];
      this.pending.delete(key);
      try {
        await this.run(job);
        this.retries.delete(key);
      } catch (err) {
        this.scheduleRetry(key, job, err);
      }
    }
    this.running = null;
    this.wakeIdle();
  }

  private wakeIdle(): void {
    if (this.running || this.pending.size) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private scheduleRetry(key: string, job: Job, err: unknown): void {
    if (this.stopped) return;
    const attempt = (this.retries.get(key)?.attempt ?? 0) + 1;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(attempt - 1, 30));
    const delayMs = Math.round(ceiling / 2 + (ceiling / 2) * this.random());
    const timer = setTimeout(() => {
      const r = this.retries.get(key);
      if (r) r.timer = null;
      this.enqueue(job);
    }, delayMs);
    timer.unref();
    this.retries.set(key, { attempt, timer });
    this.logger.warn({ job: key, attempt, retryInMs: delayMs, err: describeError(err) }, 'LiveKit provisioning failed; will retry');
  }

  private async run(job: Job): Promise<void> {
    if (job.kind === 'agent') return this.syncAgent(job.tenantId, job.agentId);
    if (job.kind === 'line') {
      const now = await this.source.lineListener(job.tenantId, job.lineId);
      const before = this.lineAgents.get(job.lineId);
      for (const agentId of new Set([now, before])) if (agentId) await this.syncAgent(job.tenantId, agentId);
      return;
    }
    await this.rules.ensureInboundTrunk();
    const agents = await this.source.allAgents();
    for (const a of agents) this.enqueue({ kind: 'agent', tenantId: a.tenantId, agentId: a.agentId });
    // Rules of agents deleted while this process was not listening (or LiveKit was unreachable).
    const known = new Set(agents.map((a) => a.agentId));
    for (const agentId of await this.rules.agentsWithRules()) {
      if (!known.has(agentId)) await this.rules.removeAgent(agentId);
    }
  }

  private async syncAgent(tenantId: string, agentId: string): Promise<void> {
    const agent = await this.source.agent(tenantId, agentId);
    for (const [line, owner] of this.lineAgents) if (owner === agentId) this.lineAgents.delete(line);
    if (!agent || !routesToLiveKit(agent)) {
      await this.rules.removeAgent(agentId);
      return;
    }
    const lineIds = agent.lines.filter((l) => l.handler === 'livekit').map((l) => l.id);
    for (const line of agent.lines) this.lineAgents.set(line.id, agentId);
    await this.rules.syncAgent({ agentId, tenantId, agentName: agent.name, lineIds });
  }
}

/** What is safe to log about a failure: no request bodies, headers or tokens. */
function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { status?: number; code?: unknown; cause?: { code?: unknown; message?: string } };
  const out: Record<string, unknown> = { message: e.message };
  if (e.status !== undefined) out.status = e.status;
  if (typeof e.code === 'string') out.code = e.code;
  if (e.cause?.code !== undefined) out.cause = String(e.cause.code);
  return out;
}
