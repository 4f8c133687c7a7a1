import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { RelayClient, newCallSid, postTwilio, twilioAccount, twimlAttrs, type TwilioAccount } from '../helpers/twilio.js';

for (const db of testDbs()) {
  describe(`replayed Twilio requests (${db})`, () => {
    let s: TestServer;
    let a: TwilioAccount;
    before(async () => {
      s = await startTestServer(db);
      a = await twilioAccount(s);
    });
    after(async () => { await s.close(); });

    const calls = () => s.server.services.calls;
    /** Answers a new inbound call; returns its sid and the relay URL from the TwiML. */
    const ring = async () => {
      const sid = newCallSid();
      const r = await postTwilio(s, '/twilio/voice', { AccountSid: a.accountSid, CallSid: sid, From: '+15550003333', To: a.number, CallStatus: 'ringing' }, a.authToken);
      assert.equal(r.status, 200, r.text);
      return { sid, relayUrl: twimlAttrs(r.text, 'ConversationRelay')!.url };
    };
    const status = (sid: string, fields: Record<string, string>) =>
      postTwilio(s, '/twilio/status', { AccountSid: a.accountSid, CallSid: sid, ...fields }, a.authToken);

    test('a replayed ringing callback after in-progress is refused and the call stays in progress', async () => {
      const { sid } = await ring();
      const ringing = { CallStatus: 'ringing', SequenceNumber: '0', Timestamp: 'Thu, 03 Dec 2026 10:00:00 +0000' };
      assert.equal((await status(sid, ringing)).status, 200);
      assert.equal((await status(sid, { CallStatus: 'in-progress', SequenceNumber: '1', Timestamp: 'Thu, 03 Dec 2026 10:00:05 +0000' })).status, 200);
      const replay = await status(sid, ringing);
      assert.equal(replay.status, 409);
      assert.match(replay.text, /already applied/);
      const call = await calls().findBySid(sid);
      assert.equal(call?.status, 'in-progress');
      assert.notEqual(call?.answeredAt, null);
    });

    test('an earlier status arriving late, even unnumbered, never moves the call back', async () => {
      const { sid } = await ring();
      assert.equal((await status(sid, { CallStatus: 'in-progress' })).status, 200);
      assert.equal((await status(sid, { CallStatus: 'ringing' })).status, 200);
      assert.equal((await status(sid, { CallStatus: 'queued' })).status, 200);
      assert.equal((await calls().findBySid(sid))?.status, 'in-progress');
      // Moving forward still works.
      assert.equal((await status(sid, { CallStatus: 'completed', CallDuration: '12' })).status, 200);
      assert.equal((await calls().findBySid(sid))?.status, 'completed');
    });

    test('a replayed final callback does not count the call twice or change what it cost', async () => {
      const { sid } = await ring();
      const before = await s.server.services.agents.get({ tenantId: a.tenantId }, a.agentId);
      const done = { CallStatus: 'completed', CallDuration: '60', Price: '-0.0100', SequenceNumber: '3' };
      assert.equal((await status(sid, done)).status, 200);
      assert.equal((await status(sid, done)).status, 409);
      // An older capture with another duration is refused too, so the agent's minutes stay.
      assert.equal((await status(sid, { CallStatus: 'completed', CallDuration: '600', SequenceNumber: '2' })).status, 409);
      const call = await calls().findBySid(sid);
      assert.equal(call?.durationSeconds, 60);
      assert.equal(call?.cost, 0.01);
      const after = await s.server.services.agents.get({ tenantId: a.tenantId }, a.agentId);
      assert.equal(after.totalCalls, before.totalCalls + 1);
      assert.ok(Math.abs(after.totalMinutes - before.totalMinutes - 1) < 1e-9);
    });

    test('a SequenceNumber that is not a non-negative integer is 400 and changes nothing', async () => {
      const { sid } = await ring();
      for (const seq of ['-1', 'one', '1.5', '9'.repeat(20)]) {
        const r = await status(sid, { CallStatus: 'in-progress', SequenceNumber: seq });
        assert.equal(r.status, 400, seq);
        assert.match(r.text, /SequenceNumber/);
      }
      assert.equal((await calls().findBySid(sid))?.status, 'ringing');
    });

    // A timeout: without the guard the replayed session stays open and the close would be awaited forever.
    test('a replayed relay handshake cannot open a second session for the call, nor end it', { timeout: 20_000 }, async () => {
      const { sid, relayUrl } = await ring();
      const first = await RelayClient.connect(relayUrl, a.authToken);
      first.setup(sid, { accountSid: a.accountSid, from: '+15550003333', to: a.number });
      first.prompt('Are you there?');
      const reply = await first.reply(0);
      assert.match(reply.text, /Are you there\?/);

      // The same signed handshake, replayed: it connects, but its setup is refused with 1008.
      const replay = await RelayClient.connect(relayUrl, a.authToken);
      replay.setup(sid, { accountSid: a.accountSid, from: '+15550003333', to: a.number });
      assert.equal((await replay.closed).code, 1008);
      assert.equal(replay.received.length, 0);
      const call = await calls().findBySid(sid);
      assert.equal(call?.status, 'in-progress');
      assert.equal(call?.endReason, null);

      // The first session still talks.
      first.prompt('Still there?');
      assert.match((await first.reply(reply.next)).text, /Still there\?/);
      await first.close();
      // Once it ended, a replay cannot reopen the call either.
      const late = await RelayClient.connect(relayUrl, a.authToken);
      late.setup(sid, { accountSid: a.accountSid });
      assert.equal((await late.closed).code, 1008);
    });
  });
}
