/**
 * What every dialect receives and what the app decorates requests with. Dialects import this
 * module, never app.ts: app.ts imports the dialects, so importing it back would be a cycle.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.js';
import type { Config } from '../config.js';
import type { Services } from '../domain/services.js';
import type { CallRuntime } from '../calls/runtime.js';
import type { SipCalls } from '../calls/sip/calls.js';
import type { Principal } from '../domain/principal.js';
import type { Metrics } from '../ops/metrics.js';
import type { ClusterLink } from '../cluster/link.js';
import type { SocketSlots } from '../cluster/socket-slots.js';

export interface AppOptions {
  config: Config;
  services: Services;
  /** Where the events stream listens; the services publish through their unit of work. */
  events: Pick<EventBus, 'subscribe'>;
  logger: Logger;
  /** Call runtime hooks the deployment dialect reads for /healthz etc. */
  runtime?: CallRuntime;
  /** The SIP call layer once the SIP edge runs (null before, and on HTTP-only servers). */
  sipCalls?: () => SipCalls | null;
  /** The other instances of the cluster (a LocalLink without Redis). */
  cluster?: ClusterLink;
  /** Connection slots per holder, shared through Redis in cluster mode (per process otherwise). */
  socketSlots?: SocketSlots;
  /** Present when METRICS_TOKEN or METRICS_LISTEN is set. */
  metrics?: Metrics | null;
  /** What /readyz reports: each part `ok`, or what is wrong with it. */
  readiness?: () => Promise<Record<string, string>>;
}

/** What the authentication plugin asks of the limiter. */
export interface Throttles {
  /**
   * Counts a request whose credential failed against its client address; once the address is
   * over the limit, answers 429 on `reply` and returns true. Without this a flood of random
   * tokens was never limited: each token is a fresh identity to the per-credential limits.
   */
  refuseCredentialFlood(req: FastifyRequest, reply: FastifyReply): Promise<boolean>;
}

export type App = FastifyInstance;

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by the authentication plugin, null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The route answers without an API key (it authenticates otherwise, or not at all). */
    public?: boolean;
    /** The answer holds a credential: no cache may keep it. */
    carriesToken?: boolean;
    /**
     * A login token without the manager or admin bit may call this route; its service narrows it
     * to the agent's own record. Every other authenticated route needs manager/admin for login tokens.
     */
    plainAgent?: boolean;
    /** Each call is a login attempt for `body.username`, limited per username from any address. */
    loginAttempt?: boolean;
  }
}

/** Route `config` for a route that opts out of API-key authentication. */
export const PUBLIC_ROUTE = { public: true } as const;

/** Route `config` for what a plain agent may do (read itself, set its own status, read tags). */
export const PLAIN_AGENT_ROUTE = { plainAgent: true } as const;

/** Route `config` for a route whose answer holds a token (sent with `Cache-Control: no-store`). */
export const TOKEN_ROUTE = { carriesToken: true } as const;
