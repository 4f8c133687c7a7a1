/**
 * One TCP or TLS connection carrying SIP: framing, RFC 5626 CRLF keep-alives,
 * idle close and a deadline for each message. Used for both accepted and initiated connections.
 */
import type { Socket } from 'node:net';
import type { SipParseError } from '../errors.js';
import { silentLogger, type SipLogger } from '../logger.js';
import type { SipMessage } from '../message.js';
import { StreamFramer } from '../parser.js';
import type { MessageSource } from './types.js';

const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');

export interface StreamConnectionOptions {
  id: string;
  transport: 'tcp' | 'tls';
  /** We opened it (we are the client of this flow, so we send the keep-alive pings). */
  outbound: boolean;
  maxMessageSize: number;
  /** Ping interval in ms when nothing was sent for that long; 0 disables. Only for outbound connections. */
  keepAliveInterval: number;
  /** Close after this many ms without any traffic; 0 disables. */
  idleTimeout: number;
  /**
   * A message must be complete this many ms after its first byte, and the first message this
   * long after the connection opened; 0 disables. Without it a sender trickling a byte now and
   * then holds the descriptor for ever, since every byte counts as traffic for the idle timeout.
   */
  messageDeadline?: number;
  logger?: SipLogger;
  onMessage(msg: SipMessage, src: MessageSource, raw: Buffer): void;
  onMalformed(err: SipParseError, src: MessageSource, raw?: Buffer): void;
  onClose(conn: StreamConnection): void;
}

export class StreamConnection {
  readonly id: string;
  readonly transport: 'tcp' | 'tls';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  pingsSent = 0;
  pongsReceived = 0;
  private readonly framer: StreamFramer;
  private lastSent = Date.now();
  private lastActivity = Date.now();
  private timer: ReturnType<typeof setInterval> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private delivered = false;
  private closed = false;
  private readonly logger: SipLogger;

  constructor(
    readonly socket: Socket,
    private readonly opts: StreamConnectionOptions,
  ) {
    this.id = opts.id;
    this.transport = opts.transport;
    // IPv4-mapped IPv6 addresses ("::ffff:1.2.3.4") are reported as plain IPv4 so Via/received compare sanely.
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
    this.remotePort = socket.remotePort ?? 0;
    this.localPort = socket.localPort ?? 0;
    this.logger = opts.logger ?? silentLogger;
    this.framer = new StreamFramer({ maxMessageSize: opts.maxMessageSize });

    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.logger.debug({ conn: this.id, err: err.message }, 'connection error'));
    socket.on('close', () => this.cleanup());
    this.startTimer();
    this.armDeadline();
  }

  get source(): MessageSource {
    return {
      transport: this.transport,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      localPort: this.localPort,
      connectionId: this.id,
    };
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  write(buf: Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(Object.assign(new Error('connection closed'), { code: 'EPIPE' }));
    this.lastSent = this.lastActivity = Date.now();
    return new Promise((resolve, reject) => {
      this.socket.write(buf, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.socket.destroy();
    this.cleanup();
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    let events;
    try {
      events = this.framer.push(chunk);
    } catch (err) {
      // Framing is lost (no Content-Length, oversized ...): nothing after this can be trusted.
      this.opts.onMalformed(err as SipParseError, this.source);
      this.close();
      return;
    }
    for (const ev of events) {
      if (ev.type === 'message' || ev.type === 'malformed') {
        this.delivered = true;
        this.disarmDeadline();
      }
      if (ev.type === 'message') this.opts.onMessage(ev.message, this.source, ev.raw);
      else if (ev.type === 'malformed') this.opts.onMalformed(ev.error, this.source, ev.raw);
      else if (ev.type === 'ping') void this.write(PONG).catch(() => {});
      else this.pongsReceived++;
    }
    if (this.framer.pending > 0) this.armDeadline();
  }

  /** Starts the clock for the message in progress (or the first one), unless it is running already. */
  private armDeadline(): void {
    const ms = this.opts.messageDeadline ?? 0;
    if (ms <= 0 || this.deadline || this.closed) return;
    if (this.delivered && this.framer.pending === 0) return;
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      this.logger.debug({ conn: this.id, pending: this.framer.pending, firstMessage: !this.delivered }, 'closing connection: no complete message in time');
      this.close();
    }, ms);
    this.deadline.unref();
  }

  private disarmDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private startTimer(): void {
    const { keepAliveInterval, idleTimeout, outbound } = this.opts;
    const ping = outbound && keepAliveInterval > 0;
    if (!ping && idleTimeout <= 0) return;
    const period = Math.max(10, Math.min(ping ? keepAliveInterval : Infinity, idleTimeout > 0 ? idleTimeout : Infinity) / 2);
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  private tick(): void {
    const now = Date.now();
    const { keepAliveInterval, idleTimeout, outbound } = this.opts;
    if (idleTimeout > 0 && now - this.lastActivity >= idleTimeout) {
      this.logger.debug({ conn: this.id }, 'closing idle connection');
      this.close();
      return;
    }
    if (outbound && keepAliveInterval > 0 && now - this.lastSent >= keepAliveInterval) {
      this.pingsSent++;
      const active = this.lastActivity;
      void this.write(PING).catch(() => {});
      this.lastActivity = active; // a ping alone does not keep an idle flow alive
    }
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.disarmDeadline();
    this.opts.onClose(this);
  }
}
