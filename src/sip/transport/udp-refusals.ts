/**
 * Notices, shortly after a request went out over UDP, that its destination refused it (ICMP port
 * unreachable), so the transaction fails at once instead of retransmitting until Timer F/B.
 *
 * The stack's listening socket is unconnected, and the kernel reports ICMP errors only to
 * connected UDP sockets. So alongside each request a connected companion socket sends a CRLF
 * keep-alive to the same address and port (SIP peers ignore those) and listens for the refusal.
 * One companion per destination, shared by the requests in flight to it, closed when the last
 * window ends.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

const PING = Buffer.from('\r\n\r\n');

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Probe {
  socket: Socket;
  connected: Promise<void>;
  waiters: Set<Waiter>;
}

export class UdpRefusalWatch {
  private readonly probes = new Map<string, Probe>();

  /** @param windowMs how long after each request a refusal still fails it. */
  constructor(private readonly windowMs = 2_000) {}

  /** Resolves after the window, or rejects (code ECONNREFUSED) if the destination refused. */
  watch(address: string, port: number): Promise<void> {
    const key = `${address}|${port}`;
    const probe = this.probes.get(key) ?? this.open(key, address, port);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          if (probe.waiters.delete(waiter) && probe.waiters.size === 0) this.close(key, probe);
          resolve();
        },
        reject,
        timer: setTimeout(() => waiter.resolve(), this.windowMs),
      };
      waiter.timer.unref();
      probe.waiters.add(waiter);
      probe.connected.then(() => {
        try { probe.socket.send(PING); } catch { /* closed meanwhile: its windows are over */ }
      }, () => { /* reported by the error listener */ });
    });
  }

  /** Ends every window now, as if nothing was refused. */
  closeAll(): void {
    for (const probe of [...this.probes.values()]) {
      for (const w of [...probe.waiters]) {
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  private open(key: string, address: string, port: number): Probe {
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    const connected = new Promise<void>((resolve, reject) => {
      socket.connect(port, address, () => resolve());
      socket.once('error', reject);
    });
    const probe: Probe = { socket, connected, waiters: new Set() };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.probes.get(key) !== probe) return;
      const waiters = [...probe.waiters];
      probe.waiters.clear();
      this.close(key, probe);
      // Anything but a refusal (e.g. no route) says nothing certain about the peer: let the
      // transaction run its course.
      for (const w of waiters) {
        clearTimeout(w.timer);
        if (err.code === 'ECONNREFUSED') w.reject(Object.assign(new Error('ICMP port unreachable'), { code: 'ECONNREFUSED' }));
        else w.resolve();
      }
    });
    socket.on('message', () => { /* peers do not answer pings over UDP; nothing to read */ });
    this.probes.set(key, probe);
    return probe;
  }

  private close(key: string, probe: Probe): void {
    if (this.probes.get(key) === probe) this.probes.delete(key);
    try { probe.socket.close(); } catch { /* already closed */ }
  }
}
