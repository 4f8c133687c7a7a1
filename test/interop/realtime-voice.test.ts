/**
 * An AI agent with the realtime engine answers calls on a line registered at Kamailio, with real
 * audio: SIPp calls the line through Kamailio and plays speech made by espeak-ng (8 kHz G.711 by
 * sox, as RTP in a pcap); the Realtime service is the loopback stand-in, which hears that speech
 * and answers with a tone faster than real time. The caller's RTP port (SIPp's pcap source port,
 * where our RTP latches) is a test socket that records what the caller hears.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSocket } from 'node:dgram';
import { parseRtcp } from '../../src/media/rtcp.js';
import { RealtimeStandIn } from '../helpers/realtime-standin.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { caller, scenarioDir } from './call-scenarios.js';
import { fastSip, voiceAgentOnLine, type Line } from './helpers.js';
import { Kamailio, exitOk, rtpCapture, sipp, waitFor, type CapturedRtp, type SippRun } from './peers.js';
import { makeSpeech, percentile, rmsOf, soxStat, type Speech } from './speech.js';

const KAMAILIO_PORT = 18100;
const TONE_HZ = 1000;
const TONE_MS = 2000;
const SPEECH_RMS = 500;


/** The tone packets among what the caller heard (louder than speech-level noise). */
const tonePackets = (packets: CapturedRtp[]) => packets.filter((p) => p.payloadType === 8 && rmsOf(p.payload) > 1000);

