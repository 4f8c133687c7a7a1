/**
 * Calls to a tenant's number from an address none of its trunks or registrars resolve to: a SIPp
 * caller answers the 407 with the digest credentials of one of the tenant's trunks and reaches
 * the number's agent; wrong credentials, a forged or stale nonce, a replayed answer and no
 * credentials at all never reach a handler or a trunk.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { computeDigest, parseChallenge } from '../../src/sip/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { caller, scenarioDir } from './call-scenarios.js';
import { fastSip } from './helpers.js';
import { sipp, waitFor } from './peers.js';
import { sendUdpRequest, type RawResponse } from './sip-client.js';

const SIPP_PORT = 16720;
const SIPP_MEDIA = 43220;
const TRUNK_PORT = 16730;
const NUMBER = '+15550166001';
const PERSON_NUMBER = '+15550166002';
const NONCE_TTL_S = 1;

describe('digest authentication of INVITEs to a tenant number (SIPp)', () => {
  let ts: TestServer;
  let key: string;
  let sipPort: number;
  let agentId: string;
  let personId: string;
  let trunkGot = 0;
  const trunkSocket = createSocket('udp4');
  const files = scenarioDir();

  before(async () => {
    ts = await startTestServer('sqlite', {
      sip: true,
      config: (c) => {
        fastSip(c);
        c.sip.digestNonceTtlMs = NONCE_TTL_S * 1000;
        c.media.rtpPortMin = 43330; c.media.rtpPortMax = 43350;
      },
    });
    sipPort = ts.server.sipEdge!.sip.listening().udpPort;
    key = (await ts.newTenant()).key;
    trunkSocket.on('message', () => { trunkGot++; });
    await new Promise<void>((r) => trunkSocket.bind(TRUNK_PORT, '127.0.0.3', r));
    // The carrier sends from 127.0.0.1, which its trunk's address (127.0.0.3) does not name.
    const trunk = await ts.request('POST', '/sip/create-outbound-trunk', {
      key, body: { trunk_name: 'carrier', trunk_address: `127.0.0.3:${TRUNK_PORT}`, trunk_numbers: ['+15550166000'], trunk_auth_username: 'carrier1', trunk_auth_password: 'Secr3tPass', trunk_type: 'twilio' },
    });
    assert.equal(trunk.status, 200, trunk.text);

    const made = await ts.request('POST', '/api/agents', { key, body: { name: 'Voice AI', type: 'inbound', system_prompt: 'Help.', greeting: 'Hi.' } });
    agentId = made.body.id ?? made.body.agent_id;
    const agent = (await ts.server.services.agents.list(null)).find((a) => a.id === agentId)!;
    const scope = { tenantId: agent.tenantId };
    await ts.server.services.agents.update(scope, agentId, { handler: 'dialtone' });
    await ts.server.services.numbers.create(scope, { e164: NUMBER, agentId });
    // A person reachable only by a phone number: ringing them is a call through the trunk.
    const p = await ts.request('POST', '/v1.0/agents', {
      key, body: { username: `auth${Date.now()}`, password: 'secret-pass', name: 'Pat', addresses: [{ type: 'tel', target: '+15550166999' }] },
    });
    assert.equal(p.status, 200, p.text);
    personId = p.body.id;
    await ts.server.services.numbers.create(scope, { e164: PERSON_NUMBER, agentId: personId });
  });

  after(async () => {
    trunkSocket.close();
    await ts?.close();
    files.remove();
  });

  const uriOf = (number: string) => `sip:${number}@127.0.0.1:${sipPort}`;
  const invite = (number: string, credentials?: string) =>
    sendUdpRequest(sipPort, 'INVITE', uriOf(number), { sdp: true, ...(credentials ? { headers: { 'Proxy-Authorization': credentials } } : {}) });
  const answer = (challenge: RawResponse, number: string, password: string, username = 'carrier1') => {
    const header = /^Proxy-Authenticate: (.*?)\r?$/m.exec(challenge.text)?.[1];
    assert.ok(header, `no challenge in:\n${challenge.text}`);
    return computeDigest({ challenge: parseChallenge(header), username, password, method: 'INVITE', uri: uriOf(number) }).header;
  };
  const reasonOf = (r: RawResponse) => /^Reason: .*text="(.*)"/m.exec(r.text)?.[1];
  const historyOf = async (id: string) => (await ts.request('GET', `/api/calls/history?agent_id=${id}`, { key })).body.calls as Array<Record<string, unknown>>;

  it('a SIPp caller answering the 407 with a trunk\'s credentials reaches the number\'s agent, recorded as its call', async () => {
    const run = sipp(files.write('auth-caller.xml', caller({ auth: { username: 'carrier1', password: 'Secr3tPass' }, hangUpAfterMs: 1000, playAudio: false })), {
      port: SIPP_PORT, mediaPort: SIPP_MEDIA, remote: `127.0.0.1:${sipPort}`, service: NUMBER,
    });
    try {
      const code = await run.done;
      assert.equal(code, 0, `caller scenario failed:\n${run.output().slice(-3000)}`);
    } finally {
      await run.stop();
    }
    const calls = await waitFor('the call to be recorded as ended', async () => {
      const h = await historyOf(agentId);
      return h.length && h.every((c) => c.ended_at) ? h : null;
    });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.status, 'completed');
    assert.equal(calls[0]!.end_reason, 'caller hung up');
    assert.equal(calls[0]!.direction, 'inbound');
  });

  it('no credentials: 407 with a fresh nonce; wrong password, another trunk user, a forged nonce: 403; nothing reaches a handler or the trunk', async () => {
    const before = (await historyOf(personId)).length;
    const challenged = (await invite(PERSON_NUMBER)).at(-1)!;
    assert.equal(challenged.status, 407);
    assert.match(challenged.text, /^Proxy-Authenticate: Digest realm="sip\.localhost", nonce="[^"]+", algorithm=MD5, qop="auth"\r?$/m);
    const again = (await invite(PERSON_NUMBER)).at(-1)!;
    assert.notEqual(/nonce="([^"]+)"/.exec(again.text)?.[1], /nonce="([^"]+)"/.exec(challenged.text)?.[1], 'each challenge has its own nonce');

    const wrong = (await invite(PERSON_NUMBER, answer(challenged, PERSON_NUMBER, 'guess'))).at(-1)!;
    assert.equal(wrong.status, 403);
    assert.equal(reasonOf(wrong), 'wrong credentials for the trunks of this number');
    const stranger = (await invite(PERSON_NUMBER, answer(again, PERSON_NUMBER, 'Secr3tPass', 'someone'))).at(-1)!;
    assert.equal(stranger.status, 403);

    const good = answer(again, PERSON_NUMBER, 'Secr3tPass');
    const forged = good.replace(/nonce="([^"]+)"/, (_, n: string) => `nonce="${n.slice(0, -3)}AAA"`);
    const forgedReply = (await invite(PERSON_NUMBER, forged)).at(-1)!;
    assert.equal(forgedReply.status, 403);
    assert.equal(reasonOf(forgedReply), 'the nonce was not issued here');
    // Credentials computed for one number do not open another.
    const elsewhere = (await invite(NUMBER, good)).at(-1)!;
    assert.equal(elsewhere.status, 403);
    assert.equal(reasonOf(elsewhere), 'the credentials are for another address');
    const garbage = (await invite(PERSON_NUMBER, 'Digest username="carrier1"')).at(-1)!;
    assert.equal(garbage.status, 403);
    assert.equal(reasonOf(garbage), 'malformed Proxy-Authorization');

    await new Promise((r) => setTimeout(r, 300));
    assert.equal(trunkGot, 0, 'nothing was sent to the trunk');
    assert.equal((await historyOf(personId)).length, before, 'no refused attempt became a call');
  });

  it('the right answer is admitted once: routed past authentication (the person is away: 480), its replay refused; an expired nonce is re-challenged with stale=true', async () => {
    await ts.request('PUT', `/v1.0/agents/${personId}/status`, { key, body: { status: 'away' } });
    const challenged = (await invite(PERSON_NUMBER)).at(-1)!;
    const good = answer(challenged, PERSON_NUMBER, 'Secr3tPass');
    const admitted = (await invite(PERSON_NUMBER, good)).at(-1)!;
    assert.equal(admitted.status, 480);
    assert.match(reasonOf(admitted)!, new RegExp(`agent ${personId} is away`));
    const replay = (await invite(PERSON_NUMBER, good)).at(-1)!;
    assert.equal(replay.status, 403);
    assert.equal(reasonOf(replay), 'these credentials were used already');

    const old = (await invite(PERSON_NUMBER)).at(-1)!;
    await new Promise((r) => setTimeout(r, NONCE_TTL_S * 1000 + 300));
    const staleWrong = (await invite(PERSON_NUMBER, answer(old, PERSON_NUMBER, 'guess'))).at(-1)!;
    assert.equal(staleWrong.status, 403, 'a wrong answer gets no second chance by being late');
    const stale = (await invite(PERSON_NUMBER, answer(old, PERSON_NUMBER, 'Secr3tPass'))).at(-1)!;
    assert.equal(stale.status, 407);
    assert.match(stale.text, /^Proxy-Authenticate: Digest .*, stale=true\r?$/m);
    const renewed = (await invite(PERSON_NUMBER, answer(stale, PERSON_NUMBER, 'Secr3tPass'))).at(-1)!;
    assert.equal(renewed.status, 480);
    assert.equal(trunkGot, 0);
  });
});
