import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import type { CallService, NewCall } from '../../src/domain/calls.js';
import type { DomainEvent, EventType } from '../../src/events/catalog.js';
import { DomainError } from '../../src/domain/errors.js';

const inbound = (agentId: string | null, extra: Partial<NewCall> = {}): NewCall => ({
  agentId, phoneNumber: '+15551230000', direction: 'inbound', fromNumber: '+15559990000', toNumber: '+15551230000', status: 'ringing', ...extra,
});

/** Narrows an event to one type, so its payload reads without a cast. */
const ofType = <T extends EventType>(type: T) => (e: DomainEvent): e is Extract<DomainEvent, { type: T }> => e.type === type;

function isKind(kind: string, field?: string) {
  return (err: unknown) => err instanceof DomainError && err.kind === kind && (field === undefined || err.field === field);
}

for (const db of testDbs()) {
  describe(`CallService (${db})`, () => {
    let s: TestServer;
    let calls: CallService;
    const events: DomainEvent[] = [];
    before(async () => {
      s = await startTestServer(db);
      calls = s.server.services.calls;
      s.server.bus.subscribe((e) => events.push(e));
    });
    after(async () => { await s.close(); });

    async function tenantWithAgent(maxConcurrentCalls = 10) {
      const t = await s.newTenant({ maxConcurrentCalls });
      const agent = await s.server.services.agents.create({ tenantId: t.id }, { name: 'Support' });
      return { scope: { tenantId: t.id }, agentId: agent.id };
    }

    test('open records the call, generates a CA sid and publishes call.started', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { context: { customer: 'Ann' } }));
      assert.match(call.callSid, /^CA[0-9a-f]{32}$/);
      assert.equal(call.status, 'ringing');
      assert.deepEqual(call.context, { customer: 'Ann' });
      assert.equal(call.endedAt, null);
      const started = events.filter(ofType('call.started')).find((e) => e.callSid === call.callSid);
      assert.equal(started?.tenantId, scope.tenantId);
      assert.equal(started?.data.direction, 'inbound');
      const given = await calls.open(scope, inbound(agentId, { callSid: 'CAgiven0001' }));
      assert.equal(given.callSid, 'CAgiven0001');
      await assert.rejects(calls.open(scope, inbound(agentId, { callSid: 'CAgiven0001' })), isKind('conflict', 'call_sid'));
    });

    test('open refuses the call beyond max_concurrent_calls; a finished call frees its slot', async () => {
      const { scope, agentId } = await tenantWithAgent(2);
      const a = await calls.open(scope, inbound(agentId));
      await calls.open(scope, inbound(agentId, { status: 'in-progress' }));
      await assert.rejects(calls.open(scope, inbound(agentId)), isKind('limit', 'max_concurrent_calls'));
      await calls.updateStatus(a.callSid, { status: 'completed' });
      await calls.open(scope, inbound(agentId));
    });

    test('five simultaneous opens against a limit of two: exactly two succeed', async () => {
      const { scope, agentId } = await tenantWithAgent(2);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => calls.open(scope, inbound(agentId))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
      for (const r of results) if (r.status === 'rejected') assert.ok(isKind('limit')(r.reason), String(r.reason));
      assert.equal((await calls.listActive(scope)).length, 2);
    });

    test('the limit of one tenant does not count another tenant\'s calls', async () => {
      const one = await tenantWithAgent(1);
      const two = await tenantWithAgent(1);
      await calls.open(one.scope, inbound(one.agentId));
      await calls.open(two.scope, inbound(two.agentId));
    });

    test('open rejects bad input naming the field', async () => {
      const { scope, agentId } = await tenantWithAgent();
      await assert.rejects(calls.open(scope, inbound(agentId, { direction: 'sideways' as never })), isKind('invalid', 'direction'));
      await assert.rejects(calls.open(scope, inbound(agentId, { status: 'completed' })), isKind('invalid', 'status'));
      await assert.rejects(calls.open(scope, inbound(agentId, { context: [] as never })), isKind('invalid', 'context'));
      await assert.rejects(calls.open({ tenantId: 'no-such-tenant' }, inbound(null)), isKind('not_found'));
    });

    test('a final status sets end, duration and cost, and counts once in the agent totals', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId));
      const answered = await calls.updateStatus(call.callSid, { status: 'in-progress' });
      assert.ok(answered.answeredAt);
      assert.ok(events.some((e) => e.type === 'call.updated' && e.callSid === call.callSid && e.data.status === 'in-progress'));
      const ended = await calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 90, cost: 0.052, endReason: 'caller hung up' });
      assert.equal(ended.status, 'completed');
      assert.equal(ended.durationSeconds, 90);
      assert.equal(ended.cost, 0.052);
      assert.equal(ended.endReason, 'caller hung up');
      assert.ok(ended.endedAt);
      const endedEvent = events.filter(ofType('call.ended')).find((e) => e.callSid === call.callSid);
      assert.equal(endedEvent?.data.duration, 90);
      // A late or duplicated callback changes neither the status nor the known cost.
      const again = await calls.updateStatus(call.callSid, { status: 'failed', cost: 9, endReason: 'late' });
      assert.equal(again.status, 'completed');
      assert.equal(again.cost, 0.052);
      assert.equal(again.endReason, 'caller hung up');
      assert.equal(again.durationSeconds, 90);
      const agent = await s.server.services.agents.get(scope, agentId);
      assert.equal(agent.totalCalls, 1);
      assert.equal(agent.totalMinutes, 1.5);
    });

    test('updateStatuses applies a batch in order in one go; each bad change fails alone', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const a = await calls.open(scope, inbound(agentId));
      const b = await calls.open(scope, inbound(agentId));
      const out = await calls.updateStatuses([
        { callSid: a.callSid, change: { status: 'in-progress' } },
        { callSid: 'CAnope', change: { status: 'completed' } },
        { callSid: b.callSid, change: { status: 'exploded' as never } },
        { callSid: a.callSid, change: { status: 'completed', endReason: 'caller hung up', sipStatus: 200 } },
        { callSid: b.callSid, change: { status: 'busy', endReason: 'callee busy', sipStatus: 486 } },
        // Already final earlier in this batch: a late change leaves the ending as it was.
        { callSid: a.callSid, change: { status: 'failed', endReason: 'late' } },
      ]);
      assert.ok(isKind('not_found')(out[1]));
      assert.ok(isKind('invalid', 'status')(out[2]));
      const [answered, , , ended, busy, late] = out as Awaited<ReturnType<CallService['get']>>[];
      assert.equal(answered!.status, 'in-progress');
      assert.equal(ended!.status, 'completed');
      assert.equal(ended!.sipStatus, 200);
      assert.ok(ended!.answeredAt);
      assert.equal(busy!.status, 'busy');
      assert.equal(late!.status, 'completed');
      assert.equal(late!.endReason, 'caller hung up');
      const stored = await calls.get(scope, a.callSid);
      assert.equal(stored.status, 'completed');
      assert.equal(stored.endReason, 'caller hung up');
      assert.equal((await calls.get(scope, b.callSid)).status, 'busy');
      // Counted once each, with their events, as one by one.
      const agent = await s.server.services.agents.get(scope, agentId);
      assert.equal(agent.totalCalls, 2);
      assert.equal(events.filter(ofType('call.ended')).filter((e) => e.callSid === a.callSid).length, 1);
      assert.ok(events.some((e) => e.type === 'call.updated' && e.callSid === a.callSid && e.data.status === 'in-progress'));
    });

    test('the carrier\'s late final callback fills in billed duration and price after the relay ended the call', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { status: 'in-progress' }));
      const byRelay = await calls.updateStatus(call.callSid, { status: 'completed', endReason: 'agent ended the call' });
      assert.equal(byRelay.cost, null);
      const byTwilio = await calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 95, cost: 0.02 });
      assert.equal(byTwilio.durationSeconds, 95);
      assert.equal(byTwilio.cost, 0.02);
      assert.equal(byTwilio.endReason, 'agent ended the call');
      const agent = await s.server.services.agents.get(scope, agentId);
      assert.equal(agent.totalCalls, 1);
      assert.ok(Math.abs(agent.totalMinutes - 95 / 60) < 1e-9, String(agent.totalMinutes));
    });

    test('two final callbacks racing each other still count the call once', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { status: 'in-progress' }));
      await Promise.all([
        calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 60 }),
        calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 60 }),
        calls.updateStatus(call.callSid, { status: 'failed' }),
      ]);
      const agent = await s.server.services.agents.get(scope, agentId);
      assert.equal(agent.totalCalls, 1);
      assert.equal(events.filter((e) => e.type === 'call.ended' && e.callSid === call.callSid).length, 1);
    });

    test('a call that never connected lasts zero seconds; updateStatus rejects unknown calls and statuses', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId));
      const ended = await calls.updateStatus(call.callSid, { status: 'no-answer' });
      assert.equal(ended.durationSeconds, 0);
      await assert.rejects(calls.updateStatus('CAunknown', { status: 'completed' }), isKind('not_found'));
      await assert.rejects(calls.updateStatus(call.callSid, { status: 'exploded' as never }), isKind('invalid', 'status'));
    });

    test('a live status never moves back, and going back publishes nothing', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { status: 'queued' }));
      assert.equal((await calls.updateStatus(call.callSid, { status: 'in-progress' })).status, 'in-progress');
      const published = events.length;
      for (const back of ['ringing', 'queued'] as const) {
        const after = await calls.updateStatus(call.callSid, { status: back });
        assert.equal(after.status, 'in-progress');
      }
      assert.ok(events.some((e) => e.type === 'call.updated' && e.callSid === call.callSid && e.data.status === 'in-progress'));
      assert.equal(events.slice(published).filter((e) => e.callSid === call.callSid).length, 0);
      assert.equal((await calls.get(scope, call.callSid)).status, 'in-progress');
      // The same status again still applies (the relay records why the call ends that way).
      assert.equal((await calls.updateStatus(call.callSid, { status: 'in-progress', endReason: 'agent ended the call' })).endReason, 'agent ended the call');
    });

    test('a carrier sequence number applies once, a relay session opens once', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId));
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 0), true);
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 0), false);
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 2), true);
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 1), false);
      await assert.rejects(calls.acceptCarrierSequence(call.callSid, -1), isKind('invalid', 'SequenceNumber'));
      assert.equal(await calls.claimRelaySession(call.callSid), true);
      assert.equal(await calls.claimRelaySession(call.callSid), false);
      // The sequence kept through the claim, and the claim through a later sequence.
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 2), false);
      assert.equal(await calls.acceptCarrierSequence(call.callSid, 3), true);
      assert.equal(await calls.claimRelaySession(call.callSid), false);
      const other = await calls.open(scope, inbound(agentId));
      assert.equal(await calls.claimRelaySession(other.callSid), true);
    });

    test('recordRejected stores a finished busy call outside the limit', async () => {
      const { scope, agentId } = await tenantWithAgent(1);
      await calls.open(scope, inbound(agentId));
      const rejected = await calls.recordRejected(scope, { ...inbound(agentId), status: 'busy', endReason: 'max_concurrent_calls reached' });
      assert.equal(rejected.status, 'busy');
      assert.equal(rejected.durationSeconds, 0);
      assert.ok(rejected.endedAt);
      assert.equal(rejected.endReason, 'max_concurrent_calls reached');
      assert.equal((await calls.listActive(scope)).length, 1);
      assert.ok(events.some((e) => e.type === 'call.ended' && e.callSid === rejected.callSid));
    });

    test('get and mergeContext are tenant-scoped; context merges shallowly and is frozen once the call ends', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const other = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { context: { a: 1, b: { x: 1 } } }));
      await assert.rejects(calls.get(other.scope, call.callSid), isKind('not_found'));
      await assert.rejects(calls.mergeContext(other.scope, call.callSid, { c: 3 }), isKind('not_found'));
      const merged = await calls.mergeContext(scope, call.callSid, { b: { y: 2 }, c: 3 });
      assert.deepEqual(merged.context, { a: 1, b: { y: 2 }, c: 3 });
      const ev = events.filter(ofType('context.updated')).find((e) => e.callSid === call.callSid);
      assert.deepEqual(ev?.data.context, { a: 1, b: { y: 2 }, c: 3 });
      await assert.rejects(calls.mergeContext(scope, call.callSid, [] as never), isKind('invalid', 'context'));
      await calls.updateStatus(call.callSid, { status: 'completed' });
      await assert.rejects(calls.mergeContext(scope, call.callSid, { d: 4 }), isKind('conflict'));
    });

    test('turns are stored in order and published; partials and errors are only published', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const call = await calls.open(scope, inbound(agentId, { status: 'in-progress' }));
      await calls.addTurn(call.callSid, { role: 'agent', text: 'Hello, how can I help?' });
      await calls.addTurn(call.callSid, { role: 'caller', text: 'My bill' });
      await calls.addTurn(call.callSid, { role: 'agent', text: 'Let me', interrupted: true });
      await calls.addTurn(call.callSid, { role: 'supervisor', text: 'A specialist will join.' });
      const turns = await calls.transcript(call.callSid);
      assert.deepEqual(turns.map((t) => [t.role, t.text, t.interrupted]), [
        ['agent', 'Hello, how can I help?', false], ['caller', 'My bill', false], ['agent', 'Let me', true], ['supervisor', 'A specialist will join.', false],
      ]);
      const finals = events.filter((e) => e.type === 'transcript.final' && e.callSid === call.callSid);
      assert.equal(finals.length, 4);
      assert.deepEqual(finals[2].data, { role: 'agent', text: 'Let me', interrupted: true });
      await calls.publishPartial(call.callSid, 'my bi');
      await calls.publishError(call.callSid, 'LLM timed out');
      assert.ok(events.some((e) => e.type === 'transcript.partial' && e.callSid === call.callSid && e.data.text === 'my bi' && e.tenantId === scope.tenantId));
      assert.ok(events.some((e) => e.type === 'error' && e.callSid === call.callSid && e.data.message === 'LLM timed out'));
      assert.equal((await calls.transcript(call.callSid)).length, 4);
      await assert.rejects(calls.addTurn('CAnope', { role: 'agent', text: 'x' }), isKind('not_found'));
      await assert.rejects(calls.addTurn(call.callSid, { role: 'robot' as never, text: 'x' }), isKind('invalid', 'role'));
      await assert.rejects(calls.publishPartial('CAnope', 'x'), isKind('not_found'));
    });

    test('findBySid crosses tenants; listActive and history stay within one', async () => {
      const { scope, agentId } = await tenantWithAgent();
      const other = await tenantWithAgent();
      const mine = await calls.open(scope, inbound(agentId));
      await calls.open(other.scope, inbound(other.agentId));
      assert.equal((await calls.findBySid(mine.callSid))?.tenantId, scope.tenantId);
      assert.equal(await calls.findBySid('CAnope'), null);
      assert.deepEqual((await calls.listActive(scope)).map((c) => c.callSid), [mine.callSid]);
      const h = await calls.history(scope, { limit: 10, offset: 0 });
      assert.equal(h.total, 1);
      assert.equal(h.calls[0].callSid, mine.callSid);
    });
  });
}
