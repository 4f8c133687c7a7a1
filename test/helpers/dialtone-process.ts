/**
 * Dialtone as its own process (`node --import tsx src/main.ts`), for tests that kill it: only the
 * pid it started is ever signalled. Requests go without keep-alive, so a pooled connection to a
 * killed process is never reused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../interop/peers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** One `node src/main.ts` process; only its own pid is ever signalled. */
export class DialtoneProcess {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  output = '';

  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    this.output = '';
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const guard = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
    process.once('exit', guard);
    proc.once('exit', () => process.off('exit', guard));
    const collect = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-20_000); };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    await waitFor('dialtone to listen for SIP', () => {
      if (proc.exitCode !== null) throw new Error(`dialtone exited: ${this.output.slice(-2000)}`);
      return this.output.includes('SIP listening');
    }, 60_000, 50);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await this.exited;
    this.proc = null;
  }
}


/** One JSON request with an admin (or any) key, on a fresh connection. */
export function plainRequest(base: string, key: string, method: string, path: string, body?: unknown, accountId?: string): Promise<{ status: number; body: any; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(base + path, {
      method,
      agent: false,
      headers: {
        authorization: `Bearer ${key}`,
        ...(accountId ? { 'x-account-id': accountId } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
