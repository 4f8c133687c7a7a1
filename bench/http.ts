/**
 * HTTP throughput against a bare Fastify hello-world measured in the same run (`npm run bench`).
 * Not a test: it prints figures, which docs/benchmarks.md records.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { loadConfig } from '../src/config.js';
import { createServer, type Server } from '../src/server.js';

/** The part of autocannon's (untyped) API used here. */
interface CannonRequest { method?: string; path?: string; headers?: Record<string, string>; body?: string; setupRequest?: (r: CannonRequest) => CannonRequest }
interface CannonResult { requests: { average: number }; latency: { p99: number; average: number }; non2xx: number; errors: number; timeouts: number }
type Cannon = (opts: { url: string; connections: number; duration: number; headers?: Record<string, string>; requests?: CannonRequest[] }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);

interface Row { name: string; result: CannonResult }

async function run(name: string, url: string, extra: { headers?: Record<string, string>; requests?: CannonRequest[] } = {}): Promise<Row> {
  process.stdout.write(`running ${name} (${CONNECTIONS} connections, ${DURATION_S} s)…\n`);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, ...extra });
  return { name, result };
}

async function baseline(): Promise<Row> {
  const hello = Fastify({ logger: false });
  hello.get('/', async () => ({ hello: 'world' }));
  const url = await hello.listen({ port: 0, host: '127.0.0.1' });
  try { return await run('baseline: bare Fastify hello-world', url); } finally { await hello.close(); }
}

async function startDialtone(dataDir: string): Promise<{ server: Server; url: string }> {
  const config = loadConfig({
    ...process.env,
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '',
    LOG_LEVEL: 'silent', ADMIN_API_KEY: `bench-${randomBytes(12).toString('hex')}`,
    MASTER_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_PER_HOUR: '100000000', RATE_LIMIT_PER_MINUTE: '100000000',
    SIP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1', ALLOW_PRIVATE_SIP_TARGETS: '1',
  });
  const server = await createServer(config);
  const { httpUrl } = await server.listen();
  return { server, url: httpUrl };
}

/** A registration to read back; disabled so the registration engine stays idle during the run. */
async function readTarget(server: Server, tenantId: string): Promise<{ path: string; note: string }> {
  const scope = { tenantId };
  try {
    const reg = await server.services.registrations.create(scope, {
      name: 'bench line', registrar: 'sip:127.0.0.1:59999', username: 'bench', password: 'bench-secret',
    });
    await server.services.registrations.disable(scope, reg.id);
    return { path: `/phone-endpoints/${reg.id}`, note: 'GET /phone-endpoints/{id} (a registration)' };
  } catch (err) {
    const agent = await server.services.agents.create(scope, { name: 'bench agent' });
    return { path: `/api/agents/${agent.id}`, note: `GET /api/agents/{id} (registrations not ready: ${(err as Error).message})` };
  }
}

async function probeCreate(url: string, key: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v1/telephony/numbers`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ e164: '+14155550000' }),
  });
  return res.status === 201;
}

function ratio(x: number, base: number): string {
  return `${((x / base) * 100).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const rows: Row[] = [await baseline()];
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-'));
  const { server, url } = await startDialtone(dataDir);
  try {
    const tenant = await server.services.tenants.create({ name: 'bench', maxAgents: 100_000 });
    const { token } = await server.services.keys.mintAccessKey({ tenantId: tenant.id }, { name: 'bench', detail: '' });
    const auth = { authorization: `Bearer ${token}` };

    const read = await readTarget(server, tenant.id);
    rows.push(await run(`read: ${read.note}`, url + read.path, { headers: auth }));

    let n = 0;
    if (await probeCreate(url, token)) {
      // Unique numbers: +1 415 plus a 7-digit counter.
      const body = () => JSON.stringify({ e164: `+1415${String(1_000_001 + n++).slice(-7)}` });
      rows.push(await run('create: POST /api/v1/telephony/numbers', url, {
        requests: [{ method: 'POST', path: '/api/v1/telephony/numbers', headers: { ...auth, 'content-type': 'application/json' }, setupRequest: (r) => ({ ...r, body: body() }) }],
      }));
    } else {
      rows.push(await run('create: POST /api/agents (telephony numbers not ready)', url, {
        requests: [{ method: 'POST', path: '/api/agents', headers: { ...auth, 'content-type': 'application/json' }, setupRequest: (r) => ({ ...r, body: JSON.stringify({ name: `bench ${n++}` }) }) }],
      }));
    }
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const base = rows[0].result;
  console.log(`\n${new Date().toISOString()} · node ${process.version} · ${cpus().length} cores · ${CONNECTIONS} connections × ${DURATION_S} s · SQLite`);
  console.log('| run | req/s | vs baseline | p99 ms | avg ms | non-2xx | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const { name, result: r } of rows) {
    console.log(`| ${name} | ${r.requests.average.toFixed(0)} | ${ratio(r.requests.average, base.requests.average)} | ${r.latency.p99} | ${r.latency.average.toFixed(2)} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
  }
  console.log(`\np99 latency vs baseline: ${rows.slice(1).map(({ name, result }) => `${name.split(':')[0]} ${(result.latency.p99 / Math.max(1, base.latency.p99)).toFixed(1)}×`).join(', ')}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
