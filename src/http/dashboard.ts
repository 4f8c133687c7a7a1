/**
 * Serves the dashboard (app/, built by `npm run build:app` into app/dist) at /app/. The files are
 * public like /docs: the page holds no data, and everything it shows comes from the API with the
 * credential the person signs in with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { PUBLIC_ROUTE } from './context.js';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../app/dist/', import.meta.url));

/**
 * The page runs only its own scripts and talks only to this server (HTTP and the events
 * WebSocket); recharts sets inline style attributes, hence 'unsafe-inline' for styles alone.
 */
const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ');

const NOT_BUILT = 'The dashboard is not built. Run `npm run build:app` (npm install does it) and restart.\n';

export async function dashboard(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const dir = opts.dir ?? DASHBOARD_DIR;
  app.addHook('onRoute', (route) => { route.config = { ...route.config, ...PUBLIC_ROUTE }; });
  app.addHook('onSend', async (req, reply, payload) => {
    void reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
    // Vite names every asset by its content hash: it may be kept forever. The page itself may not.
    void reply.header('cache-control', req.url.startsWith('/app/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    return payload;
  });
  app.get('/app', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/app/'));
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/app/*', { schema: { hide: true } }, async (_req, reply) => reply.status(503).type('text/plain').send(NOT_BUILT));
    return;
  }
  await app.register(fastifyStatic, { root: dir, prefix: '/app/', decorateReply: false, index: ['index.html'], schemaHide: true });
}
