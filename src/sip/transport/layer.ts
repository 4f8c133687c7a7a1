/**
 * Transport layer (RFC 3261 §18): one UDP socket, one TCP listener and an
 * optional TLS listener shared by the whole stack; a pool of stream connections
 * reused per destination; response routing per Via (received / rport) or over
 * the connection the request came in on.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { SipParseError, SipTransportError } from '../errors.js';
import { formatVia, parseVia } from '../headers.js';
import { splitTopLevel } from '../lex.js';
import { silentLogger, type SipLogger } from '../logger.js';
import { SipRequest, type SipMessage, type SipResponse } from '../message.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../parser.js';
import { defaultPort } from '../resolver.js';
import { StreamConnection } from './connection.js';
import { describeDestination, toTransportError } from './socket-errors.js';
import type { Destination, MessageSource, TransportName } from './types.js';
import { UdpTransport } from './udp.js';
import { UdpRefusalWatch } from './udp-refusals.js';

export interface TlsServerOptions {
  port?: number;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface TlsClientOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

export interface TransportLayerOptions {
  host: string;
  /** UDP and TCP port; 0 picks a free one, the same for both when possible. */
  port: number;
  tls?: TlsServerOptions;
  tlsClient?: TlsClientOptions;
  /** RFC 5626 CRLF ping interval on connections we opened, ms; 0 disables. Default 30 s. */
  keepAliveInterval?: number;
  /** Close accepted connections silent for this long, ms; 0 disables. Default 10 min. */
  idleTimeout?: number;
  /**
   * Accepted TCP and TLS connections open at once (TLS handshakes in progress included); beyond
   * it new ones are closed as they arrive. 0 = no cap. Default 1024.
   */
  maxConnections?: number;
  /**
   * An accepted connection must finish its TLS handshake and its first message within this many
   * ms, and each later message within this long of its first byte; 0 disables. Default 10 s.
   */
  messageDeadline?: number;
  connectTimeout?: number;
  maxMessageSize?: number;
  logger?: SipLogger;
}

export interface ListeningPorts {
  udpPort: number;
  tcpPort: number;
  tlsPort?: number;
}

export interface ConnectionInfo {
  id: string;
  transport: 'tcp' | 'tls';
  outbound: boolean;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  pingsSent: number;
  pongsReceived: number;
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

export class TransportLayer {
  onMessage: (msg: SipMessage, src: MessageSource) => void = () => {};
  onMalformed: (err: SipParseError, src: MessageSource, raw?: Buffer) => void = () => {};
  readonly counters = { connectionsOpened: 0, connectionsAccepted: 0, connectionsRefused: 0 };

  private readonly udp: UdpTransport;
  private readonly refusals = new UdpRefusalWatch();
  private tcpServer: net.Server | undefined;
  private tlsServer: tls.Server | undefined;
  private readonly connections = new Map<string, StreamConnection>();
  private readonly outbound = new Map<string, Promise<StreamConnection>>();
  private readonly outboundKeyOf = new Map<StreamConnection, string>();
  /** Accepted sockets from the moment the kernel hands them over, before any TLS handshake. */
  private readonly inbound = new Set<net.Socket>();
  private lastRefusalLog = 0;
  private ports: ListeningPorts | undefined;
  private nextConnId = 0;
  private readonly logger: SipLogger;
  private stopping = false;

  constructor(private readonly opts: TransportLayerOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.udp = new UdpTransport({
      onMessage: (msg, src) => this.deliver(msg, src),
      onMalformed: (err, src, raw) => this.onMalformed(err, src, raw),
    });
  }

  get listening(): ListeningPorts | undefined {
    return this.ports;
  }

  async start(): Promise<ListeningPorts> {
    const { host, port } = this.opts;
    this.stopping = false;
    this.tcpServer = net.createServer((socket) => {
      if (this.admit(socket)) this.accept(socket, 'tcp');
    });
    this.tcpServer.on('error', (err) => this.logger.error({ err: err.message }, 'TCP listener error'));
    const { udpPort, tcpPort } = await this.bindPair(host, port);
    this.ports = { udpPort, tcpPort };

    const t = this.opts.tls;
    if (t?.cert && t.key) {
      const deadline = this.messageDeadline;
      this.tlsServer = tls.createServer({
        cert: t.cert, key: t.key, ...(deadline > 0 ? { handshakeTimeout: deadline } : {}),
      }, (socket) => this.accept(socket, 'tls'));
      // The raw socket, before the handshake: a client that never finishes one still counts.
      this.tlsServer.on('connection', (raw: net.Socket) => { this.admit(raw); });
      this.tlsServer.on('tlsClientError', (err, socket) => {
        this.logger.debug({ err: err.message }, 'TLS handshake with a client failed');
        // With this listener Node leaves the socket open, a timed-out handshake included.
        socket.destroy();
      });
      this.tlsServer.on('error', (err) => this.logger.error({ err: err.message }, 'TLS listener error'));
      this.ports.tlsPort = await listen(this.tlsServer, host, t.port ?? (port === 0 ? 0 : 5061));
    }
    return { ...this.ports };
  }

