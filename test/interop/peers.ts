/**
 * Starts and stops the real SIP peers of the interop tests (Kamailio, SIPp) in temporary run
 * directories, and reads Kamailio's location table with kamcmd.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface Binding {
  address: string;
  expires: number;
  cseq: number;
  callId: string;
}

export interface KamailioOptions {
  port: number;
  users: Record<string, string>;
  minExpires?: number;
  maxExpires?: number;
  /** Shared memory in MB (the benchmark needs more for 10,000 bindings). */
  shmMb?: number;
  /** Private memory per process in MB: the users file is parsed into it (about 3.5 kB a user). */
  pkgMb?: number;
  children?: number;
  /** Also listen for TLS on this port with this certificate and key (PEM file paths). */
  tls?: { port: number; certFile: string; keyFile: string };
  /** Act as a PBX: INVITEs for registered users reach their bindings. */
  calls?: boolean;
  /** Act as a carrier: INVITEs must authenticate (407) and go on to this SIP URI. */
  carrierTarget?: string;
}

export class Kamailio {
  readonly runDir: string;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  log = '';

  constructor(readonly opts: KamailioOptions) {
    this.runDir = mkdtempSync(join(tmpdir(), 'dialtone-kamailio-'));
    copyFileSync(join(PEERS_DIR, 'kamailio.cfg'), join(this.runDir, 'kamailio.cfg'));
    const lines = Object.entries(opts.users).map(([u, p]) => `\t$sht(users=>${u}) = "${p}";`);
    writeFileSync(join(this.runDir, 'users.cfg'), `${lines.join('\n')}\n`);
    if (opts.tls) {
      writeFileSync(join(this.runDir, 'tls.cfg'), [
        '[server:default]', 'method = TLSv1.2+', 'verify_certificate = no', 'require_certificate = no',
        `private_key = ${opts.tls.keyFile}`, `certificate = ${opts.tls.certFile}`, '',
      ].join('\n'));
    }
  }

