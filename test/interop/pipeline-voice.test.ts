/**
 * The `pipeline` engine and the embedded offline default on a line registered at Kamailio, with
 * real audio: SIPp calls the line through Kamailio and plays speech made by espeak-ng (or SIPp's
 * own RFC 4733 pcaps); the speech services are loopback HTTP stand-ins of the OpenAI audio API
 * (the STT one measures the WAV it is sent, the TTS one answers a 24 kHz tone). The caller's RTP
 * port is a test socket that records what the caller hears.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { parseTelephoneEvent, digitOf } from '../../src/media/telephone-event.js';
import type { VoiceCall } from '../../src/calls/sip/voice-call.js';
import { NO_STT_NOTICE } from '../../src/voice/offline-engine.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SttStandIn, TtsStandIn } from '../helpers/speech-standins.js';
import { caller, scenarioDir } from './call-scenarios.js';
import { fastSip, voiceAgentOnLine, type Line } from './helpers.js';
import { Kamailio, exitOk, rtpCapture, sipp, udpPortFree, waitFor, type CapturedRtp, type SippRun } from './peers.js';
import { makeSpeech, percentile, rmsOf, soxStat, type Speech } from './speech.js';

const KAMAILIO_PORT = 18500;
const RTP_MIN = 46200;
const RTP_MAX = 46219;
const TONE_HZ = 700;
const SPEECH_RMS = 500;
const CALLER_TEXT = 'I would like to book a table for two.';
const REPLY = `I'm an offline assistant without a language model, so I can only repeat what I heard. You said: ${CALLER_TEXT}`;

const loud = (packets: CapturedRtp[], rms: number) => packets.filter((p) => p.payloadType === 8 && rmsOf(p.payload) > rms);

describe('pipeline engine and the offline default on a line registered at Kamailio (SIPp caller, espeak-ng speech, STT/TTS stand-ins)', { concurrency: false }, () => {
  let ts: TestServer;
  let config: Config;
  let kam: Kamailio;
  let stt: SttStandIn;
  let tts: TtsStandIn;
  let key: string;
  let line: Line;
  let agentId: string;
  let speech: Speech;
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-pipeline-'));
  const files = scenarioDir();
  const started: SippRun[] = [];
  let nextSip = 18510;
  const call = (name: string, o: Parameters<typeof caller>[0]) => {
    const sip = nextSip;
    nextSip += 40;
    const r = sipp(files.write(name, caller({ sdpMediaPort: '[media_port+10]', ...o })), { port: sip, mediaPort: sip + 20, remote: `127.0.0.1:${KAMAILIO_PORT}`, service: '4501' });
    started.push(r);
    return { run: r, earPort: sip + 30 };
  };

  before(async () => {
    speech = makeSpeech(dir, 'Hello, I would like to book a table for two people tonight, please.', 'PCMA');
    stt = await new SttStandIn([CALLER_TEXT], SPEECH_RMS).start();
    tts = await new TtsStandIn({ hz: TONE_HZ, ms: 800 }).start();
    kam = new Kamailio({ port: KAMAILIO_PORT, users: { '4501': 'pipe-line-pass' }, calls: true });
    await kam.start();
    ts = await startTestServer('sqlite', {
      sip: true,
      config: (c) => {
        config = c;
        fastSip(c);
        c.media.rtpPortMin = RTP_MIN;
        c.media.rtpPortMax = RTP_MAX;
        c.voice.stt = { baseUrl: stt.baseUrl, apiKey: 'sk-test-stt', model: 'stt-test' };
        c.voice.tts = { baseUrl: tts.baseUrl, apiKey: 'sk-test-tts', model: 'tts-test', format: 'wav' };
      },
    });
    key = (await ts.newTenant()).key;
    ({ agentId, line } = await voiceAgentOnLine(ts, key, { registrar: `sip:127.0.0.1:${KAMAILIO_PORT}`, username: '4501', password: 'pipe-line-pass', voice: 'nova', engine: 'pipeline' }));
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

  async function setAgent(body: Record<string, unknown>) {
    const r = await ts.request('PUT', `/api/agents/${agentId}`, { key, body });
    assert.equal(r.status, 200, r.text);
  }

  let seen = 0;
  async function endedCall() {
    const c = await waitFor('the call to be recorded as ended', async () => {
      const h = await ts.request('GET', `/api/calls/history?agent_id=${agentId}`, { key });
      const calls = h.body?.calls ?? [];
      return calls.length > seen && calls[0].ended_at ? calls[0] : null;
    }, 20_000);
    seen++;
    return c;
  }

  async function turnsOf(callSid: string): Promise<string[]> {
    const detail = await ts.request('GET', `/api/calls/${callSid}`, { key });
    return detail.body.transcript.map((t: { role: string; text: string; interrupted: boolean }) => `${t.role}${t.interrupted ? '(cut)' : ''}: ${t.text}`);
  }

  /** No call, no conversation, and every RTP port of our range bindable again. */
  async function released() {
    await waitFor('sessions to be released', () => ts.server.sipCalls!.liveCount === 0 && ts.server.runtime.sessions.size() === 0, 5000, 20);
    const ports = Array.from({ length: RTP_MAX - RTP_MIN + 1 }, (_, i) => RTP_MIN + i);
    const free = await Promise.all(ports.map(udpPortFree));
    assert.equal(free.filter(Boolean).length, ports.length, `RTP ports still bound: ${ports.filter((_, i) => !free[i]).join(', ')}`);
  }

  it('the transcriber gets the caller\'s speech as an 8 kHz WAV, the brain\'s reply is synthesised sentence by sentence, and the caller hears it at real time', async (t) => {
    await setAgent({ greeting: '' });
    const uploads = stt.uploads.length;
    const spoken = tts.spoken.length;
    const { run, earPort } = call('pipe-caller.xml', { pcap: speech.pcap, hangUpAfterMs: 10_000 });
    const ear = await rtpCapture(earPort);
    try {
      await exitOk(run, 'caller via Kamailio');
    } finally {
      ear.close();
    }
    // What the transcriber got: one utterance, all of the speech in it, as loud as it was made.
    assert.equal(stt.uploads.length, uploads + 1, 'one utterance');
    const up = stt.uploads.at(-1)!;
    assert.equal(up.sampleRate, 8000);
    assert.equal(up.model, 'stt-test');
    assert.equal(up.language, 'en');
    const speechMs = speech.loudMs(SPEECH_RMS);
    assert.ok(Math.abs(up.speechMs - speechMs) <= 100, `the transcriber heard ${up.speechMs} ms of speech; the file has ${speechMs} ms`);
    assert.ok(up.ms >= speechMs && up.ms <= speechMs + 2000, `the upload is ${up.ms.toFixed(0)} ms long`);
    assert.ok(up.speechRms > 1000, `speech RMS at the transcriber ${up.speechRms.toFixed(0)}`);

    // What was synthesised: the brain's reply, in the agent's voice, a sentence at a time.
    const asked = tts.spoken.slice(spoken);
    assert.deepEqual(asked.map((s) => s.input).join(' '), REPLY);
    assert.ok(asked.length >= 2, `${asked.length} synthesis requests`);
    assert.ok(asked.every((s) => s.voice === 'nova' && s.model === 'tts-test' && s.format === 'wav'));

    // What the caller heard: every piece of tone, at its frequency and level, 20 ms a packet.
    const tone = loud(ear.packets, 1000);
    const stat = soxStat(dir, Buffer.concat(tone.map((p) => p.payload)), 'PCMA');
    const expected = asked.length * 800;
    assert.ok(Math.abs(stat.frequency - TONE_HZ) <= TONE_HZ * 0.05, `reply frequency ${stat.frequency} Hz`);
    assert.ok(Math.abs(stat.rms - 8000 / Math.SQRT2) <= 600, `reply RMS ${stat.rms.toFixed(0)}`);
    assert.ok(Math.abs(tone.length * 20 - expected) <= 80, `${tone.length * 20} ms of reply reached the caller; ${expected} ms were synthesised`);
    const all = ear.packets.filter((p) => p.at >= tone[0]!.at && p.at <= tone.at(-1)!.at);
    const gaps = all.slice(1).map((p, i) => p.at - all[i]!.at);
    const mean = (all.at(-1)!.at - all[0]!.at) / (all.length - 1);
    assert.ok(Math.abs(mean - 20) <= 2, `mean spacing ${mean.toFixed(2)} ms`);
    assert.ok(Math.abs(percentile(gaps, 0.5) - 20) <= 2, `median spacing ${percentile(gaps, 0.5).toFixed(1)} ms`);
    assert.ok(all.slice(1).every((p, i) => ((p.timestamp - all[i]!.timestamp) >>> 0) === 160), 'RTP timestamps step 160');
    const firstOut = tone[0]!.at - up.at;
    t.diagnostic(`transcriber got ${up.ms.toFixed(0)} ms (${up.speechMs} ms speech, file ${speechMs} ms, RMS ${up.speechRms.toFixed(0)}); ${asked.length} TTS pieces; caller heard ${tone.length * 20} ms of ${stat.frequency} Hz at RMS ${stat.rms.toFixed(0)}; first reply audio ${firstOut.toFixed(0)} ms after the upload; spacing median ${percentile(gaps, 0.5).toFixed(1)}, p99 ${percentile(gaps, 0.99).toFixed(1)} ms`);

    const c = await endedCall();
    assert.equal(c.handler, 'dialtone');
    assert.equal(c.status, 'completed');
    assert.equal(c.end_reason, 'caller hung up');
    assert.deepEqual(await turnsOf(c.call_sid), [`caller: ${CALLER_TEXT}`, `agent: ${REPLY}`]);
    await released();
  });

  it('barge-in: the caller speaking over the greeting stops our audio at once, and the transcript keeps what was heard', async (t) => {
    const greeting = 'Welcome to Luigi\'s, the finest table bookings in town, how can I help you today?';
    await setAgent({ greeting });
    tts.tone = { hz: TONE_HZ, ms: 3000 };
    const playAfter = 900;
    const { run, earPort } = call('pipe-barge.xml', { pcap: speech.pcap, playAfterMs: playAfter, hangUpAfterMs: 7000 });
    const ear = await rtpCapture(earPort);
    // When the caller's speech reaches our RTP socket: the clock barge-in is measured on.
    let callerSpeaksAt = 0;
    try {
      const live = await waitFor('the live voice call', () => [...(ts.server.sipCalls as unknown as { voice: Map<string, VoiceCall> }).voice.values()][0], 10_000, 5);
      live.rtp.on('audio', (frame: Buffer) => {
        if (!callerSpeaksAt && rmsOf(frame) >= SPEECH_RMS) callerSpeaksAt = Number(process.hrtime.bigint()) / 1e6;
      });
      await exitOk(run, 'caller via Kamailio');
    } finally {
      ear.close();
      tts.tone = { hz: TONE_HZ, ms: 800 };
    }
    assert.ok(callerSpeaksAt > 0, 'the caller\'s speech reached us');
    const tone = loud(ear.packets, 1000);
    const greetingPackets = tone.filter((p) => p.at < callerSpeaksAt + 500);
    const lastAfter = greetingPackets.at(-1)!.at - callerSpeaksAt;
    // Our VAD needs three loud frames (60 ms) to believe it; then the queue goes at once.
    assert.ok(lastAfter <= 100, `greeting audio went on ${lastAfter.toFixed(0)} ms after the caller started speaking`);
    const next = ear.packets.filter((p) => p.at > greetingPackets.at(-1)!.at + 1 && p.at < greetingPackets.at(-1)!.at + 100);
    assert.ok(next.length >= 3 && next.every((p) => rmsOf(p.payload) < 50), `${next.length} packets right after the cut are silence`);
    const playedMs = greetingPackets.length * 20;
    assert.ok(playedMs > 500 && playedMs < 3000, `${playedMs} ms of the greeting played`);
    t.diagnostic(`barge-in: last greeting packet ${lastAfter.toFixed(0)} ms after the caller's speech began; ${playedMs} ms of 3000 played`);

    const c = await endedCall();
    const turns = await turnsOf(c.call_sid);
    const first = turns[0]!;
    assert.ok(first.startsWith('agent(cut): '), turns.join(' | '));
    const heard = first.slice('agent(cut): '.length);
    assert.ok(greeting.startsWith(heard) && heard.length < greeting.length, `kept only what was heard: "${heard}"`);
    // About as much of the text as of the audio (whole words).
    assert.ok(Math.abs(heard.length / greeting.length - playedMs / 3000) <= 0.15, `"${heard}" for ${playedMs} ms of 3000`);
    assert.equal(turns[1], `caller: ${CALLER_TEXT}`);
    await released();
  });

  it('a transcription error is apologised for (offline speech) and reported, the call goes on; supervisor dtmf reaches the caller as RFC 4733, supervisor text is spoken and marked', async () => {
    await setAgent({ greeting: '' });
    const errors: string[] = [];
    const stop = ts.server.bus.subscribe((e) => { if (e.type === 'error') errors.push(e.data.message); });
    stt.failWith = 500;
    const { run, earPort } = call('pipe-trouble.xml', { pcap: speech.pcap, hangUpAfterMs: 11_000 });
    const ear = await rtpCapture(earPort);
    try {
      await waitFor('the error event', () => errors.some((m) => /speech-to-text failed: 500/.test(m)), 10_000, 20);
      stt.failWith = null;
      const at = Number(process.hrtime.bigint()) / 1e6;
      await waitFor('the apology to be heard', () => loud(ear.packets.filter((p) => p.at > at - 500), 300).length * 20 >= 1500, 8000, 50);
      const sid = (await ts.request('GET', '/api/calls/active', { key })).body[0].call_sid as string;
      const dtmf = await ts.request('POST', '/api/override/dtmf', { key, body: { call_sid: sid, digit: '42' } });
      assert.equal(dtmf.status, 200, dtmf.text);
      await waitFor('both digits at the caller', () => ear.packets.filter((p) => p.payloadType === 101).length >= 10, 5000, 20);
      const said = Number(process.hrtime.bigint()) / 1e6;
      const text = await ts.request('POST', '/api/override/text', { key, body: { call_sid: sid, text: 'A colleague is joining the call.' } });
      assert.equal(text.status, 200, text.text);
      assert.equal(tts.spoken.at(-1)!.input, 'A colleague is joining the call.', 'the supervisor\'s words are synthesised as given');
      await waitFor('the supervisor\'s words to be heard', () => loud(ear.packets.filter((p) => p.at > said), 1000).length * 20 >= 780, 5000, 20);
      await exitOk(run, 'caller via Kamailio');
    } finally {
      stop();
      ear.close();
      stt.failWith = null;
    }
    const events = ear.packets.filter((p) => p.payloadType === 101).map((p) => ({ p, e: parseTelephoneEvent(p.payload)! }));
    const digits = [...new Set(events.map(({ p, e }) => `${p.timestamp}:${digitOf(e.event)}`))].map((k) => k.split(':')[1]);
    assert.deepEqual(digits, ['4', '2'], 'each digit once, in order, with its own timestamp');
    for (const d of ['4', '2']) {
      const ends = events.filter(({ e }) => digitOf(e.event) === d && e.end);
      assert.ok(ends.length >= 1 && ends[0]!.e.duration >= 1280, `digit ${d} ends after ${ends[0]?.e.duration} samples`);
    }
    const c = await endedCall();
    assert.equal(c.end_reason, 'caller hung up');
    const turns = await turnsOf(c.call_sid);
    assert.ok(turns.some((x) => x.startsWith('agent: I\'m sorry')), turns.join(' | '));
    assert.ok(turns.includes('system: sent digits 42'), turns.join(' | '));
    assert.ok(turns.includes('supervisor: A colleague is joining the call.'), turns.join(' | '));
    await released();
  });

  it('a synthesis error on the reply is apologised for (offline speech) and reported; the call goes on', async () => {
    await setAgent({ greeting: '' });
    const errors: string[] = [];
    const stop = ts.server.bus.subscribe((e) => { if (e.type === 'error') errors.push(e.data.message); });
    tts.failWith = 500;
    const { run, earPort } = call('pipe-tts-fails.xml', { pcap: speech.pcap, hangUpAfterMs: 10_000 });
    const ear = await rtpCapture(earPort);
    try {
      await exitOk(run, 'caller via Kamailio');
    } finally {
      stop();
      ear.close();
      tts.failWith = null;
    }
    assert.ok(errors.some((m) => /^text-to-speech failed: 500/.test(m)), errors.join(' | '));
    const heard = loud(ear.packets, 300);
    assert.ok(heard.length * 20 >= 2000, `${heard.length * 20} ms of apology heard`);
    const c = await endedCall();
    assert.equal(c.end_reason, 'caller hung up');
    const turns = await turnsOf(c.call_sid);
    assert.deepEqual(turns.slice(0, 1), [`caller: ${CALLER_TEXT}`]);
    assert.ok(turns.some((x) => x.startsWith('agent: I\'m sorry')), turns.join(' | '));
    assert.ok(!turns.some((x) => x.includes('offline assistant')), `the failed reply is not stored as said: ${turns.join(' | ')}`);
    await released();
  });

  it('the agent ends the call after its goodbye is heard (BYE from our side); no media from the caller hangs up; the record says why', async () => {
    await setAgent({ greeting: '' });
    const texts = stt.texts;
    stt.texts = ['Thank you, goodbye.'];
    const spoken = tts.spoken.length;
    try {
      const { run, earPort } = call('pipe-goodbye.xml', { pcap: speech.pcap });
      const ear = await rtpCapture(earPort);
      try {
        await exitOk(run, 'caller (gets BYE from the agent)');
      } finally {
        ear.close();
      }
      const byeAt = Number(process.hrtime.bigint()) / 1e6;
      const pieces = tts.spoken.slice(spoken);
      assert.deepEqual(pieces.map((p) => p.input), ['Thank you for calling.', 'Goodbye!']);
      const goodbye = loud(ear.packets, 1000);
      assert.ok(Math.abs(goodbye.length * 20 - pieces.length * 800) <= 80, `${goodbye.length * 20} ms of the goodbye heard before the BYE`);
      assert.ok(goodbye.at(-1)!.at < byeAt);
      const c = await endedCall();
      assert.equal(c.end_reason, 'agent ended the call');
      assert.deepEqual((await turnsOf(c.call_sid)).slice(-1), ['agent: Thank you for calling. Goodbye!']);
    } finally {
      stt.texts = texts;
    }
    await released();

    const timeout = config.media.timeoutMs;
    config.media.timeoutMs = 2000;
    try {
      const { run } = call('pipe-silent.xml', { playAudio: false });
      await exitOk(run, 'caller (gets BYE when it sends no media)');
    } finally {
      config.media.timeoutMs = timeout;
    }
    assert.equal((await endedCall()).end_reason, 'no media from the caller for 2 s');
    await released();
  });

  it('a speech service that cannot be reached ends the call, and the record says why', async () => {
    await setAgent({ greeting: 'Welcome to Luigi\'s.' });
    const port = Number(new URL(tts.baseUrl).port);
    await tts.stop();
    try {
      const { run } = call('pipe-dead.xml', { playAudio: false });
      await exitOk(run, 'caller (gets BYE when the speech service is down)');
      const c = await endedCall();
      assert.equal(c.status, 'completed');
      assert.match(c.end_reason, /^text-to-speech service unreachable: /);
      await released();
    } finally {
      tts = await new TtsStandIn({ hz: TONE_HZ, ms: 800 }).start();
      assert.ok(port > 0);
      config.voice.tts = { baseUrl: tts.baseUrl, apiKey: 'sk-test-tts', model: 'tts-test', format: 'wav' };
    }
  });

  describe('with no speech service configured (the embedded default)', () => {
    const greeting = 'Welcome to Luigi\'s.';
    before(() => {
      config.voice.stt = null;
      config.voice.tts = null;
    });

    it('the caller hears the greeting spoken by the built-in synthesiser, as long and as loud as eSpeak makes it', async (t) => {
      await setAgent({ greeting, context_data: {} });
      const { run, earPort } = call('offline-greeting.xml', { playAudio: false, hangUpAfterMs: 14_000 });
      const ear = await rtpCapture(earPort);
      try {
        await exitOk(run, 'caller via Kamailio');
      } finally {
        ear.close();
      }
      // eSpeak NG (the Debian one, not ours) for the same text, at the caller's 8 kHz A-law.
      const wav = join(dir, 'greeting.wav');
      const raw = join(dir, 'greeting.g711');
      execFileSync('espeak-ng', ['-v', 'en-us', '-w', wav, '--', `${greeting} ${NO_STT_NOTICE}`]);
      execFileSync('sox', [wav, '-r', '8000', '-c', '1', '-e', 'a-law', '-t', 'raw', raw]);
      const ref = readFileSync(raw);
      const refFrames = Array.from({ length: Math.floor(ref.length / 160) }, (_, i) => ref.subarray(i * 160, i * 160 + 160));
      const refLoud = refFrames.filter((f) => rmsOf(f) > 300);
      const heard = loud(ear.packets, 300);
      assert.ok(heard.length > 0, 'the caller heard something');
      const span = heard.at(-1)!.at - heard[0]!.at + 20;
      const loudAt = refFrames.map((f, i) => (rmsOf(f) > 300 ? i : -1)).filter((i) => i >= 0);
      const refSpan = (loudAt.at(-1)! - loudAt[0]! + 1) * 20;
      const ours = soxStat(dir, Buffer.concat(heard.map((p) => p.payload)), 'PCMA');
      const theirs = soxStat(dir, Buffer.concat(refLoud), 'PCMA');
      t.diagnostic(`greeting heard over ${span.toFixed(0)} ms (${heard.length * 20} ms loud, RMS ${ours.rms.toFixed(0)}); eSpeak NG makes ${refSpan} ms (${refLoud.length * 20} ms loud, RMS ${theirs.rms.toFixed(0)})`);
      assert.ok(Math.abs(span - refSpan) <= refSpan * 0.1, `heard over ${span.toFixed(0)} ms; eSpeak makes ${refSpan} ms`);
      assert.ok(Math.abs(heard.length - refLoud.length) <= refLoud.length * 0.1, `${heard.length * 20} ms loud; eSpeak makes ${refLoud.length * 20} ms`);
      assert.ok(Math.abs(ours.rms - theirs.rms) <= theirs.rms * 0.25, `RMS ${ours.rms.toFixed(0)}; eSpeak's ${theirs.rms.toFixed(0)}`);
      const c = await endedCall();
      assert.deepEqual(await turnsOf(c.call_sid), [`agent: ${greeting} ${NO_STT_NOTICE}`]);
      await released();
    });

    it('DTMF menu: a key from SIPp\'s RFC 4733 pcap reaches the brain as a digit, and 0 transfers to the agent\'s transfer target (REFER)', async () => {
      await setAgent({ greeting: 'Hi.', context_data: { transfer_to: '+15557654321' } });
      const one = call('dtmf-one.xml', { pcap: '/usr/share/sip-tester/dtmf_2833_1.pcap', playAfterMs: 300, hangUpAfterMs: 9000 });
      const ear = await rtpCapture(one.earPort);
      try {
        await exitOk(one.run, 'caller pressing 1');
      } finally {
        ear.close();
      }
      const c1 = await endedCall();
      const turns = await turnsOf(c1.call_sid);
      assert.ok(turns.includes('caller: pressed 1'), turns.join(' | '));
      assert.ok(turns.some((x) => x.startsWith('agent') && x.endsWith('You said: pressed 1')), `the brain answered the digit: ${turns.join(' | ')}`);
      await released();

      const zero = call('dtmf-zero.xml', { pcap: '/usr/share/sip-tester/dtmf_2833_0.pcap', playAfterMs: 300, acceptRefer: '<tel:\\+15557654321>', hangUpAfterMs: 500 });
      const ear0 = await rtpCapture(zero.earPort);
      try {
        await exitOk(zero.run, 'caller pressing 0 (gets a REFER)');
      } finally {
        ear0.close();
      }
      const c0 = await endedCall();
      assert.equal(c0.end_reason, 'transferred to +15557654321');
      assert.ok((await turnsOf(c0.call_sid)).includes('caller: pressed 0'));
      await released();
    });
  });
});
