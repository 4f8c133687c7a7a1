import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError, sendProblem, type Envelope } from './errors.js';
import type { ResponseHeaders } from './headers.js';

/** The envelope for errors outside any dialect: unknown top-level paths, /healthz, /openapi.json. */
export const rootEnvelope: Envelope = { render: (p) => ({ error: p.code, message: p.message }) };

/** Which dialect owns a path prefix, so errors the router raises before any route runs still read like that dialect's. */
export type EnvelopeTable = readonly (readonly [prefix: string, envelope: Envelope])[];

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The longest prefix that owns `path`, segment-wise: `/api/v1/telephony/x` is telephony's, `/apis` is nobody's. */
export function envelopeFor(table: EnvelopeTable, url: string): Envelope {
  const path = pathOf(url);
  let best: Envelope = rootEnvelope;
  let bestLength = -1;
  for (const [prefix, envelope] of table) {
    if ((path === prefix || path.startsWith(`${prefix}/`)) && prefix.length > bestLength) {
      best = envelope;
      bestLength = prefix.length;
    }
  }
  return best;
}

const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** `/v1.0/agents/:id` → a matcher for concrete paths; `*` matches the rest. */
function matcher(url: string): RegExp {
  const source = url.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return escapeRegExp(seg).replace(/\\\*|\*/g, '.*');
  }).join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Router-level answers in the owning dialect's envelope: unknown paths (404), known paths with
 * another method (405 and `Allow`), and paths the router cannot read (bad percent-encoding, an
 * over-long segment). Call before any route is added: routes are recorded as they are.
 */
export function routerErrors(app: FastifyInstance, table: EnvelopeTable, headers: ResponseHeaders) {
  const routes: { method: string; match: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const match = matcher(route.url);
    for (const m of methods) routes.push({ method: m.toUpperCase(), match });
  });

  const allowed = (path: string): string[] => {
    const methods = new Set(routes.filter((r) => r.match.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = pathOf(req.url);
    const envelope = envelopeFor(table, req.url);
    const allow = allowed(path);
    // A route of this method matched and found nothing (a missing file under /app/): that is 404.
    if (allow.length > 0 && !allow.includes(req.method)) {
      void reply.header('allow', allow.join(', '));
      return sendProblem(envelope, { status: 405, code: 'method_not_allowed', message: `${req.method} is not allowed on ${path}; use ${allow.join(', ')}` }, req, reply);
    }
    return sendProblem(envelope, { status: 404, code: 'not_found', message: `no route ${req.method} ${path}` }, req, reply);
  });

  /** Fastify's `frameworkErrors`: the router gives up before any hook runs, so the headers every answer carries are set here. */
  return (err: Error, req: FastifyRequest, reply: FastifyReply) => {
    headers(req, reply);
    return sendError(envelopeFor(table, req.url), err, req, reply);
  };
}
