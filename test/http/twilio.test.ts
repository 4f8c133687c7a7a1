import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { newCallSid, postTwilio, randomE164, twilioAccount, twilioSignature, twimlAttrs, type TwilioAccount } from '../helpers/twilio.js';

for (const db of testDbs()) {
  describe(`Twilio webhooks (${db})`, () => {
    let s: TestServer;
    let a: TwilioAccount;
    before(async () => {
      s = await startTestServer(db);
      a = await twilioAccount(s);
    });
    after(async () => { await s.close(); });

    const voice = (acct: TwilioAccount, callSid: string, to: string, extra: { signature?: string | null } = {}) =>
      postTwilio(s, '/twilio/voice', { AccountSid: acct.accountSid, CallSid: callSid, From: '+15550002222', To: to, CallStatus: 'ringing', Direction: 'inbound' }, acct.authToken, extra);
    const calls = () => s.server.services.calls;

    test('a bad, missing or foreign signature is 403 and records nothing', async () => {
      const sid = newCallSid();
      for (const signature of ['bm90IGEgc2lnbmF0dXJl', null, twilioSignature('another-token', `${s.config.publicUrl}/twilio/voice`, {})]) {
        const r = await voice(a, sid, a.number, { signature });
        assert.equal(r.status, 403);
      }
      // Signed over other parameters than those sent: the To was changed in flight.
      const params = { AccountSid: a.accountSid, CallSid: sid, From: '+15550002222', To: a.number };
      const forged = await postTwilio(s, '/twilio/voice', { ...params, To: randomE164() }, a.authToken, { signature: twilioSignature(a.authToken, `${s.config.publicUrl}/twilio/voice`, params) });
      assert.equal(forged.status, 403);
      const unknownAccount = await postTwilio(s, '/twilio/voice', { ...params, AccountSid: `AC${'1'.repeat(32)}` }, a.authToken);
      assert.equal(unknownAccount.status, 403);
      assert.equal(await calls().findBySid(sid), null);
      const status = await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, CallStatus: 'completed' }, a.authToken, { signature: 'x' });
      assert.equal(status.status, 403);
      const action = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: sid }, a.authToken, { signature: null });
      assert.equal(action.status, 403);
    });

    test('the voice webhook answers TwiML that connects the call to the relay, XML-escaped', async () => {
      const b = await twilioAccount(s, { agent: { greeting: 'Hi & welcome to "Tom\'s" <shop>' } });
      const sid = newCallSid();
      const r = await voice(b, sid, b.number);
      assert.equal(r.status, 200);
      assert.match(r.contentType ?? '', /text\/xml/);
      assert.match(r.text, /welcomeGreeting="Hi &amp; welcome to &quot;Tom's&quot; &lt;shop>"/);
      assert.equal(twimlAttrs(r.text, 'ConversationRelay')!.welcomeGreeting, 'Hi & welcome to "Tom\'s" <shop>');
      const call = await calls().findBySid(sid);
      assert.equal(call?.status, 'ringing');
      assert.equal(call?.direction, 'inbound');
      assert.equal(call?.agentId, b.agentId);
      // Twilio retries a webhook it got no answer for: the same TwiML, still one call.
      // OpenAI voice names (the deployment default) are not Twilio voices: Twilio picks one for the language.
      const plain = await twilioAccount(s, { agent: { voice: 'alloy' } });
      const attrs = twimlAttrs((await voice(plain, newCallSid(), plain.number)).text, 'ConversationRelay')!;
      assert.equal(attrs.voice, undefined);
      assert.equal(attrs.language, 'en-US');
      const again = await voice(b, sid, b.number);
      assert.equal(again.status, 200);
      assert.match(again.text, /<ConversationRelay /);
    });

    test('an agent without a greeting answers with the default greeting (DEFAULT_GREETING)', async () => {
      const b = await twilioAccount(s, { agent: { greeting: '' } });
      const r = await voice(b, newCallSid(), b.number);
      assert.equal(r.status, 200, r.text);
      assert.equal(twimlAttrs(r.text, 'ConversationRelay')!.welcomeGreeting, s.config.defaultGreeting);
      assert.ok(s.config.defaultGreeting.length > 0);
    });

    test('a number of another account, a number without agent and an inactive agent are rejected busy and recorded', async () => {
      const other = await twilioAccount(s);
      const foreign = newCallSid();
      const r1 = await voice(a, foreign, other.number);
      assert.match(r1.text, /<Reject reason="busy"\/>/);
      assert.equal((await calls().findBySid(foreign))?.tenantId, a.tenantId);

      const scope = { tenantId: a.tenantId };
      const bare = randomE164();
      await s.server.services.numbers.create(scope, { e164: bare, credentialsId: a.credentialId });
      const noAgent = newCallSid();
      const r2 = await voice(a, noAgent, bare);
      assert.match(r2.text, /<Reject reason="busy"\/>/);
      const rec = await calls().findBySid(noAgent);
      assert.equal(rec?.status, 'busy');
      assert.match(rec?.endReason ?? '', /no agent/);

      const sleepy = await twilioAccount(s, { agent: { deployStatus: 'inactive' } });
      const inactive = newCallSid();
      const r3 = await voice(sleepy, inactive, sleepy.number);
      assert.match(r3.text, /<Reject reason="busy"\/>/);
      assert.match((await calls().findBySid(inactive))?.endReason ?? '', /inactive/);
    });

    test('a tenant at max_concurrent_calls gets busy, and the attempt is in the history', async () => {
      const t = await twilioAccount(s, { tenant: { maxConcurrentCalls: 1 } });
      const first = newCallSid();
      assert.match((await voice(t, first, t.number)).text, /<ConversationRelay /);
      const second = newCallSid();
      const r = await voice(t, second, t.number);
      assert.match(r.text, /<Reject reason="busy"\/>/);
      const rec = await calls().findBySid(second);
      assert.equal(rec?.status, 'busy');
      assert.match(rec?.endReason ?? '', /max_concurrent_calls/);
      // Once the first call ends there is room again.
      await postTwilio(s, '/twilio/status', { AccountSid: t.accountSid, CallSid: first, CallStatus: 'completed', CallDuration: '5' }, t.authToken);
      assert.match((await voice(t, newCallSid(), t.number)).text, /<ConversationRelay /);
    });

    test('status callbacks move the call through its states, with duration and price', async () => {
      const sid = newCallSid();
      await voice(a, sid, a.number);
      const status = (extra: Record<string, string>) => postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, ...extra }, a.authToken);
      assert.equal((await status({ CallStatus: 'in-progress' })).status, 200);
      assert.equal((await calls().findBySid(sid))?.status, 'in-progress');
      const before = await s.server.services.agents.get({ tenantId: a.tenantId }, a.agentId);
      assert.equal((await status({ CallStatus: 'completed', CallDuration: '90', Price: '-0.0170', PriceUnit: 'USD' })).status, 200);
      const call = await calls().findBySid(sid);
      assert.equal(call?.status, 'completed');
      assert.equal(call?.durationSeconds, 90);
      assert.equal(call?.cost, 0.017);
      const after = await s.server.services.agents.get({ tenantId: a.tenantId }, a.agentId);
      assert.equal(after.totalCalls, before.totalCalls + 1);
      assert.ok(Math.abs(after.totalMinutes - before.totalMinutes - 1.5) < 1e-9);
    });

    test('every Twilio failure status is recorded', async () => {
      for (const st of ['busy', 'no-answer', 'failed', 'canceled']) {
        const sid = newCallSid();
        await voice(a, sid, a.number);
        await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, CallStatus: 'ringing' }, a.authToken);
        await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, CallStatus: st }, a.authToken);
        assert.equal((await calls().findBySid(sid))?.status, st);
      }
    });

    test('status callbacks for unknown calls are 404, unknown statuses 400', async () => {
      const r = await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: newCallSid(), CallStatus: 'completed' }, a.authToken);
      assert.equal(r.status, 404);
      const sid = newCallSid();
      await voice(a, sid, a.number);
      const bad = await postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, CallStatus: 'exploded' }, a.authToken);
      assert.equal(bad.status, 400);
      assert.match(bad.text, /CallStatus/);
    });

    test('the relay action hangs up unless the session handed off a transfer', async () => {
      const sid = newCallSid();
      await voice(a, sid, a.number);
      const plain = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: sid, SessionStatus: 'ended' }, a.authToken);
      assert.equal(plain.status, 200);
      assert.match(plain.text, /<Response><Hangup\/><\/Response>/);
      const transfer = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: sid, HandoffData: JSON.stringify({ reason: 'transfer', target: '+15559990000' }) }, a.authToken);
      assert.match(transfer.text, /<Dial>\+15559990000<\/Dial>/);
      const junk = await postTwilio(s, '/twilio/relay-action', { AccountSid: a.accountSid, CallSid: sid, HandoffData: '{"reason":"transfer","target":"<Play>"}' }, a.authToken);
      assert.match(junk.text, /<Hangup\/>/);
    });
  });
}