describe('realtime engine on a line registered at Kamailio (SIPp caller, espeak-ng speech, Realtime stand-in)', { concurrency: false }, () => {
  let ts: TestServer;
  let kam: Kamailio;
  let standIn: RealtimeStandIn;
  let key: string;
  let line: Line;
  let agentId: string;
  let speech: Speech;
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-voice-'));
  const files = scenarioDir();
  const started: SippRun[] = [];
  const run = (path: string, o: Parameters<typeof sipp>[1]) => {
    const r = sipp(path, o);
    started.push(r);
    return r;
  };

  before(async () => {
    speech = makeSpeech(dir, 'Hello, I would like to book a table for two people tonight, please.', 'PCMA');
    standIn = await new RealtimeStandIn({ toneHz: TONE_HZ, toneMs: TONE_MS, speedup: 10, speechRms: SPEECH_RMS, silenceMs: 600, callerText: 'I would like to book a table.' }).start();
    kam = new Kamailio({ port: KAMAILIO_PORT, users: { '4001': 'rt-line-pass' }, calls: true });
    await kam.start();
    ts = await startTestServer('sqlite', {
      sip: true,
      config: (c) => {
        fastSip(c);
        c.media.rtpPortMin = 44000;
        c.media.rtpPortMax = 44400;
        c.llm.apiKey = 'sk-test-realtime';
        c.llm.baseUrl = standIn.baseUrl;
        c.voice.realtimeModel = 'rt-test';
      },
    });
    key = (await ts.newTenant()).key;
    ({ agentId, line } = await voiceAgentOnLine(ts, key, { registrar: `sip:127.0.0.1:${KAMAILIO_PORT}`, username: '4001', password: 'rt-line-pass', voice: 'marin', engine: 'realtime' }));
  });

  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await ts?.close();
    await kam?.destroy();
    await standIn?.stop();
    files.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setGreeting(greeting: string) {
    const r = await ts.request('PUT', `/api/agents/${agentId}`, { key, body: { greeting } });
    assert.equal(r.status, 200, r.text);
  }

  async function endedCall() {
    return waitFor('the call to be recorded as ended', async () => {
      const h = await ts.request('GET', `/api/calls/history?agent_id=${agentId}`, { key });
      const c = h.body?.calls?.[0];
      return c && c.ended_at ? c : null;
    }, 15_000);
  }

  async function released() {
    await waitFor('sockets and sessions to be released', () =>
      standIn.open === 0 && ts.server.sipCalls!.liveCount === 0 && ts.server.runtime.sessions.size() === 0, 5000, 20);
  }

  it('the model hears the caller\'s speech and the caller hears the model\'s reply at real time; the record and transcript say what happened', async (t) => {
    await setGreeting('');
    const sessionsBefore = standIn.sessions.length;
    const sip = 18110;
    const ear = await rtpCapture(sip + 20 + 10);
    // The caller's RTCP port, the one above its RTP port: our reports land there.
    const rtcpIn = createSocket('udp4');
    const rtcp: NonNullable<ReturnType<typeof parseRtcp>>[] = [];
    rtcpIn.on('message', (m) => { const p = parseRtcp(m); if (p) rtcp.push(p); });
    await new Promise<void>((r) => rtcpIn.bind(sip + 20 + 11, '127.0.0.1', r));
    try {
      const call = run(files.write('rt-caller.xml', caller({ sdpMediaPort: '[media_port+10]', pcap: speech.pcap, hangUpAfterMs: 9000 })), {
        port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
      });
      await exitOk(call, 'caller via Kamailio');
      await waitFor('our RTCP BYE', () => rtcp.some((c) => c.some((p) => p.type === 'bye')), 3000, 20);
    } finally {
      ear.close();
      rtcpIn.close();
    }
    const reports = rtcp.filter((c) => c[0]!.type === 'sr');
    assert.ok(reports.length >= 1, `${reports.length} RTCP sender reports during the call`);
    const sr = reports.at(-1)![0]!;
    if (sr.type === 'sr') {
      assert.ok(sr.sender.packets > 50 && sr.sender.octets === sr.sender.packets * 160, `the report counts ${sr.sender.packets} packets, ${sr.sender.octets} octets sent`);
      assert.equal(sr.reports[0]?.ssrc, 0x5eed, 'it reports on the caller\'s stream');
      assert.equal(sr.reports[0]?.cumulativeLost, 0, 'nothing lost on loopback');
    }
    const s = standIn.sessions[sessionsBefore]!;
    assert.ok(s, 'the call opened a Realtime session');
    assert.deepEqual(s.sessionUpdates[0]!.audio.input.format, { type: 'audio/pcma' }, 'the caller\'s PCMA passes through to the model');
    assert.match(s.sessionUpdates[0]!.instructions, /Luigi's/);

    // What the model heard: all of the speech (and the silence after it), as loud as it was made.
    const heard = s.audio();
    const made = soxStat(dir, speech.audio, 'PCMA');
    const spoken = speech.loudMs(SPEECH_RMS);
    assert.ok(heard.ms >= made.seconds * 1000 - 100, `the model got ${heard.ms} ms of audio; ${(made.seconds * 1000).toFixed(0)} ms were played`);
    assert.ok(Math.abs(heard.speechMs - spoken) <= 100, `the model heard ${heard.speechMs} ms of speech; the file has ${spoken} ms`);
    assert.ok(heard.speechRms > 1000, `speech RMS at the model ${heard.speechRms.toFixed(0)}`);

    // What the caller heard: the tone, at its frequency and level, for its length, 20 ms a packet.
    const tone = tonePackets(ear.packets);
    const toneAudio = Buffer.concat(tone.map((p) => p.payload));
    const stat = soxStat(dir, toneAudio, 'PCMA');
    assert.ok(Math.abs(stat.frequency - TONE_HZ) <= TONE_HZ * 0.05, `reply frequency ${stat.frequency} Hz`);
    assert.ok(Math.abs(stat.rms - 8000 / Math.SQRT2) <= 600, `reply RMS ${stat.rms.toFixed(0)}`);
    assert.ok(Math.abs(tone.length * 20 - TONE_MS) <= 60, `${tone.length * 20} ms of reply reached the caller`);
    const span = tone.at(-1)!.at - tone[0]!.at;
    assert.ok(span >= TONE_MS - 100, `the reply was played over ${span.toFixed(0)} ms (it arrived ${10}x faster)`);
    const all = ear.packets.filter((p) => p.at >= tone[0]!.at && p.at <= tone.at(-1)!.at);
    const gaps = all.slice(1).map((p, i) => p.at - all[i]!.at);
    // Arrival times carry this process's own scheduling (the test shares it): the median and the
    // mean say "one packet every 20 ms", the tail allows for the shared machine.
    const mean = (all.at(-1)!.at - all[0]!.at) / (all.length - 1);
    assert.ok(Math.abs(percentile(gaps, 0.5) - 20) <= 2, `median spacing ${percentile(gaps, 0.5).toFixed(1)} ms`);
    assert.ok(Math.abs(mean - 20) <= 1, `mean spacing ${mean.toFixed(2)} ms`);
    const within = gaps.filter((g) => g >= 15 && g <= 25).length / gaps.length;
    assert.ok(within >= 0.8, `${(within * 100).toFixed(0)}% of packets 20 ± 5 ms apart`);
    assert.ok(Math.max(...gaps) <= 120, `longest gap ${Math.max(...gaps).toFixed(0)} ms`);
    assert.ok(all.slice(1).every((p, i) => ((p.timestamp - all[i]!.timestamp) >>> 0) === 160 && ((p.sequence - all[i]!.sequence) & 0xffff) === 1), 'RTP timestamps step 160 (20 ms), sequence numbers by one');
    t.diagnostic(`model heard ${heard.ms} ms (${heard.speechMs} ms speech, file ${spoken} ms, RMS ${heard.speechRms.toFixed(0)}); caller heard ${tone.length * 20} ms of ${stat.frequency} Hz at RMS ${stat.rms.toFixed(0)} over ${span.toFixed(0)} ms; spacing ${(within * 100).toFixed(0)}% within 20 ± 5, median ${percentile(gaps, 0.5).toFixed(1)}, mean ${mean.toFixed(2)}, p95 ${percentile(gaps, 0.95).toFixed(1)}, p99 ${percentile(gaps, 0.99).toFixed(1)} ms`);

    const c = await endedCall();
    assert.equal(c.handler, 'dialtone');
    assert.equal(c.line_id, line.id);
    assert.equal(c.status, 'completed');
    assert.equal(c.end_reason, 'caller hung up');
    const detail = await ts.request('GET', `/api/calls/${c.call_sid}`, { key });
    const turns = detail.body.transcript.map((t: { role: string; text: string; interrupted: boolean }) => `${t.role}${t.interrupted ? '(cut)' : ''}: ${t.text}`);
    assert.deepEqual(turns, ['caller: I would like to book a table.', 'agent: This is the tone reply.']);
    await released();
  });

  it('barge-in: the caller speaking over the greeting stops our audio within 100 ms and the truncate carries the milliseconds played', async (t) => {
    await setGreeting('Welcome to Luigi\'s, how can I help?');
    const sessionsBefore = standIn.sessions.length;
    const sip = 18150;
    const ear = await rtpCapture(sip + 20 + 10);
    try {
      const call = run(files.write('rt-barge.xml', caller({ sdpMediaPort: '[media_port+10]', pcap: speech.pcap, playAfterMs: 900, hangUpAfterMs: 8000 })), {
        port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
      });
      await exitOk(call, 'caller via Kamailio');
    } finally {
      ear.close();
    }
    const s = standIn.sessions[sessionsBefore]!;
    assert.equal(s.truncates.length, 1, `one truncate (events: ${s.events.filter((e) => e !== 'input_audio_buffer.append').join(', ')})`);
    const bargeAt = s.speechStartedAt[0]!;
    const truncate = s.truncates[0]!;
    const greeting = tonePackets(ear.packets).filter((p) => p.at < bargeAt + 200);
    const lastAfter = greeting.filter((p) => p.at > bargeAt).map((p) => p.at - bargeAt).at(-1) ?? 0;
    assert.ok(lastAfter <= 100, `greeting audio went on ${lastAfter.toFixed(0)} ms after the caller started speaking`);
    // The stream itself goes on (silence), so the caller's jitter buffer sees no gap.
    const cutAt = bargeAt + lastAfter;
    const next = ear.packets.filter((p) => p.at > cutAt + 1 && p.at < cutAt + 100);
    assert.ok(next.length >= 3 && next.every((p) => rmsOf(p.payload) < 50), `${next.length} packets right after the cut, loudest RMS ${Math.max(...next.map((p) => rmsOf(p.payload))).toFixed(0)}`);
    assert.ok(truncate.at - bargeAt < 100, `truncate sent ${(truncate.at - bargeAt).toFixed(0)} ms after speech started`);
    const playedMs = greeting.length * 20;
    assert.ok(playedMs > 400 && playedMs < TONE_MS, `${playedMs} ms of the greeting played before the barge-in`);
    assert.ok(Math.abs(truncate.audio_end_ms - playedMs) <= 60, `truncate at ${truncate.audio_end_ms} ms; ${playedMs} ms reached the caller`);
    t.diagnostic(`barge-in: last greeting packet ${lastAfter.toFixed(1)} ms after speech_started, truncate after ${(truncate.at - bargeAt).toFixed(1)} ms at ${truncate.audio_end_ms} ms (${playedMs} ms reached the caller)`);

    const c = await endedCall();
    const detail = await ts.request('GET', `/api/calls/${c.call_sid}`, { key });
    const first = detail.body.transcript[0];
    assert.equal(first.role, 'agent');
    assert.equal(first.interrupted, true, 'the greeting was cut short');
    assert.ok('This is the tone reply.'.startsWith(first.text) && first.text.length < 'This is the tone reply.'.length, `kept only what was heard: "${first.text}"`);
    await released();
  });

  it('supervisor text is spoken over the model and marked, context reaches the model, a model error is apologised for and the call goes on; the supervisor ends it (BYE from our side)', async () => {
    await setGreeting('');
    const sip = 18200;
    const before = standIn.sessions.length;
    const errors: string[] = [];
    const stop = ts.server.bus.subscribe((e) => { if (e.type === 'error') errors.push(e.data.message); });
    const ear = await rtpCapture(sip + 20 + 10);
    const loudMs = (from: number) => ear.packets.filter((p) => p.at > from && p.payloadType === 8 && rmsOf(p.payload) > 300).length * 20;
    try {
      const byeOurs = run(files.write('rt-wait-bye.xml', caller({ sdpMediaPort: '[media_port+10]', playAudio: false })), {
        port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
      });
      const sid = await waitFor('the live call', async () => (await ts.request('GET', '/api/calls/active', { key })).body?.[0]?.call_sid as string | undefined, 10_000);
      await waitFor('the Realtime session', () => standIn.open === 1 && standIn.sessions.length === before + 1, 5000, 20);
      const s = standIn.sessions.at(-1)!;
      // SIPp sends no RTP here; our socket latches once it does. Until then our audio goes to the SDP's port, the test socket.

      const ctx = await ts.request('PUT', `/api/calls/${sid}/context`, { key, body: { context: { party_size: 4 } } });
      assert.equal(ctx.status, 200, ctx.text);
      await waitFor('the new instructions', () => s.sessionUpdates.length === 2, 5000, 20);
      assert.match(s.sessionUpdates[1]!.instructions, /"party_size":4/);

      let mark = Number(process.hrtime.bigint()) / 1e6;
      const text = await ts.request('POST', '/api/override/text', { key, body: { call_sid: sid, text: 'A colleague is joining the call.' } });
      assert.equal(text.status, 200, text.text);
      await waitFor('the supervisor\'s words to be heard', () => loudMs(mark) >= 800, 8000, 50);
      assert.ok(s.items.some((i) => i.role === 'assistant' && /\[said by a human supervisor\] A colleague is joining the call\./.test(i.content?.[0]?.text)), 'the model knows what the supervisor said');

      await new Promise((r) => setTimeout(r, 2500)); // let the supervisor's words finish
      mark = Number(process.hrtime.bigint()) / 1e6;
      s.send({ type: 'error', error: { type: 'server_error', code: 'model_overloaded', message: 'the model is overloaded' } });
      await waitFor('the apology to be heard', () => loudMs(mark) >= 800, 8000, 50);
      await waitFor('the error event', () => errors.some((m) => /the model is overloaded/.test(m)), 5000, 20);
      assert.equal(standIn.open, 1, 'the call goes on with the same Realtime session');

      const end = await ts.request('POST', '/api/override/end', { key, body: { call_sid: sid } });
      assert.equal(end.status, 200, end.text);
      await exitOk(byeOurs, 'caller (gets BYE)');
      const c = await endedCall();
      assert.equal(c.end_reason, 'ended by supervisor');
      const detail = await ts.request('GET', `/api/calls/${c.call_sid}`, { key });
      const turns = detail.body.transcript.map((x: { role: string; text: string }) => `${x.role}: ${x.text}`);
      assert.ok(turns.includes('supervisor: A colleague is joining the call.'), turns.join(' | '));
      assert.ok(turns.some((x: string) => x.startsWith('agent: I\'m sorry')), turns.join(' | '));
    } finally {
      stop();
      ear.close();
    }
    await released();
  });

  it('the agent ends the call with its tool after its goodbye is heard; a dead or refusing speech service ends the call, and the record says why', async () => {
    await setGreeting('');
    let sip = 18350;
    const before = standIn.sessions.length;
    const ear = await rtpCapture(sip + 20 + 10);
    try {
      const byeTool = run(files.write('rt-tool-bye.xml', caller({ sdpMediaPort: '[media_port+10]', playAudio: false })), {
        port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
      });
      await waitFor('the Realtime session', () => standIn.open === 1 && standIn.sessions.length === before + 1 && standIn.sessions.at(-1)!.sessionUpdates.length > 0, 10_000, 20);
      standIn.sessions.at(-1)!.reply({ tool: { name: 'end_call', arguments: '{}' } });
      await exitOk(byeTool, 'caller (gets BYE from the agent)');
      const byeAt = Number(process.hrtime.bigint()) / 1e6;
      const goodbye = tonePackets(ear.packets);
      assert.ok(Math.abs(goodbye.length * 20 - TONE_MS) <= 60, `${goodbye.length * 20} ms of the goodbye heard before the BYE`);
      assert.ok(goodbye.at(-1)!.at < byeAt);
      assert.equal((await endedCall()).end_reason, 'agent ended the call');
    } finally {
      ear.close();
    }
    await released();

    sip = 18250;
    const byeDead = run(files.write('rt-dead.xml', caller({ sdpMediaPort: '[media_port+10]', pcap: speech.pcap })), {
      port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
    });
    await waitFor('the second Realtime session', () => standIn.open === 1 && standIn.sessions.length === before + 2, 10_000, 20);
    standIn.sessions.at(-1)!.kill();
    await exitOk(byeDead, 'caller (gets BYE when the service dies)');
    const dead = await endedCall();
    assert.equal(dead.status, 'completed');
    assert.match(dead.end_reason, /^speech service closed the connection \(1006\)$/);
    await released();

    sip = 18300;
    standIn.refuse = true;
    try {
      const byeDown = run(files.write('rt-down.xml', caller({ sdpMediaPort: '[media_port+10]', playAudio: false })), {
        port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4001',
      });
      await exitOk(byeDown, 'caller (gets BYE when the service is down)');
    } finally {
      standIn.refuse = false;
    }
    assert.match((await endedCall()).end_reason, /^speech service unreachable: .*503/);
    await released();
  });
});
