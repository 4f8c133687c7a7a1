import Fastify, { type FastifyBaseLogger } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { authentication } from './auth.js';
import { PUBLIC_ROUTE, type App, type AppOptions } from './context.js';
import { toProblem } from './errors.js';
import { registrationsDialect } from './dialects/registrations/index.js';
import { agentsV1Dialect } from './dialects/agents-v1/index.js';
import { trunksDialect } from './dialects/trunks/index.js';
import { deploymentDialect } from './dialects/deployment/index.js';
import { telephonyDialect } from './dialects/telephony/index.js';
import { rateLimits } from './rate-limit.js';
import { twilioEdge } from './twilio/index.js';

export type { App, AppOptions } from './context.js';

export async function buildApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Fastify takes a hop count too (documented), though its typings leave numbers out.
    trustProxy: opts.config.trustProxy as boolean | string,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  await app.register(cookie);
  await app.register(formbody);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(swagger, {
    openapi: { info: { title: 'Dialtone', version: '0.1.0', description: 'Telephony control plane for voice-AI agents' } },
  });
  await app.register(async (docs) => {
    // The docs pages are the plugin's own routes: marked public as they are added.
    docs.addHook('onRoute', (route) => { route.config = { ...route.config, ...PUBLIC_ROUTE }; });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { config: PUBLIC_ROUTE, schema: { hide: true } }, async () => app.swagger());
  await rateLimits(app, opts);
  // After the rate limiter: failed keys are counted too.
  await app.register(authentication, opts);

  const startedAt = Date.now();
  app.get('/healthz', { config: PUBLIC_ROUTE }, async () => ({
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
