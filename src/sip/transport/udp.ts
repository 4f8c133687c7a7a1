/** The single UDP socket shared by every transaction. */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { SipParseError } from '../errors.js';
import type { SipMessage } from '../message.js';
import { parseMessage } from '../parser.js';
import type { MessageSource } from './types.js';

export interface UdpTransportOptions {
  onMessage(msg: SipMessage, src: MessageSource, raw: Buffer): void;
  onMalformed(err: SipParseError, src: MessageSource, raw: Buffer): void;
}

/** Datagrams made only of CR/LF/space are keep-alives (some UAs send them over UDP too). */
function isKeepAlive(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x00) return false;
  return true;
}

const RECV_BUFFER_BYTES = 4 * 2 ** 20;

export class UdpTransport {
  private socket: Socket | undefined;
  port = 0;

  constructor(private readonly opts: UdpTransportOptions) {}

  get family(): 4 | 6 {
    return this.socket?.address().family === 'IPv6' ? 6 : 4;
  }

  bind(host: string, port: number): Promise<number> {
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        this.socket = undefined;
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        // After binding, socket errors (e.g. ICMP-triggered) must never crash the process.
        socket.on('error', () => {});
        socket.on('message', (buf, rinfo) => this.receive(buf, rinfo.address, rinfo.port));
        // A burst beyond what the loop reads at once waits in the kernel instead of being dropped
        // there (each drop is a retransmission half a second later); the kernel caps the size.
        try {
          if (socket.getRecvBufferSize() < RECV_BUFFER_BYTES) socket.setRecvBufferSize(RECV_BUFFER_BYTES);
        } catch {
          // not allowed here: the system default stays
        }
        this.port = socket.address().port;
        resolve(this.port);
      });
    });
  }

  private receive(buf: Buffer, address: string, port: number): void {
    if (buf.length === 0 || isKeepAlive(buf)) return;
    const src: MessageSource = { transport: 'udp', remoteAddress: address, remotePort: port, localPort: this.port };
    let msg: SipMessage;
    try {
      msg = parseMessage(buf);
    } catch (err) {
      this.opts.onMalformed(err instanceof SipParseError ? err : new SipParseError(String(err)), src, buf);
      return;
    }
    this.opts.onMessage(msg, src, buf);
  }

  send(buf: Buffer, address: string, port: number): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(Object.assign(new Error('UDP socket is not open'), { code: 'ENOTCONN' }));
    return new Promise((resolve, reject) => socket.send(buf, port, address, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
