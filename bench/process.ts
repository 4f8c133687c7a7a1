/**
 * What the benchmarks that run Dialtone as its own process share: starting `src/main.ts` on
 * SQLite with a fresh admin key, reading its CPU and memory from /proc, calling its API, and
 * running work with bounded concurrency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../test/interop/peers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TICKS_PER_S = 100; // Linux USER_HZ (getconf CLK_TCK)

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in seconds, and its resident set in bytes (Linux /proc). */
export function usage(pid: number): { cpuS: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuS, rss: rssKb * 1024 };
}

export interface DialtoneProcess { proc: ChildProcess; url: string; adminKey: string; exited: Promise<void> }

/** Starts Dialtone on SQLite in `dataDir`, without rate limits; `env` adds or overrides settings. */
export async function startDialtone(dataDir: string, opts: { env?: Record<string, string>; nodeFlags?: string[] } = {}): Promise<DialtoneProcess> {
  const adminKey = `bench-${randomBytes(12).toString('hex')}`;
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_API_KEY: adminKey,
      MASTER_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'warn', SIP_PORT: '0', SIP_HOST: '127.0.0.1',
      SIP_PUBLIC_HOST: '127.0.0.1', ALLOW_PRIVATE_SIP_TARGETS: '1',
      RATE_LIMIT_PER_HOUR: '100000000', RATE_LIMIT_PER_MINUTE: '100000000', DATABASE_URL: '', REDIS_URL: '',
      ...opts.env,
    },
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const url = await waitFor('Dialtone to listen', () => /HTTP (http:\/\/\S+)/.exec(out)?.[1], 60_000, 100);
  return { proc, url, adminKey, exited };
}

/** Stops a benchmark's Dialtone by its pid (SIGKILL when SIGTERM was not sent or did not finish). */
export async function stopDialtone(d: DialtoneProcess | null): Promise<void> {
  if (d && d.proc.exitCode === null && d.proc.signalCode === null) {
    d.proc.kill('SIGKILL');
    await d.exited;
  }
}

/** An API call as the admin (acting for `tenant` when given); throws on any answer ≥ 300. */
export async function api(d: DialtoneProcess, method: string, path: string, tenant: string | null, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { authorization: `Bearer ${d.adminKey}` };
  if (tenant) headers['x-account-id'] = tenant;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(d.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `fn` over `items` with at most `width` in flight. */
export async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