  get ctl(): string {
    return `unix:${join(this.runDir, 'kamailio_ctl')}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const o = this.opts;
    const args = [
      '-f', join(this.runDir, 'kamailio.cfg'), '-Y', this.runDir, '-P', join(this.runDir, 'kamailio.pid'),
      '-DD', '-E', '-m', String(o.shmMb ?? 64), '-M', String(o.pkgMb ?? 8), '-n', String(o.children ?? 2),
      '-A', `PORT=${o.port}`, '-A', `MIN_EXPIRES=${o.minExpires ?? 5}`, '-A', `MAX_EXPIRES=${o.maxExpires ?? 10}`,
      '-A', `DEFAULT_EXPIRES=${o.maxExpires ?? 10}`,
      ...(o.tls ? ['-A', 'WITH_TLS', '-A', `TLS_PORT=${o.tls.port}`] : []),
      ...(o.calls ? ['-A', 'WITH_CALLS'] : []),
      ...(o.carrierTarget ? ['-A', `CARRIER_TARGET="${o.carrierTarget}"`] : []),
    ];
    // Own process group: Kamailio forks workers, and stop() signals the whole group.
    const proc = spawn('kamailio', args, { cwd: this.runDir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => { this.log = (this.log + d.toString()).slice(-20_000); });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    // If the test process dies without running its after() hooks, take Kamailio down with it.
    const orphanGuard = () => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } };
    process.once('exit', orphanGuard);
    proc.once('exit', () => {
      process.off('exit', orphanGuard);
      if (this.proc === proc) this.proc = null;
    });
    await waitFor('kamailio to answer kamcmd', async () => {
      if (!this.proc) throw new Error(`kamailio exited: ${this.log.slice(-2000)}`);
      return (await run('kamcmd', ['-s', this.ctl, 'core.version'])).code === 0;
    }, 15_000, 100);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid) return;
    try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* already gone */ }
    const killer = setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
    await this.exited;
    clearTimeout(killer);
    // Workers may linger a moment after the main process; wait until the UDP port is free again.
    await waitFor('kamailio port to be free', () => udpPortFree(this.opts.port), 10_000, 50);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.runDir, { recursive: true, force: true });
  }

  async rpc(...args: string[]): Promise<string> {
    const r = await run('kamcmd', ['-s', this.ctl, ...args]);
    return r.stdout + r.stderr;
  }

  /** The contacts bound to an AOR in the location table ([] when there is none). */
  async lookup(user: string): Promise<Binding[]> {
    const out = await this.rpc('ul.lookup', 'location', user);
    if (/AOR not found/.test(out)) return [];
    return parseContacts(out);
  }

  /** Number of contacts in the location table (from usrloc statistics: ul.dump fails on large tables). */
  async contactCount(): Promise<number> {
    const out = await this.rpc('stats.get_statistics', 'location_contacts');
    const m = /location_contacts = (\d+)/.exec(out);
    if (!m) throw new Error(`unexpected kamcmd output: ${out.slice(0, 200)}`);
    return Number(m[1]);
  }
}

function parseContacts(out: string): Binding[] {
  const items: Binding[] = [];
  for (const block of out.split(/Contact: \{/).slice(1)) {
    const field = (name: string) => new RegExp(`^\\s*${name}: (.*)$`, 'm').exec(block)?.[1]?.trim() ?? '';
    items.push({ address: field('Address'), expires: Number(field('Expires')), cseq: Number(field('CSeq')), callId: field('Call-ID') });
  }
  return items;
}

export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface SippRun {
  /** Resolves with SIPp's exit code (0 = scenario passed). */
  done: Promise<number>;
  output(): string;
  stop(): Promise<void>;
}

/** Runs SIPp with these arguments; only the process it started is ever signalled. */
function runSipp(args: string[]): SippRun {
  const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const done = new Promise<number>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return {
    done,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await done;
    },
  };
}

/** Runs a SIPp scenario from peers/ as a UAS on 127.0.0.1:port. */
export function sippServer(scenario: string, port: number, mediaPort: number, keys: Record<string, string> = {}, extra: string[] = []): SippRun {
  const args = ['-sf', join(PEERS_DIR, scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort),
    '-m', '1', '-nostdin', '-timeout', '60s', '-timeout_error', '-trace_err', '-error_file', '/dev/stderr', ...extra];
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  return runSipp(args);
}

export interface SippOptions {
  /** SIPp's own SIP port on 127.0.0.1. */
  port: number;
  mediaPort: number;
  /** A UAC's destination (`127.0.0.1:5060`); a UAS has none. */
  remote?: string;
  /** The Request-URI user a UAC calls ([service]). */
  service?: string;
  /** SIPp gives up (and fails) after this long, seconds (default 60). */
  timeoutS?: number;
}

/** Waits for a SIPp run to end and fails with the tail of its output unless it exited 0. */
export async function exitOk(run: SippRun, who: string): Promise<void> {
  const code = await run.done;
  assert.equal(code, 0, `${who} scenario failed:\n${run.output().slice(-3000)}`);
}

/** Runs one call of a SIPp scenario file (any path) as a UAC (with `remote`) or a UAS; SIPP_TRACE=1 keeps message logs. */
export function sipp(scenarioPath: string, o: SippOptions): SippRun {
  return runSipp(['-sf', scenarioPath, '-i', '127.0.0.1', '-p', String(o.port), '-mp', String(o.mediaPort),
    '-m', '1', '-nostdin', '-timeout', `${o.timeoutS ?? 60}s`, '-timeout_error', ...(process.env.SIPP_TRACE ? ['-trace_msg'] : []),
    ...(o.service ? ['-s', o.service] : []), ...(o.remote ? [o.remote] : [])]);
}

/** A UDP socket standing in for a phone's RTP port: counts the RTP packets it gets. */
export async function rtpSink(port: number): Promise<{ socket: Socket; packets: () => number; payloadTypes: Set<number> }> {
  const socket = createSocket('udp4');
  let n = 0;
  const payloadTypes = new Set<number>();
  socket.on('message', (m) => {
    if (m.length >= 12 && (m[0]! >> 6) === 2) {
      n++;
      payloadTypes.add(m[1]! & 0x7f);
    }
  });
  await new Promise<void>((r) => socket.bind(port, '127.0.0.1', r));
  return { socket, packets: () => n, payloadTypes };
}

export interface CapturedRtp {
  /** hrtime ms of arrival. */
  at: number;
  payloadType: number;
  sequence: number;
  timestamp: number;
  payload: Buffer;
}

/** A UDP socket standing in for a phone's RTP port that keeps every RTP packet it gets, with its arrival time. */
export async function rtpCapture(port: number): Promise<{ socket: Socket; packets: CapturedRtp[]; close(): void }> {
  const socket = createSocket('udp4');
  const packets: CapturedRtp[] = [];
  socket.on('message', (m) => {
    if (m.length < 12 || (m[0]! >> 6) !== 2) return;
    const cc = m[0]! & 0x0f;
    packets.push({ at: Number(process.hrtime.bigint()) / 1e6, payloadType: m[1]! & 0x7f, sequence: m.readUInt16BE(2), timestamp: m.readUInt32BE(4), payload: m.subarray(12 + cc * 4) });
  });
  await new Promise<void>((r) => socket.bind(port, '127.0.0.1', r));
  return { socket, packets, close: () => socket.close() };
}
