import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { AppOptions } from './context.js';
import { presentedTokenDigest } from './auth.js';

/**
 * Paths that are not the authenticated API: health probes, the API docs, and what Twilio calls
 * (its webhooks and the ConversationRelay socket come from Twilio's addresses on behalf of many
 * callers, so a per-address limit would cut live calls).
 */
const UNLIMITED = ['/healthz', '/openapi.json', '/docs', '/twilio', '/relay'];

function isLimited(url: string): boolean {
  const path = url.split('?', 1)[0];
  return !UNLIMITED.some((p) => path === p || path.startsWith(`${p}/`));
}

/** Who a request counts against: the presented credential (by digest, never in clear), else the client address. */
function identityOf(req: FastifyRequest): string {
  const digest = presentedTokenDigest(req);
  return digest ? `k:${digest}` : `ip:${req.ip}`;
}

/**
 * Per-credential limits over two fixed windows, a burst window (per minute) and a steady one
 * (per hour). Counters live in Redis when REDIS_URL is set so every instance shares them; if Redis
 * is unreachable requests are let through (logged) rather than refused.
 */
export async function rateLimits(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { perMinute, perHour } = opts.config.rateLimit;
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
    nameSpace: 'dialtone:ratelimit:',
    ...(redis ? { redis } : {}),
  });

  const identities = new WeakMap<FastifyRequest, string>();
  const keyed = (window: string) => (req: FastifyRequest) => `${window}:${identities.get(req) ?? identityOf(req)}`;
  // `cache` sizes the in-memory store's LRU (credentials tracked at once); the typings omit it.
  const limiter = (max: number, timeWindow: number, window: string) =>
    app.createRateLimit({ max, timeWindow, keyGenerator: keyed(window), cache: 50_000 } as Parameters<FastifyInstance['createRateLimit']>[0]);
  const windows = [
    { name: 'minute', check: limiter(perMinute, 60_000, 'm') },
    { name: 'hour', check: limiter(perHour, 3_600_000, 'h') },
  ];

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isLimited(req.url)) return;
    identities.set(req, identityOf(req));
    const results = await Promise.all(windows.map((w) => w.check(req)));
    let retryAfter = 0;
    const exceeded: string[] = [];
    results.forEach((r, i) => {
      if (!r.isAllowed && r.isExceeded) {
        exceeded.push(`${r.max} requests per ${windows[i].name}`);
        retryAfter = Math.max(retryAfter, r.ttlInSeconds);
      }
    });
    if (exceeded.length === 0) return;
    // Answered here, not thrown, so every dialect gives the same 429 body.
    return reply.status(429).header('retry-after', String(Math.max(1, retryAfter))).send({
      error: 'rate_limited',
      message: `rate limit of ${exceeded.join(' and ')} exceeded for this credential; retry in ${Math.max(1, retryAfter)} s`,
    });
  });
}
