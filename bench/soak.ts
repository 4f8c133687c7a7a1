/**
 * Soak benchmark (`npm run bench:soak`), not a test. Dialtone runs as its own process (SQLite)
 * holding LINES registrations at a Kamailio that grants 120 s (every line refreshes about once
 * a minute), while an open-loop client sends RATE mixed API requests a second: paged lists,
 * single reads, analytics, and create/delete pairs. It prints the resident set every 30 s, the
 * growth rate over the second half, the RSS after IDLE_S quiet seconds, latency in the first and
 * last minute, and the heap kinds that grew between two snapshots (after warm-up and after the
 * idle wait). The baseline is the process itself after warm-up: a flat soak has ratios near 1.
 *   LINES=1000  RATE=200  DURATION_S=300  WARMUP_S=30  IDLE_S=20
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kamailio, waitFor } from '../test/interop/peers.js';
import { heapGrowth, readHeapCensus, type HeapCensus } from './heap-snapshot.js';
import { api, percentile, pool, sleep, startDialtone, stopDialtone, usage, type DialtoneProcess } from './process.js';

const LINES = Number(process.env.LINES ?? 1000);
const RATE = Number(process.env.RATE ?? 200);
const DURATION_S = Number(process.env.DURATION_S ?? 300);
const WARMUP_S = Number(process.env.WARMUP_S ?? 30);
const IDLE_S = Number(process.env.IDLE_S ?? 20);
const PORT = Number(process.env.BENCH_SIP_PORT ?? 17300);
const MAX_IN_FLIGHT = 500;
const MB = 2 ** 20;

interface Sample { atS: number; latencyMs: number; ok: boolean }

/** A tenant's key and the ids the request mix reads. */
interface Fixture { key: string; registrationIds: string[]; agentIds: string[] }

async function seed(d: DialtoneProcess): Promise<Fixture> {
  const tenant = (await api(d, 'POST', '/tenants', null, { name: 'soak', max_agents: 100_000 })).id as string;
  const key = (await api(d, 'POST', '/v1.0/accesskeys', tenant, { name: 'soak', detail: 'soak benchmark', expire: 0 })).token as string;
  const agentIds: string[] = [];
  await pool(Array.from({ length: 150 }, (_, i) => i), 10, async (i) => {
    agentIds.push((await api(d, 'POST', '/api/agents', tenant, { name: `soak agent ${i}` })).id);
    await api(d, 'POST', '/api/v1/telephony/numbers', tenant, { e164: `+1303556${String(1000 + i).padStart(4, '0')}` });
  });
  const registrationIds: string[] = [];
  await pool(Array.from({ length: LINES }, (_, i) => i), 20, async (i) => {
    const r = await api(d, 'POST', '/phone-endpoints', tenant, {
      type: 'phone-registration', registrar: `sip:127.0.0.1:${PORT}`, username: `u${i}`, password: `pw-u${i}`, options: { expires: 120 },
    });
    registrationIds.push(r.id);
  });
  await pool(registrationIds, 50, (id) => api(d, 'POST', `/phone-endpoints/${id}/activate`, tenant));
  return { key, registrationIds, agentIds };
}

