/** Shared test helpers for the SIP tests (not a test file itself). */
import { execFileSync } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/sip/transaction/timers.js';

/** Deterministic clock: timers fire only when the test advances time. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order (timers set while firing are honoured). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw UDP peer on 127.0.0.1 that records datagrams; `onMessage` decides how to react. */
export class RawUdpPeer {
  readonly received: Array<{ text: string; rinfo: RemoteInfo }> = [];
  onMessage: (text: string, rinfo: RemoteInfo) => void = () => {};
  private constructor(readonly socket: Socket) {}

  static async open(): Promise<RawUdpPeer> {
    const socket = createSocket('udp4');
    const peer = new RawUdpPeer(socket);
    socket.on('message', (buf, rinfo) => {
      const text = buf.toString('utf8');
      // The stack's CRLF keep-alive that watches for ICMP refusals is not a SIP message.
      if (text === '\r\n\r\n') return;
      peer.received.push({ text, rinfo });
      peer.onMessage(text, rinfo);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string | Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Builds a response to a raw request text by copying the transaction headers (enough for tests). */
export function rawResponse(requestText: string, status: string, extra: string[] = []): string {
  const lines = requestText.split('\r\n');
  const pick = (re: RegExp): string[] => lines.filter((l) => re.test(l));
  const to = pick(/^(To|t)\s*:/i).map((l) => (/;tag=/.test(l) ? l : `${l};tag=peer`));
  return [
    `SIP/2.0 ${status}`,
    ...pick(/^(Via|v)\s*:/i),
    ...pick(/^(From|f)\s*:/i),
    ...to,
    ...pick(/^(Call-ID|i)\s*:/i),
    ...pick(/^CSeq\s*:/i),
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export interface TestCert {
  cert: Buffer;
  key: Buffer;
}

/**
 * Self-signed certificates via the openssl CLI. `expired` uses `openssl ca` with
 * explicit dates, since `req -x509` cannot back-date a certificate.
 */
export function makeCert(opts: { expired?: boolean } = {}): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-sip-cert-'));
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  try {
    const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
    if (!opts.expired) {
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', san, '-keyout', 'key.pem', '-out', 'cert.pem']);
    } else {
      writeFileSync(
        join(dir, 'ca.cnf'),
        ['[ca]', 'default_ca = d', '[d]', 'dir = .', 'database = ./index.txt', 'new_certs_dir = .', 'serial = ./serial', 'default_md = sha256', 'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', ''].join('\n'),
      );
      writeFileSync(join(dir, 'index.txt'), '');
      writeFileSync(join(dir, 'serial'), '01\n');
      run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', san, '-keyout', 'key.pem', '-out', 'req.csr']);
      run(['ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'key.pem', '-in', 'req.csr', '-out', 'cert.pem', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext']);
    }
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
