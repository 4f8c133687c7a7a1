import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { randomBytes } from 'node:crypto';

/** Sends `n` authenticated requests one after another and returns their statuses. */
async function burst(s: TestServer, key: string | null, n: number, path = '/api/agents'): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await s.request('GET', path, { key })).status);
  return statuses;
}

function assertRateLimited(r: { status: number; body: any; headers: Headers }, windowSeconds: number): void {
  assert.equal(r.status, 429);
  assert.equal(r.body.error, 'rate_limited');
  assert.match(r.body.message, /rate limit/);
  const retryAfter = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds, `retry-after ${retryAfter}`);
}

for (const db of testDbs()) {
  describe(`rate limits per credential, burst window (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db, { config: (c) => { c.rateLimit = { perMinute: 5, perHour: 1_000 }; } }); });
    after(async () => { await s.close(); });

    test('the 6th request in a minute is 429 with Retry-After; another key is unaffected', async () => {
      const a = await s.newTenant();
      const b = await s.newTenant();
      assert.deepEqual(await burst(s, a.key, 5), [200, 200, 200, 200, 200]);
      const sixth = await s.request('GET', '/api/agents', { key: a.key });
      assertRateLimited(sixth, 60);
      assert.match(sixth.body.message, /5 requests per minute/);
      assert.deepEqual(await burst(s, b.key, 5), [200, 200, 200, 200, 200]);
    });

    test('the limit covers every dialect\'s routes, counted together per credential', async () => {
      const t = await s.newTenant();
      await burst(s, t.key, 3, '/api/agents');
      await burst(s, t.key, 2, `/tenants/${t.id}`);
      assertRateLimited(await s.request('GET', `/tenants/${t.id}`, { key: t.key }), 60);
      const elsewhere = await s.request('GET', '/v1.0/agents', { key: t.key });
      assert.equal(elsewhere.status, 429);
    });

    test('every limited answer says how much is left: RateLimit-Limit, -Remaining, -Reset', async () => {
      const t = await s.newTenant();
      const seen: [number, string | null, string | null, string | null][] = [];
      for (let i = 0; i < 6; i++) {
        const r = await s.request('GET', '/api/agents', { key: t.key });
        seen.push([r.status, r.headers.get('ratelimit-limit'), r.headers.get('ratelimit-remaining'), r.headers.get('ratelimit-reset')]);
      }
      assert.deepEqual(seen.map(([status, limit, remaining]) => [status, limit, remaining]),
        [[200, '5', '4'], [200, '5', '3'], [200, '5', '2'], [200, '5', '1'], [200, '5', '0'], [429, '5', '0']]);
      for (const [, , , reset] of seen) assert.ok(Number(reset) >= 1 && Number(reset) <= 60, `reset ${reset}`);
      // Errors carry them too: a 404 still used up a request.
      const other = await s.newTenant();
      const missing = await s.request('GET', '/api/agents/nope', { key: other.key });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('ratelimit-remaining'), '4');
    });

    test('health checks are never limited', async () => {
      assert.equal((await s.request('GET', '/healthz', { key: null })).headers.get('ratelimit-limit'), null, 'and carry no rate-limit headers');
      assert.deepEqual(await burst(s, null, 8, '/healthz'), Array(8).fill(200));
    });

    test('requests without a key are counted by client address', async () => {
      const statuses = await burst(s, null, 6, '/api/agents');
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.equal(statuses[5], 429);
    });
  });

  describe(`rate limits per credential, hourly window (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db, { config: (c) => { c.rateLimit = { perMinute: 1_000, perHour: 4 }; } }); });
    after(async () => { await s.close(); });

    test('the 5th request in an hour is 429 with Retry-After up to an hour; another key is unaffected', async () => {
      const a = await s.newTenant();
      const b = await s.newTenant();
      assert.deepEqual(await burst(s, a.key, 4), [200, 200, 200, 200]);
      const fifth = await s.request('GET', '/api/agents', { key: a.key });
      assertRateLimited(fifth, 3600);
      assert.ok(Number(fifth.headers.get('retry-after')) > 60);
      assert.match(fifth.body.message, /4 requests per hour/);
      assert.deepEqual(await burst(s, b.key, 4), [200, 200, 200, 200]);
    });
  });
}

