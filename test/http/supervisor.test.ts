import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { eventually, newCallSid, postTwilio, ringAgent, twilioAccount, type TwilioAccount } from '../helpers/twilio.js';

for (const db of testDbs()) {
  describe(`supervisor controls (${db})`, () => {
    let s: TestServer;
    let a: TwilioAccount;
    before(async () => {
      s = await startTestServer(db);
      a = await twilioAccount(s);
    });
    after(async () => { await s.close(); });

    const post = (path: string, body: unknown, key: string | null = a.key) => s.request('POST', path, { key, body });

    test('text is spoken to the caller at once and recorded as a supervisor turn', async () => {
      const { callSid, client } = await ringAgent(s, a);
      const r = await post('/api/override/text', { call_sid: callSid, text: 'A supervisor is joining.' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.call_sid, callSid);
      assert.equal(typeof r.body.message, 'string');
      const i = await client.waitFor((f) => f.type === 'text' && f.token === 'A supervisor is joining.');
      assert.equal(client.received[i].last, true);
      // The reference implementation's aliases.
      const alias = await post('/override/text', { callSid, text: 'Second line.' });
      assert.equal(alias.status, 200, alias.text);
      await client.waitFor((f) => f.token === 'Second line.');
      const turns = await eventually(() => s.server.services.calls.transcript(callSid), (t) => t.filter((x) => x.role === 'supervisor').length === 2);
      assert.deepEqual(turns.filter((t) => t.role === 'supervisor').map((t) => t.text), ['A supervisor is joining.', 'Second line.']);
      await client.close();
    });

    test('dtmf sends sendDigits; digits outside 0-9 * # are 400 naming digit', async () => {
      const { callSid, client } = await ringAgent(s, a);
      const r = await post('/api/override/dtmf', { call_sid: callSid, digit: '1*#' });
      assert.equal(r.status, 200, r.text);
      const i = await client.waitFor((f) => f.type === 'sendDigits');
      assert.deepEqual(client.received[i], { type: 'sendDigits', digits: '1*#' });
      for (const digit of ['A', '', '1 2', '9'.repeat(33)]) {
        const bad = await post('/api/override/dtmf', { call_sid: callSid, digit });
        assert.equal(bad.status, 400, digit);
        assert.match(bad.body.message, /digit/);
      }
      const alias = await post('/override/dtmf', { callSid, digit: '0' });
      assert.equal(alias.status, 200);
      await client.close();
    });

    test('transfer ends the relay with a transfer handoff and the relay action dials the target', async () => {
      const { callSid, client } = await ringAgent(s, a);
      const bad = await post('/api/override/transfer', { call_sid: callSid, target: '5551234' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /target/);
      const r = await post('/api/override/transfer', { call_sid: callSid, target: '+15551112222' });
      assert.equal(r.status, 200, r.text);
      const i = await client.waitFor((f) => f.type === 'end');
      assert.deepEqual(JSON.parse(String(client.received[i].handoffData)), { reason: 'transfer', target: '+15551112222' });
      await client.close();
      const action = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: callSid, HandoffData: String(client.received[i].handoffData) }, a.authToken);
      assert.match(action.text, /<Dial>\+15551112222<\/Dial>/);
      const call = await eventually(() => s.server.services.calls.findBySid(callSid), (c) => c?.status === 'completed');
      assert.equal(call?.endReason, 'transferred to +15551112222');
      assert.deepEqual(call?.handoff, { reason: 'transfer', target: '+15551112222' });
    });

    test('end sends end; afterwards the call is no longer live (404)', async () => {
      const { callSid, client } = await ringAgent(s, a);
      const r = await post('/api/override/end', { call_sid: callSid });
      assert.equal(r.status, 200, r.text);
      await client.waitFor((f) => f.type === 'end');
      await client.close();
      const call = await eventually(() => s.server.services.calls.findBySid(callSid), (c) => c?.status === 'completed');
      assert.equal(call?.endReason, 'ended by supervisor');
      const again = await post('/api/override/end', { call_sid: callSid });
      assert.equal(again.status, 404);
      const text = await post('/api/override/text', { call_sid: callSid, text: 'hello?' });
      assert.equal(text.status, 404);
    });

    test("unknown calls, another tenant's calls and calls without a live session are 404", async () => {
      assert.equal((await post('/api/override/text', { call_sid: newCallSid(), text: 'hi' })).status, 404);
      const other = await twilioAccount(s);
      const { callSid, client } = await ringAgent(s, other);
      const bodies: Record<string, Record<string, string>> = {
        '/api/override/text': { text: 'hi' }, '/api/override/dtmf': { digit: '1' },
        '/api/override/transfer': { target: '+15551112222' }, '/api/override/end': {},
      };
      for (const [path, body] of Object.entries(bodies)) {
        const r = await post(path, { call_sid: callSid, ...body });
        assert.equal(r.status, 404, path);
      }
      assert.equal(client.received.length, 0, 'nothing reached the other tenant\'s caller');
      await client.close();
      // Ringing, but Twilio has not opened the relay socket yet.
      const ringing = newCallSid();
      await postTwilio(s, '/twilio/voice', { AccountSid: a.accountSid, CallSid: ringing, From: '+15550003333', To: a.number }, a.authToken);
      assert.equal((await post('/api/override/end', { call_sid: ringing })).status, 404);
    });

    test('requests without call_sid or a key, or with unknown fields, are refused', async () => {
      const none = await post('/api/override/text', { text: 'hi' });
      assert.equal(none.status, 400);
      assert.match(none.body.message, /call_sid/);
      const empty = await post('/api/override/text', { call_sid: newCallSid(), text: '' });
      assert.equal(empty.status, 400);
      assert.match(empty.body.message, /text/);
      const extra = await post('/api/override/end', { call_sid: newCallSid(), force: true });
      assert.equal(extra.status, 400);
      assert.match(extra.body.message, /force/);
      assert.equal((await post('/api/override/end', { call_sid: newCallSid() }, null)).status, 401);
      assert.equal((await post('/override/end', { call_sid: newCallSid() }, 'nope')).status, 401);
    });
  });
}
