import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';

// SQLite checkpoints run on a second connection (src/store/db.ts). A transaction that reads and
// then writes must wait for that connection's locks, never fail with "database is locked".
test('many concurrent read-then-write transactions on SQLite all commit', async () => {
  const s = await startTestServer('sqlite');
  try {
    const t = await s.newTenant({ maxConcurrentCalls: 100_000 });
    const scope = { tenantId: t.id };
    const calls = s.server.services.calls;
    const results = await Promise.allSettled(Array.from({ length: 1500 }, (_, i) => calls.open(scope, {
      agentId: null, phoneNumber: null, direction: 'inbound', fromNumber: '+15550100001', toNumber: '+15550100002',
      status: 'ringing', context: { i },
    })));
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(failed.slice(0, 3), []);
    assert.equal((await calls.listActive(scope)).length, 1500);
  } finally {
    await s.close();
  }
});
