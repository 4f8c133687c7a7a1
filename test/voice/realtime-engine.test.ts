/**
 * The realtime engine against the loopback Realtime stand-in, with a real RTP session and the
 * shared pacer sending to a UDP socket that plays the caller's phone: what the model is told,
 * what the caller hears and when, barge-in, tools, errors and a dying service.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import pino from 'pino';
import type { BrainEvent, TranscriptLine } from '../../src/brain/index.js';
import { decodeG711, encodeG711 } from '../../src/media/g711.js';
import { Pacer } from '../../src/media/pacer.js';
import { parseRtp } from '../../src/media/rtp.js';
import { bindInRange, RtpSession } from '../../src/media/rtp-session.js';
import type { VoiceHost } from '../../src/voice/engine.js';
import { heardPart, RealtimeEngine } from '../../src/voice/realtime/realtime-engine.js';
import { RealtimeStandIn, tone } from '../helpers/realtime-standin.js';

const PEER_PORT = 44900;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Harness {
  engine: RealtimeEngine;
  host: VoiceHost;
  rtp: RtpSession;
  peer: Socket;
  /** Tone packets the phone got (hrtime ms, RMS of the frame). */
  heard: Array<{ at: number; rms: number }>;
  finals: Array<{ line: TranscriptLine; interrupted: boolean }>;
  partials: string[];
  actions: BrainEvent[];
  troubles: string[];
  deaths: string[];
  close(): void;
}

const pacer = new Pacer();

