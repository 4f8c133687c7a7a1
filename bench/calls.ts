/**
 * SIP call benchmark (`npm run bench:calls`), not a test. SIPp's built-in UAC calls SIPp's
 * built-in UAS twice in the same run: directly (the baseline) and through Dialtone, where each
 * call is routed (the agent's direct URI), recorded in the calls table (SQLite) and bridged back
 * to back to the UAS, which stands in for the agent's handler. Prints, for each phase:
 *   - sustained: RATE calls/s for SECONDS s with no hold time; successful and failed calls;
 *   - setup latency: INVITE → 200 at the caller, p50/p99, and Dialtone's p99 minus the baseline's;
 *   - concurrent: CONCURRENT dialogs held at once (calls of HOLD_MS) and Dialtone's RSS per dialog.
 *   RATE=100 SECONDS=20 CONCURRENT=1000 HOLD_MS=8000 ROUNDS=4 (the sustained phase alternates
 *   baseline and Dialtone in ROUNDS turns each; the event-loop figures cover all turns)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';

const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 20);
const CONCURRENT = Number(process.env.CONCURRENT ?? 1000);
const HOLD_MS = Number(process.env.HOLD_MS ?? 8000);
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 4));
const UAS_PORT = Number(process.env.BENCH_UAS_PORT ?? 17060);
const UAC_PORT = UAS_PORT + 1;

interface SippResult { ok: number; failed: number; setupMs: number[]; wallS: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** SIPp's built-in UAS: answers every INVITE with 200 and SDP, waits for BYE. */
function uas(): { stop(): Promise<void> } {
  const proc = spawn('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS_PORT), '-mp', String(UAS_PORT + 1000), '-nostdin', '-max_socket', '5000'], { stdio: 'ignore' });
  const done = new Promise<void>((r) => proc.once('exit', () => r()));
  return { async stop() { proc.kill('SIGTERM'); await done; } };
}

/** SIPp's built-in UAC: `total` calls at `rate`/s, each held `holdMs`, with per-call response times. */
async function uac(target: string, service: string, rate: number, total: number, holdMs: number): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-bench-calls-'));
  const args = ['-sn', 'uac', '-i', '127.0.0.1', '-p', String(UAC_PORT), '-mp', String(UAC_PORT + 2000), '-s', service,
    '-r', String(rate), '-m', String(total), '-d', String(holdMs), '-l', String(Math.max(CONCURRENT * 2, 100)),
    '-nostdin', '-trace_rtt', '-rtt_freq', '1', '-timeout', `${Math.ceil(total / rate + holdMs / 1000 + 60)}s`, '-max_socket', '5000', target];
  const t0 = Date.now();
  let out = '';
  const proc = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-50_000); });
  proc.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-50_000); });
  await new Promise<void>((r) => proc.once('exit', () => r()));
  const wallS = (Date.now() - t0) / 1000;
  const num = (label: string) => Number(new RegExp(`${label}\\s+\\|\\s+\\d+\\s+\\|\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
  const setupMs: number[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('_rtt.csv'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n').slice(1)) {
      const ms = Number(line.split(';')[1]); // Date_ms;response_time_ms;rtd_no (whole ms)
      if (Number.isFinite(ms) && line.trim()) setupMs.push(ms);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { ok: num('Successful call'), failed: num('Failed call'), setupMs: setupMs.sort((a, b) => a - b), wallS };
}

/** Event-loop delay and GC pauses of this process (the server's) while a phase runs: where a setup tail comes from. */
function watchLoop(setups: () => number): { stop(): string } {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const elu = performance.eventLoopUtilization();
  let peakSetups = 0;
  const sampler = setInterval(() => { peakSetups = Math.max(peakSetups, setups()); }, 20);
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => { for (const e of list.getEntries()) pauses.push(e.duration); });
  delay.enable();
  gc.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      delay.disable();
      gc.disconnect();
      clearInterval(sampler);
      const busy = performance.eventLoopUtilization(elu).utilization;
      const ms = (ns: number) => (ns / 1e6).toFixed(1);
      return `busy ${(busy * 100).toFixed(0)} %, delay p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms; peak setups in flight ${peakSetups}; GC ${pauses.length} pauses, ${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms in all, longest ${Math.max(0, ...pauses).toFixed(1)} ms`;
    },
  };
}

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-data-'));
  const config = loadConfig({});
  Object.assign(config, { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' });
  config.rateLimit = { perHour: 1e9, perMinute: 1e9 };
  Object.assign(config.sip, { port: 0, host: '127.0.0.1', publicHost: '127.0.0.1', allowPrivateTargets: true });
  const server = await createServer(config, {
    logger: pino({ level: 'silent' }),
    livekit: { legFor: async () => ({ label: 'bench UAS', uri: `sip:agent@127.0.0.1:${UAS_PORT}`, headers: {} }) },
  });
  const { udpPort } = await server.startSip();
  const tenant = await server.services.tenants.create({ name: 'bench', maxConcurrentCalls: 100_000 });
  const agent = await server.services.agents.create({ tenantId: tenant.id }, { name: 'bench agent', handler: 'livekit' });
  const service = `direct.${agent.directHash}`;
  const callee = uas();
  await sleep(500);
  try {
    const rows: string[] = [];
    const report = (name: string, base: SippResult, ours: SippResult) => {
      const p = (r: SippResult, q: number) => percentile(r.setupMs, q).toFixed(2);
      rows.push(`${name}: baseline ${base.ok} ok / ${base.failed} failed in ${base.wallS.toFixed(1)} s (setup p50 ${p(base, 50)} ms, p99 ${p(base, 99)} ms)`);
      rows.push(`${' '.repeat(name.length)}  Dialtone ${ours.ok} ok / ${ours.failed} failed in ${ours.wallS.toFixed(1)} s (setup p50 ${p(ours, 50)} ms, p99 ${p(ours, 99)} ms)`);
      rows.push(`${' '.repeat(name.length)}  added p99 setup: ${(percentile(ours.setupMs, 99) - percentile(base.setupMs, 99)).toFixed(2)} ms; ok ratio ${(ours.ok / base.ok).toFixed(2)}×`);
    };
    // Baseline and Dialtone take turns (ROUNDS slices each), so on a machine shared with other
    // work both see the same spells of contention.
    const slice = Math.round((RATE * SECONDS) / ROUNDS);
    const merged = (a: SippResult, b: SippResult): SippResult =>
      ({ ok: a.ok + b.ok, failed: a.failed + b.failed, setupMs: [...a.setupMs, ...b.setupMs].sort((x, y) => x - y), wallS: a.wallS + b.wallS });
    const none: SippResult = { ok: 0, failed: 0, setupMs: [], wallS: 0 };
    let baseSustained = none;
    let oursSustained = none;
    const loop = watchLoop(() => server.sipEdge!.overload.setups);
    const shedBefore = server.sipEdge!.overload.shed;
    for (let i = 0; i < ROUNDS; i++) {
      baseSustained = merged(baseSustained, await uac(`127.0.0.1:${UAS_PORT}`, 'agent', RATE, slice, 0));
      oursSustained = merged(oursSustained, await uac(`127.0.0.1:${udpPort}`, service, RATE, slice, 0));
    }
    report(`sustained ${RATE} CPS × ${SECONDS} s (${ROUNDS} turns each)`, baseSustained, oursSustained);
    rows.push(`  Dialtone's event loop meanwhile: ${loop.stop()}`);
    // A failed call that was shed got its 503 at once; any other failure is a timeout or an error.
    rows.push(`  shed with 503 + Retry-After: ${server.sipEdge!.overload.shed - shedBefore} of ${oursSustained.failed} failed calls`);

    // Concurrent dialogs: calls held HOLD_MS, started fast enough that CONCURRENT are up at once.
    const rate = Math.ceil(CONCURRENT / (HOLD_MS / 1000));
    const baseConc = await uac(`127.0.0.1:${UAS_PORT}`, 'agent', rate, CONCURRENT, HOLD_MS);
    global.gc?.();
    const idle = rssMb();
    let peak = idle;
    let peakLive = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb());
      peakLive = Math.max(peakLive, server.sipCalls?.liveCount ?? 0);
    }, 200);
    const shedBeforeConc = server.sipEdge!.overload.shed;
    const oursConc = await uac(`127.0.0.1:${udpPort}`, service, rate, CONCURRENT, HOLD_MS);
    clearInterval(sampler);
    report(`${CONCURRENT} dialogs held ${HOLD_MS / 1000} s (${rate} CPS)`, baseConc, oursConc);
    rows.push(`  shed with 503 + Retry-After: ${server.sipEdge!.overload.shed - shedBeforeConc} of ${oursConc.failed} failed calls`);
    rows.push(`  peak live bridged calls ${peakLive}; RSS ${idle.toFixed(0)} → ${peak.toFixed(0)} MB, ${((peak - idle) * 1024 / Math.max(1, peakLive)).toFixed(1)} kB per call (two dialogs)`);
    console.log(rows.join('\n'));
  } finally {
    await callee.stop();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