describe('rate limits shared through Redis (sqlite)', () => {
  let one: TestServer;
  let two: TestServer;
  const limited = (c: { rateLimit: { perMinute: number; perHour: number }; redisUrl: string | null; throttle: { loginsPerUsername: number } }) => {
    c.rateLimit = { perMinute: 5, perHour: 1_000 };
    c.throttle.loginsPerUsername = 3;
    c.redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  };
  before(async () => {
    one = await startTestServer('sqlite', { config: limited });
    two = await startTestServer('sqlite', { config: limited });
  });
  after(async () => { await one.close(); await two.close(); });

  test('two instances count the same credential together', async () => {
    // The same admin token on both servers: each test run makes a fresh random one, so runs never share counters.
    const token = one.adminKey;
    const twoWithSameKey = await two.server.services.keys.ensureAdminKey(token);
    assert.equal(twoWithSameKey, null);
    assert.deepEqual(await burst(one, token, 3), [200, 200, 200]);
    assert.deepEqual(await burst(two, token, 2), [200, 200]);
    assertRateLimited(await two.request('GET', '/api/agents', { key: token }), 60);
    assertRateLimited(await one.request('GET', '/api/agents', { key: token }), 60);
    assert.equal((await one.request('GET', '/api/agents', { key: two.adminKey })).status, 401);
  });

  test('two instances count login attempts for one username together', async () => {
    // Random, so a rerun within the 15-minute window starts from nothing.
    const username = `shared-${randomBytes(6).toString('hex')}`;
    const login = (s: TestServer) => s.request('POST', '/auth/login', { key: null, body: { username, password: 'x' } });
    assert.deepEqual([(await login(one)).status, (await login(two)).status, (await login(one)).status], [401, 401, 401]);
    assertRateLimited(await login(two), 15 * 60);
  });
});

for (const db of testDbs()) {
  describe(`login attempts are limited per username (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db, {
        config: (c) => { c.trustProxy = true; c.throttle = { ...c.throttle, loginsPerUsername: 3 }; },
      });
      t = await s.newTenant();
    });
    after(async () => { await s.close(); });

    const newAgent = async (username: string) => {
      const r = await s.request('POST', '/v1.0/agents', { key: t.key, body: { username, password: 'right', name: username } });
      assert.equal(r.status, 200, r.text);
    };
    const login = (username: string, password: string, from: string) =>
      s.request('POST', '/auth/login', { key: null, body: { username, password }, headers: { 'x-forwarded-for': from } });

    test('an attacker rotating client addresses is still limited, and the right password waits too', async () => {
      await newAgent(`alice-${db}`);
      const statuses = [];
      for (let i = 1; i <= 3; i++) statuses.push((await login(`alice-${db}`, `guess-${i}`, `198.51.100.${i}`)).status);
      assert.deepEqual(statuses, [401, 401, 401]);
      const fourth = await login(`alice-${db}`, 'guess-4', '198.51.100.4');
      assertRateLimited(fourth, 15 * 60);
      assert.match(fourth.body.message, /3 login attempts per 15 minutes exceeded for this username/);
      assert.equal((await login(`alice-${db}`, 'right', '203.0.113.9')).status, 429, 'no attempt is checked while throttled');
    });

    test('people behind one shared address do not lock each other out', async () => {
      await newAgent(`bob-${db}`);
      await newAgent(`carol-${db}`);
      const shared = '192.0.2.77';
      for (let i = 0; i < 4; i++) await login(`bob-${db}`, 'typo', shared);
      assert.equal((await login(`bob-${db}`, 'right', shared)).status, 429);
      const carol = await login(`carol-${db}`, 'right', shared);
      assert.equal(carol.status, 200, carol.text);
      assert.equal(typeof carol.body.token, 'string');
    });

    test('a username nobody has is limited the same way', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await login(`nobody-${db}`, 'x', `198.51.100.${50 + i}`)).status, 401);
      assert.equal((await login(`nobody-${db}`, 'x', '198.51.100.60')).status, 429);
    });
  });

  describe(`floods (${db})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(db, {
        config: (c) => {
          c.rateLimit = { perMinute: 3, perHour: 1_000 };
          c.throttle = { ...c.throttle, trackedKeys: 50, badCredentialsPerMinute: 5 };
        },
      });
    });
    after(async () => { await s.close(); });

    const random = () => `dt_${randomBytes(16).toString('hex')}`;

    test('random tokens from one address get 429 after the limit; a valid key from that address still works', async () => {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await s.request('GET', '/sip/list', { key: random() })).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
      const sixth = await s.request('GET', '/api/agents', { key: random() });
      assertRateLimited(sixth, 60);
      assert.match(sixth.body.message, /missing or invalid key exceeded for this address/);
      const t = await s.newTenant();
      assert.equal((await s.request('GET', '/api/agents', { key: t.key })).status, 200);
    });

    test('flooding with many more distinct keys than are tracked does not un-throttle a throttled key', async () => {
      const t = await s.newTenant();
      assert.deepEqual(await burst(s, t.key, 3), [200, 200, 200]);
      assertRateLimited(await s.request('GET', '/api/agents', { key: t.key }), 60);
      // Four times what the limiter tracks (50), each a fresh identity to it.
      for (let i = 0; i < 200; i++) await s.request('GET', '/api/agents', { key: random() });
      assertRateLimited(await s.request('GET', '/api/agents', { key: t.key }), 60);
      // Room is still made for newcomers that are not throttled.
      const fresh = await s.newTenant();
      assert.equal((await s.request('GET', '/api/agents', { key: fresh.key })).status, 200);
    });
  });
}
