import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import type { NewCall } from '../../src/domain/calls.js';
import type { CallTable } from '../../src/store/schema.js';

const inbound = (agentId: string | null, extra: Partial<NewCall> = {}): NewCall => ({
  agentId, phoneNumber: '+15551230000', direction: 'inbound', fromNumber: '+15559990000', toNumber: '+15551230000', status: 'ringing', ...extra,
});

for (const db of testDbs()) {
  describe(`deployment calls API (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    let other: { id: string; key: string };
    let agentId: string;

    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
      other = await s.newTenant();
      agentId = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'Support' })).id;
    });
    after(async () => { await s.close(); });

    const open = (extra: Partial<NewCall> = {}) => s.server.services.calls.open({ tenantId: t.id }, inbound(agentId, extra));

    /** A finished call with chosen timestamps, written straight to the store. */
    async function insertFinished(tenantId: string, startedAt: string, fields: Partial<CallTable> = {}): Promise<string> {
      const sid = `CA${randomBytes(16).toString('hex')}`;
      await s.server.store.db.insertInto('calls').values({
        id: randomBytes(8).toString('hex'), tenant_id: tenantId, call_sid: sid, agent_id: null, phone_number: null,
        direction: 'outbound', from_number: '+15551230000', to_number: '+15559876543', status: 'completed', context: '{}',
        started_at: startedAt, answered_at: startedAt, ended_at: startedAt, duration_seconds: 60, cost: 0.01, end_reason: null,
        handoff: null, created_at: startedAt, updated_at: startedAt, ...fields,
      }).execute();
      return sid;
    }

    test('GET /api/calls/active lists live calls with status active, the real status and elapsed time', async () => {
      const live = await open({ context: { customer_name: 'John Doe' } });
      const answered = await open({ status: 'in-progress' });
      const done = await open();
      await s.server.services.calls.updateStatus(done.callSid, { status: 'completed' });
      await s.server.services.calls.open({ tenantId: other.id }, inbound(null));
      const r = await s.request('GET', '/api/calls/active', { key: t.key });
      assert.equal(r.status, 200);
      const sids = r.body.map((c: any) => c.call_sid);
      assert.ok(sids.includes(live.callSid) && sids.includes(answered.callSid));
      assert.ok(!sids.includes(done.callSid));
      assert.equal(r.body.length, 2);
      const row = r.body.find((c: any) => c.call_sid === live.callSid);
      assert.equal(row.status, 'active');
      assert.equal(row.call_status, 'ringing');
      assert.equal(row.agent_id, agentId);
      assert.equal(row.direction, 'inbound');
      assert.equal(row.from_number, '+15559990000');
      assert.equal(typeof row.duration_seconds, 'number');
      assert.deepEqual(row.context, { customer_name: 'John Doe' });
      assert.equal(r.body.find((c: any) => c.call_sid === answered.callSid).call_status, 'in-progress');
      for (const c of [live, answered]) await s.server.services.calls.updateStatus(c.callSid, { status: 'completed' });
    });

    test('calls endpoints need a key, and the platform admin needs X-Account-ID', async () => {
      assert.equal((await s.request('GET', '/api/calls/active', { key: null })).status, 401);
      assert.equal((await s.request('GET', '/api/calls/history', { key: 'dtk_wrong' })).status, 401);
      const noTenant = await s.request('GET', '/api/calls/active');
      assert.equal(noTenant.status, 400);
      assert.match(noTenant.body.message, /X-Account-ID/);
      const asAdmin = await s.request('GET', '/api/calls/active', { accountId: t.id });
      assert.equal(asAdmin.status, 200);
      const unknownTenant = await s.request('GET', '/api/calls/active', { accountId: 'nope' });
      assert.equal(unknownTenant.status, 404);
    });

    describe('history', () => {
      let h: { id: string; key: string };
      let hAgent: string;
      const sids: string[] = [];
      before(async () => {
        h = await s.newTenant();
        hAgent = (await s.server.services.agents.create({ tenantId: h.id }, { name: 'History' })).id;
        // Five calls on consecutive days, the middle two by hAgent.
        for (let d = 1; d <= 5; d++) {
          sids.push(await insertFinished(h.id, `2024-01-0${d}T10:00:00.000Z`, {
            agent_id: d === 2 || d === 3 ? hAgent : null, duration_seconds: d * 60, cost: d / 100,
            status: d === 5 ? 'no-answer' : 'completed', end_reason: d === 5 ? 'no answer' : null,
            ended_at: `2024-01-0${d}T10:0${d}:00.000Z`,
          }));
        }
        await insertFinished(other.id, '2024-01-03T10:00:00.000Z');
      });

      test('newest first with total, limit, offset and every documented field', async () => {
        const r = await s.request('GET', '/api/calls/history', { key: h.key });
        assert.equal(r.status, 200);
        assert.equal(r.body.total, 5);
        assert.equal(r.body.limit, 100);
        assert.equal(r.body.offset, 0);
        assert.deepEqual(r.body.calls.map((c: any) => c.call_sid), [...sids].reverse());
        const first = r.body.calls[0];
        assert.deepEqual(Object.keys(first).sort(), ['agent_id', 'call_sid', 'cost', 'direction', 'duration_seconds', 'end_reason', 'ended_at', 'from_number', 'handler', 'id', 'line_id', 'sip_status', 'started_at', 'status', 'to_number', 'trunk_id']);
        assert.equal(first.handler, null, 'a Twilio call has no SIP handler');
        assert.equal(first.status, 'no-answer');
        assert.equal(first.duration_seconds, 300);
        assert.equal(first.cost, 0.05);
        assert.equal(first.ended_at, '2024-01-05T10:05:00.000Z');
        assert.equal(first.end_reason, 'no answer');
        const page = await s.request('GET', '/api/calls/history?limit=2&offset=1', { key: h.key });
        assert.equal(page.body.total, 5);
        assert.equal(page.body.limit, 2);
        assert.equal(page.body.offset, 1);
        assert.deepEqual(page.body.calls.map((c: any) => c.call_sid), [sids[3], sids[2]]);
      });

      test('filters by agent and by a date range (a bare end date includes that day)', async () => {
        const byAgent = await s.request('GET', `/api/calls/history?agent_id=${hAgent}`, { key: h.key });
        assert.deepEqual(byAgent.body.calls.map((c: any) => c.call_sid), [sids[2], sids[1]]);
        assert.equal(byAgent.body.total, 2);
        const range = await s.request('GET', '/api/calls/history?start_date=2024-01-02T00:00:00Z&end_date=2024-01-04', { key: h.key });
        assert.deepEqual(range.body.calls.map((c: any) => c.call_sid), [sids[3], sids[2], sids[1]]);
        const offset = await s.request('GET', `/api/calls/history?start_date=${encodeURIComponent('2024-01-03T11:00:00+02:00')}`, { key: h.key });
        assert.equal(offset.body.total, 3);
      });

      test('rejects bad filters naming the field', async () => {
        for (const [qs, field] of [
          ['start_date=yesterday', 'start_date'], ['end_date=2024-13-45', 'end_date'], ['limit=0', 'limit'],
          ['limit=1001', 'limit'], ['limit=ten', 'limit'], ['offset=-1', 'offset'],
          ['start_date=2024-01-05&end_date=2024-01-01', 'end_date'],
        ]) {
          const r = await s.request('GET', `/api/calls/history?${qs}`, { key: h.key });
          assert.equal(r.status, 400, qs);
          assert.equal(r.body.error, 'invalid');
          assert.match(r.body.message, new RegExp(field), qs);
        }
      });
    });

    test('GET /api/calls/{call_sid} shows the call with its transcript; another tenant\'s call is 404', async () => {
      const call = await open({ status: 'in-progress', context: { order: 42 } });
      await s.server.services.calls.addTurn(call.callSid, { role: 'agent', text: 'Hi there' });
      await s.server.services.calls.addTurn(call.callSid, { role: 'caller', text: 'Where is my order?' });
      const r = await s.request('GET', `/api/calls/${call.callSid}`, { key: t.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.call_sid, call.callSid);
      assert.equal(r.body.status, 'in-progress');
      assert.deepEqual(r.body.context, { order: 42 });
      assert.deepEqual(r.body.transcript.map((x: any) => [x.role, x.text, x.interrupted]), [['agent', 'Hi there', false], ['caller', 'Where is my order?', false]]);
      assert.equal((await s.request('GET', `/api/calls/${call.callSid}`, { key: other.key })).status, 404);
      assert.equal((await s.request('GET', `/api/calls/${call.callSid}`, { key: null })).status, 401);
      const tooLong = await s.request('GET', `/api/calls/${'C'.repeat(65)}`, { key: t.key });
      assert.equal(tooLong.status, 400);
      assert.match(tooLong.body.message, /call_sid/);
      const missing = await s.request('GET', '/api/calls/CAnothing', { key: t.key });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, 'not_found');
      await s.server.services.calls.updateStatus(call.callSid, { status: 'completed' });
    });

    test('PUT /api/calls/{call_sid}/context merges into a live call\'s context', async () => {
      const call = await open({ context: { customer_id: 'C1', priority: 'low' } });
      const r = await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: t.key, body: { context: { priority: 'high', notes: 'login issue' } } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { message: 'Context updated successfully', call_sid: call.callSid });
      const detail = await s.request('GET', `/api/calls/${call.callSid}`, { key: t.key });
      assert.deepEqual(detail.body.context, { customer_id: 'C1', priority: 'high', notes: 'login issue' });
      const alias = await s.request('PUT', `/calls/${call.callSid}/context`, { key: t.key, body: { context: { resolved: true } } });
      assert.equal(alias.status, 200);
      assert.equal(alias.body.call_sid, call.callSid);
      assert.equal((await s.server.services.calls.get({ tenantId: t.id }, call.callSid)).context.resolved, true);
      await s.server.services.calls.updateStatus(call.callSid, { status: 'completed' });
    });

    test('PUT context rejections: not an object, missing, unknown or other tenant\'s call, finished call, no key', async () => {
      const call = await open();
      for (const body of [{ context: 'text' }, { context: [1, 2] }, { context: null }, {}, { context: {}, extra: 1 }]) {
        const r = await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: t.key, body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.message, /context|extra/);
      }
      const aliasBad = await s.request('PUT', `/calls/${call.callSid}/context`, { key: t.key, body: { context: 'text' } });
      assert.equal(aliasBad.status, 400);
      assert.match(aliasBad.body.message, /context/);
      assert.equal((await s.request('PUT', `/calls/${call.callSid}/context`, { key: null, body: { context: {} } })).status, 401);
      assert.equal((await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: t.key, rawBody: '{nope', headers: { 'content-type': 'application/json' } })).status, 400);
      assert.equal((await s.request('PUT', '/api/calls/CAnothing/context', { key: t.key, body: { context: {} } })).status, 404);
      const foreign = await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: other.key, body: { context: { x: 1 } } });
      assert.equal(foreign.status, 404);
      assert.equal((await s.request('PUT', `/calls/${call.callSid}/context`, { key: other.key, body: { context: { x: 1 } } })).status, 404);
      assert.equal((await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: null, body: { context: {} } })).status, 401);
      await s.server.services.calls.updateStatus(call.callSid, { status: 'completed' });
      const finished = await s.request('PUT', `/api/calls/${call.callSid}/context`, { key: t.key, body: { context: { late: true } } });
      assert.equal(finished.status, 409);
      assert.equal(finished.body.error, 'conflict');
      assert.deepEqual((await s.server.services.calls.get({ tenantId: t.id }, call.callSid)).context, {});
    });
  });
}
