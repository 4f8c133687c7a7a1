/**
 * Calls an agent places through a SIP trunk and runs here (handler `dialtone`, pipeline engine):
 * Kamailio plays the carrier (407 digest challenge, then it relays to the callee), a SIPp UAS is
 * the callee, with a late offer answered in our ACK. The callee plays espeak-ng speech after the
 * agent's greeting; a test socket at the callee's RTP port records what it hears. The speech
 * services are the loopback STT/TTS stand-ins.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SttStandIn, TtsStandIn } from '../helpers/speech-standins.js';
import { answeringCallee, scenarioDir } from './call-scenarios.js';
import { fastSip } from './helpers.js';
import { Kamailio, rtpCapture, sipp, udpPortFree, waitFor, type CapturedRtp, type SippRun } from './peers.js';
import { makeSpeech, rmsOf, soxStat, type Speech } from './speech.js';

const BASE = 18700;
const CALLEE_SIP = BASE + 1;
const CALLEE_MEDIA = BASE + 20;
/** The port the callee's SDP names (and its pcap's source): the test's ear. */
const CALLEE_RTP = CALLEE_MEDIA + 10;
const RTP_MIN = 46300;
const RTP_MAX = 46319;
const TONE_HZ = 700;
const GREETING_MS = 1000;
const CALLEE = '+15550143001';
const CALLEE_TEXT = 'Yes, this is Ada speaking.';
const REPLY = `I'm an offline assistant without a language model, so I can only repeat what I heard. You said: ${CALLEE_TEXT}`;

const tonePackets = (packets: CapturedRtp[]) => packets.filter((p) => p.payloadType === 8 && rmsOf(p.payload) > 1000);

