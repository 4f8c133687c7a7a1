/**
 * /openapi.json and /asyncapi.json as a client author gets them: linted by Redocly's CLI with
 * the project's rules (redocly.yaml: recommended, plus examples must match their schemas), no
 * error allowed; "Try it out" needs a security requirement on every keyed operation; the
 * WebSocket routes are documented and answer a plain GET with 426. The documents do not depend on
 * the database, so this suite runs on SQLite only.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REDOCLY = join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');

type Problem = { ruleId: string; severity: string; message: string; location: { pointer: string }[] };

function lint(file: string): { errors: number; problems: Problem[] } {
  const run = spawnSync(process.execPath, [REDOCLY, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'json'], {
    encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }, timeout: 120_000,
  });
  assert.ok(run.stdout.trim().startsWith('{'), `redocly gave no report: ${run.stderr.slice(-2000)}`);
  const report = JSON.parse(run.stdout) as { totals: { errors: number }; problems: Problem[] };
  return { errors: report.totals.errors, problems: report.problems };
}

const show = (problems: Problem[]) => problems.filter((p) => p.severity === 'error')
  .slice(0, 20).map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`).join('\n');

describe('API documents', () => {
  let s: TestServer;
  let dir: string;
  let openapi: any;
  before(async () => {
    s = await startTestServer('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'dialtone-lint-'));
    openapi = (await s.request('GET', '/openapi.json', { key: null })).body;
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Redocly lints /openapi.json with no error', () => {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(openapi));
    const { errors, problems } = lint(file);
    assert.equal(errors, 0, show(problems));
  });

  test('Redocly lints /asyncapi.json with no error', async () => {
    const res = await s.request('GET', '/asyncapi.json', { key: null });
    assert.equal(res.status, 200);
    const file = join(dir, 'asyncapi.json');
    writeFileSync(file, res.text);
    const { errors, problems } = lint(file);
    assert.equal(errors, 0, show(problems));
    assert.equal(res.body.channels.events.address, '/events/ws');
    assert.ok(res.body.components.messages.eventRegistrationUpdated, 'line state events are described');
    assert.ok(res.body.components.messages.relayInPrompt, 'relay messages are described');
  });

  test('the linter does fail a broken document (the test can see an error)', () => {
    const broken = structuredClone(openapi);
    broken.paths['/phone-endpoints'].get.responses = 'none';
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    assert.ok(lint(file).errors > 0);
  });

  test('every operation has an id, a tag, a summary and the security it needs', () => {
    const schemes = Object.keys(openapi.components.securitySchemes);
    for (const name of ['bearer', 'apiKeyHeader', 'tokenQuery', 'accesskeyQuery', 'tokenCookie', 'accesskeyCookie', 'twilioSignature']) {
      assert.ok(schemes.includes(name), `security scheme ${name}`);
    }
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<any>(openapi.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId && !ids.has(op.operationId), `${where}: unique operationId`);
        ids.add(op.operationId);
        assert.ok(op.tags?.length === 1, `${where}: one tag`);
        assert.ok(op.summary, `${where}: summary`);
        assert.ok(Array.isArray(op.security), `${where}: security stated`);
      }
    }
    // A keyed route accepts every placement; a public one none; Twilio's its signature.
    assert.equal(openapi.paths['/phone-endpoints'].get.security.length, 6);
    assert.deepEqual(openapi.paths['/auth/login'].post.security, []);
    assert.deepEqual(openapi.paths['/twilio/voice'].post.security, [{ twilioSignature: [] }]);
    // Each dialect's errors come in its own envelope; the rate limiter's 429 is the same everywhere.
    const errorOf = (path: string, method: string, status: string) => openapi.paths[path][method].responses[status];
    assert.deepEqual(Object.keys(errorOf('/phone-endpoints', 'get', '404').content['application/json'].schema.properties).sort(), ['error', 'success']);
    assert.ok(errorOf('/api/v1/telephony/numbers', 'get', '404').content['text/plain'], 'telephony errors are plain text');
    assert.equal(errorOf('/v1.0/agents', 'get', '429').content['application/json'].schema.$ref, '#/components/schemas/RateLimited');
    assert.ok(errorOf('/v1.0/agents', 'get', '200').headers['RateLimit-Remaining']);
    const tags = new Set(openapi.tags.map((t: { name: string }) => t.name));
    for (const group of openapi['x-tagGroups']) for (const t of group.tags) assert.ok(tags.has(t), `tag ${t} is declared`);
  });

  test('the WebSocket routes are in the document and refuse a plain GET with 426', async () => {
    assert.ok(openapi.paths['/events/ws'].get.responses['101']);
    assert.ok(openapi.paths['/relay/ws'].get.responses['101']);
    const tenant = await s.newTenant();
    const res = await s.request('GET', '/events/ws', { key: tenant.key });
    assert.equal(res.status, 426);
    assert.equal(res.body.error, 'upgrade_required');
    assert.equal(res.headers.get('upgrade'), 'websocket');
    const unkeyed = await s.request('GET', '/events/ws', { key: null });
    assert.equal(unkeyed.status, 401, 'the key is checked before the upgrade question');
  });
});
