/**
 * Operations: `/readyz`, `/metrics`, and the one log line per request (with its latency
 * recorded for /metrics). `/healthz` (liveness) stays in app.ts as it was.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { PUBLIC_ROUTE, type AppOptions } from './context.js';
import { metricsTokenMatches } from '../ops/metrics.js';

/** Probes and scrapes come every few seconds: their lines are debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

function logRequest(req: FastifyRequest, status: number, elapsedMs: number, metrics: AppOptions['metrics']): void {
  // The route pattern, never the path: ids stay out of metric labels.
  const route = req.routeOptions.url ?? null;
  const line = { req, res: { statusCode: status }, route, responseTime: Math.round(elapsedMs * 10) / 10 };
  if (route && QUIET_ROUTES.has(route)) req.log.debug(line, 'request');
  else req.log.info(line, 'request');
  metrics?.observeRequest(req.method, route ?? 'unmatched', status, elapsedMs / 1000);
}

export function installRequestLog(app: FastifyInstance, opts: Pick<AppOptions, 'metrics'>): void {
  app.addHook('onRequest', async (req) => { upgradeStarts.set(req, performance.now()); });
  app.addHook('onResponse', async (req, reply) => logRequest(req, reply.statusCode, reply.elapsedTime, opts.metrics));
}

/**
 * The request line of a WebSocket upgrade: the reply is hijacked, so no onResponse runs for it.
 * Called by each socket route when its socket opens (refused upgrades are ordinary answers).
 */
export function logUpgrade(req: FastifyRequest, metrics: AppOptions['metrics']): void {
  const started = upgradeStarts.get(req) ?? performance.now();
  logRequest(req, 101, performance.now() - started, metrics);
}

const upgradeStarts = new WeakMap<FastifyRequest, number>();

const Problem = Type.Object({ error: Type.String(), message: Type.String() });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Record(Type.String(), Type.String(), { description: 'each part: ok, or what is wrong (database, sip)' }),
}, { examples: [{ status: 'not_ready', checks: { database: 'ok', sip: 'not listening yet' } }] });

export async function opsRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  app.get('/readyz', {
    config: PUBLIC_ROUTE,
    schema: {
      tags: ['health'], summary: 'Readiness: the database answers and SIP is listening',
      response: { 200: Readiness, 503: Readiness },
    },
  }, async (_req, reply) => {
    const checks = opts.readiness ? await opts.readiness() : { readiness: 'not wired' };
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  const { token, listen } = opts.config.metrics;
  app.get('/metrics', {
    // Its own credential (METRICS_TOKEN), not an API key: Prometheus holds no tenant key.
    config: PUBLIC_ROUTE,
    schema: {
      tags: ['health'], summary: 'Prometheus metrics (Bearer METRICS_TOKEN)',
      security: [{ metricsToken: [] }],
      response: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } },
        401: Problem, 404: Problem,
      },
    },
  }, async (req, reply) => {
    const metrics = opts.metrics;
    // Only the listener serves metrics without a token; here a token is always needed.
    if (!metrics || !token) {
      const message = listen ? `metrics are served on ${listen.host}:${listen.port} (METRICS_LISTEN), not here` : 'metrics are off: set METRICS_TOKEN or METRICS_LISTEN';
      return reply.status(404).send({ error: 'not_found', message });
    }
    if (!metricsTokenMatches(req.headers.authorization, token)) {
      return reply.status(401).header('www-authenticate', 'Bearer realm="metrics"').send({ error: 'unauthenticated', message: 'send Authorization: Bearer <METRICS_TOKEN>' });
    }
    return reply.type(metrics.contentType).send(await metrics.text());
  });
}
