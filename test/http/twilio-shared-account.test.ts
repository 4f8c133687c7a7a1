import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { postTwilio, randomE164, ringAgent, twilioAccount, type TwilioAccount } from '../helpers/twilio.js';

/** An operator may run one Twilio account for several tenants: each call must land in its own tenant. */
async function sameAccountOtherTenant(s: TestServer, first: TwilioAccount): Promise<TwilioAccount> {
  const t = await s.newTenant();
  const scope = { tenantId: t.id };
  const svc = s.server.services;
  const cred = await svc.credentials.create(scope, { provider: 'twilio', label: 'shared', credentials: { account_sid: first.accountSid, auth_token: first.authToken } });
  const agent = await svc.agents.create(scope, { name: 'Bo', kind: 'inbound', deployStatus: 'active', greeting: 'Hi, Bo here.', voice: 'en-US-Neural2-D', language: 'en-US' } as never);
  const number = randomE164();
  await svc.numbers.create(scope, { e164: number, credentialsId: cred.id, agentId: agent.id });
  return { ...first, tenantId: t.id, key: t.key, credentialId: cred.id, agentId: agent.id, number };
}

for (const db of testDbs()) {
  describe(`one Twilio account shared by two tenants (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    test('calls to each tenant\'s number run in that tenant, and their callbacks find them', async () => {
      const a = await twilioAccount(s);
      const b = await sameAccountOtherTenant(s, a);
      for (const acct of [b, a]) {
        const { callSid, client } = await ringAgent(s, acct);
        assert.ok(s.server.runtime.sessions.get(callSid), 'the relay session is live');
        const call = await s.server.services.calls.findBySid(callSid);
        assert.equal(call?.tenantId, acct.tenantId);
        assert.equal(call?.agentId, acct.agentId);
        client.close();
        const status = await postTwilio(s, '/twilio/status', { AccountSid: acct.accountSid, CallSid: callSid, CallStatus: 'completed', CallDuration: '7' }, acct.authToken);
        assert.equal(status.status, 200);
        const history = await s.request('GET', '/api/calls/history', { key: acct.key });
        assert.deepEqual(history.body.calls.map((c: { call_sid: string }) => c.call_sid), [callSid]);
      }
    });
  });
}
