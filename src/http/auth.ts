import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, notFound } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { Services } from '../domain/services.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

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

/** onRequest hook factory: resolves `req.principal` or answers 401 through the dialect's envelope. */
export function requireAuth(services: Services) {
  return async function authenticate(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = presentedToken(req);
    const accountHeader = req.headers['x-account-id'];
    const accountId = typeof accountHeader === 'string' && accountHeader ? accountHeader : null;
    const principal = token ? await services.keys.authenticate(token, accountId) : null;
    if (!principal) throw new DomainError('unauthenticated', token ? 'invalid or expired API key' : 'missing API key');
    if (principal.isPlatformAdmin && principal.tenantId && !(await services.tenants.exists(principal.tenantId))) {
      throw notFound('tenant');
    }
    req.principal = principal;
  };
}
