import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

for (const db of testDbs()) {
  describe(`health and credentials (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    test('GET /healthz answers without credentials', async () => {
      const r = await s.request('GET', '/healthz', { key: null });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(typeof r.body.uptime, 'number');
      assert.equal(r.body.activeCalls, 0);
    });

    test('the OpenAPI document is served', async () => {
      const r = await s.request('GET', '/openapi.json', { key: null });
      assert.equal(r.status, 200);
      assert.equal(typeof r.body.openapi, 'string');
    });

    test('a tenant key authenticates in every place the contract allows', async () => {
      const t = await s.newTenant();
      const principal = await s.server.services.keys.authenticate(t.key, null);
      assert.equal(principal?.tenantId, t.id);
      assert.equal(await s.server.services.keys.authenticate(t.key + 'x', null), null);
      assert.equal(await s.server.services.keys.authenticate('', null), null);
    });

    test('a key sent in Authorization without "Bearer" is a 401 that says how to send it', async () => {
      const t = await s.newTenant();
      for (const value of [t.key, `Token ${t.key}`]) {
        const r = await s.request('GET', '/api/agents', { key: null, headers: { authorization: value } });
        assert.equal(r.status, 401, r.text);
        assert.match(r.body.message, /Authorization header must read "Bearer <key>"/);
      }
      const none = await s.request('GET', '/api/agents', { key: null });
      assert.equal(none.status, 401);
      assert.equal(none.body.message, 'missing API key');
    });

    test('API keys are stored as hashes, never in clear', async () => {
      const t = await s.newTenant();
      const rows = await s.server.store.db.selectFrom('api_keys').selectAll().execute();
      for (const row of rows) {
        assert.ok(!Object.values(row).some((v) => v === t.key || v === s.adminKey));
      }
    });
  });
}
