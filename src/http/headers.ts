import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** What a browser may send: the credential headers and a JSON body. */
const ALLOWED_HEADERS = 'authorization, content-type, x-api-key, x-account-id';
/** What a page may read besides the CORS-safelisted headers: how long to wait after a 429, and Allow after a 405. */
const EXPOSED_HEADERS = 'retry-after, allow, ratelimit-limit, ratelimit-remaining, ratelimit-reset';

/** Sets the headers every answer carries; true when the request was a CORS preflight, now answered. */
export type ResponseHeaders = (req: FastifyRequest, reply: FastifyReply) => boolean;

/**
 * Headers every answer carries, set at the start of each request so error answers have them too:
 * `nosniff` (a browser must not guess a JSON error to be HTML), `no-store` on routes whose body
 * is a credential, and CORS for the configured origins only.
 */
export function responseHeaders(corsOrigins: readonly string[]): ResponseHeaders {
  const origins = new Set(corsOrigins);
  return (req, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (req.routeOptions?.config?.carriesToken) void reply.header('cache-control', 'no-store');
    if (origins.size === 0) return false;
    // The answer differs by Origin, so a shared cache must key on it.
    void reply.header('vary', 'Origin');
    const origin = req.headers.origin;
    if (!origin || !origins.has(origin.toLowerCase())) return false;
    void reply.header('access-control-allow-origin', origin);
    void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
    void reply
      .header('access-control-allow-methods', 'GET, HEAD, POST, PUT, PATCH, DELETE')
      .header('access-control-allow-headers', ALLOWED_HEADERS)
      .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
    return true;
  };
}

/**
 * Installs `set` on the root before any other hook, so even a request the rate limiter refuses
 * has the headers. A preflight is answered here, before authentication: browsers send it without
 * credentials.
 */
export function installResponseHeaders(app: FastifyInstance, set: ResponseHeaders): void {
  app.addHook('onRequest', async (req, reply) => {
    if (set(req, reply)) return reply.status(204).send();
  });
}
