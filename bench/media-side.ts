/**
 * The measured process of the media benchmark (see bench/media.ts): either N calls' media as
 * Dialtone runs them (an RTP session with RTCP on the shared pacer, the realtime engine talking
 * to the parent's Realtime stand-in), or the baseline, a bare `dgram` relay of the same packet
 * rate. Reports its own CPU time, RSS and the model-audio → first-RTP-out latencies.
 */
import { createSocket, type Socket } from 'node:dgram';
import pino from 'pino';
import { Pacer } from '../src/media/pacer.js';
import { bindPairInRange, RtpSession } from '../src/media/rtp-session.js';
import type { VoiceHost } from '../src/voice/engine.js';
import { RealtimeEngine } from '../src/voice/realtime/realtime-engine.js';

interface Start { mode: 'dialtone' | 'baseline'; n: number; baseUrl: string; callerPorts: number[]; seconds: number }

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function dialtone(o: Start): Promise<{ firstOut: number[] }> {
  const pacer = new Pacer();
  const firstOut: number[] = [];
  const engines: RealtimeEngine[] = [];
  for (let i = 0; i < o.n; i++) {
    const { rtp: socket, rtcp } = await bindPairInRange(44000, 45199, '127.0.0.1');
    process.send!({ type: 'port', i, port: socket.address().port });
    const rtp = new RtpSession(socket, {
      pacer, law: 'PCMU', payloadType: 0, telephoneEvent: 101, remote: { address: '127.0.0.1', port: o.callerPorts[i]! }, mediaTimeoutMs: 0,
      rtcp: { socket: rtcp, cname: `bench-${i}@127.0.0.1` },
    });
    // Model audio handed over while nothing was queued: when does its first frame leave?
    let waitingSince: number | null = null;
    let sentBefore = 0;
    pacer.add({
      tick: () => {
        if (waitingSince !== null && rtp.framesSent > sentBefore) {
          firstOut.push(nowMs() - waitingSince);
          waitingSince = null;
        }
      },
    });
    const host: VoiceHost = {
      law: 'PCMU', profile: { voice: 'marin', language: 'en-US', greeting: '' },
      play: (a) => {
        if (rtp.queuedMs === 0 && waitingSince === null) {
          waitingSince = nowMs();
          sentBefore = rtp.framesSent;
        }
        rtp.play(a);
      },
      flush: () => { rtp.flush(); },
      get playedMs() { return rtp.framesSent * 20; },
      get queuedToMs() { return rtp.framesSent * 20 + rtp.queuedMs; },
      brainInput: () => ({ systemPrompt: 'Benchmark.', personality: '', greeting: '', contextData: {}, callContext: {}, model: null, transcript: [], signal: new AbortController().signal }),
      reply: async () => undefined, cutReply: () => undefined, partial: () => undefined, final: () => undefined, act: async () => undefined, trouble: () => undefined, dead: () => undefined,
    };
    const engine = new RealtimeEngine(host, { baseUrl: o.baseUrl, apiKey: 'sk-bench', model: 'bench' },
      { model: 'bench', transcribeModel: '', vadThreshold: 0.5, vadSilenceMs: 400 }, pino({ level: 'silent' }));
    rtp.on('audio', (f) => engine.hear(f));
    await engine.start();
    engines.push(engine);
  }
  return { firstOut };
}

async function baseline(o: Start): Promise<void> {
  // Per call: a socket that takes the caller's packets and sends one back every 20 ms, as a bare relay would.
  for (let i = 0; i < o.n; i++) {
    const s: Socket = createSocket('udp4');
    await new Promise<void>((r) => s.bind(44000 + i * 2, '127.0.0.1', r));
    const port = o.callerPorts[i]!;
    s.on('message', (m) => s.send(m, port, '127.0.0.1'));
    process.send!({ type: 'port', i, port: s.address().port });
  }
}

process.on('message', async (m: Start | { type: 'measure' } | { type: 'report' }) => {
  if ('mode' in m) {
    process.send!({ type: 'rss', rss: process.memoryUsage().rss });
    const state = m.mode === 'dialtone' ? await dialtone(m) : (await baseline(m), { firstOut: [] as number[] });
    (globalThis as { benchState?: unknown }).benchState = state;
    process.send!({ type: 'ready' });
    return;
  }
  if (m.type === 'measure') {
    (globalThis as { cpu0?: NodeJS.CpuUsage }).cpu0 = process.cpuUsage();
    (globalThis as { t0?: number }).t0 = nowMs();
    process.send!({ type: 'measuring' });
    return;
  }
  const g = globalThis as { cpu0?: NodeJS.CpuUsage; t0?: number; benchState?: { firstOut: number[] } };
  const cpu = process.cpuUsage(g.cpu0);
  process.send!({ type: 'report', cpuMs: (cpu.user + cpu.system) / 1000, wallMs: nowMs() - g.t0!, rss: process.memoryUsage().rss, firstOut: g.benchState?.firstOut ?? [] });
});