async function harness(standIn: RealtimeStandIn, opts: { greeting?: string; voice?: string; port: number }): Promise<Harness> {
  const peer = createSocket('udp4');
  await new Promise<void>((r) => peer.bind(opts.port, '127.0.0.1', r));
  const socket = await bindInRange(44000, 44400, '127.0.0.1');
  const rtp = new RtpSession(socket, { pacer, law: 'PCMU', payloadType: 0, telephoneEvent: 101, remote: { address: '127.0.0.1', port: opts.port }, mediaTimeoutMs: 0 });
  const h = { heard: [], finals: [], partials: [], actions: [], troubles: [], deaths: [] } as unknown as Harness;
  peer.on('message', (m) => {
    const p = parseRtp(m);
    if (!p || p.payloadType !== 0) return;
    const pcm = decodeG711('PCMU', p.payload);
    const rms = Math.sqrt(pcm.reduce((a, v) => a + v * v, 0) / pcm.length);
    if (rms > 1000) h.heard.push({ at: nowMs(), rms });
  });
  const host: VoiceHost = {
    law: 'PCMU',
    profile: { voice: opts.voice ?? 'nova', language: 'en-US', greeting: opts.greeting ?? '' },
    play: (a) => rtp.play(a),
    flush: () => { rtp.flush(); },
    get playedMs() { return rtp.framesSent * 20; },
    get queuedToMs() { return rtp.framesSent * 20 + rtp.queuedMs; },
    brainInput: () => ({ systemPrompt: 'You book tables at Luigi\'s.', personality: '', greeting: '', contextData: { city: 'Turin' }, callContext: { order: 'A-17' }, model: null, transcript: [], signal: new AbortController().signal }),
    reply: async () => undefined,
    cutReply: () => undefined,
    partial: (t) => { h.partials.push(t); },
    final: (line, interrupted = false) => { h.finals.push({ line, interrupted }); },
    act: async (a) => { h.actions.push(a); },
    trouble: (m) => { h.troubles.push(m); },
    dead: (r) => { h.deaths.push(r); },
  };
  const engine = new RealtimeEngine(host, { baseUrl: standIn.baseUrl, apiKey: 'sk-test-key', model: 'rt-test' },
    { model: 'rt-test', transcribeModel: 'whisper-1', vadThreshold: 0.5, vadSilenceMs: 400 }, pino({ level: 'silent' }));
  Object.assign(h, { engine, host, rtp, peer, close: () => { engine.close(); rtp.close(); peer.close(); } });
  return h;
}

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('realtime engine (loopback Realtime stand-in)', () => {
  const standIn = new RealtimeStandIn({ toneHz: 1000, toneMs: 1500, speedup: 20 });
  before(async () => { await standIn.start(); });
  after(async () => { await standIn.stop(); });

  test('session.update carries G.711 in the call\'s law, server VAD, the prompt with data and context, a Realtime voice and the tools; the greeting is played at real time', async () => {
    const h = await harness(standIn, { greeting: 'Hello from Luigi\'s.', port: PEER_PORT });
    try {
      await h.engine.start();
      const s = standIn.sessions.at(-1)!;
      assert.match(s.url, /^\/v1\/realtime\?model=rt-test$/);
      assert.equal(s.authorization, 'Bearer sk-test-key');
      const cfg = s.sessionUpdates[0]!;
      assert.deepEqual(cfg.audio.input.format, { type: 'audio/pcmu' });
      assert.deepEqual(cfg.audio.output.format, { type: 'audio/pcmu' });
      assert.equal(cfg.audio.input.turn_detection.type, 'server_vad');
      assert.equal(cfg.audio.output.voice, 'marin', 'nova is not a Realtime voice');
      assert.match(cfg.instructions, /Luigi's/);
      assert.match(cfg.instructions, /"city":"Turin"/);
      assert.match(cfg.instructions, /"order":"A-17"/);
      assert.deepEqual(cfg.tools.map((t: { name: string }) => t.name).sort(), ['end_call', 'send_dtmf', 'transfer_call']);
      await until('the agent to greet first', () => s.events.includes('response.create'));

      await until('the whole reply', () => h.finals.some((f) => f.line.role === 'agent'), 5000);
      // 1.5 s of tone arrived in about 75 ms; it left at real time.
      const span = h.heard.at(-1)!.at - h.heard[0]!.at;
      assert.ok(h.heard.length >= 70 && h.heard.length <= 76, `${h.heard.length} tone packets`);
      assert.ok(span > 1350 && span < 1650, `played over ${span.toFixed(0)} ms`);
      assert.deepEqual(h.finals.at(-1), { line: { role: 'agent', text: 'This is the tone reply.' }, interrupted: false });
      assert.ok(h.partials.length > 0);
    } finally {
      h.close();
    }
  });

  test('barge-in: caller speech flushes our audio at once and the truncate carries the milliseconds played; the transcript keeps what was heard', async () => {
    const h = await harness(standIn, { greeting: 'Hi.', port: PEER_PORT + 2 });
    try {
      await h.engine.start();
      const s = standIn.sessions.at(-1)!;
      await until('the reply to be playing', () => h.heard.length >= 30);
      const loud = tone('PCMU', 300, 20, 12000);
      for (let i = 0; i < 5; i++) h.engine.hear(loud);
      await until('the truncate', () => s.truncates.length === 1);
      const at = s.speechStartedAt[0]!;
      await new Promise((r) => setTimeout(r, 300));
      const after = h.heard.filter((p) => p.at > at);
      const lastAt = after.length ? after.at(-1)!.at - at : 0;
      assert.ok(lastAt < 100, `our audio stopped ${lastAt.toFixed(0)} ms after speech started`);
      const played = h.heard.length * 20;
      const t = s.truncates[0]!;
      assert.equal(t.content_index, 0);
      assert.ok(Math.abs(t.audio_end_ms - played) <= 60, `truncate at ${t.audio_end_ms} ms, ${played} ms reached the phone`);
      const agent = h.finals.find((f) => f.line.role === 'agent')!;
      assert.equal(agent.interrupted, true);
      assert.ok('This is the tone reply.'.startsWith(agent.line.text) && agent.line.text.length < 'This is the tone reply.'.length, agent.line.text);
    } finally {
      h.close();
    }
  });

  test('the caller\'s turn ends by VAD: their transcript is final, the model answers; tools become actions and get their output', async () => {
    const h = await harness(standIn, { port: PEER_PORT + 4 });
    try {
      await h.engine.start();
      const s = standIn.sessions.at(-1)!;
      const speech = tone('PCMU', 300, 20, 12000);
      const quiet = encodeG711('PCMU', new Int16Array(160));
      for (let i = 0; i < 25; i++) h.engine.hear(speech);
      for (let i = 0; i < 25; i++) h.engine.hear(quiet);
      await until('the caller\'s transcript', () => h.finals.some((f) => f.line.role === 'caller'));
      assert.deepEqual(h.finals.find((f) => f.line.role === 'caller')!.line, { role: 'caller', text: 'hello' });
      assert.deepEqual(s.audio(), { ms: 1000, speechMs: 500, speechRms: s.audio().speechRms });
      await until('the reply', () => h.heard.length > 10);

      h.engine.digit('5');
      await until('the key to reach the model', () => s.items.some((i) => i.role === 'user' && i.content?.[0]?.text === '[the caller pressed 5]'));

      s.reply({ tool: { name: 'send_dtmf', arguments: '{"digits":"12#"}' } });
      await until('the dtmf action', () => h.actions.length === 1);
      assert.deepEqual(h.actions[0], { type: 'dtmf', digits: '12#' });
      await until('the tool output', () => s.functionOutputs.length === 1);
      assert.deepEqual(JSON.parse(s.functionOutputs[0]!.output), { ok: true });
      s.reply({ tool: { name: 'transfer_call', arguments: '{"target":"not a number"}' } });
      await until('the refused tool output', () => s.functionOutputs.length === 2);
      assert.equal(JSON.parse(s.functionOutputs[1]!.output).ok, false);
      assert.equal(h.actions.length, 1, 'a bad transfer target is no action');
      s.reply({ tool: { name: 'end_call', arguments: '{}' } });
      await until('the end action', () => h.actions.length === 2);
      assert.deepEqual(h.actions[1], { type: 'end' });
    } finally {
      h.close();
    }
  });

  test('a service error is trouble (the call goes on); a dropped connection is the end; our own close is neither', async () => {
    const h = await harness(standIn, { port: PEER_PORT + 6 });
    try {
      await h.engine.start();
      const s = standIn.sessions.at(-1)!;
      s.send({ type: 'error', error: { type: 'server_error', code: 'model_overloaded', message: 'the model is overloaded' } });
      s.send({ type: 'response.done', response: { id: 'resp_x', status: 'failed', status_details: { type: 'failed', error: { type: 'server_error', message: 'upstream timeout' } }, output: [] } });
      await until('both troubles', () => h.troubles.length === 2);
      assert.match(h.troubles[0]!, /the model is overloaded/);
      assert.match(h.troubles[1]!, /upstream timeout/);
      assert.deepEqual(h.deaths, []);
      s.kill();
      await until('the death', () => h.deaths.length === 1);
      assert.match(h.deaths[0]!, /speech service closed the connection \(1006\)/);
    } finally {
      h.close();
    }
    const h2 = await harness(standIn, { port: PEER_PORT + 8 });
    await h2.engine.start();
    h2.close();
    await until('the stand-in to see the close', () => standIn.sessions.at(-1)!.closed);
    assert.deepEqual(h2.deaths, []);
    assert.equal(standIn.open, 0);
  });

  test('an unreachable service, or one that refuses the session, fails start', async () => {
    const down = new RealtimeStandIn();
    await down.start();
    down.refuse = true;
    const h = await harness(down, { port: PEER_PORT + 10 });
    try {
      await assert.rejects(h.engine.start(), /503|Unexpected server response/);
    } finally {
      h.close();
      await down.stop();
    }
  });

  test('heardPart keeps whole words in proportion to the audio played', () => {
    assert.equal(heardPart('This is the tone reply.', 1), 'This is the tone reply.');
    assert.equal(heardPart('This is the tone reply.', 0), '');
    assert.equal(heardPart('This is the tone reply.', 0.5), 'This is the');
  });
});