for (const db of testDbs()) describe(`Twilio webhooks: DEFAULT_GREETING set empty (${db})`, () => {
  let s: TestServer;
  before(async () => { s = await startTestServer(db, { config: (c) => { c.defaultGreeting = ''; } }); });
  after(async () => { await s.close(); });

  test('an agent without a greeting answers with none, and its own greeting still wins', async () => {
    const silent = await twilioAccount(s, { agent: { greeting: '' } });
    const call = (acct: TwilioAccount) => postTwilio(s, '/twilio/voice', { AccountSid: acct.accountSid, CallSid: newCallSid(), From: '+15550002222', To: acct.number, CallStatus: 'ringing', Direction: 'inbound' }, acct.authToken);
    const r = await call(silent);
    assert.equal(r.status, 200, r.text);
    assert.equal(twimlAttrs(r.text, 'ConversationRelay')!.welcomeGreeting, undefined);
    const own = await twilioAccount(s);
    assert.equal(twimlAttrs((await call(own)).text, 'ConversationRelay')!.welcomeGreeting, 'Hello, this is Ava.');
  });
});

describe('DEFAULT_GREETING', () => {
  test('unset gives a greeting, set empty gives none, long text is cut to 2000 characters', async () => {
    const { loadConfig } = await import('../../src/config.js');
    assert.ok(loadConfig({}).defaultGreeting.length > 0);
    assert.equal(loadConfig({ DEFAULT_GREETING: '' }).defaultGreeting, '');
    assert.equal(loadConfig({ DEFAULT_GREETING: '  Welcome to Acme.  ' }).defaultGreeting, 'Welcome to Acme.');
    assert.equal(loadConfig({ DEFAULT_GREETING: 'x'.repeat(3_000) }).defaultGreeting.length, 2_000);
  });
});
