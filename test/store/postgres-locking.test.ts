import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';

// New calls lock the tenant row to check the concurrency limit while other calls of the tenant
// end (their updates feed the analytics tables, whose rows reference the tenant). The two must
// never deadlock: every open and every status change succeeds.
test('opening and ending calls of one tenant concurrently on PostgreSQL never deadlocks', async () => {
  const s = await startTestServer('postgres');
  try {
    const t = await s.newTenant({ maxConcurrentCalls: 100_000 });
    const scope = { tenantId: t.id };
    const calls = s.server.services.calls;
    const agent = await s.server.services.agents.create(scope, { name: 'Lock test' });
    const open = () => calls.open(scope, {
      agentId: agent.id, phoneNumber: null, direction: 'inbound', fromNumber: '+15550100001', toNumber: '+15550100002', status: 'in-progress',
    });
    let live = await Promise.all(Array.from({ length: 20 }, open));
    const failures: string[] = [];
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled([
        ...live.map((c) => calls.updateStatus(c.callSid, { status: 'completed', durationSeconds: 30 })),
        ...Array.from({ length: 20 }, open),
      ]);
      failures.push(...results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)));
      live = results.slice(live.length).flatMap((r) => (r.status === 'fulfilled' ? [r.value as Awaited<ReturnType<typeof open>>] : []));
    }
    assert.deepEqual(failures.slice(0, 3), []);
    assert.equal((await s.server.services.agents.get(scope, agent.id)).totalCalls, 200);
  } finally {
    await s.close();
  }
});
