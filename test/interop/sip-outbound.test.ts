/**
 * Calls placed through a stored trunk: Kamailio plays the carrier (407 digest challenge, then it
 * relays to a SIPp phone), a SIPp UAS stands in for LiveKit SIP as the agent's side. The callee
 * gets a late offer; its offer reaches the agent, the agent's audio reaches the callee.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeLiveKit, type FakeLiveKit } from '../helpers/livekit-twirp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { livekitCalledUser } from '../../src/livekit/index.js';
import { answeringCallee, scenarioDir } from './call-scenarios.js';
import { fastSip } from './helpers.js';
import { Kamailio, rtpSink, sipp, waitFor, type SippRun } from './peers.js';

const BASE = 16600; // sip-calls.test.ts holds 15460–16320
const CALLEE = '+15550142000';

describe('outbound calls through a SIP trunk (Kamailio as the carrier)', { concurrency: false }, () => {
  let ts: TestServer;
  let fake: FakeLiveKit;
  let kam: Kamailio;
  let key: string;
  let agentId: string;
  let trunkId: string;
  const files = scenarioDir();
  const started: SippRun[] = [];

  before(async () => {
    fake = await startFakeLiveKit();
    kam = new Kamailio({ port: BASE, users: { trunkuser: 'trunk-secret' }, carrierTarget: `sip:127.0.0.1:${BASE + 1}` });
    await kam.start();
    ts = await startTestServer('sqlite', {
      sip: true,
      config: (c) => {
        fastSip(c);
        c.calls.trunkCps = 1;
        c.livekit = { url: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, sipUri: `sip:127.0.0.1:${BASE + 2}` };
      },
    });
    key = (await ts.newTenant()).key;
    const agent = await ts.request('POST', '/api/agents', { key, body: { name: 'Caller AI', type: 'outbound', system_prompt: 'Sell nothing.' } });
    agentId = agent.body.id ?? agent.body.agent_id;
    const trunk = await ts.request('POST', '/sip/create-outbound-trunk', {
      key,
      body: {
        trunk_name: 'carrier', trunk_address: `127.0.0.1:${BASE}`, trunk_numbers: ['+15550100999'],
        trunk_auth_username: 'trunkuser', trunk_auth_password: 'trunk-secret', trunk_type: 'twilio',
      },
    });
    assert.equal(trunk.status, 200, trunk.text);
    trunkId = trunk.body.data.trunk_id;
  });

  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await ts?.close();
    await kam?.destroy();
    await fake?.stop();
    files.remove();
  });

  const outbound = (body: Record<string, unknown>, k: string | null = key) => ts.request('POST', '/call/outbound', { key: k, body });

  it('INVITE, 407, authenticated INVITE, 200, ACK with the agent\'s answer, audio, BYE', async () => {
    const calleeMedia = await rtpSink(BASE + 50);
    try {
      const trunk = await waitFor('the LiveKit inbound trunk', () => [...fake.trunks.values()][0], 10_000);
      const callee = sipp(files.write('callee.xml', answeringCallee({ rtpPort: BASE + 50, lateOffer: true, answerAfterMs: 300, hangUpAfterMs: 2000 })),
        { port: BASE + 1, mediaPort: BASE + 20 });
      const agentSide = sipp(files.write('agent.xml', answeringCallee({
        rtpPort: BASE + 51, playAudio: true,
        challenge: { username: trunk.authUsername, password: trunk.authPassword, realm: 'livekit', uri: `sip:${livekitCalledUser(agentId)}@127.0.0.1:${BASE + 2}` },
        requireHeaders: { 'X-Dialtone-Agent-Id': `^ *${agentId}$`, 'X-Dialtone-Call-Id': '^ *CA[0-9a-f]{32}$' },
      })), { port: BASE + 2, mediaPort: BASE + 24 });
      started.push(callee, agentSide);
      await new Promise((r) => setTimeout(r, 300));

      const res = await outbound({ assistant_id: agentId, trunk_id: trunkId, to_number: CALLEE, call_service: 'twilio', metadata: { customer: 'Ada' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.success, true);
      const sid = res.body.data.call_sid as string;
      assert.match(sid, /^CA[0-9a-f]{32}$/);

      for (const [run, who] of [[callee, 'callee behind the carrier'], [agentSide, 'LiveKit SIP stand-in']] as const) {
        assert.equal(await run.done, 0, `${who} failed:\n${run.output().slice(-3000)}`);
      }
      assert.ok(calleeMedia.packets() >= 25, `the callee got ${calleeMedia.packets()} RTP packets from the agent's side`);
      const c = await waitFor('the call to end', async () => {
        const r = await ts.request('GET', `/api/calls/${sid}`, { key });
        return r.body?.ended_at ? r.body : null;
      });
      assert.equal(c.direction, 'outbound');
      assert.equal(c.status, 'completed');
      assert.equal(c.trunk_id, trunkId);
      assert.equal(c.handler, 'livekit');
      assert.equal(c.to_number, CALLEE);
      assert.equal(c.from_number, '+15550100999');
      assert.deepEqual(c.context, { customer: 'Ada' });
    } finally {
      calleeMedia.socket.close();
    }
  });

  it('a callee that does not exist at the carrier ends the call as failed with the SIP status', async () => {
    // Nobody listens behind the carrier now: Kamailio answers the relayed INVITE itself.
    const res = await outbound({ assistant_id: agentId, trunk_id: trunkId, to_number: '+15550142001', call_service: 'twilio' });
    assert.equal(res.status, 200, res.text);
    const c = await waitFor('the call to end', async () => {
      const r = await ts.request('GET', `/api/calls/${res.body.data.call_sid}`, { key });
      return r.body?.ended_at ? r.body : null;
    }, 15_000);
    assert.ok(['failed', 'no-answer'].includes(c.status), c.status);
    assert.ok(c.sip_status >= 400, `sip_status ${c.sip_status}`);
  });

  it('POST /api/agents/{id}/call goes through the trunk that holds the agent\'s number', async () => {
    const agent = await ts.request('POST', '/api/agents', { key, body: { name: 'Trunk caller', type: 'outbound', system_prompt: 'Hi.' } });
    const id = agent.body.id ?? agent.body.agent_id;
    const tenantId = (await ts.server.services.agents.list(null)).find((a) => a.id === id)!.tenantId;
    await ts.server.services.numbers.create({ tenantId }, { e164: '+15550100999', agentId: id });
    const res = await ts.request('POST', `/api/agents/${id}/call`, { key, body: { to_number: '+15550142002' } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.body.message, /SIP trunk/);
    const c = await waitFor('the call to end', async () => {
      const r = await ts.request('GET', `/api/calls/${res.body.call_sid}`, { key });
      return r.body?.ended_at ? r.body : null;
    }, 15_000);
    assert.equal(c.trunk_id, trunkId);
    assert.equal(c.direction, 'outbound');
    const bad = await ts.request('POST', `/api/agents/${id}/call`, { key, body: { to_number: 'not-a-number' } });
    assert.equal(bad.status, 400, bad.text);
  });

  it('holds the trunk to its calls-per-second limit', async () => {
    const closed = await ts.request('POST', '/sip/create-outbound-trunk', {
      key,
      body: {
        trunk_name: 'nowhere', trunk_address: `127.0.0.1:${BASE + 9}`, trunk_numbers: ['+15550100998'],
        trunk_auth_username: 'u', trunk_auth_password: 'p', trunk_type: 'twilio',
      },
    });
    const body = { assistant_id: agentId, trunk_id: closed.body.data.trunk_id, to_number: CALLEE, call_service: 'twilio' };
    const t0 = Date.now();
    const [a, b] = await Promise.all([outbound(body), outbound(body)]);
    const elapsed = Date.now() - t0;
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.ok(elapsed >= 900, `two calls on a 1 CPS trunk were started ${elapsed} ms apart`);
  });

  it('refuses bad requests in the trunk API\'s envelope and places no call', async () => {
    const good = { assistant_id: agentId, trunk_id: trunkId, to_number: CALLEE, call_service: 'twilio' };
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ ...good, to_number: '5550142000' }, 400, /to_number/],
      [{ ...good, to_number: '+1' }, 400, /to_number/],
      [{ ...good, call_service: 'exotel' }, 400, /call_service/],
      [{ ...good, call_service: 'plivo' }, 400, /call_service/],
      [{ ...good, trunk_id: 'ST_nope' }, 404, /trunk/],
      [{ ...good, assistant_id: 'no-such-agent' }, 404, /agent/],
      [{ trunk_id: trunkId, to_number: CALLEE, call_service: 'twilio' }, 400, /assistant_id/],
      [{ ...good, metadata: 'not an object' }, 400, /metadata/],
    ];
    const before = (await ts.request('GET', '/api/calls/history?limit=1000', { key })).body.total;
    for (const [body, status, message] of cases) {
      const r = await outbound(body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.success, false);
      assert.match(r.body.message, message);
      assert.equal(r.body.data, null);
    }
    const anon = await outbound(good, null);
    assert.equal(anon.status, 401);
    const after = (await ts.request('GET', '/api/calls/history?limit=1000', { key })).body.total;
    assert.equal(after, before, 'no call was recorded');
  });
});