describe('outbound calls whose agent runs here (Kamailio carrier with 407, SIPp callee, STT/TTS stand-ins)', { concurrency: false }, () => {
  let ts: TestServer;
  let config: Config;
  let kam: Kamailio;
  let stt: SttStandIn;
  let tts: TtsStandIn;
  let key: string;
  let agentId: string;
  let trunkId: string;
  let speech: Speech;
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-outvoice-'));
  const files = scenarioDir();
  const started: SippRun[] = [];

  before(async () => {
    speech = makeSpeech(dir, 'Yes, this is Ada speaking, who is calling please?', 'PCMA');
    stt = await new SttStandIn([CALLEE_TEXT]).start();
    tts = await new TtsStandIn({ hz: TONE_HZ, ms: GREETING_MS }).start();
    kam = new Kamailio({ port: BASE, users: { trunkuser: 'trunk-secret' }, carrierTarget: `sip:127.0.0.1:${CALLEE_SIP}` });
    await kam.start();
    ts = await startTestServer('sqlite', {
      sip: true,
      config: (c) => {
        config = c;
        fastSip(c);
        c.calls.trunkCps = 0;
        c.media.rtpPortMin = RTP_MIN;
        c.media.rtpPortMax = RTP_MAX;
        c.voice.stt = { baseUrl: stt.baseUrl, apiKey: 'sk-test-stt', model: 'stt-test' };
        c.voice.tts = { baseUrl: tts.baseUrl, apiKey: 'sk-test-tts', model: 'tts-test', format: 'pcm' };
      },
    });
    key = (await ts.newTenant()).key;
    const made = await ts.request('POST', '/api/agents', { key, body: { name: 'Luigi', type: 'outbound', system_prompt: 'You confirm bookings.', voice: 'nova', voice_engine: 'pipeline', greeting: 'Hello, this is Luigi\'s calling about your booking.' } });
    assert.equal(made.status, 201, made.text);
    agentId = made.body.id;
    const agent = (await ts.server.services.agents.list(null)).find((a) => a.id === agentId)!;
    await ts.server.services.agents.update({ tenantId: agent.tenantId }, agentId, { handler: 'dialtone' });
    const trunk = await ts.request('POST', '/sip/create-outbound-trunk', {
      key,
      body: {
        trunk_name: 'carrier', trunk_address: `127.0.0.1:${BASE}`, trunk_numbers: ['+15550100777'],
        trunk_auth_username: 'trunkuser', trunk_auth_password: 'trunk-secret', trunk_type: 'twilio',
      },
    });
    assert.equal(trunk.status, 200, trunk.text);
    trunkId = trunk.body.data.trunk_id;
    await ts.server.services.numbers.create({ tenantId: agent.tenantId }, { e164: '+15550100777', agentId });
  });

  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await ts?.close();
    await kam?.destroy();
    await stt?.stop();
    await tts?.stop();
    files.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function callee(name: string, o: Omit<Parameters<typeof answeringCallee>[0], 'rtpPort' | 'lateOffer'>): SippRun {
    const run = sipp(files.write(name, answeringCallee({ rtpPort: '[media_port+10]', lateOffer: true, answerAfterMs: 200, ...o })), { port: CALLEE_SIP, mediaPort: CALLEE_MEDIA });
    started.push(run);
    return run;
  }

  async function ended(sid: string) {
    return waitFor('the call to be recorded as ended', async () => {
      const r = await ts.request('GET', `/api/calls/${sid}`, { key });
      return r.body?.ended_at ? r.body : null;
    }, 20_000);
  }

  async function setGreeting(greeting: string) {
    const r = await ts.request('PUT', `/api/agents/${agentId}`, { key, body: { greeting } });
    assert.equal(r.status, 200, r.text);
  }

  const turnsOf = (c: { transcript: Array<{ role: string; text: string; interrupted: boolean }> }) => c.transcript.map((t) => `${t.role}${t.interrupted ? '(cut)' : ''}: ${t.text}`);

  /** No conversation left, and every RTP port of our range bindable again. */
  async function released() {
    await waitFor('sessions to be released', () => ts.server.runtime.sessions.size() === 0, 5000, 20);
    const ports = Array.from({ length: RTP_MAX - RTP_MIN + 1 }, (_, i) => RTP_MIN + i);
    const free = await Promise.all(ports.map(udpPortFree));
    assert.equal(free.filter(Boolean).length, ports.length, `RTP ports still bound: ${ports.filter((_, i) => !free[i]).join(', ')}`);
  }

  it('POST /call/outbound: through the digest-protected carrier, the agent speaks first, hears the callee and answers; both directions measured', async (t) => {
    const ear = await rtpCapture(CALLEE_RTP);
    const uploads = stt.uploads.length;
    let sid: string;
    try {
      const run = callee('out-callee.xml', { playAudio: true, pcap: speech.pcap, playAfterMs: 2000, hangUpAfterMs: 9000 });
      await new Promise((r) => setTimeout(r, 300));
      const res = await ts.request('POST', '/call/outbound', { key, body: { assistant_id: agentId, trunk_id: trunkId, to_number: CALLEE, call_service: 'twilio', metadata: { booking: 'B-12' } } });
      assert.equal(res.status, 200, res.text);
      sid = res.body.data.call_sid;
      assert.equal(await run.done, 0, `callee failed:\n${run.output().slice(-3000)}`);
    } finally {
      ear.close();
    }
    // The callee's speech reached the transcriber.
    assert.equal(stt.uploads.length, uploads + 1);
    const up = stt.uploads.at(-1)!;
    const speechMs = speech.loudMs(500);
    assert.ok(Math.abs(up.speechMs - speechMs) <= 100, `the transcriber heard ${up.speechMs} ms of speech; the callee played ${speechMs} ms`);
    assert.ok(up.speechRms > 1000, `speech RMS ${up.speechRms.toFixed(0)}`);
    // The callee heard the greeting first (before it spoke), then the reply.
    const tone = tonePackets(ear.packets);
    const greeting = tone.filter((p) => p.at < up.at);
    const reply = tone.filter((p) => p.at > up.at);
    assert.ok(Math.abs(greeting.length * 20 - GREETING_MS) <= 60, `${greeting.length * 20} ms of greeting before the callee's turn`);
    const pieces = tts.spoken.filter((s) => s.at > up.at - 1).length;
    assert.ok(Math.abs(reply.length * 20 - pieces * GREETING_MS) <= 80, `${reply.length * 20} ms of reply for ${pieces} pieces`);
    const stat = soxStat(dir, Buffer.concat(tone.map((p) => p.payload)), 'PCMA');
    assert.ok(Math.abs(stat.frequency - TONE_HZ) <= TONE_HZ * 0.05, `frequency ${stat.frequency} Hz`);
    // Arrival times carry this process's own scheduling (the test shares it): the median says
    // "one packet every 20 ms", the span that the greeting was played at real time, not faster.
    const gaps = greeting.slice(1).map((p, i) => p.at - greeting[i]!.at).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    const span = greeting.at(-1)!.at - greeting[0]!.at;
    assert.ok(Math.abs(median - 20) <= 2, `median spacing ${median.toFixed(1)} ms`);
    assert.ok(span >= GREETING_MS - 20 - 120, `the greeting was played over ${span.toFixed(0)} ms`);
    assert.ok(greeting.slice(1).every((p, i) => ((p.timestamp - greeting[i]!.timestamp) >>> 0) === 160), 'RTP timestamps step 160');
    const mean = span / gaps.length;
    t.diagnostic(`greeting ${greeting.length * 20} ms, callee speech at the transcriber ${up.speechMs} ms (RMS ${up.speechRms.toFixed(0)}), reply ${reply.length * 20} ms at ${stat.frequency} Hz, mean spacing ${mean.toFixed(2)} ms`);

    const c = await ended(sid!);
    assert.equal(c.direction, 'outbound');
    assert.equal(c.handler, 'dialtone');
    assert.equal(c.status, 'completed');
    assert.equal(c.trunk_id, trunkId);
    assert.equal(c.end_reason, 'callee hung up');
    assert.deepEqual(c.context, { booking: 'B-12' });
    assert.deepEqual(turnsOf(c), ['agent: Hello, this is Luigi\'s calling about your booking.', `caller: ${CALLEE_TEXT}`, `agent: ${REPLY}`]);
    await released();
  });

  it('POST /api/agents/{id}/call through the trunk holding its number; a supervisor ends it (BYE from our side)', async () => {
    const ear = await rtpCapture(CALLEE_RTP);
    try {
      const run = callee('out-callee-wait.xml', {});
      await new Promise((r) => setTimeout(r, 300));
      const res = await ts.request('POST', `/api/agents/${agentId}/call`, { key, body: { to_number: CALLEE } });
      assert.equal(res.status, 200, res.text);
      const sid = res.body.call_sid as string;
      await waitFor('the greeting at the callee', () => tonePackets(ear.packets).length * 20 >= GREETING_MS, 10_000, 50);
      const end = await ts.request('POST', '/api/override/end', { key, body: { call_sid: sid } });
      assert.equal(end.status, 200, end.text);
      assert.equal(await run.done, 0, `callee failed:\n${run.output().slice(-3000)}`);
      const c = await ended(sid);
      assert.equal(c.end_reason, 'ended by supervisor');
      assert.equal(c.trunk_id, trunkId);
    } finally {
      ear.close();
    }
    await released();
  });

  it('no media from the callee hangs up, and the record says why', async () => {
    const before = config.media.timeoutMs;
    config.media.timeoutMs = 2000;
    try {
      const run = callee('out-callee-silent.xml', {});
      await new Promise((r) => setTimeout(r, 300));
      const res = await ts.request('POST', `/api/agents/${agentId}/call`, { key, body: { to_number: CALLEE } });
      assert.equal(res.status, 200, res.text);
      assert.equal(await run.done, 0, `callee failed:\n${run.output().slice(-3000)}`);
      const c = await ended(res.body.call_sid);
      assert.equal(c.end_reason, 'no media from the callee for 2 s');
    } finally {
      config.media.timeoutMs = before;
    }
    await released();
  });

  it('a speech service that dies during the call ends it, and the record says why', async () => {
    await setGreeting('');
    await tts.stop();
    const run = callee('out-callee-dead.xml', { playAudio: true, pcap: speech.pcap });
    await new Promise((r) => setTimeout(r, 300));
    const res = await ts.request('POST', `/api/agents/${agentId}/call`, { key, body: { to_number: CALLEE } });
    assert.equal(res.status, 200, res.text);
    assert.equal(await run.done, 0, `callee failed:\n${run.output().slice(-3000)}`);
    const c = await ended(res.body.call_sid);
    assert.match(c.end_reason, /^text-to-speech service unreachable: /);
    await released();
  });
});