/** The request mix: one entry a request (a create/delete pair counts as its two requests). */
function requestMix(d: DialtoneProcess, f: Fixture): Array<() => Promise<boolean>> {
  const call = async (method: string, path: string, body?: unknown): Promise<{ ok: boolean; json: any }> => {
    const res = await fetch(d.url + path, {
      method,
      headers: { authorization: `Bearer ${f.key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    return { ok: res.status < 400, json };
  };
  const pick = <T,>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const get = (path: () => string) => async () => (await call('GET', path())).ok;
  return [
    get(() => '/phone-endpoints?page_size=50'),
    get(() => `/phone-endpoints/${pick(f.registrationIds)}`),
    get(() => `/phone-endpoints/${pick(f.registrationIds)}`),
    get(() => '/api/agents'),
    get(() => `/api/agents/${pick(f.agentIds)}`),
    get(() => '/api/v1/telephony/numbers'),
    get(() => '/sip/list'),
    get(() => '/v1.0/agents?page_size=50'),
    get(() => '/api/calls/history?limit=50'),
    get(() => '/api/analytics/summary'),
    async () => {
      const made = await call('POST', '/v1.0/tags', { name: `t${randomBytes(4).toString('hex')}`, detail: 'soak' });
      return made.ok && (await call('DELETE', `/v1.0/tags/${made.json.id}`)).ok;
    },
    async () => {
      const made = await call('POST', '/api/agents', { name: 'short-lived' });
      return made.ok && (await call('DELETE', `/api/agents/${made.json.id}`)).ok;
    },
  ];
}

/** Sends RATE requests a second from the mix until `stop()`, open loop (a slow server does not slow the client). */
function drive(mix: Array<() => Promise<boolean>>, t0: number) {
  const samples: Sample[] = [];
  let inFlight = 0;
  let skipped = 0;
  let sent = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE) - sent - skipped;
    for (let i = 0; i < due; i++) {
      if (inFlight >= MAX_IN_FLIGHT) { skipped++; continue; }
      sent++;
      inFlight++;
      const begin = performance.now();
      const f = mix[(sent + skipped) % mix.length]!;
      f().catch(() => false).then((ok) => {
        inFlight--;
        samples.push({ atS: (Date.now() - t0) / 1000, latencyMs: performance.now() - begin, ok });
      });
    }
  }, 5);
  return {
    samples,
    async stop(): Promise<{ skipped: number }> {
      clearInterval(timer);
      await waitFor('requests in flight to finish', () => inFlight === 0, 60_000, 50);
      return { skipped };
    },
  };
}

/** Has the process write a heap snapshot (it collects garbage first) and reads it. */
async function heapSnapshot(d: DialtoneProcess, dir: string): Promise<HeapCensus> {
  const before = new Set(readdirSync(dir));
  d.proc.kill('SIGUSR2');
  const file = await waitFor('the heap snapshot', () => readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n)), 120_000, 200);
  // The snapshot is written on the main thread: once the server answers again, the file is complete.
  await waitFor('the server to answer after the snapshot', async () => (await fetch(`${d.url}/healthz`).catch(() => null))?.ok === true, 120_000, 200);
  const census = readHeapCensus(join(dir, file));
  rmSync(join(dir, file));
  return census;
}

/** Least-squares slope of RSS over time, in MB per minute. */
function slopeMbPerMin(points: Array<{ atS: number; rss: number }>): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.atS, 0) / n;
  const my = points.reduce((s, p) => s + p.rss, 0) / n;
  const num = points.reduce((s, p) => s + (p.atS - mx) * (p.rss - my), 0);
  const den = points.reduce((s, p) => s + (p.atS - mx) ** 2, 0);
  return den === 0 ? 0 : ((num / den) * 60) / MB;
}

function latencyLine(label: string, xs: Sample[]): string {
  const sorted = xs.map((s) => s.latencyMs).sort((a, b) => a - b);
  return `${label}: ${xs.length} requests, p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const users: Record<string, string> = {};
  for (let i = 0; i < LINES; i++) users[`u${i}`] = `pw-u${i}`;
  const kamailio = new Kamailio({ port: PORT, users, minExpires: 60, maxExpires: 120, shmMb: 256, pkgMb: Math.ceil((LINES * 4) / 1024) + 8, children: 4 });
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-soak-'));
  const snapshotDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-soak-heap-'));
  let d: DialtoneProcess | null = null;
  try {
    await kamailio.start();
    d = await startDialtone(dataDir, { nodeFlags: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] });
    const pid = d.proc.pid!;
    const fixture = await seed(d);
    await waitFor(`${LINES} bindings at Kamailio`, async () => (await kamailio.contactCount()) === LINES, 300_000, 500);
    process.stdout.write(`${LINES} lines registered; ${RATE} requests/s for ${WARMUP_S} s of warm-up, then ${DURATION_S} s measured\n`);

    const t0 = Date.now();
    const mix = requestMix(d, fixture);
    const warm = drive(mix, t0);
    await sleep(WARMUP_S * 1000);
    await warm.stop();
    const rssWarm = usage(pid).rss;
    const heapBefore = await heapSnapshot(d, snapshotDir);
    const rssBefore = usage(pid).rss;

    const m0 = Date.now();
    const load = drive(mix, m0);
    const rss: Array<{ atS: number; rss: number }> = [{ atS: 0, rss: rssBefore }];
    const cpu0 = usage(pid).cpuS;
    for (let s = 10; s <= DURATION_S; s += 10) {
      await sleep(m0 + s * 1000 - Date.now());
      rss.push({ atS: s, rss: usage(pid).rss });
    }
    const cpuPct = ((usage(pid).cpuS - cpu0) / ((Date.now() - m0) / 1000)) * 100;
    const { skipped } = await load.stop();
    const rssEnd = usage(pid).rss;
    await sleep(IDLE_S * 1000);
    const rssIdle = usage(pid).rss;
    const heapAfter = await heapSnapshot(d, snapshotDir);
    const bound = await kamailio.contactCount();

    const errors = load.samples.filter((s) => !s.ok).length;
    process.stdout.write('\nRSS under load (MB):\n');
    for (const p of rss.filter((r) => r.atS % 30 === 0)) process.stdout.write(`  ${String(p.atS).padStart(4)} s  ${(p.rss / MB).toFixed(0)}\n`);
    const secondHalf = rss.filter((r) => r.atS >= DURATION_S / 2);
    process.stdout.write([
      '',
      `requests: ${load.samples.length} measured, ${errors} errors, ${skipped} not sent (over ${MAX_IN_FLIGHT} in flight)`,
      latencyLine('first minute', load.samples.filter((s) => s.atS < 60)),
      latencyLine('last minute ', load.samples.filter((s) => s.atS >= DURATION_S - 60)),
      `CPU under load: ${cpuPct.toFixed(0)} % of one core; lines still bound at Kamailio: ${bound} of ${LINES}`,
      `RSS after warm-up ${(rssWarm / MB).toFixed(0)} MB before the first heap snapshot, ${(rssBefore / MB).toFixed(0)} MB after it (the baseline)`,
      `RSS baseline ${(rssBefore / MB).toFixed(0)} MB → end of load ${(rssEnd / MB).toFixed(0)} MB (×${(rssEnd / rssBefore).toFixed(2)}) → after ${IDLE_S} s idle ${(rssIdle / MB).toFixed(0)} MB (×${(rssIdle / rssBefore).toFixed(2)})`,
      `RSS growth over the second half: ${slopeMbPerMin(secondHalf).toFixed(2)} MB/min`,
      `V8 heap (live objects after GC): ${(heapBefore.totalBytes / MB).toFixed(1)} MB after warm-up → ${(heapAfter.totalBytes / MB).toFixed(1)} MB after the soak (×${(heapAfter.totalBytes / heapBefore.totalBytes).toFixed(2)})`,
      'heap kinds that grew most:',
      ...heapGrowth(heapBefore, heapAfter).map((g) => `  ${g.kind.slice(0, 60).padEnd(60)} +${g.count} objects, +${(g.bytes / 1024).toFixed(0)} kB`),
      '',
    ].join('\n'));
  } finally {
    await stopDialtone(d);
    await kamailio.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(snapshotDir, { recursive: true, force: true });
  }
}

await main();
