/**
 * RFC 4028 session timers on a bridged call, against SIPp on both legs. The caller asks for the
 * smallest interval allowed (Session-Expires 90, Min-SE 90) and names itself the refresher:
 * - it never refreshes: Dialtone ends the call with BYE on both legs a little before the
 *   interval runs out (90 − 90/3 = 60 s) and records why;
 * - it refreshes with UPDATE and then a re-INVITE: the call outlives both the first expiry and
 *   the one the UPDATE set, and ends when the caller hangs up.
 * The two run side by side (about 85 s in all).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { answeringCallee, scenarioDir } from './call-scenarios.js';
import { fastSip } from './helpers.js';
import { sipp, waitFor, type SippRun } from './peers.js';

const TIMER = ['Supported: timer', 'Session-Expires: 90;refresher=uac', 'Min-SE: 90'].join('\n      ');
const FROM = 'From: "Timer Caller" <sip:+15550002222@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]';

const offer = (version: number) => `
      v=0
      o=caller 1 ${version} IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=sendrecv`;

/** A request inside the caller's dialog (after the 200 set the route set and remote target). */
function inDialog(method: string, cseq: number, extra: string[], body = ''): string {
  return `
  <send retrans="500">
    <![CDATA[
      ${method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      ${FROM}
      To: [$peer]
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      ${[...extra, ...(body ? ['Content-Type: application/sdp'] : [])].join('\n      ')}
      Content-Length: [len]
${body}
    ]]>
  </send>`;
}

/** The caller: INVITE asking for the timer, then either waits for the BYE or refreshes twice and hangs up. */
function timerCaller(refresh: boolean): string {
  const seCheck = (name: string) => `<action><ereg regexp="^ *90;refresher=uac" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="${name}"/><log message="[$${name}]"/></action>`;
  const rest = refresh ? `
  <pause milliseconds="20000"/>${inDialog('UPDATE', 2, [TIMER])}
  <recv response="200">${seCheck('se2')}</recv>
  <pause milliseconds="30000"/>${inDialog('INVITE', 3, [TIMER], offer(2))}
  <recv response="100" optional="true"/>
  <recv response="200">${seCheck('se3')}</recv>${inDialog('ACK', 3, []).replace(' retrans="500"', '')}
  <pause milliseconds="35000"/>${inDialog('BYE', 4, [])}
  <recv response="200"/>` : `
  <recv request="BYE" timeout="75000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="session timer caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      ${FROM}
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      ${TIMER}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
${offer(1)}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"><action><ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer"/><ereg regexp="^ *90;refresher=uac" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se1"/><log message="[$se1]"/></action></recv>${inDialog('ACK', 1, []).replace(' retrans="500"', '')}${rest}
</scenario>
`;
}

describe('SIP session timers (SIPp on both legs)', { concurrency: true }, () => {
  let ts: TestServer;
  let key: string;
  let sipPort: number;
  const files = scenarioDir();
  const started: SippRun[] = [];

  before(async () => {
    ts = await startTestServer('sqlite', { sip: true, config: fastSip });
    key = (await ts.newTenant()).key;
    sipPort = ts.server.sipEdge!.sip.listening().udpPort;
  });
  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await ts?.close();
    files.remove();
  });

  async function callThroughPerson(name: string, refresh: boolean, callerPort: number, phonePort: number, media: number) {
    const res = await ts.request('POST', '/v1.0/agents', {
      key, body: { username: `timer-${name}`, password: 'secret-pass', name, addresses: [{ type: 'sip', target: `phone@127.0.0.1:${phonePort}` }] },
    });
    assert.equal(res.status, 200, res.text);
    await ts.request('PUT', `/v1.0/agents/${res.body.id}/status`, { key, body: { status: 'available' } });
    const phone = sipp(files.write(`${name}-phone.xml`, answeringCallee({ rtpPort: media + 8, byeTimeoutMs: 90_000, expectRefreshes: refresh })), { port: phonePort, mediaPort: media + 4, timeoutS: 150 });
    started.push(phone);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const call = sipp(files.write(`${name}-caller.xml`, timerCaller(refresh)), { port: callerPort, mediaPort: media, remote: `127.0.0.1:${sipPort}`, service: `direct.${res.body.direct_hash}`, timeoutS: 150 });
    started.push(call);
    const [callerCode, phoneCode] = await Promise.all([call.done, phone.done]);
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(callerCode, 0, `caller scenario failed:\n${call.output().slice(-3000)}`);
    assert.equal(phoneCode, 0, `phone scenario failed:\n${phone.output().slice(-3000)}`);
    const record = await waitFor('the call record', async () => {
      const r = await ts.request('GET', `/api/calls/history?agent_id=${res.body.id}`, { key });
      const c = r.body?.calls?.[0];
      return c?.ended_at ? c : null;
    });
    return { seconds, record };
  }

  it('a caller that never refreshes is hung up on both legs before the interval ends, recorded as a session timer expiry', async () => {
    const { seconds, record } = await callThroughPerson('expiry', false, 16740, 16741, 43240);
    // BYE at 90 − min(32, 90/3) = 60 s after the answer, from Dialtone to both the caller and the phone.
    assert.ok(seconds > 57 && seconds < 70, `the call lasted ${seconds.toFixed(1)} s`);
    assert.equal(record.status, 'completed');
    assert.equal(record.end_reason, 'session timer expired');
  });

  it('refreshes by UPDATE and re-INVITE keep the call up past both expiries until the caller hangs up', async () => {
    const { seconds, record } = await callThroughPerson('refresh', true, 16750, 16751, 43260);
    // Unrefreshed it would have ended at 60 s; after the UPDATE (at 20 s) at 80 s; it lasted until the caller's BYE at 85 s.
    assert.ok(seconds > 84, `the call lasted ${seconds.toFixed(1)} s`);
    assert.equal(record.status, 'completed');
    assert.equal(record.end_reason, 'caller hung up');
  });
});
