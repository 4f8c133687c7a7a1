/**
 * Registration engine benchmark (`npm run bench:registrations`), not a test. Starts a Kamailio
 * with N users and Dialtone as its own process (`src/main.ts`, SQLite), creates and activates N
 * registrations through the HTTP API at once, and prints the time until Kamailio holds all N
 * bindings, the REGISTER rate Kamailio received, and CPU share and RSS of the Dialtone process in
 * steady state (registrar max expiry 120 s, so every line refreshes each minute). The baseline is
 * SIPp registering N other users against the same Kamailio as fast as it can, in the same run.
 *   N=1000,10000 (default)   STEADY_S=60   REGISTER_RATE=200 (the engine's pacing; 0 = unpaced)   EXPIRES=120
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kamailio, PEERS_DIR, waitFor } from '../test/interop/peers.js';
import { api, pool, sleep, startDialtone, stopDialtone, usage, type DialtoneProcess } from './process.js';

const SIZES = (process.env.N ?? '1000,10000').split(',').map(Number).filter((n) => n > 0);
const STEADY_S = Number(process.env.STEADY_S ?? 60);
const PORT = Number(process.env.BENCH_SIP_PORT ?? 16060);
const RATE = process.env.REGISTER_RATE ?? '200';
/** What each line asks for and the registrar grants at most; lines refresh at about half of it. */
const EXPIRES = Number(process.env.EXPIRES ?? 120);

interface Result {
  n: number;
  registeredAfterS: number;
  registersPerS: number;
  steadyCpuPct: number;
  steadyRssMb: number;
  steadyRegistersPerS: number;
  shutdownS: number;
  leftBound: number;
  resumedAfterS: number;
  sippRegistrationsPerS: number;
}

async function registersReceived(k: Kamailio): Promise<number> {
  const out = await k.rpc('stats.get_statistics', 'rcv_requests_register');
  return Number(/rcv_requests_register = (\d+)/.exec(out)?.[1] ?? NaN);
}

