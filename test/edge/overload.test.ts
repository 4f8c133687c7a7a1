/**
 * Overload shedding at the SIP edge: past the event-loop delay, its CPU use or the in-flight setup bound, a
 * new INVITE gets 503 with Retry-After at once, before any routing or database work; the calls
 * already up keep working (their BYE is never shed). The loop's load is injected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OverloadGuard } from '../../src/edge/overload.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { caller, ringingCallee, scenarioDir } from '../interop/call-scenarios.js';
import { fastSip } from '../interop/helpers.js';
import { sipp, waitFor } from '../interop/peers.js';
import { sendUdpRequest } from '../interop/sip-client.js';

const SIPP_PORT = 16710;
const SIPP_MEDIA = 43210;

describe('OverloadGuard', () => {
  it('sheds while the loop lags past the bound, and admits again once it catches up', () => {
    let lag = 10;
    const guard = new OverloadGuard({ lagMs: 50, busyPercent: 0, maxSetups: 0, retryAfterS: 7 }, () => ({ lagMs: lag, busy: 1 }));
    const first = guard.admit();
    assert.equal(first.shed, null);
    lag = 51;
    const refused = guard.admit();
    assert.ok(refused.shed);
    assert.equal(refused.shed.status, 503);
    assert.equal(refused.shed.headers['Retry-After'], '7');
    assert.match(refused.shed.headers.Reason!, /^SIP;cause=503;text="overloaded \(event loop 51 ms behind\)"$/);
    lag = 50;
    assert.equal(guard.admit().shed, null, 'at the bound is not over it');
    assert.equal(guard.shed, 1);
  });

  it('sheds while the process uses more of a core than the bound, even with its timers on time', () => {
    let busy = 0.5;
    const guard = new OverloadGuard({ lagMs: 50, busyPercent: 90, maxSetups: 0, retryAfterS: 5 }, () => ({ lagMs: 2, busy }));
    assert.equal(guard.admit().shed, null);
    busy = 0.97;
    assert.match(guard.admit().shed!.reason, /^overloaded \(97 % of a CPU core\)$/);
    busy = 0.9;
    assert.equal(guard.admit().shed, null);
  });

  it('bounds the setups in flight; a finished setup frees its slot once, however often it reports', () => {
    const guard = new OverloadGuard({ lagMs: 0, busyPercent: 0, maxSetups: 2, retryAfterS: 5 }, () => ({ lagMs: 1e9, busy: 1 }));
    const a = guard.admit();
    const b = guard.admit();
    assert.ok(!a.shed && !b.shed);
    const c = guard.admit();
    assert.match(c.shed!.reason, /2 call setups in progress/);
    a.done();
    a.done();
    assert.equal(guard.setups, 1);
    const d = guard.admit();
    assert.equal(d.shed, null);
    assert.ok(guard.admit().shed, 'the slot a repeated done() would have freed is not there');
  });

  it('with every bound at 0 it never sheds', () => {
    const guard = new OverloadGuard({ lagMs: 0, busyPercent: 0, maxSetups: 0, retryAfterS: 5 }, () => ({ lagMs: 1e9, busy: 1 }));
    for (let i = 0; i < 1000; i++) assert.equal(guard.admit().shed, null);
  });
});

describe('SIP edge under overload (injected lag)', () => {
  let ts: TestServer;
  let lag = 0;
  let sipPort: number;
  const files = scenarioDir();

  before(async () => {
    ts = await startTestServer('sqlite', {
      sip: true,
      overrides: { sipLoad: () => ({ lagMs: lag, busy: 0.1 }) },
      config: (c) => { fastSip(c); c.sip.overload.lagMs = 40; c.sip.overload.busyPercent = 90; c.media.rtpPortMin = 43300; c.media.rtpPortMax = 43320; c.media.timeoutMs = 10_000; },
    });
    sipPort = ts.server.sipEdge!.sip.listening().udpPort;
  });
  after(async () => {
    await ts?.close();
    files.remove();
  });

  it('answers a new INVITE 503 with Retry-After at once, records nothing, and still ends the calls already up', async () => {
    const { key } = await ts.newTenant();
    const made = await ts.request('POST', '/api/agents', { key, body: { name: 'Voice AI', type: 'inbound', system_prompt: 'Help.', greeting: 'Hi.' } });
    const agentId = made.body.id ?? made.body.agent_id;
    const agent = (await ts.server.services.agents.list(null)).find((a) => a.id === agentId)!;
    await ts.server.services.agents.update({ tenantId: agent.tenantId }, agentId, { handler: 'dialtone' });
    const uri = `sip:direct.${agent.directHash}@127.0.0.1:${sipPort}`;

    // A call that is up before the overload: its BYE (in the dialog) must still be answered.
    const up = sipp(files.write('caller.xml', caller({ hangUpAfterMs: 1500, playAudio: false })), {
      port: SIPP_PORT, mediaPort: SIPP_MEDIA, remote: `127.0.0.1:${sipPort}`, service: `direct.${agent.directHash}`,
    });
    try {
      await waitFor('the call to be up', () => (ts.server.sipCalls?.liveCount ?? 0) === 1, 10_000, 20);
      lag = 500;
      const t0 = performance.now();
      const shed = await sendUdpRequest(sipPort, 'INVITE', uri, { sdp: true });
      const took = performance.now() - t0;
      const final = shed.at(-1)!;
      assert.equal(final.status, 503);
      assert.match(final.text, /^Retry-After: 5\r?$/m);
      assert.match(final.text, /overloaded \(event loop 500 ms behind\)/);
      assert.ok(took < 500, `503 after ${took.toFixed(0)} ms`);

      const code = await up.done;
      assert.equal(code, 0, `the call's own BYE was not answered under overload:\n${up.output().slice(-2000)}`);
      const history = await waitFor('the call to be recorded as ended', async () => {
        const r = await ts.request('GET', `/api/calls/history?agent_id=${agentId}`, { key });
        return r.body?.calls?.every((c: { ended_at: string | null }) => c.ended_at) ? r.body.calls : null;
      });
      assert.equal(history.length, 1, 'the shed INVITE left no call record');
      assert.equal(history[0].end_reason, 'caller hung up');

      lag = 0;
      const again = await sendUdpRequest(sipPort, 'INVITE', `sip:direct.000000000000@127.0.0.1:${sipPort}`, { sdp: true });
      assert.equal(again.at(-1)!.status, 404, 'once the loop catches up, INVITEs are routed again');
      assert.ok(ts.server.sipEdge!.overload.shed >= 1);
      assert.equal(ts.server.sipEdge!.overload.setups, 0, 'every admitted setup was counted out');
    } finally {
      await up.stop();
    }
  });

  it('a call ringing a person no longer counts as a setup in flight', async () => {
    lag = 0;
    const { key } = await ts.newTenant();
    const res = await ts.request('POST', '/v1.0/agents', {
      key, body: { username: 'ringing-person', password: 'secret-pass', name: 'Rae', addresses: [{ type: 'sip', target: `rae@127.0.0.1:${SIPP_PORT + 2}` }] },
    });
    await ts.request('PUT', `/v1.0/agents/${res.body.id}/status`, { key, body: { status: 'available' } });
    const phone = sipp(files.write('ringing-phone.xml', ringingCallee()), { port: SIPP_PORT + 2, mediaPort: SIPP_MEDIA + 4 });
    await new Promise((r) => setTimeout(r, 300));
    const call = sipp(files.write('cancelling-caller.xml', caller({ cancelAfterMs: 1500 })), {
      port: SIPP_PORT + 4, mediaPort: SIPP_MEDIA + 8, remote: `127.0.0.1:${sipPort}`, service: `direct.${res.body.direct_hash}`,
    });
    try {
      await waitFor('the phone to ring', async () => {
        const r = await ts.request('GET', `/v1.0/agents/${res.body.id}`, { key });
        return r.body?.status === 'ringing';
      }, 10_000, 50);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ts.server.sipEdge!.overload.setups, 0, 'a ringing call is not counted against SIP_OVERLOAD_MAX_SETUPS');
      assert.equal(await call.done, 0, call.output().slice(-2000));
      assert.equal(await phone.done, 0, phone.output().slice(-2000));
    } finally {
      await Promise.all([call.stop(), phone.stop()]);
    }
  });
});