  /** Binds UDP and TCP; with port 0 retries a few times to get the same number for both. */
  private async bindPair(host: string, port: number): Promise<{ udpPort: number; tcpPort: number }> {
    if (port !== 0) {
      const udpPort = await this.udp.bind(host, port);
      return { udpPort, tcpPort: await listen(this.tcpServer!, host, port) };
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const udpPort = await this.udp.bind(host, 0);
      try {
        return { udpPort, tcpPort: await listen(this.tcpServer!, host, udpPort) };
      } catch (err) {
        await this.udp.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    const udpPort = await this.udp.bind(host, 0);
    return { udpPort, tcpPort: await listen(this.tcpServer!, host, 0) };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.refusals.closeAll();
    for (const c of [...this.connections.values()]) c.close();
    this.outbound.clear();
    await Promise.all([closeServer(this.tcpServer), closeServer(this.tlsServer), this.udp.close()]);
    this.tcpServer = this.tlsServer = undefined;
    this.ports = undefined;
  }

  connectionInfo(): ConnectionInfo[] {
    return [...this.connections.values()].map((c) => ({
      id: c.id,
      transport: c.transport,
      outbound: this.outboundKeyOf.has(c),
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      localPort: c.localPort,
      pingsSent: c.pingsSent,
      pongsReceived: c.pongsReceived,
    }));
  }

  // ------------------------------------------------------------ receiving

  private deliver(msg: SipMessage, src: MessageSource): void {
    if (msg instanceof SipRequest) stampVia(msg, src);
    this.onMessage(msg, src);
  }

  private get messageDeadline(): number {
    return this.opts.messageDeadline ?? 10_000;
  }

  /** Counts an accepted socket against the cap, or closes it at once when the cap is reached. */
  private admit(socket: net.Socket): boolean {
    const max = this.opts.maxConnections ?? 1024;
    if (this.stopping || (max > 0 && this.inbound.size >= max)) {
      socket.on('error', () => {});
      socket.destroy();
      if (!this.stopping) {
        this.counters.connectionsRefused++;
        const now = Date.now();
        // Once a minute at most: a flood of refusals must not turn into a flood of log lines.
        if (now - this.lastRefusalLog >= 60_000) {
          this.lastRefusalLog = now;
          this.logger.warn({ max, refused: this.counters.connectionsRefused }, 'SIP connection cap reached; closing new TCP/TLS connections');
        }
      }
      return false;
    }
    this.inbound.add(socket);
    socket.once('close', () => this.inbound.delete(socket));
    return true;
  }

  /** Accepted TCP/TLS connections open now, TLS handshakes in progress included. */
  get acceptedOpen(): number {
    return this.inbound.size;
  }

  private adopt(socket: net.Socket, transport: 'tcp' | 'tls', outbound: boolean): StreamConnection {
    const conn = new StreamConnection(socket, {
      id: `${transport}-${++this.nextConnId}`,
      transport,
      outbound,
      maxMessageSize: this.opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      keepAliveInterval: this.opts.keepAliveInterval ?? 30_000,
      idleTimeout: outbound ? 0 : (this.opts.idleTimeout ?? 600_000),
      // Only senders we did not choose get a deadline; a registrar we dialled is trusted to frame.
      messageDeadline: outbound ? 0 : this.messageDeadline,
      logger: this.logger,
      onMessage: (msg, src) => this.deliver(msg, src),
      onMalformed: (err, src, raw) => this.onMalformed(err, src, raw),
      onClose: (c) => {
        this.connections.delete(c.id);
        const key = this.outboundKeyOf.get(c);
        if (key !== undefined) {
          this.outboundKeyOf.delete(c);
          this.outbound.delete(key);
        }
      },
    });
    this.connections.set(conn.id, conn);
    return conn;
  }

  private accept(socket: net.Socket, transport: 'tcp' | 'tls'): void {
    if (this.stopping || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    socket.on('error', () => {}); // reported through the connection's close
    this.adopt(socket, transport, false);
  }

  // ------------------------------------------------------------ sending

  /** Sends a message to a resolved destination, opening (or reusing) a connection for TCP/TLS. */
  async send(msg: SipMessage, dest: Destination): Promise<void> {
    const buf = msg.serialize();
    if (dest.transport === 'udp') return this.sendUdp(buf, dest, msg instanceof SipRequest && msg.method !== 'ACK');
    const conn = await this.getConnection(dest);
    await conn.write(buf).catch((err) => {
      throw toTransportError(err, dest);
    });
  }

  /**
   * A request's send settles only after the refusal window (see UdpRefusalWatch): the client
   * transaction does not wait for it, and fails as soon as it rejects. Responses and ACKs are
   * not watched: nothing waits on them.
   */
  private async sendUdp(buf: Buffer, dest: Destination, watchRefusal: boolean): Promise<void> {
    try {
      await this.udp.send(buf, dest.address, dest.port);
      if (watchRefusal && !this.stopping) await this.refusals.watch(dest.address, dest.port);
    } catch (err) {
      throw toTransportError(err, dest);
    }
  }

  /** RFC 3261 §18.2.2 (+ RFC 3581 rport): where a response to a request from `src` must go. */
  async sendResponse(res: SipResponse, src: MessageSource): Promise<void> {
    if (src.transport !== 'udp') {
      const conn = src.connectionId ? this.connections.get(src.connectionId) : undefined;
      if (conn?.isOpen) {
        const dest: Destination = { transport: src.transport, address: src.remoteAddress, port: src.remotePort };
        await conn.write(res.serialize()).catch((err) => {
          throw toTransportError(err, dest);
        });
        return;
      }
    }
    await this.send(res, responseDestination(res, src));
  }

  /** Sends pre-serialised bytes back to where `src` came from (used to answer malformed requests). */
  async reply(buf: Buffer, src: MessageSource): Promise<void> {
    if (src.transport === 'udp') return this.udp.send(buf, src.remoteAddress, src.remotePort);
    const conn = src.connectionId ? this.connections.get(src.connectionId) : undefined;
    if (conn?.isOpen) await conn.write(buf);
  }

  private async getConnection(dest: Destination): Promise<StreamConnection> {
    const key = `${dest.transport}|${dest.address}|${dest.port}|${dest.hostname ?? ''}`;
    const pending = this.outbound.get(key);
    if (pending) {
      const conn = await pending.catch(() => undefined);
      if (conn?.isOpen) return conn;
      if (this.outbound.get(key) === pending) this.outbound.delete(key);
    }
    const p = this.connect(dest).then((conn) => {
      this.outboundKeyOf.set(conn, key);
      return conn;
    });
    this.outbound.set(key, p);
    p.catch(() => {
      if (this.outbound.get(key) === p) this.outbound.delete(key);
    });
    return p;
  }

  private connect(dest: Destination): Promise<StreamConnection> {
    if (this.stopping) return Promise.reject(new SipTransportError('transport', 'SIP stack stopped'));
    const timeoutMs = this.opts.connectTimeout ?? 10_000;
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      let readyEvent: string;
      if (dest.transport === 'tls') {
        const name = dest.hostname ?? dest.address;
        const c = this.opts.tlsClient ?? {};
        const options: tls.ConnectionOptions = { host: dest.address, port: dest.port, rejectUnauthorized: c.rejectUnauthorized ?? true };
        // SNI must be a host name; for IP literals the certificate is checked against the IP.
        if (!net.isIP(name)) options.servername = name;
        if (c.ca !== undefined) options.ca = c.ca;
        socket = tls.connect(options);
        readyEvent = 'secureConnect';
      } else {
        socket = net.connect({ host: dest.address, port: dest.port });
        readyEvent = 'connect';
      }
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SipTransportError('transport', `connection to ${describeDestination(dest)} timed out`, 'ETIMEDOUT'));
      }, timeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(toTransportError(err, dest));
      };
      socket.once('error', onError);
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.on('error', () => {}); // later errors surface as close + failed writes
        this.counters.connectionsOpened++;
        this.logger.debug({ dest: describeDestination(dest) }, 'connection opened');
        resolve(this.adopt(socket, dest.transport as 'tcp' | 'tls', true));
      });
    });
  }
}

