import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Services } from '../domain/services.js';
import type { CallRuntime } from '../calls/runtime.js';
import type { EventBus } from '../events/bus.js';
import { toProblem } from './errors.js';
import { registrationsDialect } from './dialects/registrations/index.js';
import { agentsV1Dialect } from './dialects/agents-v1/index.js';
import { trunksDialect } from './dialects/trunks/index.js';
import { deploymentDialect } from './dialects/deployment/index.js';
import { telephonyDialect } from './dialects/telephony/index.js';
import { rateLimits } from './rate-limit.js';
import { twilioEdge } from './twilio/index.js';

export interface AppOptions {
  config: Config;
  services: Services;
  /** Where the events stream listens; the services publish through their unit of work. */
  events: Pick<EventBus, 'subscribe'>;
  logger: Logger;
  /** Call runtime hooks the deployment dialect reads for /healthz etc. */
  runtime?: CallRuntime;
}

export type App = FastifyInstance;

export async function buildApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Fastify takes a hop count too (documented), though its typings leave numbers out.
    trustProxy: opts.config.trustProxy as boolean | string,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  app.decorateRequest('principal', null);
  await app.register(cookie);
  await app.register(formbody);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(swagger, {
    openapi: { info: { title: 'Dialtone', version: '0.1.0', description: 'Telephony control plane for voice-AI agents' } },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await rateLimits(app, opts);

  const startedAt = Date.now();
  app.get('/healthz', async () => ({
    status: 'ok',
    uptime: Math.floor((Date.now() - startedAt) / 1000),
    activeCalls: opts.runtime?.activeCalls() ?? 0,
  }));

  await app.register(registrationsDialect, opts);
  await app.register(agentsV1Dialect, opts);
  await app.register(trunksDialect, opts);
  await app.register(deploymentDialect, opts);
  await app.register(telephonyDialect, opts);
  await app.register(twilioEdge, opts);

  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  app.setErrorHandler((err, req, reply) => {
    const p = toProblem(err);
    if (p.status >= 500) req.log.error({ err }, 'request failed');
    return reply.status(p.status).send({ error: p.code, message: p.message });
  });
  return app;
}
