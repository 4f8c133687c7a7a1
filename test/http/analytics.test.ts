import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import type { CallTable } from '../../src/store/schema.js';

const NOW = new Date('2024-06-15T12:00:00.000Z');

/** The summary's daily_trend is the same 30 days for every period; its own test checks it. */
function withoutTrend(body: Record<string, unknown>): Record<string, unknown> {
  const { daily_trend: _trend, ...rest } = body;
  return rest;
}

for (const db of testDbs()) {
  describe(`deployment analytics API (${db})`, () => {
    let s: TestServer;
    let a: { id: string; key: string };
    let b: { id: string; key: string };
    let alice: string; let bob: string; let carol: string; let dave: string;

    async function insertCall(tenantId: string, agentId: string | null, startedAt: string, status: string, seconds: number | null): Promise<string> {
      const sid = `CA${randomBytes(16).toString('hex')}`;
      await s.server.store.db.insertInto('calls').values({
        id: randomBytes(8).toString('hex'), tenant_id: tenantId, call_sid: sid, agent_id: agentId,
        phone_number: null, direction: 'inbound', from_number: '+15559990000', to_number: '+15551230000', status, context: '{}',
        started_at: startedAt, answered_at: null, ended_at: startedAt, duration_seconds: seconds, cost: null, end_reason: null,
        handoff: null, handler: null, line_id: null, trunk_id: null, sip_status: null, owner_instance: null, created_at: startedAt, updated_at: startedAt,
      } satisfies CallTable).execute();
      return sid;
    }

    before(async () => {
      s = await startTestServer(db, { overrides: { clock: { now: () => new Date(NOW) } } });
      a = await s.newTenant();
      b = await s.newTenant();
      const agents = s.server.services.agents;
      alice = (await agents.create({ tenantId: a.id }, { name: 'Alice' })).id;
      bob = (await agents.create({ tenantId: a.id }, { name: 'Bob' })).id;
      carol = (await agents.create({ tenantId: a.id }, { name: 'Carol' })).id;
      dave = (await agents.create({ tenantId: b.id }, { name: 'Dave' })).id;
      await insertCall(a.id, alice, '2024-06-15T09:10:00.000Z', 'completed', 120);
      await insertCall(a.id, alice, '2024-06-14T09:30:00.000Z', 'completed', 180);
      await insertCall(a.id, alice, '2024-06-10T14:00:00.000Z', 'busy', 0);
      await insertCall(a.id, bob, '2024-06-15T09:45:00.000Z', 'completed', 300);
      await insertCall(a.id, bob, '2024-05-20T14:05:00.000Z', 'no-answer', 0);
      await insertCall(a.id, null, '2024-06-15T11:00:00.000Z', 'failed', 0);
      await insertCall(a.id, alice, '2024-03-01T10:00:00.000Z', 'completed', 600);
      await insertCall(a.id, alice, '2023-01-01T10:00:00.000Z', 'completed', 1000);
      await insertCall(b.id, dave, '2024-06-15T09:00:00.000Z', 'completed', 30);
      // Two calls through the service at NOW (hour 12): one still ringing, one answered and completed after 60 s.
      const calls = s.server.services.calls;
      await calls.open({ tenantId: a.id }, { agentId: bob, phoneNumber: null, direction: 'inbound', fromNumber: '+15559990001', toNumber: '+15551230000', status: 'ringing' });
      const done = await calls.open({ tenantId: a.id }, { agentId: bob, phoneNumber: null, direction: 'outbound', fromNumber: '+15551230000', toNumber: '+15559990002', status: 'in-progress' });
      await calls.updateStatus(done.callSid, { status: 'completed', durationSeconds: 60 });
    });
    after(async () => { await s.close(); });

    test('summary for the last day', async () => {
      const r = await s.request('GET', '/api/analytics/summary?period=day', { key: a.key });
      assert.equal(r.status, 200);
      assert.deepEqual(withoutTrend(r.body), {
        total_agents: 3, total_calls: 5, total_minutes: 8, average_call_duration: 160, success_rate: 0.75, busiest_hour: 9,
        hourly_distribution: { 9: 2, 11: 1, 12: 2 },
        top_agents: [{ agent_id: bob, name: 'Bob', calls: 3, minutes: 6 }, { agent_id: alice, name: 'Alice', calls: 1, minutes: 2 }],
      });
    });

    test('summary defaults to the last 30 days', async () => {
      const r = await s.request('GET', '/api/analytics/summary', { key: a.key });
      assert.equal(r.status, 200);
      assert.deepEqual(withoutTrend(r.body), {
        total_agents: 3, total_calls: 8, total_minutes: 11, average_call_duration: 165, success_rate: 0.5714, busiest_hour: 9,
        hourly_distribution: { 9: 3, 11: 1, 12: 2, 14: 2 },
        top_agents: [{ agent_id: bob, name: 'Bob', calls: 4, minutes: 6 }, { agent_id: alice, name: 'Alice', calls: 3, minutes: 5 }],
      });
      assert.deepEqual((await s.request('GET', '/api/analytics/summary?period=month', { key: a.key })).body, r.body);
    });

    test('summary for the year; agents with equal calls are ordered by id', async () => {
      const r = await s.request('GET', '/api/analytics/summary?period=year', { key: a.key });
      const tied = [{ agent_id: alice, name: 'Alice', calls: 4, minutes: 15 }, { agent_id: bob, name: 'Bob', calls: 4, minutes: 6 }]
        .sort((x, y) => (x.agent_id < y.agent_id ? -1 : 1));
      assert.deepEqual(withoutTrend(r.body), {
        total_agents: 3, total_calls: 9, total_minutes: 21, average_call_duration: 252, success_rate: 0.625, busiest_hour: 9, top_agents: tied,
        hourly_distribution: { 9: 3, 10: 1, 11: 1, 12: 2, 14: 2 },
      });
    });

    test('the period starts exactly at now minus the period, and totals follow updates and deletes of calls', async () => {
      const c = await s.newTenant();
      const eve = (await s.server.services.agents.create({ tenantId: c.id }, { name: 'Eve' })).id;
      await insertCall(c.id, null, '2024-06-14T11:59:59.999Z', 'completed', 100); // just before the last day
      await insertCall(c.id, null, '2024-06-14T12:00:00.000Z', 'completed', 60); // its first instant
      await insertCall(c.id, eve, '2024-06-14T23:30:00.000Z', 'completed', 120);
      const ringing = await insertCall(c.id, eve, '2024-06-15T00:00:00.000Z', 'ringing', null);
      await s.server.services.calls.updateStatus(ringing, { status: 'completed', durationSeconds: 30 });
      const deleted = await insertCall(c.id, eve, '2024-06-15T08:00:00.000Z', 'completed', 600);
      await s.server.store.db.deleteFrom('calls').where('call_sid', '=', deleted).execute();
      const moved = await insertCall(c.id, eve, '2024-06-15T05:00:00.000Z', 'completed', 45);
      await s.server.store.db.updateTable('calls').set({ agent_id: null, started_at: '2024-06-15T06:00:00.000Z' }).where('call_sid', '=', moved).execute();
      const day = await s.request('GET', '/api/analytics/summary?period=day', { key: c.key });
      assert.deepEqual(day.body.daily_trend.filter((d: any) => d.calls > 0), [
        { date: '2024-06-14', calls: 3, minutes: 4.67 }, { date: '2024-06-15', calls: 2, minutes: 1.25 },
      ], 'the trend follows the same updates and deletes');
      assert.deepEqual(withoutTrend(day.body), {
        total_agents: 1, total_calls: 4, total_minutes: 4.25, average_call_duration: 64, success_rate: 1, busiest_hour: 0,
        hourly_distribution: { 0: 1, 6: 1, 12: 1, 23: 1 },
        top_agents: [{ agent_id: eve, name: 'Eve', calls: 2, minutes: 2.5 }],
      });
      const week = await s.request('GET', '/api/analytics/summary?period=week', { key: c.key });
      assert.equal(week.body.total_calls, 5);
      assert.equal(week.body.total_minutes, 5.92);
      assert.equal(week.body.busiest_hour, 0);
    });

    test('a deleted agent keeps its calls in total_calls and its place in top_agents', async () => {
      const t = await s.newTenant();
      const agents = s.server.services.agents;
      const gone = (await agents.create({ tenantId: t.id }, { name: 'Gone' })).id;
      const stays = (await agents.create({ tenantId: t.id }, { name: 'Stays' })).id;
      for (const h of ['08', '09', '10']) await insertCall(t.id, gone, `2024-06-15T${h}:00:00.000Z`, 'completed', 60);
      await insertCall(t.id, stays, '2024-06-15T11:00:00.000Z', 'completed', 30);
      assert.equal((await s.request('DELETE', `/api/agents/${gone}`, { key: t.key })).status, 200);
      const r = await s.request('GET', '/api/analytics/summary?period=day', { key: t.key });
      assert.equal(r.body.total_agents, 1);
      assert.equal(r.body.total_calls, 4);
      assert.deepEqual(r.body.top_agents, [
        { agent_id: gone, name: '(deleted agent)', calls: 3, minutes: 3 },
        { agent_id: stays, name: 'Stays', calls: 1, minutes: 0.5 },
      ]);
      assert.equal(r.body.top_agents.reduce((n: number, a: { calls: number }) => n + a.calls, 0), r.body.total_calls);
    });

    test("an agent's total_minutes is rounded to the hundredth like the analytics minutes", async () => {
      const t = await s.newTenant();
      const agent = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'Short' })).id;
      const calls = s.server.services.calls;
      const call = await calls.open({ tenantId: t.id }, { agentId: agent, phoneNumber: null, direction: 'inbound', fromNumber: '+15559990003', toNumber: '+15551230000', status: 'in-progress' });
      await calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 19 });
      const r = await s.request('GET', `/api/agents/${agent}`, { key: t.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.total_calls, 1);
      assert.equal(r.body.total_minutes, 0.32);
      const stats = await s.request('GET', `/api/analytics/agents/${agent}`, { key: t.key });
      assert.equal(stats.body.total_minutes, 0.32);
    });

    test("summary's daily trend: the tenant's last 30 days, every call counted, whatever the period", async () => {
      for (const period of ['day', 'year']) {
        const trend = (await s.request('GET', `/api/analytics/summary?period=${period}`, { key: a.key })).body.daily_trend;
        assert.equal(trend.length, 30);
        assert.equal(trend[0].date, '2024-05-17');
        assert.equal(trend[29].date, '2024-06-15');
        assert.deepEqual(trend.filter((d: any) => d.calls > 0), [
          { date: '2024-05-20', calls: 1, minutes: 0 }, { date: '2024-06-10', calls: 1, minutes: 0 },
          { date: '2024-06-14', calls: 1, minutes: 3 }, { date: '2024-06-15', calls: 5, minutes: 8 },
        ]);
      }
      const other = (await s.request('GET', '/api/analytics/summary', { key: b.key })).body.daily_trend;
      assert.deepEqual(other.filter((d: any) => d.calls > 0), [{ date: '2024-06-15', calls: 1, minutes: 0.5 }]);
    });

    test('a tenant with no calls gets zeros and no busiest hour', async () => {
      const empty = await s.newTenant();
      const r = await s.request('GET', '/api/analytics/summary?period=week', { key: empty.key });
      assert.deepEqual(withoutTrend(r.body), { total_agents: 0, total_calls: 0, total_minutes: 0, average_call_duration: 0, success_rate: 0, busiest_hour: null, hourly_distribution: {}, top_agents: [] });
    });

    test('tenant_id: the admin picks a tenant or sees the platform; a tenant key may only name itself', async () => {
      const mine = await s.request('GET', '/api/analytics/summary?period=day', { key: a.key });
      const asAdmin = await s.request('GET', `/api/analytics/summary?period=day&tenant_id=${a.id}`);
      assert.equal(asAdmin.status, 200);
      assert.deepEqual(asAdmin.body, mine.body);
      assert.deepEqual((await s.request('GET', '/api/analytics/summary?period=day', { accountId: a.id })).body, mine.body);
      assert.deepEqual((await s.request('GET', `/api/analytics/summary?period=day&tenant_id=${a.id}`, { key: a.key })).body, mine.body);
      const platform = await s.request('GET', '/api/analytics/summary?period=day');
      assert.equal(platform.status, 200);
      // Platform-wide figures are the sum over every tenant.
      let agentsSum = 0; let callsSum = 0;
      for (const tenant of await s.server.services.tenants.list()) {
        const one = await s.request('GET', `/api/analytics/summary?period=day&tenant_id=${tenant.id}`);
        agentsSum += one.body.total_agents; callsSum += one.body.total_calls;
      }
      assert.equal(platform.body.total_agents, agentsSum);
      assert.equal(platform.body.total_calls, callsSum);
      assert.ok(platform.body.total_calls >= mine.body.total_calls + 1, 'tenant b\'s call counts too');
      const foreign = await s.request('GET', `/api/analytics/summary?tenant_id=${b.id}`, { key: a.key });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error, 'not_found');
      assert.equal((await s.request('GET', `/api/analytics/summary?tenant_id=${b.id}`, { accountId: a.id })).status, 404);
      assert.equal((await s.request('GET', '/api/analytics/summary?tenant_id=nope')).status, 404);
    });

    test('summary rejections: bad period, bad tenant_id, no key', async () => {
      const bad = await s.request('GET', '/api/analytics/summary?period=decade', { key: a.key });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /period/);
      const long = await s.request('GET', `/api/analytics/summary?tenant_id=${'x'.repeat(101)}`);
      assert.equal(long.status, 400);
      assert.match(long.body.message, /tenant_id/);
      assert.equal((await s.request('GET', '/api/analytics/summary', { key: null })).status, 401);
    });

    test('agent analytics: totals, hours of day and a 30-day trend', async () => {
      const r = await s.request('GET', `/api/analytics/agents/${alice}`, { key: a.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.agent_id, alice);
      assert.equal(r.body.name, 'Alice');
      assert.equal(r.body.total_calls, 5);
      assert.equal(r.body.total_minutes, 31.67);
      assert.equal(r.body.average_call_duration, 475);
      assert.equal(r.body.success_rate, 0.8);
      assert.deepEqual(r.body.hourly_distribution, { 9: 2, 10: 2, 14: 1 });
      const trend = r.body.daily_trend;
      assert.equal(trend.length, 30);
      assert.equal(trend[0].date, '2024-05-17');
      assert.equal(trend[29].date, '2024-06-15');
      const busy = trend.filter((d: any) => d.calls > 0);
      assert.deepEqual(busy, [
        { date: '2024-06-10', calls: 1, minutes: 0 }, { date: '2024-06-14', calls: 1, minutes: 3 }, { date: '2024-06-15', calls: 1, minutes: 2 },
      ]);
      const bobStats = await s.request('GET', `/api/analytics/agents/${bob}`, { key: a.key });
      assert.equal(bobStats.body.total_calls, 4);
      assert.equal(bobStats.body.success_rate, 0.6667);
      assert.deepEqual(bobStats.body.hourly_distribution, { 9: 1, 12: 2, 14: 1 });
    });

    test('agent analytics for an agent without calls, and rejections', async () => {
      const r = await s.request('GET', `/api/analytics/agents/${carol}`, { key: a.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.total_calls, 0);
      assert.equal(r.body.success_rate, 0);
      assert.deepEqual(r.body.hourly_distribution, {});
      assert.ok(r.body.daily_trend.every((d: any) => d.calls === 0 && d.minutes === 0));
      assert.equal((await s.request('GET', `/api/analytics/agents/${dave}`, { key: a.key })).status, 404);
      assert.equal((await s.request('GET', '/api/analytics/agents/nope', { key: a.key })).status, 404);
      assert.equal((await s.request('GET', `/api/analytics/agents/${alice}`, { key: null })).status, 401);
      assert.equal((await s.request('GET', `/api/analytics/agents/${alice}`)).status, 400);
      assert.equal((await s.request('GET', `/api/analytics/agents/${alice}`, { accountId: a.id })).status, 200);
    });
  });
}
