/**
 * How /openapi.json is put together from the route schemas: the credential placements the
 * authentication plugin accepts as security schemes, applied per operation; operation ids; the
 * tag of each API document and the group it belongs to; and the answers every route can give
 * beside its own (the rate limiter's 429, an internal 500 in the route's own envelope).
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { isLimited } from './rate-limit.js';

type Json = Record<string, any>;

/** Every place auth.ts reads a key from, in the order it reads them. */
export const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: 'An API key or a login token as `Authorization: Bearer <key>`' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in the X-API-Key header' },
  tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The key as `?token=` (for clients that cannot set headers, e.g. a browser WebSocket)' },
  accesskeyQuery: { type: 'apiKey', in: 'query', name: 'accesskey', description: 'The key as `?accesskey=`, as the agents v1.0 clients send it' },
  tokenCookie: { type: 'apiKey', in: 'cookie', name: 'token', description: 'The key in a `token` cookie' },
  accesskeyCookie: { type: 'apiKey', in: 'cookie', name: 'accesskey', description: 'The key in an `accesskey` cookie' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for /metrics only' },
  twilioSignature: {
    type: 'apiKey', in: 'header', name: 'X-Twilio-Signature',
    description: "Twilio's request signature, checked against the auth token of the account that owns the number; Twilio sends it, nobody else can",
  },
} as const;

/** Any one of the key placements will do (OpenAPI reads a list of requirements as alternatives). */
const KEYED = ['bearer', 'apiKeyHeader', 'tokenQuery', 'accesskeyQuery', 'tokenCookie', 'accesskeyCookie'].map((name) => ({ [name]: [] }));

/** One tag per API document, grouped the way README.md introduces them. */
const TAG_GROUPS: { name: string; tags: [string, string][] }[] = [
  { name: 'Registrations API', tags: [['registrations', 'SIP lines a Dialtone registers with a registrar, numbers (DDIs), and which agent answers them']] },
  { name: 'Agents API v1.0', tags: [['agents v1.0', 'People who take calls, their tags, access keys and logins']] },
  { name: 'SIP trunks API', tags: [['SIP trunks', 'Outbound SIP trunks and calls placed through them']] },
  {
    name: 'Deployment API',
    tags: [
      ['deployment: agents', 'Voice-AI agents: prompt, voice, handler'],
      ['deployment: tenants', 'Tenants (platform admin only)'],
      ['Phone numbers', 'Assigning carrier numbers to agents'],
      ['calls', 'Live and past calls, their context, and placing calls'],
      ['supervisor', 'Steering a live call: say text, send DTMF, transfer, end'],
      ['analytics', 'Call counts, minutes and costs'],
      ['events', 'The live events WebSocket (messages in /asyncapi.json)'],
    ],
  },
  {
    name: 'Telephony API',
    tags: [['Telephony numbers', 'Phone numbers on carrier credentials'], ['Telephony providers', 'Carrier credentials (secrets are never answered)']],
  },
  { name: 'Twilio edge', tags: [['twilio', "What Twilio calls: voice and status webhooks and the ConversationRelay socket (messages in /asyncapi.json)"]] },
  { name: 'Operations', tags: [['health', 'Liveness and readiness probes, Prometheus metrics']] },
];

const camel = (s: string) => s.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));
const pascal = (s: string) => { const c = camel(s); return c.charAt(0).toUpperCase() + c.slice(1); };

/** `POST /phone-endpoints/:id/activate` → `postPhoneEndpointsByIdActivate`: stable, unique, readable in a generated client. */
export function operationIdFor(method: string, url: string): string {
  const words = url.split('/').filter(Boolean).map((seg) => (seg.startsWith(':') ? `By${pascal(seg.slice(1))}` : pascal(seg)));
  return method.toLowerCase() + words.join('');
}

const RATE_HEADERS = {
  'RateLimit-Limit': { description: 'Requests allowed in the window that is closest to running out', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in that window', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until that window starts again', schema: { type: 'integer' } },
};

