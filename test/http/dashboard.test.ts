/**
 * How /app is served, on a bare Fastify with the dashboard plugin over a folder the test writes:
 * the page and its assets without a key, the redirect from /app, the CSP and cache headers, and
 * a plain answer saying what to run when the page was never built.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { dashboard } from '../../src/http/dashboard.js';
import { startTestServer, testDbs } from '../helpers/server.js';

const built = mkdtempSync(join(tmpdir(), 'dialtone-app-'));
mkdirSync(join(built, 'assets'));
writeFileSync(join(built, 'index.html'), '<!doctype html><title>Dialtone</title><script type="module" src="/app/assets/index-abc123.js"></script>');
writeFileSync(join(built, 'assets', 'index-abc123.js'), 'console.log("hi")');
const empty = mkdtempSync(join(tmpdir(), 'dialtone-app-'));

after(() => {
  rmSync(built, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

async function serve(dir: string) {
  const app = Fastify();
  await app.register(dashboard, { dir });
  await app.ready();
  return app;
}

describe('the dashboard files at /app', () => {
  test('the page and its hashed assets, with a CSP; the page is revalidated, assets kept', async () => {
    const app = await serve(built);
    const bare = await app.inject({ url: '/app' });
    assert.equal(bare.statusCode, 302);
    assert.equal(bare.headers.location, '/app/');
    const page = await app.inject({ url: '/app/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /<title>Dialtone<\/title>/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    const csp = String(page.headers['content-security-policy']);
    for (const d of ["script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) assert.ok(csp.includes(d), d);
    const asset = await app.inject({ url: '/app/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    await app.close();
  });

  test('unknown files are 404 and paths cannot climb out of the folder', async () => {
    const app = await serve(built);
    assert.equal((await app.inject({ url: '/app/assets/nope.js' })).statusCode, 404);
    for (const url of ['/app/../package.json', '/app/%2e%2e/%2e%2e/etc/passwd', '/app/..%2fpackage.json']) {
      const r = await app.inject({ url });
      assert.ok(r.statusCode === 404 || r.statusCode === 403 || r.statusCode === 400, `${url}: ${r.statusCode}`);
      assert.ok(!r.body.includes('"dependencies"') && !r.body.includes('root:'), url);
    }
    await app.close();
  });

  test('never built: a 503 that says what to run', async () => {
    const app = await serve(empty);
    for (const url of ['/app/', '/app/assets/index.js']) {
      const r = await app.inject({ url });
      assert.equal(r.statusCode, 503);
      assert.match(r.body, /npm run build:app/);
    }
    await app.close();
  });
});

test('the API server answers /app without a key, and the API beside it still asks for one', async () => {
  const s = await startTestServer(testDbs()[0]);
  try {
    const page = await s.request('GET', '/app/', { key: null });
    // 200 once `npm run build:app` ran, 503 before: never a request for a key.
    assert.ok(page.status === 200 || page.status === 503, String(page.status));
    assert.equal((await s.request('GET', '/api/calls/active', { key: null })).status, 401);
  } finally {
    await s.close();
  }
});