async function sippBaseline(n: number, dir: string): Promise<number> {
  const inf = join(dir, 'baseline.csv');
  const lines = ['SEQUENTIAL'];
  for (let i = 0; i < n; i++) lines.push(`b${i};[authentication username=b${i} password=pw-b${i}]`);
  writeFileSync(inf, `${lines.join('\n')}\n`);
  const started = process.hrtime.bigint();
  const code = await new Promise<number>((resolve) => {
    const p = spawn('sipp', [`127.0.0.1:${PORT}`, '-sf', join(PEERS_DIR, 'uac_register_auth.xml'), '-inf', inf, '-i', '127.0.0.1',
      '-p', String(PORT + 5), '-mp', '28000', '-m', String(n), '-r', '5000', '-l', '500', '-nostdin', '-timeout', '300s'], { stdio: 'ignore' });
    p.once('exit', (c) => resolve(c ?? 1));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) process.stdout.write(`  (SIPp exited with ${code}: some baseline registrations failed)\n`);
  return n / seconds;
}

async function runOne(n: number): Promise<Result> {
  process.stdout.write(`\n== N = ${n}\n`);
  const users: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    users[`u${i}`] = `pw-u${i}`;
    users[`b${i}`] = `pw-b${i}`;
  }
  // The users file is parsed into Kamailio's private memory, about 3.5 kB a user.
  const kamailio = new Kamailio({ port: PORT, users, minExpires: 60, maxExpires: EXPIRES, shmMb: Math.max(512, Math.ceil(n / 100)), pkgMb: Math.ceil((2 * n * 4) / 1024) + 8, children: 4 });
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-registrations-'));
  let dialtone: DialtoneProcess | null = null;
  try {
    await kamailio.start();
    const env = { REGISTER_RATE: RATE, MASTER_KEY: randomBytes(32).toString('base64') };
    const nodeFlags = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    dialtone = await startDialtone(dataDir, { env, nodeFlags });
    const d = dialtone;
    const pid = d.proc.pid!;
    const tenant = (await api(d, 'POST', '/tenants', null, { name: 'bench' })).id as string;
    const ids: string[] = [];
    await pool(Array.from({ length: n }, (_, i) => i), 20, async (i) => {
      const r = await api(d, 'POST', '/phone-endpoints', tenant, {
        type: 'phone-registration', registrar: `sip:127.0.0.1:${PORT}`, username: `u${i}`, password: `pw-u${i}`, options: { expires: EXPIRES },
      });
      ids.push(r.id);
    });
    process.stdout.write(`  created ${n} registrations over HTTP; activating all at once (REGISTER_RATE=${RATE})\n`);
    const reg0 = await registersReceived(kamailio);
    const t0 = Date.now();
    await pool(ids, 50, (id) => api(d, 'POST', `/phone-endpoints/${id}/activate`, tenant));
    process.stdout.write(`  the ${n} activate calls returned after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await waitFor(`${n} bindings at Kamailio`, async () => (await kamailio.contactCount()) === n, 600_000, 250);
    const registeredAfterS = (Date.now() - t0) / 1000;
    const registers = (await registersReceived(kamailio)) - reg0;
    process.stdout.write(`  all ${n} bound at Kamailio after ${registeredAfterS.toFixed(1)} s (${registers} REGISTERs received, with the digest round)\n`);

    // Steady state: nothing but refreshes (each line every ~60 s with a 120 s grant).
    await sleep(2_000);
    const u0 = usage(pid);
    const r0 = await registersReceived(kamailio);
    const w0 = process.hrtime.bigint();
    let rss = 0;
    for (let s = 0; s < STEADY_S; s++) {
      await sleep(1_000);
      rss = Math.max(rss, usage(pid).rss);
    }
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    const steadyCpuPct = ((usage(pid).cpuS - u0.cpuS) / wall) * 100;
    const steadyRegistersPerS = ((await registersReceived(kamailio)) - r0) / wall;
    process.stdout.write(`  steady state over ${wall.toFixed(0)} s: CPU ${steadyCpuPct.toFixed(1)} % of one core, RSS ≤ ${(rss / 2 ** 20).toFixed(0)} MB, ${steadyRegistersPerS.toFixed(1)} REGISTERs/s at Kamailio\n`);
    const stillBound = await kamailio.contactCount();
    if (stillBound !== n) process.stdout.write(`  WARNING: ${stillBound} of ${n} bound after the steady-state window\n`);

    const c0 = Date.now();
    d.proc.kill('SIGTERM');
    await d.exited;
    const shutdownS = (Date.now() - c0) / 1000;
    const leftBound = await kamailio.contactCount();
    process.stdout.write(`  SIGTERM to exit took ${shutdownS.toFixed(1)} s; ${leftBound} of ${n} bindings left at Kamailio\n`);

    // The engine alone, without the HTTP activations: a new process resumes the N active lines.
    await waitFor('the bindings left by shutdown to expire', async () => (await kamailio.contactCount()) === 0, 180_000, 500);
    const s0 = Date.now();
    dialtone = await startDialtone(dataDir, { env, nodeFlags });
    await waitFor(`${n} bindings after the restart`, async () => (await kamailio.contactCount()) === n, 600_000, 250);
    const resumedAfterS = (Date.now() - s0) / 1000;
    process.stdout.write(`  a restarted process had all ${n} bound again ${resumedAfterS.toFixed(1)} s after it was started (start-up included)\n`);
    dialtone.proc.kill('SIGTERM');
    await dialtone.exited;

    const sippRate = await sippBaseline(n, kamailio.runDir);
    process.stdout.write(`  baseline: SIPp registered ${n} other users at ${sippRate.toFixed(0)}/s\n`);
    return {
      n, registeredAfterS, registersPerS: registers / registeredAfterS, steadyCpuPct, steadyRssMb: rss / 2 ** 20,
      steadyRegistersPerS, shutdownS, leftBound, resumedAfterS, sippRegistrationsPerS: sippRate,
    };
  } finally {
    await stopDialtone(dialtone);
    await kamailio.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const n of SIZES) results.push(await runOne(n));

process.stdout.write(`\nREGISTER_RATE=${RATE}\n\n| N | all registered (at Kamailio) | registrations/s | REGISTERs/s received | steady CPU (one core) | steady RSS | steady REGISTERs/s | SIGTERM → exit | left bound | SIPp baseline registrations/s | ours ÷ SIPp | restart: all bound again | restart rate ÷ SIPp |\n`);
process.stdout.write('|---|---|---|---|---|---|---|---|---|---|---|---|---|\n');
for (const r of results) {
  const ours = r.n / r.registeredAfterS;
  process.stdout.write(`| ${r.n} | ${r.registeredAfterS.toFixed(1)} s | ${ours.toFixed(0)} | ${r.registersPerS.toFixed(0)} | ${r.steadyCpuPct.toFixed(1)} % | ${r.steadyRssMb.toFixed(0)} MB | ${r.steadyRegistersPerS.toFixed(1)} | ${r.shutdownS.toFixed(1)} s | ${r.leftBound} | ${r.sippRegistrationsPerS.toFixed(0)} | ${(ours / r.sippRegistrationsPerS).toFixed(2)} | ${r.resumedAfterS.toFixed(1)} s | ${(r.n / r.resumedAfterS / r.sippRegistrationsPerS).toFixed(2)} |\n`);
}
