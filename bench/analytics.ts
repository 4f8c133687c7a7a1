/**
 * Analytics over 1,000,000 calls on SQLite (`npm run bench:analytics`), against a bare
 * `SELECT COUNT(*) FROM calls` on the same database measured in the same run. Rows go in through
 * a second connection to the same file, so the database's own triggers keep the running totals.
 * Not a test: it prints figures, which docs/benchmarks.md records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const AGENTS = 20;
const RUNS = 5;
const TARGET_MS = 200;
const DAY_MS = 86_400_000;

/** Deterministic data from run to run (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Office hours are busy, nights quiet: weights per UTC hour. */
const HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 19, 15, 17, 20, 19, 16, 12, 8, 6, 4, 3, 2, 1];
const STATUSES: Array<[string, number]> = [['completed', 0.85], ['busy', 0.05], ['no-answer', 0.05], ['failed', 0.03], ['canceled', 0.02]];

function pickWeighted<T>(r: number, items: Array<[T, number]>): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = r * total;
  for (const [v, w] of items) { if ((x -= w) < 0) return v; }
  return items[items.length - 1][0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Timing { wall: number; cpu: number }

/**
 * Median wall time, and median CPU time of this process (server and client share it): on a busy
 * machine wall time includes waiting for a core, CPU time is what the work itself costs.
 */
async function timeIt(fn: () => Promise<unknown> | unknown): Promise<Timing> {
  await fn(); // warm the page cache and statement caches
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-analytics-'));
  const adminKey = `bench-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'silent',
    ADMIN_API_KEY: adminKey, MASTER_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_PER_HOUR: '100000000', RATE_LIMIT_PER_MINUTE: '100000000',
    SIP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1', ALLOW_PRIVATE_SIP_TARGETS: '1',
  });
  const server = await createServer(config);
  const raw = new SQLite(join(dataDir, 'dialtone.sqlite'));
  raw.pragma('cache_size = -262144'); // 256 MiB: the bulk load would otherwise thrash the index pages
  try {
    const { httpUrl } = await server.listen();
    const tenant = await server.services.tenants.create({ name: 'bench tenant', maxAgents: 100 });
    const other = await server.services.tenants.create({ name: 'bench neighbour' });
    const agents: string[] = [];
    for (let i = 0; i < AGENTS; i++) agents.push((await server.services.agents.create({ tenantId: tenant.id }, { name: `Agent ${i}` })).id);
    // A neighbour tenant's rows make sure the tenant filter, not luck, keeps the numbers apart.
    const neighbour = (await server.services.agents.create({ tenantId: other.id }, { name: 'Neighbour' })).id;
    const agentWeights: Array<[string, number]> = agents.map((id, i) => [id, 1 / (i + 1)]);

    process.stdout.write(`inserting ${ROWS.toLocaleString('en-US')} calls…\n`);
    const t0 = performance.now();
    const insert = raw.prepare(`INSERT INTO calls (id, tenant_id, call_sid, agent_id, phone_number, direction, from_number, to_number,
      status, context, started_at, answered_at, ended_at, duration_seconds, cost, end_reason, handoff, created_at, updated_at)
      VALUES (?, ?, ?, ?, NULL, ?, '+15559990000', '+15551230000', ?, '{}', ?, ?, ?, ?, ?, NULL, NULL, ?, ?)`);
    const hours = HOUR_WEIGHTS.map((w, h) => [h, w] as [number, number]);
    const r = rng(42);
    const now = Date.now();
    raw.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        const mine = i % 20 !== 0;
        const day = Math.floor(r() * 365);
        const hour = pickWeighted(r(), hours);
        const start = Math.floor(now / DAY_MS - day) * DAY_MS + hour * 3_600_000 + Math.floor(r() * 3_600_000);
        const status = pickWeighted(r(), STATUSES);
        const seconds = status === 'completed' ? 20 + Math.floor(r() * 580) : 0;
        const startedAt = new Date(Math.min(start, now - 1000)).toISOString();
        const endedAt = new Date(Date.parse(startedAt) + seconds * 1000).toISOString();
        insert.run(`bench-${i}`, mine ? tenant.id : other.id, `CA${i.toString(16).padStart(32, '0')}`,
          mine ? pickWeighted(r(), agentWeights) : neighbour, i % 3 === 0 ? 'outbound' : 'inbound', status,
          startedAt, status === 'completed' ? startedAt : null, endedAt, seconds, seconds * 0.00022, startedAt, endedAt);
      }
    })();
    raw.exec('ANALYZE');
    raw.pragma('cache_size = -2000'); // back to SQLite's default, which the server's connection uses too
    process.stdout.write(`inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const headers = { authorization: `Bearer ${adminKey}`, 'x-account-id': tenant.id };
    const get = async (path: string) => {
      const res = await fetch(httpUrl + path, { headers });
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const count = raw.prepare('SELECT COUNT(*) AS n FROM calls');
    const baseline = await timeIt(() => count.get());
    const summary = await timeIt(() => get('/api/analytics/summary?period=year'));
    const agent = await timeIt(() => get(`/api/analytics/agents/${agents[0]}`));
    const sample = await get('/api/analytics/summary?period=year');
    const direct = raw.prepare('SELECT COUNT(*) AS n FROM calls WHERE tenant_id = ? AND started_at >= ?')
      .get(tenant.id, new Date(Date.now() - 365 * DAY_MS).toISOString()) as { n: number };

    const line = (name: string, t: Timing) => `${name.padEnd(42)} ${t.wall.toFixed(1).padStart(7)} ms wall ${(t.wall / baseline.wall).toFixed(1).padStart(6)}×  `
      + `${t.cpu.toFixed(1).padStart(7)} ms cpu ${(t.cpu / baseline.cpu).toFixed(1).padStart(6)}×`;
    process.stdout.write([
      '',
      `rows: ${ROWS.toLocaleString('en-US')} (${(ROWS * 0.95).toLocaleString('en-US')} in the measured tenant), median of ${RUNS} runs`,
      line('baseline: SELECT COUNT(*) FROM calls', baseline),
      line('GET /api/analytics/summary?period=year', summary),
      line('GET /api/analytics/agents/{agent_id}', agent),
      `summary target ≤ ${TARGET_MS} ms: ${summary.wall <= TARGET_MS ? 'met' : 'NOT met'} (wall), ${summary.cpu <= TARGET_MS ? 'met' : 'NOT met'} (cpu); load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`,
      `summary answered total_calls=${sample.total_calls} (a direct COUNT says ${direct.n}), busiest_hour=${sample.busiest_hour}, success_rate=${sample.success_rate}`,
      '',
    ].join('\n'));
  } finally {
    raw.close();
    await server.close();
    if (process.env.BENCH_KEEP) process.stdout.write(`kept ${dataDir}\n`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
