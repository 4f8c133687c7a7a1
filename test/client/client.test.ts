/**
 * The generated client (src/client) against a Dialtone process of its own: what a client author
 * gets from `npm run gen:client` works end to end, typed answers and typed errors in each API's
 * envelope. SIP ports 19000–19009.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDialtoneClient, errorMessage, type DialtoneClient } from '../../src/client/index.js';
import { spawnDialtone, type SpawnedDialtone } from '../helpers/spawned-dialtone.js';
import { testDbs } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

testDbs().forEach((db, i) => describe(`generated client (${db})`, () => {
  let d: SpawnedDialtone;
  let admin: DialtoneClient;
  let tenantId: string;
  let key: string;
  before(async () => {
    d = await spawnDialtone(db, 19000 + i);
    admin = createDialtoneClient({ baseUrl: d.base, apiKey: d.adminKey });
  });
  after(async () => { await d?.stop(); });

  test('the admin makes a tenant and its first key; the key manages a line', async () => {
    const t = await admin.POST('/tenants', { body: { name: 'Client Co' } });
    assert.equal(t.response.status, 201, JSON.stringify(t.error));
    tenantId = t.data!.id;
    const asTenant = createDialtoneClient({ baseUrl: d.base, apiKey: d.adminKey, accountId: tenantId });
    const k = await asTenant.POST('/v1.0/accesskeys', { body: { name: 'ops', detail: 'client test', expire: 0 } });
    assert.equal(k.response.status, 200, JSON.stringify(k.error));
    key = k.data!.token!;
    assert.ok(key);

    const api = createDialtoneClient({ baseUrl: d.base, apiKey: key });
    const made = await api.POST('/phone-endpoints', {
      body: { type: 'phone-registration', name: 'Front desk', registrar: 'sip:127.0.0.1:19009', username: '1001', password: 'ext-secret' },
    });
    assert.equal(made.response.status, 201, JSON.stringify(made.error));
    const got = await api.GET('/phone-endpoints/{id}', { params: { path: { id: made.data!.id } } });
    assert.equal(got.data?.name, 'Front desk');
    assert.equal(got.data?.state, 'initial');
    assert.equal((got.data as Record<string, unknown>).password, undefined, 'the password never comes back');
    const list = await api.GET('/phone-endpoints', { params: { query: { page_size: 10 } } });
    assert.deepEqual(list.data?.items.map((e) => e.id), [made.data!.id]);
    assert.ok(list.response.headers.get('ratelimit-remaining'), 'rate-limit headers reach the client');
  });

  test('errors arrive typed, in each API\'s envelope', async () => {
    const api = createDialtoneClient({ baseUrl: d.base, apiKey: key });
    const missing = await api.GET('/phone-endpoints/{id}', { params: { path: { id: 'nope' } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.data, undefined);
    assert.ok(missing.error && 'success' in missing.error && missing.error.success === false, 'the registrations envelope');
    assert.match(errorMessage(missing.error), /not found/i);

    const bad = await api.POST('/api/v1/telephony/numbers', { body: { e164: 'not a number' } });
    assert.equal(bad.response.status, 400);
    assert.equal(typeof bad.error, 'string', 'telephony answers plain text');
    assert.match(errorMessage(bad.error), /e164|E\.164/);

    const wrongKey = createDialtoneClient({ baseUrl: d.base, apiKey: 'not-a-key' });
    const refused = await wrongKey.GET('/api/agents');
    assert.equal(refused.response.status, 401);
    assert.equal(refused.error?.error, 'unauthenticated');
  });

  test('the generated types are the app as it is now (gen:client into a temp dir matches)', () => {
    const out = mkdtempSync(join(tmpdir(), 'dialtone-gen-test-'));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-client.ts', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(readFileSync(join(out, 'schema.d.ts'), 'utf8'), readFileSync(join(ROOT, 'src/client/schema.d.ts'), 'utf8'),
        'src/client/schema.d.ts is stale: run npm run gen:client');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}));
