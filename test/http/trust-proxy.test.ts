import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

test('TRUST_PROXY: unset trusts nobody; true/false, a hop count or addresses as Fastify takes them', () => {
  assert.equal(loadConfig({}).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: '' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
  assert.equal(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, '10.0.0.0/8,127.0.0.1');
});

for (const db of testDbs()) {
  describe(`client address behind proxies (${db})`, () => {
    let s: TestServer;
    let trusting: TestServer;
    before(async () => {
      s = await startTestServer(db, { config: (c) => { c.rateLimit = { perMinute: 3, perHour: 1_000 }; } });
      trusting = await startTestServer(db, { config: (c) => { c.rateLimit = { perMinute: 3, perHour: 1_000 }; c.trustProxy = '127.0.0.1'; } });
    });
    after(async () => { await s.close(); await trusting.close(); });

    test('a rotating X-Forwarded-For does not reset the per-client limit by default', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await s.request('GET', '/api/agents', { key: null, headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
    });

    test('with TRUST_PROXY naming our proxy, the forwarded address is the client', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await trusting.request('GET', '/api/agents', { key: null, headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401]);
    });
  });
}
