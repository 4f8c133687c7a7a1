import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { Type } from '@sinclair/typebox';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { authentication } from './auth.js';
import { PUBLIC_ROUTE, type App, type AppOptions } from './context.js';
import { sendError } from './errors.js';
import { installResponseHeaders, responseHeaders } from './headers.js';
import { envelopeFor, routerErrors, type EnvelopeTable } from './routing.js';
import { validatorCompiler } from './validation.js';
import { registrationsDialect, registrationsEnvelope } from './dialects/registrations/index.js';
import { agentsV1Dialect, agentsV1Envelope } from './dialects/agents-v1/index.js';
import { trunksDialect, trunksEnvelope } from './dialects/trunks/index.js';
import { deploymentDialect, deploymentEnvelope } from './dialects/deployment/index.js';
import { telephonyDialect, telephonyEnvelope } from './dialects/telephony/index.js';
import { rateLimits } from './rate-limit.js';
import { swaggerOptions } from './openapi.js';
import { asyncApiDocument } from './asyncapi.js';
import { installRequestLog, opsRoutes } from './ops.js';
import { twilioEdge, twilioEnvelope } from './twilio/index.js';

export type { App, AppOptions } from './context.js';

/** Which dialect answers router-level errors under which path prefix. */
const ENVELOPES: EnvelopeTable = [
  ['/phone-endpoints', registrationsEnvelope],
  ['/agents', registrationsEnvelope],
  ['/v1.0', agentsV1Envelope],
  ['/auth', agentsV1Envelope],
  ['/sip', trunksEnvelope],
  ['/api', deploymentEnvelope],
  ['/tenants', deploymentEnvelope],
  ['/calls', deploymentEnvelope],
  ['/events', deploymentEnvelope],
  ['/api/v1/telephony', telephonyEnvelope],
  ['/twilio', twilioEnvelope],
  ['/relay', twilioEnvelope],
];

/** Longer than any id a schema allows, so an over-long id is refused by its schema, which names the field. */
const MAX_PARAM_LENGTH = 512;

export async function buildApp(opts: AppOptions): Promise<App> {
  let frameworkErrors: ReturnType<typeof routerErrors> | null = null;
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Fastify takes a hop count too (documented), though its typings leave numbers out.
    trustProxy: opts.config.trustProxy as boolean | string,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A `__proto__` key is parsed as plain data and then refused by name (input-guard.ts), not as "not valid JSON".
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    frameworkErrors: (err, req, reply) => frameworkErrors!(err, req, reply),
    // One line per request, written when it is answered (ops.ts), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only, unless a dialect adds a parser of its own (the Twilio edge takes forms): anything else is 415.
  app.removeContentTypeParser('text/plain');
  const headers = responseHeaders(opts.config.corsOrigins);
  installResponseHeaders(app, headers);
  frameworkErrors = routerErrors(app, ENVELOPES, headers);
  app.setErrorHandler((err, req, reply) => sendError(envelopeFor(ENVELOPES, req.url), err, req, reply));
  installRequestLog(app, opts);

  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(swagger, swaggerOptions);
  await app.register(async (docs) => {
    // The docs pages are the plugin's own routes: marked public as they are added.
    docs.addHook('onRoute', (route) => { route.config = { ...route.config, ...PUBLIC_ROUTE }; });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { config: PUBLIC_ROUTE, schema: { hide: true } }, async () => app.swagger());
  // Read per request: PUBLIC_URL may be set after start (the tests do).
  app.get('/asyncapi.json', { config: PUBLIC_ROUTE, schema: { hide: true } }, async () => asyncApiDocument(opts.config.publicUrl));
  const throttles = await rateLimits(app, opts);
  // After the rate limiter: failed keys are counted too.
  await app.register(authentication, { ...opts, throttles });

  const startedAt = Date.now();
  const Health = Type.Object({ status: Type.Literal('ok'), uptime: Type.Integer({ description: 'seconds since start' }), activeCalls: Type.Integer() });
  app.get('/healthz', { config: PUBLIC_ROUTE, schema: { tags: ['health'], summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok',
    uptime: Math.floor((Date.now() - startedAt) / 1000),
    activeCalls: opts.runtime?.activeCalls() ?? 0,
  }));

  await app.register(opsRoutes, opts);
  await app.register(registrationsDialect, opts);
  await app.register(agentsV1Dialect, opts);
  await app.register(trunksDialect, opts);
  await app.register(deploymentDialect, opts);
  await app.register(telephonyDialect, opts);
  await app.register(twilioEdge, opts);

  return app;
}
