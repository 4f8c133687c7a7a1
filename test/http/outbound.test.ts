import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { FakeTwilioRest, RelayClient, twilioAccount, twimlAttrs, type TwilioAccount } from '../helpers/twilio.js';

for (const db of testDbs()) {
  describe(`outbound calls through Twilio's REST API (${db})`, () => {
    let s: TestServer;
    let rest: FakeTwilioRest;
    let a: TwilioAccount;
    before(async () => {
      rest = await FakeTwilioRest.start();
      s = await startTestServer(db, { config: (c) => { c.twilioApiBaseUrl = rest.baseUrl; } });
      a = await twilioAccount(s);
      rest.addAccount(a.accountSid, a.authToken);
    });
    after(async () => {
      await s.close();
      await rest.close();
    });

    const dial = (acct: TwilioAccount, body: unknown, agentId = acct.agentId, key: string | null = acct.key) =>
      s.request('POST', `/api/agents/${agentId}/call`, { key, body });

    test('places the call with TwiML that connects it to the relay, and records it under Twilio\'s sid', async () => {
      const r = await dial(a, { to_number: '+15557770001', context: { customer_id: 'CUST_789' } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body).sort(), ['call_sid', 'message', 'status']);
      assert.equal(r.body.status, 'queued');
      assert.equal(r.body.message, 'Call initiated successfully');
      const sent = rest.calls.at(-1)!;
      assert.equal(sent.accountSid, a.accountSid);
      assert.equal(sent.params.To, '+15557770001');
      assert.equal(sent.params.From, a.number);
      assert.equal(sent.params.StatusCallback, `${s.config.publicUrl}/twilio/status`);
      const relay = twimlAttrs(sent.params.Twiml, 'ConversationRelay')!;
      assert.equal(relay.url, `ws://${new URL(s.config.publicUrl).host}/relay/ws?account_sid=${a.accountSid}`);
      assert.equal(twimlAttrs(sent.params.Twiml, 'Connect')!.action, `${s.config.publicUrl}/twilio/relay-action`);

      const call = await s.server.services.calls.findBySid(r.body.call_sid);
      assert.equal(call?.direction, 'outbound');
      assert.equal(call?.status, 'queued');
      assert.equal(call?.fromNumber, a.number);
      assert.deepEqual(call?.context, { customer_id: 'CUST_789' });

      // When the callee answers, Twilio opens the relay socket from that TwiML and the agent talks.
      const client = await RelayClient.connect(relay.url, a.authToken);
      client.setup(r.body.call_sid, { accountSid: a.accountSid, from: a.number, to: '+15557770001' });
      client.prompt('Who is this?');
      const reply = await client.reply(0);
      assert.match(reply.text, /Who is this\?/);
      await client.close();
    });

    test('a refusal by Twilio is a 503 with its message (decisions.md: no 502 in this dialect), and the attempt is recorded as failed', async () => {
      rest.failWith = { status: 400, code: 21215, message: 'Account not authorized to call +15557770002.' };
      const r = await dial(a, { to_number: '+15557770002' });
      assert.equal(r.status, 503);
      assert.match(r.body.message, /^Twilio refused the call/);
      assert.equal(r.body.error, 'upstream');
      assert.match(r.body.message, /Account not authorized to call \+15557770002\./);
      const { calls } = await s.server.services.calls.history({ tenantId: a.tenantId }, { limit: 50, offset: 0 });
      const failed = calls.find((c) => c.toNumber === '+15557770002');
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.direction, 'outbound');
      assert.match(failed?.endReason ?? '', /not authorized/);
    });

    test('bad input is 400 naming the field', async () => {
      for (const [body, field] of [
        [{ to_number: '5557770003' }, 'to_number'],
        [{ to_number: '+0123' }, 'to_number'],
        [{}, 'to_number'],
        [{ to_number: '+15557770003', context: 'vip' }, 'context'],
        [{ to_number: '+15557770003', extra: 1 }, 'extra'],
      ] as const) {
        const r = await dial(a, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.message, new RegExp(field));
      }
      assert.equal(rest.calls.filter((c) => c.params.To === '+15557770003').length, 0);
    });

    test('when Twilio cannot be reached (DNS) the answer is 503 and does not claim Twilio refused', async () => {
      const base = s.config.twilioApiBaseUrl;
      s.config.twilioApiBaseUrl = 'http://api.no-such-host.invalid';
      try {
        const r = await dial(a, { to_number: '+15557770009' });
        assert.equal(r.status, 503, r.text);
        assert.doesNotMatch(r.body.message, /refused/);
        assert.match(r.body.message, /could not reach Twilio \(ENOTFOUND/);
        const { calls } = await s.server.services.calls.history({ tenantId: a.tenantId }, { limit: 50, offset: 0 });
        const failed = calls.find((c) => c.toNumber === '+15557770009');
        assert.equal(failed?.status, 'failed');
        assert.match(failed?.endReason ?? '', /could not reach Twilio/);
      } finally {
        s.config.twilioApiBaseUrl = base;
      }
    });

    test("unknown and another tenant's agents are 404, an inactive one 409, one without a Twilio number 409", async () => {
      assert.equal((await dial(a, { to_number: '+15557770004' }, 'no-such-agent')).status, 404);
      const other = await twilioAccount(s);
      assert.equal((await dial(a, { to_number: '+15557770004' }, other.agentId)).status, 404);
      const sleepy = await twilioAccount(s, { agent: { deployStatus: 'inactive' } });
      rest.addAccount(sleepy.accountSid, sleepy.authToken);
      assert.equal((await dial(sleepy, { to_number: '+15557770004' })).status, 409);
      const lonely = await s.server.services.agents.create({ tenantId: a.tenantId }, { name: 'No number', deployStatus: 'active' } as never);
      const r = await dial(a, { to_number: '+15557770004' }, lonely.id);
      assert.equal(r.status, 409);
      assert.equal(r.body.error, 'precondition');
      assert.match(r.body.message, /Twilio/);
      assert.equal((await dial(a, { to_number: '+15557770004' }, a.agentId, null)).status, 401);
    });

    test('max_concurrent_calls is 429 and nothing is dialled', async () => {
      const t = await twilioAccount(s, { tenant: { maxConcurrentCalls: 1 } });
      rest.addAccount(t.accountSid, t.authToken);
      assert.equal((await dial(t, { to_number: '+15557770005' })).status, 200);
      const before = rest.calls.length;
      const r = await dial(t, { to_number: '+15557770006' });
      assert.equal(r.status, 429);
      assert.match(r.body.message, /max_concurrent_calls/);
      assert.equal(rest.calls.length, before);
    });
  });
}
