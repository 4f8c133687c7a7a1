/**
 * What metrics cost a request (`npm run bench:metrics`): the same read against Dialtone with
 * metrics off and on (METRICS_TOKEN set: every answer is timed into a histogram), as a ratio,
 * and how long one scrape of /metrics takes with many lines in the database. Not a test.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { createServer, type Server } from '../src/server.js';

interface CannonResult { requests: { average: number }; latency: { p99: number; average: number }; non2xx: number; errors: number }
type Cannon = (opts: { url: string; connections: number; duration: number; headers?: Record<string, string> }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = 20;
const LINES = Number(process.env.BENCH_LINES ?? 2000);
const TOKEN = 'bench-metrics-token-0123456789';

async function start(metrics: boolean): Promise<{ server: Server; url: string; dir: string; key: string; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-bench-metrics-'));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'silent', ADMIN_API_KEY: `bench-${randomBytes(12).toString('hex')}`,
    MASTER_KEY: randomBytes(32).toString('base64'), RATE_LIMIT_PER_HOUR: '100000000', RATE_LIMIT_PER_MINUTE: '100000000', ALLOW_PRIVATE_SIP_TARGETS: '1',
    ...(metrics ? { METRICS_TOKEN: TOKEN } : {}),
  });
  const server = await createServer(config);
  const { httpUrl } = await server.listen();
  const tenant = await server.services.tenants.create({ name: 'bench' } as never);
  const scope = { tenantId: tenant.id };
  const { token } = await server.services.keys.mintAccessKey(scope, { name: 'bench', detail: '' });
  const reg = await server.services.registrations.create(scope, { registrar: 'sip:127.0.0.1:59999', username: 'b', password: 'bench-secret' });
  return { server, url: httpUrl, dir, key: token, path: `/phone-endpoints/${reg.id}` };
}

async function measure(metrics: boolean): Promise<CannonResult> {
  const d = await start(metrics);
  try {
    process.stdout.write(`running GET /phone-endpoints/{id}, metrics ${metrics ? 'on' : 'off'} (${CONNECTIONS} connections, ${DURATION_S} s)…\n`);
    return await autocannon({ url: d.url + d.path, connections: CONNECTIONS, duration: DURATION_S, headers: { authorization: `Bearer ${d.key}` } });
  } finally {
    await d.server.close();
    rmSync(d.dir, { recursive: true, force: true });
  }
}

async function scrape(): Promise<{ ms: number; bytes: number }> {
  const d = await start(true);
  try {
    const scope = { tenantId: (await d.server.services.tenants.create({ name: 'many lines' } as never)).id };
    for (let i = 0; i < LINES; i++) await d.server.services.registrations.create(scope, { registrar: `sip:10.0.${i >> 8}.${i & 255}`, username: `u${i}`, password: 'p' });
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const res = await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      bytes = (await res.text()).length;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)], bytes };
  } finally {
    await d.server.close();
    rmSync(d.dir, { recursive: true, force: true });
  }
}

// Alternated, best of two each: the machine is shared, and a single pair is mostly noise.
const best = (a: CannonResult, b: CannonResult) => (a.requests.average >= b.requests.average ? a : b);
const off1 = await measure(false);
const on1 = await measure(true);
const on2 = await measure(true);
const off2 = await measure(false);
const off = best(off1, off2);
const on = best(on1, on2);
const s = await scrape();
const row = (name: string, r: CannonResult) => `${name.padEnd(14)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p99 ${String(r.latency.p99).padStart(4)} ms  non-2xx ${r.non2xx}`;
console.log(`\n${row('metrics off', off)}\n${row('metrics on', on)}`);
console.log(`ratio on/off: ${(on.requests.average / off.requests.average).toFixed(3)} (throughput)`);
console.log(`one /metrics scrape with ${LINES} lines: median ${s.ms.toFixed(1)} ms, ${s.bytes} bytes`);