const RATE_LIMITED = {
  description: 'Too many requests for this credential (or, with a bad credential, from this address); every dialect answers this same body',
  headers: {
    'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } },
    ...Object.fromEntries(Object.keys(RATE_HEADERS).map((h) => [h, { $ref: `#/components/headers/${h}` }])),
  },
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/RateLimited' },
      example: { error: 'rate_limited', message: 'rate limit of 50 requests per minute exceeded for this credential; retry in 42 s' },
    },
  },
};

const STATUS_TEXT: Record<string, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content', 400: 'The input is invalid (the message names the field)',
  401: 'No key, or a key that is unknown or expired', 403: 'The key may not do this', 404: 'Not found in this tenant',
  409: 'Conflicts with the current state', 412: 'A precondition is not met', 413: 'The body is larger than 1 MiB',
  415: 'The body is not JSON', 429: 'Rate limited', 500: 'Internal error (the detail is logged, not answered)',
  502: 'A carrier or upstream service failed', 503: 'Not available right now',
};

/** Per route: who may call it and under which id. */
const transform: FastifyDynamicSwaggerOptions['transform'] = ({ schema, url, route }) => {
  const s: Json = { ...(schema as Json) };
  const method = Array.isArray(route.method) ? route.method[0] : route.method;
  s.operationId ??= operationIdFor(method, url);
  if (s.security) return { schema: s as never, url };
  if (url.startsWith('/twilio/') || url === '/relay/ws') s.security = [{ twilioSignature: [] }];
  else if (route.config?.public) s.security = [];
  else s.security = KEYED;
  return { schema: s as never, url };
};

/** The whole document: tags, shared components, and the answers no route schema lists. */
const transformObject: FastifyDynamicSwaggerOptions['transformObject'] = (documentObject) => {
  const doc = (documentObject as { openapiObject: Json }).openapiObject;
  doc.tags = TAG_GROUPS.flatMap((g) => g.tags.map(([name, description]) => ({ name, description })));
  doc['x-tagGroups'] = TAG_GROUPS.map((g) => ({ name: g.name, tags: g.tags.map(([name]) => name) }));
  doc.components.headers = RATE_HEADERS;
  doc.components.schemas.RateLimited = {
    type: 'object', required: ['error', 'message'],
    properties: { error: { type: 'string', const: 'rate_limited' }, message: { type: 'string' } },
  };
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const op of Object.values(item) as Json[]) {
      const responses: Json = op.responses ?? (op.responses = {});
      for (const [status, r] of Object.entries(responses)) {
        const text = STATUS_TEXT[status];
        if (text && (!r.description || r.description === 'Default Response')) r.description = text;
      }
      // The envelope a 500 comes in is the route's own: the same as its 400.
      if (!responses['500'] && responses['400']) responses['500'] = { ...responses['400'], description: STATUS_TEXT[500] };
      if (isLimited(path)) {
        responses['429'] = RATE_LIMITED;
        for (const [status, r] of Object.entries(responses)) {
          if (status.startsWith('2')) r.headers = { ...r.headers, ...Object.fromEntries(Object.keys(RATE_HEADERS).map((h) => [h, { $ref: `#/components/headers/${h}` }])) };
        }
      }
    }
  }
  return doc;
};

const DESCRIPTION = [
  'Telephony control plane for voice-AI agents. Several API documents share this server, each with its own error envelope:',
  'the tag groups below follow them. Authenticate with an API key (any of the security schemes); a platform-admin key picks',
  'a tenant with the `X-Account-ID` header. WebSocket messages (`/events/ws`, `/relay/ws`) are described in `/asyncapi.json`.',
].join(' ');

export const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Dialtone', version: '0.1.0', description: DESCRIPTION,
    },
    servers: [{ url: '/', description: 'This server' }],
    components: { securitySchemes: SECURITY_SCHEMES as never },
  },
  transform,
  transformObject,
};
