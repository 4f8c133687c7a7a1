import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { AppOptions, Throttles } from './context.js';
import { presentedTokenDigest } from './auth.js';
import { boundedStoreClass } from './bounded-window-store.js';
import { hashToken } from '../domain/keys.js';

/**
 * Paths that are not the authenticated API: health probes, the API docs, and what Twilio calls
 * (its webhooks and the ConversationRelay socket come from Twilio's addresses on behalf of many
 * callers, so a per-address limit would cut live calls), and the dashboard's static files (its
 * API requests count against the credential it signs in with, as any client's do).
 */
const UNLIMITED = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/asyncapi.json', '/docs', '/app', '/twilio', '/relay'];

export function isLimited(url: string): boolean {
  const path = url.split('?', 1)[0];
  return !UNLIMITED.some((p) => path === p || path.startsWith(`${p}/`));
}

/** Who a request counts against: the presented credential (by digest, never in clear), else the client address. */
function identityOf(req: FastifyRequest): string {
  const digest = presentedTokenDigest(req);
  return digest ? `k:${digest}` : `ip:${req.ip}`;
}

const LOGIN_WINDOW_MS = 15 * 60_000;

type Limit = ReturnType<FastifyInstance['createRateLimit']>;
type LimitResult = Awaited<ReturnType<Limit>>;

/**
 * `RateLimit-Limit/Remaining/Reset` (IETF draft names) for the window closest to running out,
 * so a client sees a 429 coming instead of meeting it.
 */
function setRateHeaders(reply: FastifyReply, results: LimitResult[]): void {
  // An allow-listed result counts nothing; we set no allow list, but the type has the case.
  const counted = results.filter((r): r is Extract<LimitResult, { isAllowed: false }> => !r.isAllowed);
  if (counted.length === 0) return;
  const tightest = counted.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  void reply.header('ratelimit-limit', String(tightest.max))
    .header('ratelimit-remaining', String(tightest.remaining))
    .header('ratelimit-reset', String(Math.max(0, tightest.ttlInSeconds)));
}

/** Answered here, not thrown, so every dialect gives the same 429 body. */
function sendRateLimited(reply: FastifyReply, retryAfter: number, message: string): FastifyReply {
  const seconds = Math.max(1, retryAfter);
  return reply.status(429).header('retry-after', String(seconds)).send({ error: 'rate_limited', message: `${message}; retry in ${seconds} s` });
}

/**
 * Per-credential limits over two fixed windows, a burst window (per minute) and a steady one
 * (per hour); per-address limits on failed credentials; per-username limits on login attempts.
 * Counters live in Redis when REDIS_URL is set so every instance shares them (Redis expires
 * them); otherwise in memory, bounded without dropping throttled identities. If Redis is
 * unreachable requests are let through (logged) rather than refused.
 */
export async function rateLimits(app: FastifyInstance, opts: AppOptions): Promise<Throttles> {
  const { perMinute, perHour } = opts.config.rateLimit;
  const { loginsPerUsername, badCredentialsPerMinute, trackedKeys } = opts.config.throttle;
  let redis: Redis | null = null;
  if (opts.config.redisUrl) {
    redis = new Redis(opts.config.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', (err: Error) => opts.logger.warn({ err: err.message }, 'rate-limit store unreachable; not limiting'));
    await redis.connect().catch(() => { /* reported by the error listener; ioredis keeps retrying */ });
    app.addHook('onClose', async () => { redis?.disconnect(); });
  }
  await app.register(rateLimit, {
    global: false,
    skipOnError: true,
    nameSpace: `${opts.config.redisPrefix}ratelimit:`,
    // The typings leave out the window and limit the plugin passes a store's `incr`.
    ...(redis ? { redis } : { store: boundedStoreClass(trackedKeys) as unknown as RateLimitPluginOptions['store'] }),
  });

  const identities = new WeakMap<FastifyRequest, string>();
  const keyed = (window: string) => (req: FastifyRequest) => `${window}:${identities.get(req) ?? identityOf(req)}`;
  const limiter = (max: number, timeWindow: number, keyGenerator: (req: FastifyRequest) => string): Limit =>
    app.createRateLimit({ max, timeWindow, keyGenerator });
  const windows = [
    { name: 'minute', check: limiter(perMinute, 60_000, keyed('m')) },
    { name: 'hour', check: limiter(perHour, 3_600_000, keyed('h')) },
  ];
  const badCredentials = limiter(badCredentialsPerMinute, 60_000, (req) => `bad:${req.ip}`);
  const usernames = new WeakMap<FastifyRequest, string>();
  const logins = limiter(loginsPerUsername, LOGIN_WINDOW_MS, (req) => `login:${usernames.get(req)}`);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isLimited(req.url)) return;
    identities.set(req, identityOf(req));
    const results = await Promise.all(windows.map((w) => w.check(req)));
    setRateHeaders(reply, results);
    let retryAfter = 0;
    const exceeded: string[] = [];
    results.forEach((r, i) => {
      if (!r.isAllowed && r.isExceeded) {
        exceeded.push(`${r.max} requests per ${windows[i].name}`);
        retryAfter = Math.max(retryAfter, r.ttlInSeconds);
      }
    });
    if (exceeded.length === 0) return;
    return sendRateLimited(reply, retryAfter, `rate limit of ${exceeded.join(' and ')} exceeded for this credential`);
  });

  // After validation, so the username is known; counted by username whatever address it comes from.
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.routeOptions.config.loginAttempt) return;
    const username = (req.body as { username?: unknown } | undefined)?.username;
    if (typeof username !== 'string') return;
    // By digest: usernames are not secret, but keys stay short and free of odd characters.
    usernames.set(req, hashToken(username));
    const r = await logins(req);
    if (r.isAllowed || !r.isExceeded) return;
    setRateHeaders(reply, [r]);
    return sendRateLimited(reply, r.ttlInSeconds, `rate limit of ${r.max} login attempts per 15 minutes exceeded for this username`);
  });

  return {
    async refuseCredentialFlood(req, reply) {
      if (!isLimited(req.url)) return false;
      const r = await badCredentials(req);
      if (r.isAllowed || !r.isExceeded) return false;
      setRateHeaders(reply, [r]);
      sendRateLimited(reply, r.ttlInSeconds, `rate limit of ${r.max} requests per minute with a missing or invalid key exceeded for this address`);
      return true;
    },
  };
}
