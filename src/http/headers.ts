import type { FastifyInstance } from 'fastify';

const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** What a browser may send: the credential headers and a JSON body. */
const ALLOWED_HEADERS = 'authorization, content-type, x-api-key, x-account-id';
/** What a page may read besides the CORS-safelisted headers: how long to wait after a 429, and Allow after a 405. */
const EXPOSED_HEADERS = 'retry-after, allow';

/**
 * Headers every answer carries, set at the start of each request so error answers have them too:
 * `nosniff` (a browser must not guess a JSON error to be HTML), `no-store` on routes whose body
 * is a credential, and CORS for the configured origins only. Installed on the root before any
 * other hook, so even a request the rate limiter refuses gets them.
 */
export function responseHeaders(app: FastifyInstance, corsOrigins: readonly string[]): void {
  const origins = new Set(corsOrigins);
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (req.routeOptions.config?.carriesToken) void reply.header('cache-control', 'no-store');
    if (origins.size === 0) return;
    // The answer differs by Origin, so a shared cache must key on it.
    void reply.header('vary', 'Origin');
    const origin = req.headers.origin?.toLowerCase();
    if (!origin || !origins.has(origin)) return;
    void reply.header('access-control-allow-origin', req.headers.origin);
    void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      // A preflight is answered here, before authentication: browsers send it without credentials.
      return reply
        .header('access-control-allow-methods', 'GET, HEAD, POST, PUT, PATCH, DELETE')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS))
        .status(204).send();
    }
  });
}
