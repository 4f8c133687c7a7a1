/**
 * Media benchmark (`npm run bench:media`), not a test. N concurrent calls' media in a child
 * process, as Dialtone runs them (RTP session with RTCP on the shared pacer, the realtime engine
 * over a WebSocket each), against a bare `dgram` relay of the same packet rate in the same run.
 * The callers (UDP sockets sending 20 ms G.711 frames: 1 s of loud tone, 1.5 s of silence, over
 * and over) run in this process, the Realtime stand-in (energy VAD; answers each turn with 1 s
 * of tone, sent 50× faster than real time) in a third. Prints CPU per call as a ratio of the
 * baseline's, RSS per call, outgoing packet spacing at the callers, RTP in → model and model
 * audio → first RTP out latencies, and packets lost.  N=100 SECONDS=10 (N ≤ 300: the port range)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { encodeG711 } from '../src/media/g711.js';
import { Pacer } from '../src/media/pacer.js';
import { buildRtp } from '../src/media/rtp.js';
import { tone } from '../test/helpers/realtime-standin.js';

const N = Math.min(300, Number(process.env.N ?? 100));
const SECONDS = Number(process.env.SECONDS ?? 10);
const CALLER_BASE = 45200;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (v: number[], q: number) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * q))]! : NaN; };

interface Caller { socket: Socket; target: number; sent: number[]; arrivals: number[]; received: number }

function spawnScript(script: string): ChildProcess {
  return fork(fileURLToPath(new URL(script, import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

interface StandIn { proc: ChildProcess; baseUrl: string; sessions: number }

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => { if (m.type === type) { child.off('message', on); resolve(m as T); } };
    child.on('message', on);
  });
}

async function run(mode: 'dialtone' | 'baseline', standIn: StandIn) {
  const callers: Caller[] = [];
  for (let i = 0; i < N; i++) {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(CALLER_BASE + i, '127.0.0.1', r));
    const c: Caller = { socket, target: 0, sent: [], arrivals: [], received: 0 };
    socket.on('message', () => { c.received++; c.arrivals.push(nowMs()); });
    callers.push(c);
  }
  const child = fork(fileURLToPath(new URL('./media-side.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (m: { type: string; i?: number; port?: number }) => { if (m.type === 'port') callers[m.i!]!.target = m.port!; });
  const rssBefore = next<{ rss: number }>(child, 'rss');
  const sessionsBefore = standIn.sessions;
  child.send({ mode, n: N, baseUrl: standIn.baseUrl, callerPorts: callers.map((_, i) => CALLER_BASE + i), seconds: SECONDS });
  const baseRss = (await rssBefore).rss;
  await next(child, 'ready');

  const loud = tone('PCMU', 300, 20, 12000);
  const quiet = encodeG711('PCMU', new Int16Array(160));
  const pacer = new Pacer();
  let frame = 0;
  const stop = pacer.add({
    tick: () => {
      const k = frame++;
      const payload = k % 125 < 50 ? loud : quiet;
      const at = nowMs();
      for (const c of callers) {
        c.socket.send(buildRtp({ payloadType: 0, marker: false, sequence: k & 0xffff, timestamp: k * 160, ssrc: 7, payload }), c.target, '127.0.0.1');
        c.sent.push(at);
      }
    },
  });
  await sleep(2000); // warm-up
  for (const c of callers) { c.arrivals.length = 0; }
  const measuring = next(child, 'measuring');
  child.send({ type: 'measure' });
  await measuring;
  const firstSent = frame;
  await sleep(SECONDS * 1000);
  const reported = next<{ cpuMs: number; wallMs: number; rss: number; firstOut: number[] }>(child, 'report');
  child.send({ type: 'report' });
  const r = await reported;
  stop();
  const lastSent = frame;
  await sleep(300);

  const gaps: number[] = [];
  for (const c of callers) for (let i = 1; i < c.arrivals.length; i++) gaps.push(c.arrivals[i]! - c.arrivals[i - 1]!);
  const inToModel: number[] = [];
  let appended = 0;
  if (mode === 'dialtone') {
    const got = next<{ sessions: number[][] }>(standIn.proc, 'appends');
    standIn.proc.send({ type: 'appends', from: sessionsBefore });
    const { sessions } = await got;
    standIn.sessions += sessions.length;
    sessions.forEach((times, i) => {
      appended += times.length;
      const c = callers[i]!;
      for (let k = firstSent; k < Math.min(lastSent, times.length); k++) inToModel.push(times[k]! - c.sent[k]!);
    });
  }
  const sent = callers.reduce((a, c) => a + c.sent.length, 0);
  child.kill('SIGTERM');
  for (const c of callers) c.socket.close();
  await new Promise((r) => child.once('exit', r));
  return {
    cpuPerCallPerS: r.cpuMs / N / (r.wallMs / 1000), rssPerCall: (r.rss - baseRss) / N, gaps, inToModel,
    firstOut: r.firstOut, lost: mode === 'dialtone' ? sent - appended : null,
  };
}

const proc = spawnScript('./media-standin.ts');
const { baseUrl } = await next<{ baseUrl: string }>(proc, 'listening');
const standIn: StandIn = { proc, baseUrl, sessions: 0 };
const base = await run('baseline', standIn);
const dt = await run('dialtone', standIn);
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
const f = (v: number) => v.toFixed(1);
console.log(`media benchmark: ${N} concurrent calls, ${SECONDS} s measured, 50 packets/s each way per call`);
console.log(`baseline (bare dgram relay): CPU ${f(base.cpuPerCallPerS)} ms per call-second, spacing p99 ${f(pct(base.gaps, 0.99))} ms`);
console.log(`dialtone: CPU ${f(dt.cpuPerCallPerS)} ms per call-second = ${(dt.cpuPerCallPerS / base.cpuPerCallPerS).toFixed(2)}x the baseline; RSS ${(dt.rssPerCall / 1024).toFixed(0)} kB per call`);
console.log(`dialtone: outbound spacing p50 ${f(pct(dt.gaps, 0.5))} / p99 ${f(pct(dt.gaps, 0.99))} ms (within 20 ± 5: ${(100 * dt.gaps.filter((g) => g >= 15 && g <= 25).length / dt.gaps.length).toFixed(1)}%)`);
console.log(`dialtone: RTP in → model p50 ${f(pct(dt.inToModel, 0.5))} / p99 ${f(pct(dt.inToModel, 0.99))} ms; model audio → first RTP out p50 ${f(pct(dt.firstOut, 0.5))} / p99 ${f(pct(dt.firstOut, 0.99))} ms (${dt.firstOut.length} replies)`);
console.log(`dialtone: caller packets not reaching the model: ${dt.lost}`);
