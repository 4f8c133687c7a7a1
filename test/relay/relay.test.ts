import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import {
  RelayClient, eventually as until, newCallSid, postTwilio, ringAgent as ring, twilioAccount, twimlAttrs, twimlParameters, type TwilioAccount,
} from '../helpers/twilio.js';
import type { DomainEvent } from '../../src/events/bus.js';

for (const db of testDbs()) {
  describe(`ConversationRelay calls with the offline brain (${db})`, () => {
    let s: TestServer;
    let a: TwilioAccount;
    const events: DomainEvent[] = [];
    before(async () => {
      s = await startTestServer(db);
      s.server.bus.subscribe((e) => events.push(e));
      a = await twilioAccount(s);
    });
    after(async () => { await s.close(); });

    test('a whole inbound call: TwiML, streamed replies, goodbye, status callback, history and agent totals', async () => {
      const { callSid, client, twiml } = await ring(s, a);
      const connect = twimlAttrs(twiml, 'Connect')!;
      assert.equal(connect.action, `${s.config.publicUrl}/twilio/relay-action`);
      const relay = twimlAttrs(twiml, 'ConversationRelay')!;
      assert.match(relay.url, /^ws:\/\/127\.0\.0\.1:\d+\/relay\/ws\?account_sid=AC/);
      assert.equal(relay.welcomeGreeting, 'Hello, this is Ava.');
      assert.equal(relay.voice, 'en-US-Neural2-F');
      assert.equal(relay.language, 'en-US');
      assert.deepEqual(twimlParameters(twiml), { call_sid: callSid, agent_id: a.agentId, tenant_id: a.tenantId });

      client.prompt('what are your', false);
      client.prompt('What are your opening hours?');
      const first = await client.reply(0);
      assert.ok(first.tokens.length > 3, 'the reply is streamed token by token');
      assert.match(first.text, /offline assistant/);
      assert.match(first.text, /What are your opening hours\?/);
      for (const f of client.received.slice(0, first.next)) {
        assert.deepEqual(Object.keys(f).sort(), ['last', 'token', 'type'], 'text messages carry exactly the schema fields');
      }
      const live = await s.request('GET', `/api/calls/active`, { key: a.key });
      if (live.status === 200) assert.ok(JSON.stringify(live.body).includes(callSid));

      client.prompt('Thanks, goodbye!');
      const endAt = await client.waitFor((f) => f.type === 'end', first.next);
      const bye = await client.reply(first.next);
      assert.match(bye.text, /Goodbye/);
      assert.deepEqual(JSON.parse(String(client.received[endAt].handoffData)), { reason: 'end' });
      await client.close();

      const action = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: callSid, HandoffData: String(client.received[endAt].handoffData) }, a.authToken);
      assert.equal(action.status, 200);
      assert.match(action.text, /<Hangup\/>/);
      const status = await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: callSid, CallStatus: 'completed', CallDuration: '12' }, a.authToken);
      assert.equal(status.status, 200);

      const call = await until(() => s.server.services.calls.findBySid(callSid), (c) => c?.status === 'completed');
      assert.equal(call?.status, 'completed');
      assert.equal(call?.endReason, 'agent ended the call');
      const turns = await until(() => s.server.services.calls.transcript(callSid), (t) => t.length >= 5);
      assert.deepEqual(turns.map((t) => t.role), ['agent', 'caller', 'agent', 'caller', 'agent']);
      assert.equal(turns[0].text, 'Hello, this is Ava.');
      assert.equal(turns[1].text, 'What are your opening hours?');
      assert.equal(turns[2].text, first.text);
      const agent = await s.server.services.agents.get({ tenantId: a.tenantId }, a.agentId);
      assert.equal(agent.totalCalls, 1);
      const history = await s.server.services.calls.history({ tenantId: a.tenantId }, { limit: 10, offset: 0 });
      assert.ok(history.calls.some((c) => c.callSid === callSid && c.status === 'completed'));

      const mine = events.filter((e) => e.callSid === callSid).map((e) => e.type);
      assert.ok(mine.includes('call.started') && mine.includes('call.ended'));
      assert.ok(mine.includes('transcript.partial') && mine.includes('transcript.final'));
      assert.equal(s.server.runtime.sessions.size(), 0);
    });

    test('the offline brain transfers on request, and the relay action dials the target', async () => {
      const { callSid, client } = await ring(s, a);
      client.prompt('Please transfer me to +15557654321');
      const endAt = await client.waitFor((f) => f.type === 'end');
      const handoff = JSON.parse(String(client.received[endAt].handoffData));
      assert.deepEqual(handoff, { reason: 'transfer', target: '+15557654321' });
      await client.close();
      // Without HandoffData in the callback the call record still knows the target.
      const action = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: callSid }, a.authToken);
      assert.match(action.text, /<Dial>\+15557654321<\/Dial>/);
    });

    test('a dropped socket ends the session and the call record says why', async () => {
      const { callSid, client } = await ring(s, a);
      client.prompt('hello');
      await client.reply(0);
      await until(async () => s.server.runtime.sessions.get(callSid), (v) => v !== undefined);
      assert.equal((await s.request('GET', '/healthz', { key: null })).body.activeCalls, 1);
      await client.terminate();
      const call = await until(() => s.server.services.calls.findBySid(callSid), (c) => c?.status === 'completed');
      assert.equal(call?.status, 'completed');
      assert.equal(call?.endReason, 'relay socket closed: 1006');
      assert.equal(s.server.runtime.sessions.get(callSid), undefined);
    });

    test('shutting down closes live sessions and records why their calls ended', async () => {
      const { callSid, client } = await ring(s, a);
      await s.server.runtime.closeAll();
      assert.equal((await client.closed).code, 1001);
      const call = await s.server.services.calls.findBySid(callSid);
      assert.equal(call?.status, 'completed');
      assert.equal(call?.endReason, 'relay socket closed: 1001');
      assert.equal(s.server.runtime.activeCalls(), 0);
    });

    test('malformed and unknown frames are ignored; the session goes on', async () => {
      const { client } = await ring(s, a);
      client.ws.send('not json');
      client.send({ type: 'nonsense' });
      client.send({ type: 'prompt', voicePrompt: 42 });
      client.send({ type: 'info', name: 'tokensPlayed', value: 3 });
      client.send({ type: 'dtmf', digit: '5' });
      client.prompt('still there?');
      const r = await client.reply(0);
      assert.match(r.text, /still there\?/);
      await client.close();
    });

    test('a handshake with a bad or missing signature is refused with 403', async () => {
      const { twiml } = await ring(s, a);
      const url = twimlAttrs(twiml, 'ConversationRelay')!.url;
      await assert.rejects(RelayClient.connect(url, 'wrong-token'), /handshake refused: 403/);
      await assert.rejects(RelayClient.connect(url, a.authToken, { signature: null }), /handshake refused: 403/);
      await assert.rejects(RelayClient.connect(url.replace(/account_sid=\w+/, 'account_sid=AC' + '0'.repeat(32)), a.authToken), /handshake refused: 403/);
    });

    test("setup for an unknown call or another account's call closes the socket", async () => {
      const other = await twilioAccount(s);
      const { callSid } = await ring(s, other);
      const url = `ws://${new URL(s.url).host}/relay/ws?account_sid=${a.accountSid}`;
      for (const sid of [newCallSid(), callSid]) {
        const c = await RelayClient.connect(url, a.authToken);
        c.setup(sid, { accountSid: a.accountSid });
        assert.equal((await c.closed).code, 1008);
      }
    });
  });
}