/**
 * RFC 3261 §18.2.1 / RFC 3581 §4: record the source address in the top Via
 * (`received`) and fill an empty `rport`, so responses find their way back
 * through NATs.
 */
export function stampVia(req: SipRequest, src: MessageSource): void {
  const lines = req.headers.getAll('Via');
  if (!lines.length) return;
  try {
    const parts = splitTopLevel(lines[0]!);
    const via = parseVia(parts[0]!);
    let changed = false;
    if (via.host !== src.remoteAddress) {
      via.params.set('received', src.remoteAddress);
      changed = true;
    }
    if (via.params.has('rport') && via.params.get('rport') === null) {
      via.params.set('rport', String(src.remotePort));
      via.params.set('received', src.remoteAddress);
      changed = true;
    }
    if (!changed) return;
    parts[0] = formatVia(via);
    lines[0] = parts.join(', ');
    req.headers.set('Via', lines);
  } catch {
    // The parser already validated the Via; nothing sensible to do otherwise.
  }
}

/** Destination of a response over UDP, or over a fresh connection when the original one is gone. */
export function responseDestination(res: SipResponse, src: MessageSource): Destination {
  const via = res.topVia;
  const transport: TransportName = src.transport;
  if (!via) return { transport, address: src.remoteAddress, port: src.remotePort };
  const address = via.received ?? (net.isIP(via.host) ? via.host : src.remoteAddress);
  const rport = via.rport;
  const port = typeof rport === 'number' ? rport : (via.port ?? defaultPort(transport));
  return { transport, address, port };
}
