/**
 * SIP calls against real peers: SIPp callers and phones, Kamailio as the PBX a line registers
 * at. Each test rings through Dialtone and checks what the peers saw (SIPp exits non-zero on any
 * unexpected message), where the media went, and what the calls API recorded.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { startFakeLiveKit, type FakeLiveKit } from '../helpers/livekit-twirp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { livekitCalledUser } from '../../src/livekit/index.js';
import { decodeG711 } from '../../src/media/g711.js';
import { buildRtp, parseRtp } from '../../src/media/rtp.js';
import { digitPayloads } from '../../src/media/telephone-event.js';
import { answeringCallee, busyCallee, caller, ringingCallee, scenarioDir } from './call-scenarios.js';
import { createLine, fastSip } from './helpers.js';
import { Kamailio, exitOk, rtpSink, sipp, waitFor, type SippRun } from './peers.js';
import { sendUdpRequest } from './sip-client.js';

// Each test uses ports from BASE + its offset; SIP_CALLS_TEST_BASE moves them (run one test at a
// time in a port range of your own with --test-name-pattern).
const BASE = Number(process.env.SIP_CALLS_TEST_BASE ?? 15460);

describe('SIP calls through Dialtone (SIPp, Kamailio)', { concurrency: false }, () => {
  let ts: TestServer;
  let key: string;
  let sipPort: number;
  const files = scenarioDir();
  const started: SippRun[] = [];
  const run = (path: string, o: Parameters<typeof sipp>[1]) => {
    const r = sipp(path, o);
    started.push(r);
    return r;
  };

  before(async () => {
    ts = await startTestServer('sqlite', { sip: true, config: (c) => { fastSip(c); c.calls.linearRingTimeoutMs = 1500; } });
    key = (await ts.newTenant()).key;
    sipPort = ts.server.sipEdge!.sip.listening().udpPort;
  });

  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await ts?.close();
    files.remove();
  });

  async function person(addresses: Array<{ type: string; target: string }>, ringMethod = 'ringall') {
    const res = await ts.request('POST', '/v1.0/agents', {
      key, body: { username: `p${Date.now()}${Math.random().toString(16).slice(2, 6)}`, password: 'secret-pass', name: 'Pat', ring_method: ringMethod, addresses },
    });
    assert.equal(res.status, 200, res.text);
    const status = await ts.request('PUT', `/v1.0/agents/${res.body.id}/status`, { key, body: { status: 'available' } });
    assert.equal(status.status, 200, status.text);
    return res.body as { id: string; direct_hash: string };
  }

  async function lastCall(agentId: string) {
    return waitFor('the call to be recorded as ended', async () => {
      const h = await ts.request('GET', `/api/calls/history?agent_id=${agentId}`, { key });
      const c = h.body?.calls?.[0];
      return c && c.ended_at ? c : null;
    }, 15_000);
  }

  it('rings a person at every address at once: busy and unanswered legs lose, the answer gets the audio', async () => {
    const p = BASE;
    const sink = await rtpSink(p + 50);
    try {
      const agent = await person([
        { type: 'sip', target: `busy@127.0.0.1:${p + 1}` },
        { type: 'sip', target: `late@127.0.0.1:${p + 2}` },
        { type: 'sip', target: `never@127.0.0.1:${p + 3}` },
      ]);
      const busy = run(files.write('busy.xml', busyCallee()), { port: p + 1, mediaPort: p + 20 });
      const late = run(files.write('late.xml', answeringCallee({ answerAfterMs: 800, rtpPort: p + 50 })), { port: p + 2, mediaPort: p + 24 });
      const never = run(files.write('never.xml', ringingCallee()), { port: p + 3, mediaPort: p + 28 });
      await new Promise((r) => setTimeout(r, 300)); // let the phones bind
      const call = run(files.write('caller.xml', caller({ hangUpAfterMs: 2500 })), {
        port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.direct_hash}`,
      });
      const busyDuring = await waitFor('the agent to show busy', async () => {
        const a = await ts.request('GET', `/v1.0/agents/${agent.id}`, { key });
        return a.body.status === 'busy' ? a.body : null;
      }, 10_000, 50);
      assert.equal(busyDuring.status, 'busy');
      await Promise.all([exitOk(call, 'caller'), exitOk(busy, 'busy phone'), exitOk(late, 'answering phone'), exitOk(never, 'ringing phone')]);
      assert.ok(sink.packets() >= 25, `the answering phone got ${sink.packets()} RTP packets`);
      assert.deepEqual([...sink.payloadTypes], [8], 'PCMA passes through untouched');

      const c = await lastCall(agent.id);
      assert.equal(c.status, 'completed');
      assert.equal(c.direction, 'inbound');
      assert.equal(c.handler, 'sip');
      assert.equal(c.sip_status, 200);
      assert.equal(c.end_reason, 'caller hung up');
      assert.ok(c.duration_seconds >= 2 && c.duration_seconds <= 4, `duration ${c.duration_seconds}`);
      const after = await ts.request('GET', `/v1.0/agents/${agent.id}`, { key });
      assert.equal(after.body.status, 'available', 'the agent is available again after the call');
    } finally {
      sink.socket.close();
    }
  });

  it('rings linearly: the first address times out, the second answers and hangs up', async () => {
    const p = BASE + 100;
    const sink = await rtpSink(p + 50);
    try {
      const agent = await person([
        { type: 'sip', target: `first@127.0.0.1:${p + 1}` },
        { type: 'sip', target: `second@127.0.0.1:${p + 2}` },
      ], 'linear');
      const first = run(files.write('first.xml', ringingCallee()), { port: p + 1, mediaPort: p + 20 });
      const second = run(files.write('second.xml', answeringCallee({ rtpPort: p + 50, hangUpAfterMs: 1500 })), { port: p + 2, mediaPort: p + 24 });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      const call = run(files.write('caller2.xml', caller()), {
        port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.direct_hash}`,
      });
      await Promise.all([exitOk(call, 'caller'), exitOk(first, 'first phone'), exitOk(second, 'second phone')]);
      assert.ok(Date.now() - t0 >= 1500, 'the first phone rang for the whole per-leg timeout');
      const c = await lastCall(agent.id);
      assert.equal(c.status, 'completed');
      assert.equal(c.end_reason, 'callee hung up');
      assert.ok(sink.packets() > 0, 'audio reached the second phone');
    } finally {
      sink.socket.close();
    }
  });

  it('transfers on a supervisor\'s word: REFER to the caller first, and when it declines, a bridge through the trunk', async () => {
    const p = BASE + 900;
    const tenant = await ts.newTenant();
    const trunk = await ts.request('POST', '/sip/create-outbound-trunk', {
      key: tenant.key, body: { trunk_name: 'carrier', trunk_address: `127.0.0.1:${p + 2}`, trunk_numbers: ['+15550199111'], trunk_auth_username: 'u', trunk_auth_password: 'p', trunk_type: 'twilio' },
    });
    assert.equal(trunk.status, 200, trunk.text);
    const made = await ts.request('POST', '/v1.0/agents', {
      key: tenant.key, body: { username: 'xfer-person', password: 'secret-pass', name: 'Xavi', addresses: [{ type: 'sip', target: `xavi@127.0.0.1:${p + 1}` }] },
    });
    await ts.request('PUT', `/v1.0/agents/${made.body.id}/status`, { key: tenant.key, body: { status: 'available' } });
    const phone = run(files.write('xfer-phone.xml', answeringCallee({ rtpPort: p + 50 })), { port: p + 1, mediaPort: p + 20 });
    const target = run(files.write('xfer-target.xml', answeringCallee({ rtpPort: p + 51, requireHeaders: { To: 'sip:\\+15550199000@' } })), { port: p + 2, mediaPort: p + 24 });
    await new Promise((r) => setTimeout(r, 300));
    const call = run(files.write('xfer-caller.xml', caller({ refuseRefer: true, expectReinvite: true, hangUpAfterMs: 500 })), {
      port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${made.body.direct_hash}`,
    });
    const live = await waitFor('the call to be live', async () => {
      const r = await ts.request('GET', '/api/calls/active', { key: tenant.key });
      return (r.body as Array<{ call_status: string; call_sid: string }>).find((c) => c.call_status === 'in-progress');
    }, 10_000, 50);
    const res = await ts.request('POST', '/api/override/transfer', { key: tenant.key, body: { call_sid: live.call_sid, target: '+15550199000' } });
    assert.equal(res.status, 200, res.text);
    await Promise.all([exitOk(call, 'caller (declines REFER, then moved)'), exitOk(phone, 'first phone (gets BYE)'), exitOk(target, 'transfer target')]);
    const c = await waitFor('the call to end', async () => {
      const r = await ts.request('GET', `/api/calls/${live.call_sid}`, { key: tenant.key });
      return r.body?.ended_at ? r.body : null;
    });
    assert.equal(c.status, 'completed');
    assert.equal(c.end_reason, 'caller hung up');
  });

  it('carries a hold re-INVITE from the caller to the phone and its answer back', async () => {
    const p = BASE + 800;
    const agent = await person([{ type: 'sip', target: `hold@127.0.0.1:${p + 1}` }]);
    const phone = run(files.write('hold-phone.xml', answeringCallee({ rtpPort: p + 50, expectHold: true })), { port: p + 1, mediaPort: p + 20 });
    await new Promise((r) => setTimeout(r, 300));
    const call = run(files.write('hold-caller.xml', caller({ holdAfterMs: 500, hangUpAfterMs: 300 })), {
      port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.direct_hash}`,
    });
    await Promise.all([exitOk(call, 'caller putting the call on hold'), exitOk(phone, 'phone held')]);
    assert.equal((await lastCall(agent.id)).status, 'completed');
  });

  it('does not ring an agent who is not available', async () => {
    const p = BASE + 200;
    const agent = await person([{ type: 'sip', target: `away@127.0.0.1:${p + 1}` }]);
    await ts.request('PUT', `/v1.0/agents/${agent.id}/status`, { key, body: { status: 'away' } });
    const replies = await sendUdpRequest(sipPort, 'INVITE', `sip:direct.${agent.direct_hash}@127.0.0.1:${sipPort}`, { sdp: true });
    const final = replies.at(-1)!;
    assert.equal(final.status, 480);
    assert.match(final.text, /^Reason: SIP;cause=480;text="agent .* is away, not available"/m);
    const c = await lastCall(agent.id);
    assert.equal(c.status, 'busy');
  });

  it('stops ringing when the caller cancels: the phone gets CANCEL, the record says canceled', async () => {
    const p = BASE + 300;
    const agent = await person([{ type: 'sip', target: `ring@127.0.0.1:${p + 1}` }]);
    const phone = run(files.write('ring.xml', ringingCallee()), { port: p + 1, mediaPort: p + 20 });
    await new Promise((r) => setTimeout(r, 300));
    const call = run(files.write('cancel.xml', caller({ cancelAfterMs: 700 })), {
      port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.direct_hash}`,
    });
    await Promise.all([exitOk(call, 'cancelling caller'), exitOk(phone, 'ringing phone')]);
    const c = await lastCall(agent.id);
    assert.equal(c.status, 'canceled');
    assert.equal(c.sip_status, 487);
  });

  it('refuses what it cannot route or parse, with a clear status, and stays up', async () => {
    const uri = `sip:nobody@127.0.0.1:${sipPort}`;
    assert.equal((await sendUdpRequest(sipPort, 'INVITE', uri, { sdp: true })).at(-1)!.status, 404);
    assert.equal((await sendUdpRequest(sipPort, 'INVITE', `sip:direct.000000000000@127.0.0.1:${sipPort}`, { sdp: true })).at(-1)!.status, 404);
    assert.equal((await sendUdpRequest(sipPort, 'INVITE', uri, { sdp: true, headers: { 'Max-Forwards': '0' } })).at(-1)!.status, 483);
    assert.equal((await sendUdpRequest(sipPort, 'INVITE', uri, { sdp: true, noContact: true })).at(-1)!.status, 400);
    const bad = await sendUdpRequest(sipPort, 'INVITE', uri, { body: 'v=0\r\nthis is not sdp\r\n', contentType: 'application/sdp' });
    assert.equal(bad.at(-1)!.status, 400);
    assert.match(bad.at(-1)!.text, /Malformed SDP/);
    assert.equal((await sendUdpRequest(sipPort, 'INVITE', uri)).at(-1)!.status, 488, 'no offer');
    const options = await sendUdpRequest(sipPort, 'OPTIONS', uri);
    assert.equal(options.at(-1)!.status, 200, 'still answering');
  });

  it('takes calls to a tenant number only from its trunks: an unknown source is challenged (407), no call, no outbound leg', async () => {
    const p = BASE + 600;
    const trunkSocket = createSocket('udp4');
    let trunkGot = 0;
    trunkSocket.on('message', () => { trunkGot++; });
    await new Promise<void>((r) => trunkSocket.bind(p + 9, '127.0.0.1', r));
    try {
      const trunk = await ts.request('POST', '/sip/create-outbound-trunk', {
        key, body: { trunk_name: 'carrier', trunk_address: `127.0.0.1:${p + 9}`, trunk_numbers: ['+15550177000'], trunk_auth_username: 'u', trunk_auth_password: 'p', trunk_type: 'twilio' },
      });
      assert.equal(trunk.status, 200, trunk.text);
      // A person reachable only by a phone number: ringing them means a call through the trunk.
      const agent = await person([{ type: 'tel', target: '+15550177999' }]);
      const scope = { tenantId: (await ts.server.services.agents.findByDirectHash(agent.direct_hash))!.tenantId };
      await ts.server.services.numbers.create(scope, { e164: '+15550177001', agentId: agent.id });

      const stranger = await sendUdpRequest(sipPort, 'INVITE', `sip:+15550177001@127.0.0.1:${sipPort}`, { sdp: true, bindAddress: '127.0.0.2' });
      // Without credentials of one of the tenant's trunks it gets a challenge, never a handler.
      assert.equal(stranger.at(-1)!.status, 407);
      assert.match(stranger.at(-1)!.text, /^Proxy-Authenticate: Digest realm="sip\.localhost", nonce="[^"]+", algorithm=MD5, qop="auth"\r?$/m);
      assert.match(stranger.at(-1)!.text, /^Reason: .*credentials of one of this number's trunks/m);
      // The direct URI is open to anyone, but a stranger's call never rings a tel address through the trunk.
      const direct = await sendUdpRequest(sipPort, 'INVITE', `sip:direct.${agent.direct_hash}@127.0.0.1:${sipPort}`, { sdp: true, bindAddress: '127.0.0.2' });
      assert.equal(direct.at(-1)!.status, 480);
      assert.match(direct.at(-1)!.text, /no address that can be rung/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(trunkGot, 0, 'nothing was sent to the trunk');
      const h = await ts.request('GET', `/api/calls/history?agent_id=${agent.id}`, { key });
      assert.equal(h.body.calls.filter((c: { status: string }) => c.status !== 'failed').length, 0);

      // The trunk's own caller id belongs to the tenant too, but has no agent.
      const callerId = `sip:+15550177000@127.0.0.1:${sipPort}`;
      assert.equal((await sendUdpRequest(sipPort, 'INVITE', callerId, { sdp: true, bindAddress: '127.0.0.2' })).at(-1)!.status, 407);
      const own = await sendUdpRequest(sipPort, 'INVITE', callerId, { sdp: true });
      assert.equal(own.at(-1)!.status, 480);
      assert.match(own.at(-1)!.text, /no agent answers \+15550177000/);
      // From the trunk's own address the number routes to its agent (who is away, so 480 names them).
      await ts.request('PUT', `/v1.0/agents/${agent.id}/status`, { key, body: { status: 'away' } });
      const carrier = await sendUdpRequest(sipPort, 'INVITE', `sip:+15550177001@127.0.0.1:${sipPort}`, { sdp: true });
      assert.equal(carrier.at(-1)!.status, 480);
      assert.match(carrier.at(-1)!.text, new RegExp(`agent ${agent.id} is away`));
    } finally {
      trunkSocket.close();
    }
  });

  it('lets a supervisor steer a live SIP call: text is refused, DTMF goes out as INFO, end hangs up both legs', async () => {
    const p = BASE + 700;
    const sink = await rtpSink(p + 50);
    try {
      const agent = await person([{ type: 'sip', target: `desk@127.0.0.1:${p + 1}` }]);
      const phone = run(files.write('sup-phone.xml', answeringCallee({ rtpPort: p + 50 })), { port: p + 1, mediaPort: p + 20 });
      await new Promise((r) => setTimeout(r, 300));
      const call = run(files.write('sup-caller.xml', caller({ expectDtmf: '5' })), {
        port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.direct_hash}`,
      });
      const live = await waitFor('the call to be live', async () => {
        const r = await ts.request('GET', '/api/calls/active', { key });
        return (r.body as Array<{ agent_id: string; call_status: string; call_sid: string }>)
          .find((c) => c.agent_id === agent.id && c.call_status === 'in-progress');
      }, 10_000, 50);
      const sid = live.call_sid as string;
      const text = await ts.request('POST', '/api/override/text', { key, body: { call_sid: sid, text: 'hello' } });
      assert.equal(text.status, 409, text.text);
      assert.match(text.body.message, /no AI voice/);
      const dtmf = await ts.request('POST', '/api/override/dtmf', { key, body: { call_sid: sid, digit: '5' } });
      assert.equal(dtmf.status, 200, dtmf.text);
      const end = await ts.request('POST', '/api/override/end', { key, body: { call_sid: sid } });
      assert.equal(end.status, 200, end.text);
      await Promise.all([exitOk(call, 'caller (gets INFO, then BYE)'), exitOk(phone, 'phone (gets BYE)')]);
      const c = await lastCall(agent.id);
      assert.equal(c.status, 'completed');
      assert.equal(c.end_reason, 'ended by supervisor');
      const gone = await ts.request('POST', '/api/override/end', { key, body: { call_sid: sid } });
      assert.equal(gone.status, 404, 'an ended call takes no more controls');
    } finally {
      sink.socket.close();
    }
  });

  describe('a line registered at Kamailio', () => {
    let kam: Kamailio;
    before(async () => {
      kam = new Kamailio({ port: BASE + 400, users: { '2001': 'line-pass' }, calls: true });
      await kam.start();
    });
    after(async () => { await kam?.destroy(); });

    it('takes a call through the PBX and rings the person listening on it', async () => {
      const p = BASE + 410;
      const sink = await rtpSink(p + 50);
      try {
        const line = await createLine(ts, key, { registrar: `sip:127.0.0.1:${BASE + 400}`, username: '2001', password: 'line-pass', handler: 'sip' });
        await line.activate();
        await line.waitFor('registered', (r) => r.state === 'registered');
        const agent = await person([{ type: 'sip', target: `desk@127.0.0.1:${p + 1}` }]);
        const listen = await ts.request('POST', `/agents/${agent.id}/listen`, { key, body: { id: line.id } });
        assert.equal(listen.status, 200, listen.text);
        const phone = run(files.write('desk.xml', answeringCallee({ rtpPort: p + 50 })), { port: p + 1, mediaPort: p + 20 });
        await new Promise((r) => setTimeout(r, 300));
        const call = run(files.write('pbx-caller.xml', caller({ hangUpAfterMs: 1500 })), {
          port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${BASE + 400}`, service: '2001',
        });
        await Promise.all([exitOk(call, 'caller via Kamailio'), exitOk(phone, 'desk phone')]);
        assert.ok(sink.packets() > 0, 'audio reached the desk phone');
        const c = await lastCall(agent.id);
        assert.equal(c.status, 'completed');
        assert.equal(c.line_id, line.id);
        await line.disable();
        await line.waitFor('disabled', (r) => r.status === 'disabled');
      } finally {
        sink.socket.close();
      }
    });
  });

  describe('the livekit handler, with a line at Kamailio', () => {
    let kam: Kamailio;
    let fake: FakeLiveKit;
    let lk: TestServer;
    const p = BASE + 500;
    before(async () => {
      fake = await startFakeLiveKit();
      kam = new Kamailio({ port: p, users: { '3001': 'lk-line-pass' }, calls: true });
      await kam.start();
      lk = await startTestServer('sqlite', {
        sip: true,
        config: (c) => {
          fastSip(c);
          c.livekit = { url: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, sipUri: `sip:127.0.0.1:${p + 1}` };
        },
      });
    });
    after(async () => {
      await lk?.close();
      await kam?.destroy();
      await fake?.stop();
    });

    it('forwards the call to LiveKit SIP: its dispatch rule matches, the 407 is answered, the X-headers and the audio arrive', async () => {
      const sink = await rtpSink(p + 50);
      try {
        const key2 = (await lk.newTenant()).key;
        const agentRes = await lk.request('POST', '/api/agents', { key: key2, body: { name: 'Front desk AI', type: 'inbound', system_prompt: 'Be brief.' } });
        assert.ok(agentRes.status === 200 || agentRes.status === 201, agentRes.text);
        const agentId = agentRes.body.id ?? agentRes.body.agent_id;
        const line = await createLine(lk, key2, { registrar: `sip:127.0.0.1:${p}`, username: '3001', password: 'lk-line-pass' });
        assert.equal((await lk.request('POST', `/agents/${agentId}/listen`, { key: key2, body: { id: line.id } })).status, 200);
        await line.activate();
        await line.waitFor('registered', (r) => r.state === 'registered');
        const trunk = await waitFor('the LiveKit inbound trunk', () => [...fake.trunks.values()][0], 10_000);
        const rule = await waitFor('the agent\'s dispatch rule', () => fake.matchRule(trunk.sipTrunkId, livekitCalledUser(agentId)), 10_000);
        assert.ok(rule.name.endsWith(agentId));

        const livekitSip = run(files.write('livekit.xml', answeringCallee({
          rtpPort: p + 50,
          challenge: {
            username: trunk.authUsername, password: trunk.authPassword, realm: 'livekit',
            uri: `sip:${livekitCalledUser(agentId)}@127.0.0.1:${p + 1}`,
          },
          requireHeaders: {
            'X-Dialtone-Agent-Id': `^ *${agentId}$`,
            'X-Dialtone-Line-Id': `^ *${line.id}$`,
            'X-Dialtone-Tenant-Id': '^ *[0-9a-f-]{8,}$',
            'X-Dialtone-Call-Id': '^ *CA[0-9a-f]{32}$',
            To: `sip:${livekitCalledUser(agentId)}@`,
          },
        })), { port: p + 1, mediaPort: p + 20 });
        await new Promise((r) => setTimeout(r, 300));
        const call = run(files.write('lk-caller.xml', caller({ hangUpAfterMs: 1500 })), {
          port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${p}`, service: '3001',
        });
        await Promise.all([exitOk(call, 'caller via Kamailio'), exitOk(livekitSip, 'LiveKit SIP stand-in')]);
        assert.ok(sink.packets() >= 25, `LiveKit's side got ${sink.packets()} RTP packets`);
        const c = await waitFor('the call record', async () => {
          const h = await lk.request('GET', `/api/calls/history?agent_id=${agentId}`, { key: key2 });
          const x = h.body?.calls?.[0];
          return x?.ended_at ? x : null;
        });
        assert.equal(c.handler, 'livekit');
        assert.equal(c.status, 'completed');
        assert.equal(c.line_id, line.id);
        await line.disable();
      } finally {
        sink.socket.close();
      }
    });

    it('carries out a transfer LiveKit asks for: dials the target through the trunk, moves the caller, reports by NOTIFY', async () => {
      const q = p + 100;
      const key3 = (await lk.newTenant()).key;
      const trunk = await lk.request('POST', '/sip/create-outbound-trunk', {
        key: key3, body: { trunk_name: 'carrier', trunk_address: `127.0.0.1:${q + 2}`, trunk_numbers: ['+15550188111'], trunk_auth_username: 'u', trunk_auth_password: 'p', trunk_type: 'twilio' },
      });
      assert.equal(trunk.status, 200, trunk.text);
      const made = await lk.request('POST', '/api/agents', { key: key3, body: { name: 'Transferring AI', type: 'inbound', system_prompt: 'Transfer.' } });
      const agentId = made.body.id ?? made.body.agent_id;
      const hash = (await lk.server.services.agents.list(null)).find((a) => a.id === agentId)!.directHash!;
      const lkTrunk = await waitFor('the LiveKit inbound trunk', () => [...fake.trunks.values()][0], 10_000);
      const livekitSip = run(files.write('lk-refer.xml', answeringCallee({
        rtpPort: q + 50, referTo: 'sip:+15550188000@127.0.0.1',
        challenge: { username: lkTrunk.authUsername, password: lkTrunk.authPassword, realm: 'livekit', uri: `sip:${livekitCalledUser(agentId)}@127.0.0.1:${p + 1}` },
      })), { port: p + 1, mediaPort: q + 20 });
      const target = run(files.write('transfer-target.xml', answeringCallee({ rtpPort: q + 51, requireHeaders: { To: 'sip:\\+15550188000@' } })), { port: q + 2, mediaPort: q + 24 });
      await new Promise((r) => setTimeout(r, 300));
      const call = run(files.write('transferred-caller.xml', caller({ expectReinvite: true, hangUpAfterMs: 800 })), {
        port: q + 4, mediaPort: q + 32, remote: `127.0.0.1:${lk.server.sipEdge!.sip.listening().udpPort}`, service: `direct.${hash}`,
      });
      await Promise.all([exitOk(call, 'caller (moved by re-INVITE)'), exitOk(livekitSip, 'LiveKit stand-in (REFER)'), exitOk(target, 'transfer target')]);
      const c = await waitFor('the call record', async () => {
        const h = await lk.request('GET', `/api/calls/history?agent_id=${agentId}`, { key: key3 });
        const x = h.body?.calls?.[0];
        return x?.ended_at ? x : null;
      });
      assert.equal(c.status, 'completed');
      assert.equal(c.end_reason, 'caller hung up');
    });
  });

  it('ends live calls on both legs when the instance shuts down, and records why', async () => {
    const p = BASE + 850;
    const own = await startTestServer('sqlite', { sip: true, config: fastSip });
    const ownKey = (await own.newTenant()).key;
    const res = await own.request('POST', '/v1.0/agents', {
      key: ownKey, body: { username: 'shutdown-person', password: 'secret-pass', name: 'Sam', addresses: [{ type: 'sip', target: `sam@127.0.0.1:${p + 1}` }] },
    });
    await own.request('PUT', `/v1.0/agents/${res.body.id}/status`, { key: ownKey, body: { status: 'available' } });
    const ended: string[] = [];
    own.server.bus.subscribe((e) => { if (e.type === 'call.ended') ended.push(String(e.data.end_reason)); });
    const phone = run(files.write('shutdown-phone.xml', answeringCallee({ rtpPort: p + 50 })), { port: p + 1, mediaPort: p + 20 });
    await new Promise((r) => setTimeout(r, 300));
    const call = run(files.write('shutdown-caller.xml', caller()), {
      port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${own.server.sipEdge!.sip.listening().udpPort}`, service: `direct.${res.body.direct_hash}`,
    });
    await waitFor('the call to be up', () => (own.server.sipCalls?.liveCount ?? 0) === 1, 10_000, 50);
    await own.close();
    await Promise.all([exitOk(call, 'caller (gets BYE)'), exitOk(phone, 'phone (gets BYE)')]);
    assert.deepEqual(ended, ['instance shutting down']);
  });

  it('answers a dialtone agent\'s call itself: spoken greeting over RTP, RFC 4733 digits in the transcript, a media timeout hangs up', async () => {
    const p = BASE + 870;
    const own = await startTestServer('sqlite', { sip: true, config: (c) => { fastSip(c); c.media.timeoutMs = 2500; c.media.rtpPortMin = 43000; c.media.rtpPortMax = 43100; } });
    try {
      const ownKey = (await own.newTenant()).key;
      const made = await own.request('POST', '/api/agents', { key: ownKey, body: { name: 'Voice AI', type: 'inbound', system_prompt: 'Help.', greeting: 'Hello, thanks for calling Acme.' } });
      const agentId = made.body.id ?? made.body.agent_id;
      const agent = (await own.server.services.agents.list(null)).find((a) => a.id === agentId)!;
      await own.server.services.agents.update({ tenantId: agent.tenantId }, agentId, { handler: 'dialtone' });

      // The caller's media goes to this socket: it measures what the agent says and sends a digit.
      const media = createSocket('udp4');
      const samples: number[] = [];
      let packets = 0;
      let from: { address: string; port: number } | null = null;
      media.on('message', (m, rinfo) => {
        const rtp = parseRtp(m);
        if (!rtp || rtp.payloadType !== 8) return;
        packets++;
        from = { address: rinfo.address, port: rinfo.port };
        for (const v of decodeG711('PCMA', rtp.payload)) samples.push(v);
      });
      await new Promise<void>((r) => media.bind(p + 50, '127.0.0.1', r));
      const call = run(files.write('voice-caller.xml', caller({ sdpMediaPort: p + 50, playAudio: false })), {
        port: p + 4, mediaPort: p + 32, remote: `127.0.0.1:${own.server.sipEdge!.sip.listening().udpPort}`, service: `direct.${agent.directHash}`,
      });
      await waitFor('the agent\'s audio', () => packets > 25, 10_000, 50);
      let seq = 1;
      for (const d of digitPayloads('5', 100)) {
        media.send(buildRtp({ payloadType: 101, marker: d.marker, sequence: seq++, timestamp: 8000, ssrc: 42, payload: d.payload }), from!.port, from!.address);
      }
      await exitOk(call, 'caller (gets BYE at the media timeout)');
      media.close();

      const frames = Array.from({ length: Math.floor(samples.length / 160) }, (_, i) => {
        const f = samples.slice(i * 160, i * 160 + 160);
        return Math.sqrt(f.reduce((a, v) => a + v * v, 0) / 160);
      });
      const speech = frames.filter((r) => r > 300).length * 0.02;
      assert.ok(speech >= 1, `${speech.toFixed(2)} s of speech reached the caller`);
      assert.ok(packets >= 100, `${packets} RTP packets (20 ms each) before the timeout`);
      const c = await waitFor('the call record', async () => {
        const r = await own.request('GET', `/api/calls/history?agent_id=${agentId}`, { key: ownKey });
        const x = r.body?.calls?.[0];
        return x?.ended_at ? x : null;
      });
      assert.equal(c.handler, 'dialtone');
      assert.equal(c.status, 'completed');
      assert.match(c.end_reason, /^no media from the caller for 3 s$/);
      const detail = await own.request('GET', `/api/calls/${c.call_sid}`, { key: ownKey });
      const turns = detail.body.transcript.map((t: { role: string; text: string }) => `${t.role}: ${t.text}`);
      assert.ok(turns.some((t: string) => t.startsWith('agent: Hello, thanks for calling Acme.')), turns.join(' | '));
      assert.ok(turns.includes('caller: pressed 5'), turns.join(' | '));
    } finally {
      await own.close();
    }
  });
});
