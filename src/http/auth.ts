import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, forbidden, notFound } from '../domain/errors.js';
import { hashToken } from '../domain/keys.js';
import { canManage } from '../domain/principal.js';
import type { Services } from '../domain/services.js';
import type { AppOptions, Throttles } from './context.js';

/** The credential, from wherever the operator contract allows it to be presented. */
export function presentedToken(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (m) return m[1].trim();
  }
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const query = req.query as Record<string, unknown> | undefined;
  for (const name of ['token', 'accesskey']) {
    const v = query?.[name];
    if (typeof v === 'string' && v) return v;
  }
  const cookies = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies;
  return cookies?.token || cookies?.accesskey || null;
}

const digests = new WeakMap<FastifyRequest, string>();

/**
 * SHA-256 of the presented token (null without one), computed once per request: the rate limiter
 * counts by it and authentication looks the key up by it.
 */
export function presentedTokenDigest(req: FastifyRequest): string | null {
  const known = digests.get(req);
  if (known !== undefined) return known;
  const token = presentedToken(req);
  if (!token) return null;
  const digest = hashToken(token);
  digests.set(req, digest);
  return digest;
}

/** Resolves the presented key to `req.principal`, or throws `unauthenticated` (each dialect renders it in its envelope). */
async function authenticate(services: Services, req: FastifyRequest): Promise<void> {
  const token = presentedToken(req);
  const accountHeader = req.headers['x-account-id'];
  const accountId = typeof accountHeader === 'string' && accountHeader ? accountHeader : null;
  const principal = token ? await services.keys.authenticate(token, accountId, presentedTokenDigest(req) ?? undefined) : null;
  if (!principal) {
    // A key sent as `Authorization: <key>` or `Token <key>` is not "missing": say what is expected.
    const hint = req.headers.authorization ? 'the Authorization header must read "Bearer <key>"' : 'missing API key';
    throw new DomainError('unauthenticated', token ? 'invalid or expired API key' : hint);
  }
  if (principal.isPlatformAdmin && principal.tenantId && !(await services.tenants.exists(principal.tenantId))) {
    throw notFound('tenant');
  }
  req.principal = principal;
  // Deny by default: a route a plain agent may call says so, so a new route is a manager's until marked.
  if (!canManage(principal) && !req.routeOptions.config.plainAgent) {
    throw forbidden('this needs the manager or admin permission; a plain agent may only read itself, set its own status and read tags');
  }
}

/**
 * API-key authentication for every route, installed once at the root (fastify-plugin lifts the
 * hook out of this plugin's own context). Routes opt out with `config: PUBLIC_ROUTE`; an
 * unknown path answers 404 without asking for a key.
 */
export const authentication = fp(async (app: FastifyInstance, opts: Pick<AppOptions, 'services'> & { throttles: Throttles }) => {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public || req.is404) return;
    try {
      await authenticate(opts.services, req);
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'unauthenticated' && await opts.throttles.refuseCredentialFlood(req, reply)) return reply;
      throw err;
    }
  });
}, { name: 'dialtone-authentication' });
