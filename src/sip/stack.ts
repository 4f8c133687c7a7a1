/**
 * The small user-agent surface the rest of the product uses: send a request in
 * a client transaction (with one round of digest authentication), receive
 * requests through server transactions, and nothing domain-specific.
 */
import { networkInterfaces } from 'node:os';
import { DigestClient, parseChallenge, type DigestChallenge } from './digest.js';
import { SipError, SipParseError, SipTimeoutError, SipTransportError } from './errors.js';
import { headerKey, parseCSeq } from './headers.js';
import { newBranch, newCallId, newTag } from './ids.js';
import { quote } from './lex.js';
import { silentLogger, type SipLogger } from './logger.js';
import { createResponse, SipHeaders, SipRequest, type SipResponse } from './message.js';
import { Resolver, type ResolvedTarget } from './resolver.js';
import type { ClientTransactionEvents } from './transaction/client.js';
import { TransactionLayer } from './transaction/layer.js';
import { buildCancel } from './transaction/client.js';
import { ServerInviteTransaction, type ServerTransaction } from './transaction/server.js';
import type { Clock } from './transaction/timers.js';
import { TransportLayer, type ListeningPorts, type TlsClientOptions, type TlsServerOptions } from './transport/layer.js';
import { toTransportError } from './transport/socket-errors.js';
import { viaTransportToken, type Destination, type MessageSource, type TransportName } from './transport/types.js';
import { formatHost, formatUri, parseUri, type SipUri } from './uri.js';

export interface SipStackOptions {
  /** Bind address, e.g. '0.0.0.0' or '127.0.0.1'. */
  host: string;
  /** UDP and TCP listen port; 0 = pick a free one (the same for both when possible). */
  port: number;
  /** Address for Via/Contact; default: first non-internal IPv4, or host unless it is a wildcard. */
  publicHost?: string;
  tls?: TlsServerOptions;
  tlsClient?: TlsClientOptions;
  timers?: { T1?: number; T2?: number; T4?: number };
  userAgent?: string;
  logger?: SipLogger;
  /** RFC 5626 CRLF keep-alive interval on connections we open, ms (default 30000, 0 = off). */
  keepAliveInterval?: number;
  /** Close accepted TCP/TLS connections idle this long, ms (default 600000, 0 = never). */
  idleTimeout?: number;
  /** Accepted TCP/TLS connections open at once, handshakes included (default 1024, 0 = no cap). */
  maxConnections?: number;
  /** Ms an accepted TCP/TLS connection gets to complete a message (and its first one); default 10000, 0 = off. */
  messageDeadline?: number;
  /** TCP/TLS connect timeout, ms (default 10000). */
  connectTimeout?: number;
  maxMessageSize?: number;
  /** Target resolution; default RFC 3263-lite over node:dns. */
  resolver?: Pick<Resolver, 'resolve'>;
  /** Timer source for transactions (tests). */
  clock?: Clock;
}

export interface OutgoingRequest {
  method: string;
  /** Request-URI, e.g. 'sip:provider.example.com:5060;transport=tcp'. */
  uri: string;
  /** From, To, Call-ID, CSeq, Contact, Expires, ... The stack adds Via, Max-Forwards, User-Agent, Content-Length. */
  headers: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Default: sips → tls, else the URI's ;transport=, else udp. */
  transport?: TransportName;
  /** Send here instead of resolving the Request-URI (outbound proxy). */
  target?: { host: string; port: number };
  /** Used to answer digest challenges (username is the auth user). */
  credentials?: { username: string; password: string };
  onProvisional?: (res: SipResponse) => void;
  /** INVITE only: every 2xx after the first (retransmissions, other forks), which the caller must ACK. */
  onAccepted2xx?: (res: SipResponse) => void;
  /** INVITE only: aborting sends a CANCEL, as soon as a provisional response has arrived (RFC 3261 §9.1). */
  signal?: AbortSignal;
}

export interface RequestResult {
  response: SipResponse;
  /** A challenge came back although we had already answered one for that realm (and it was not stale). */
  authRejected: boolean;
  /** Our address and listening port for the transport used (what to put in Contact). */
  local: { transport: TransportName; address: string; port: number };
  /** received / rport from the top Via of the final response (our address as the peer sees it). */
  via: { received?: string; rport?: number };
  remote: { host: string; port: number };
}

export interface IncomingContext {
  transport: TransportName;
  remoteAddress: string;
  remotePort: number;
  /** INVITE only: a CANCEL arrived and 487 was already sent. */
  readonly cancelled: boolean;
  /** The To tag respond() adds (undefined for an ACK, which has no transaction). */
  readonly localTag: string | undefined;
  /** INVITE only: called when a CANCEL ends this INVITE (after the 487). */
  onCancelled(fn: () => void): void;
  /** INVITE only: called when no ACK came for the final response within 64·T1. */
  onAckTimeout(fn: () => void): void;
  respond(status: number, reason?: string, extra?: { headers?: Record<string, string | string[]>; body?: string | Buffer }): void;
}

export interface SipStackStats {
  malformedDropped: number;
  malformedAnswered400: number;
  requestsReceived: number;
  responsesReceived: number;
  retransmissionsAbsorbed: number;
  strayResponses: number;
  transactionsTimedOut: number;
  connectionsOpened: number;
  connectionsAccepted: number;
  /** Accepted connections closed on arrival because the cap was reached. */
  connectionsRefused: number;
}

export interface SipStack {
  start(): Promise<ListeningPorts>;
  stop(): Promise<void>;
  readonly publicHost: string;
  listening(): ListeningPorts;
  request(req: OutgoingRequest): Promise<RequestResult>;
  /**
   * Sends a request outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4), which gets a
   * branch of its own and is never retransmitted by the stack. Resolves once it is on the wire.
   */
  sendAck(req: OutgoingRequest): Promise<void>;
  onRequest(handler: (req: SipRequest, ctx: IncomingContext) => void): void;
  stats(): SipStackStats;
}

export function createSipStack(opts: SipStackOptions): SipStack & SipStackInternals {
  return new DialtoneSipStack(opts);
}

/** Extra surface for diagnostics and tests; not part of the product contract. */
export interface SipStackInternals {
  readonly transportLayer: TransportLayer;
  readonly transactionLayer: TransactionLayer;
}

function defaultPublicHost(host: string): string {
  if (host && host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function transportFor(uri: SipUri, explicit: TransportName | undefined): TransportName {
  if (explicit) return explicit;
  if (uri.scheme === 'sips') return 'tls';
  const t = uri.params.get('transport')?.toLowerCase();
  if (t === undefined || t === null || t === 'udp') return 'udp';
  if (t === 'tcp' || t === 'tls') return t;
  throw new SipTransportError('transport', `unsupported transport "${t}" in ${formatUri(uri)}`);
}

function seconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(1)));
}

/** A warn-text safe for a quoted-string on one line. */
function warnText(s: string): string {
  return quote(s.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 200));
}

// Headers the stack owns on outgoing requests.
const STACK_HEADERS = new Set(['via', 'content-length']);

class DialtoneSipStack implements SipStack, SipStackInternals {
  readonly publicHost: string;
  readonly transportLayer: TransportLayer;
  readonly transactionLayer: TransactionLayer;
  private readonly logger: SipLogger;
  private readonly userAgent: string;
  private readonly resolver: Pick<Resolver, 'resolve'>;
  private readonly digest = new DigestClient();
  private handler: ((req: SipRequest, ctx: IncomingContext) => void) | undefined;
  private ports: ListeningPorts | undefined;
  private readonly counters = { malformedDropped: 0, malformedAnswered400: 0, requestsReceived: 0, responsesReceived: 0 };
  // Per-INVITE listeners registered through IncomingContext; dropped with the transaction.
  private readonly inviteListeners = new WeakMap<ServerInviteTransaction, { cancelled: Array<() => void>; ackTimeout: Array<() => void> }>();

  constructor(private readonly opts: SipStackOptions) {
    this.publicHost = opts.publicHost ?? defaultPublicHost(opts.host);
    this.logger = opts.logger ?? silentLogger;
    this.userAgent = opts.userAgent ?? 'Dialtone';
    this.resolver = opts.resolver ?? new Resolver();
    const transportOpts: ConstructorParameters<typeof TransportLayer>[0] = { host: opts.host, port: opts.port, logger: this.logger };
    for (const k of ['tls', 'tlsClient', 'keepAliveInterval', 'idleTimeout', 'maxConnections', 'messageDeadline', 'connectTimeout', 'maxMessageSize'] as const) {
      if (opts[k] !== undefined) Object.assign(transportOpts, { [k]: opts[k] });
    }
    this.transportLayer = new TransportLayer(transportOpts);
    const txOpts: ConstructorParameters<typeof TransactionLayer>[0] = {
      sendResponse: (res, src) => this.transportLayer.sendResponse(res, src),
      logger: this.logger,
    };
    if (opts.timers) txOpts.timers = opts.timers;
    if (opts.clock) txOpts.clock = opts.clock;
    this.transactionLayer = new TransactionLayer(txOpts);

    this.transportLayer.onMessage = (msg, src) => {
      try {
        if (msg instanceof SipRequest) {
          this.counters.requestsReceived++;
          this.transactionLayer.handleRequest(msg, src);
        } else {
          this.counters.responsesReceived++;
          this.transactionLayer.handleResponse(msg);
        }
      } catch (err) {
        // Last line of defence: a bug in one message's handling must not take the process down.
        this.logger.error({ err: (err as Error).message, src }, 'error while handling SIP message');
      }
    };
    this.transportLayer.onMalformed = (err, src) => this.handleMalformed(err, src);
    this.transactionLayer.onRequest = (req, src, tx) => this.dispatch(req, src, tx);
    this.transactionLayer.onCancel = (inv) => this.notifyInvite(inv, 'cancelled');
    this.transactionLayer.onAckTimeout = (inv) => this.notifyInvite(inv, 'ackTimeout');
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<ListeningPorts> {
    if (this.ports) return { ...this.ports };
    try {
      this.ports = await this.transportLayer.start();
    } catch (err) {
      await this.transportLayer.stop().catch(() => {});
      const e = err as NodeJS.ErrnoException;
      throw new SipTransportError('transport', `cannot listen on ${this.opts.host}:${this.opts.port}: ${e.message}`, e.code, err);
    }
    this.logger.info({ ...this.ports, publicHost: this.publicHost }, 'SIP stack listening');
    return { ...this.ports };
  }

  async stop(): Promise<void> {
    this.transactionLayer.shutdown();
    await this.transportLayer.stop();
    this.ports = undefined;
  }

  listening(): ListeningPorts {
    if (!this.ports) throw new Error('SIP stack is not started');
    return { ...this.ports };
  }

  stats(): SipStackStats {
    const tx = this.transactionLayer.counters;
    const tr = this.transportLayer.counters;
    return {
      ...this.counters,
      retransmissionsAbsorbed: tx.retransmissionsAbsorbed,
      strayResponses: tx.strayResponses,
      transactionsTimedOut: tx.transactionsTimedOut,
      connectionsOpened: tr.connectionsOpened,
      connectionsAccepted: tr.connectionsAccepted,
      connectionsRefused: tr.connectionsRefused,
    };
  }

  onRequest(handler: (req: SipRequest, ctx: IncomingContext) => void): void {
    this.handler = handler;
  }

  // ------------------------------------------------------------ UAC

  async request(o: OutgoingRequest): Promise<RequestResult> {
    return this.eachTarget(o, (uri, target) => this.requestTo(o, uri, target));
  }

  async sendAck(o: OutgoingRequest): Promise<void> {
    await this.eachTarget(o, async (uri, target) => {
      const dest: Destination = { transport: target.transport, address: target.address, port: target.port, hostname: target.hostname };
      const cseq = Object.entries(o.headers).find(([n]) => headerKey(n) === 'cseq')?.[1];
      const seq = cseq === undefined ? 1 : parseCSeq(Array.isArray(cseq) ? cseq[0]! : cseq).seq;
      const req = this.buildRequest({ ...o, method: 'ACK' }, uri, dest, seq, new Map(), { callId: newCallId(this.publicHost), fromTag: newTag() });
      try {
        await this.transportLayer.send(req, dest);
      } catch (err) {
        throw err instanceof SipError ? err : toTransportError(err, dest);
      }
    });
  }

  /** Resolves the Request-URI (or the explicit target) and tries each address until one does not fail at transport level. */
  private async eachTarget<T>(o: OutgoingRequest, attempt: (uri: SipUri, target: ResolvedTarget) => Promise<T>): Promise<T> {
    this.listening(); // throws when not started
    const uri = parseUri(o.uri);
    const transport = transportFor(uri, o.transport);
    let targets = o.target
      ? await this.resolver.resolve(o.target.host, o.target.port, transport)
      : await this.resolver.resolve(uri.params.get('maddr') ?? uri.host, uri.port, transport);
    if (transport === 'udp') {
      // The UDP socket has one address family; keep targets it can reach.
      const v4 = targets.filter((t) => !t.address.includes(':'));
      if (v4.length && !(this.opts.host.includes(':'))) targets = v4;
    }
    let lastError: unknown;
    for (const target of targets) {
      try {
        return await attempt(uri, target);
      } catch (err) {
        // RFC 3263 §4.3: on a transport failure move to the next address; timeouts are final.
        if (err instanceof SipTransportError && err.kind === 'transport' && !/stopped/.test(err.message)) {
          lastError = err;
          continue;
        }
        throw err;
      }
    }
    throw lastError;
  }

  private async requestTo(o: OutgoingRequest, uri: SipUri, target: ResolvedTarget): Promise<RequestResult> {
    const dest: Destination = { transport: target.transport, address: target.address, port: target.port, hostname: target.hostname };
    const callerCSeq = Object.entries(o.headers).find(([n]) => headerKey(n) === 'cseq')?.[1];
    let cseq = callerCSeq === undefined ? 1 : parseCSeq(Array.isArray(callerCSeq) ? callerCSeq[0]! : callerCSeq).seq;
    const defaults = { callId: newCallId(this.publicHost), fromTag: newTag() };
    const auth = new Map<string, Map<string, string>>(); // header name → realm → credentials
    const answered = new Set<string>();
    let staleRetried = false;

    for (let round = 0; ; round++) {
      const req = this.buildRequest(o, uri, dest, cseq, auth, defaults);
      const response = o.method === 'INVITE' && (o.signal || o.onAccepted2xx)
        ? await this.runInviteTransaction(req, dest, o)
        : await this.runClientTransaction(req, dest, o.onProvisional);
      const result = (authRejected: boolean): RequestResult => this.result(response, dest, authRejected);
      if ((response.status !== 401 && response.status !== 407) || !o.credentials || round >= 4 || o.signal?.aborted) return result(false);

      const challengeHeader = response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      const authHeader = response.status === 401 ? 'Authorization' : 'Proxy-Authorization';
      const challenges: DigestChallenge[] = [];
      for (const v of response.headers.getAll(challengeHeader)) {
        try {
          challenges.push(parseChallenge(v));
        } catch (err) {
          this.logger.debug({ err: (err as Error).message }, 'ignoring unusable challenge');
        }
      }
      if (!challenges.length) return result(false);
      for (const ch of challenges) {
        const key = `${authHeader}|${ch.realm}`;
        if (answered.has(key)) {
          if (!ch.stale || staleRetried) return result(true);
          staleRetried = true;
        }
        answered.add(key);
        let creds;
        try {
          creds = this.digest.authorize({
            challenge: ch,
            username: o.credentials.username,
            password: o.credentials.password,
            method: o.method,
            uri: formatUri(uri),
            body: req.body,
          });
        } catch (err) {
          this.logger.warn({ err: (err as Error).message, realm: ch.realm }, 'cannot answer digest challenge');
          return result(false);
        }
        const byRealm = auth.get(authHeader) ?? new Map<string, string>();
        byRealm.set(ch.realm, creds.header);
        auth.set(authHeader, byRealm);
      }
      cseq++; // RFC 3261 §8.1.3.5 / §22.2: the retry is a new request with a higher CSeq
    }
  }

  private buildRequest(
    o: OutgoingRequest,
    uri: SipUri,
    dest: Destination,
    cseq: number,
    auth: Map<string, Map<string, string>>,
    defaults: { callId: string; fromTag: string },
  ): SipRequest {
    const h = new SipHeaders();
    const rport = dest.transport === 'udp' ? ';rport' : '';
    h.append('Via', `SIP/2.0/${viaTransportToken(dest.transport)} ${formatHost(this.publicHost)}:${this.localPort(dest.transport)};branch=${newBranch()}${rport}`);
    for (const [name, value] of Object.entries(o.headers)) {
      if (!STACK_HEADERS.has(headerKey(name))) h.append(name, value);
    }
    if (!h.has('Max-Forwards')) h.append('Max-Forwards', '70');
    if (!h.has('From')) h.append('From', `<sip:anonymous@${formatHost(this.publicHost)}>;tag=${defaults.fromTag}`);
    if (!h.has('To')) h.append('To', `<${formatUri({ ...uri, params: new Map(), headers: new Map() })}>`);
    if (!h.has('Call-ID')) h.append('Call-ID', defaults.callId);
    h.set('CSeq', `${cseq} ${o.method}`);
    for (const [name, byRealm] of auth) h.set(name, [...byRealm.values()]);
    if (!h.has('User-Agent')) h.append('User-Agent', this.userAgent);
    return new SipRequest(o.method, uri, h, o.body);
  }

  private localPort(t: TransportName): number {
    const p = this.listening();
    return t === 'udp' ? p.udpPort : t === 'tls' ? (p.tlsPort ?? p.tcpPort) : p.tcpPort;
  }

  private runClientTransaction(req: SipRequest, dest: Destination, onProvisional?: (res: SipResponse) => void): Promise<SipResponse> {
    // No closure is made in this scope: the transaction keeps its callbacks while it lingers after
    // its final response (Timer K, 5 s over UDP), and they must not keep `req` alive meanwhile.
    const { promise, events } = this.clientEvents(req.method, dest, onProvisional);
    this.transactionLayer.sendRequest(req, this.sender(dest), dest.transport !== 'udp', events);
    return promise;
  }

  /**
   * An INVITE the caller may cancel or must see every 2xx of. The CANCEL waits for a provisional
   * response (§9.1: before one, the request may not have reached anyone who could match it).
   */
  private async runInviteTransaction(req: SipRequest, dest: Destination, o: OutgoingRequest): Promise<SipResponse> {
    let provisional = false;
    let cancelSent = false;
    const sendCancel = () => {
      if (cancelSent || !provisional || !o.signal?.aborted) return;
      cancelSent = true;
      const cancel = buildCancel(req);
      const { promise, events } = this.clientEvents('CANCEL', dest);
      this.transactionLayer.sendRequest(cancel, this.sender(dest), dest.transport !== 'udp', events);
      promise.then(
        (res) => this.logger.debug({ status: res.status, callId: req.callId }, 'CANCEL answered'),
        (err: Error) => this.logger.debug({ err: err.message, callId: req.callId }, 'CANCEL failed'),
      );
    };
    const onProvisional = (res: SipResponse) => {
      provisional = true;
      o.onProvisional?.(res);
      sendCancel();
    };
    const { promise, events } = this.clientEvents(req.method, dest, onProvisional);
    if (o.onAccepted2xx) {
      const late = o.onAccepted2xx;
      events.onAccepted2xx = (res) => {
        try {
          late(res);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'onAccepted2xx callback threw');
        }
      };
    }
    o.signal?.addEventListener('abort', sendCancel);
    this.transactionLayer.sendRequest(req, this.sender(dest), dest.transport !== 'udp', events);
    try {
      return await promise;
    } finally {
      o.signal?.removeEventListener('abort', sendCancel);
    }
  }

  private sender(dest: Destination): (r: SipRequest) => Promise<void> {
    return (r) => this.transportLayer.send(r, dest);
  }

  /** Callbacks settling one promise, which they drop once settled so it cannot hold the response. */
  private clientEvents(method: string, dest: Destination, onProvisional?: (res: SipResponse) => void) {
    let pending: { resolve: (res: SipResponse) => void; reject: (err: Error) => void } | null = null;
    const promise = new Promise<SipResponse>((resolve, reject) => {
      pending = { resolve, reject };
    });
    const settle = () => {
      const p = pending;
      pending = null;
      return p;
    };
    const events: ClientTransactionEvents = {
      onProvisional: (res) => {
        try {
          onProvisional?.(res);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'onProvisional callback threw');
        }
      },
      onFinal: (res) => settle()?.resolve(res),
      onTimeout: () => {
        const after = seconds(64 * this.transactionLayer.timers.T1);
        settle()?.reject(new SipTimeoutError(`no answer to ${method} over ${dest.transport.toUpperCase()} from ${formatHost(dest.address)}:${dest.port} after ${after} s`));
      },
      onTransportError: (err) => settle()?.reject(err instanceof SipError ? err : toTransportError(err, dest)),
    };
    return { promise, events };
  }


  private result(response: SipResponse, dest: Destination, authRejected: boolean): RequestResult {
    const via: RequestResult['via'] = {};
    try {
      const top = response.topVia;
      if (top?.received !== undefined) via.received = top.received;
      if (typeof top?.rport === 'number') via.rport = top.rport;
    } catch {
      // a response we matched always has a parseable Via; be defensive anyway
    }
    return {
      response,
      authRejected,
      local: { transport: dest.transport, address: this.publicHost, port: this.localPort(dest.transport) },
      via,
      remote: { host: dest.address, port: dest.port },
    };
  }

  // ------------------------------------------------------------ UAS

  private dispatch(req: SipRequest, src: MessageSource, tx: ServerTransaction | undefined): void {
    const ctx = this.context(req, src, tx);
    if (this.handler) {
      try {
        this.handler(req, ctx);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, method: req.method }, 'request handler threw');
        if (tx && !tx.isFinal) ctx.respond(500);
      }
      return;
    }
    if (req.method === 'ACK') return;
    if (req.method === 'OPTIONS') ctx.respond(200, undefined, { headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS', Accept: 'application/sdp' } });
    else ctx.respond(501);
  }

  private notifyInvite(inv: ServerInviteTransaction, what: 'cancelled' | 'ackTimeout'): void {
    for (const fn of this.inviteListeners.get(inv)?.[what] ?? []) {
      try {
        fn();
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, what }, 'INVITE listener threw');
      }
    }
  }

  private listen(tx: ServerTransaction | undefined, what: 'cancelled' | 'ackTimeout', fn: () => void): void {
    if (!(tx instanceof ServerInviteTransaction)) return;
    let l = this.inviteListeners.get(tx);
    if (!l) this.inviteListeners.set(tx, (l = { cancelled: [], ackTimeout: [] }));
    l[what].push(fn);
  }

  private context(req: SipRequest, src: MessageSource, tx: ServerTransaction | undefined): IncomingContext {
    return {
      localTag: tx?.localTag,
      onCancelled: (fn) => this.listen(tx, 'cancelled', fn),
      onAckTimeout: (fn) => this.listen(tx, 'ackTimeout', fn),
      transport: src.transport,
      remoteAddress: src.remoteAddress,
      remotePort: src.remotePort,
      get cancelled() {
        return tx instanceof ServerInviteTransaction && tx.cancelled;
      },
      respond: (status, reason, extra) => {
        if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`invalid SIP status ${status}`);
        if (!tx) {
          this.logger.debug({ method: req.method }, 'ignoring respond() for a request without transaction (ACK)');
          return;
        }
        const ro: Parameters<typeof createResponse>[3] = { toTag: tx.localTag };
        if (extra?.headers) ro.headers = extra.headers;
        if (extra?.body !== undefined) ro.body = extra.body;
        const res = createResponse(req, status, reason, ro);
        if (!res.headers.has('Server')) res.headers.append('Server', this.userAgent);
        if (!tx.respond(res)) this.logger.debug({ status, method: req.method }, 'response after the final one ignored');
      },
    };
  }

  /** Answers 400 when Via, CSeq and Call-ID are readable (never to ACK), otherwise drops. */
  private handleMalformed(err: SipParseError, src: MessageSource): void {
    const p = err.partial;
    const get = (name: string): string[] => (p ? p.headers.filter(([n]) => headerKey(n) === name).map(([, v]) => v) : []);
    const vias = get('via');
    const cseq = get('cseq')[0];
    const callId = get('call-id')[0];
    if (!p?.isRequest || p.method === 'ACK' || !vias.length || cseq === undefined || callId === undefined) {
      this.counters.malformedDropped++;
      this.logger.debug({ err: err.message, src }, 'dropped malformed message');
      return;
    }
    const lines = ['SIP/2.0 400 Bad Request', ...vias.map((v) => `Via: ${v}`)];
    const from = get('from')[0];
    if (from !== undefined) lines.push(`From: ${from}`);
    const to = get('to')[0];
    if (to !== undefined) lines.push(`To: ${to}${/;\s*tag\s*=/i.test(to) ? '' : `;tag=${newTag()}`}`);
    lines.push(`Call-ID: ${callId}`, `CSeq: ${cseq}`, `Warning: 399 ${formatHost(this.publicHost)} ${warnText(err.message)}`, `Server: ${this.userAgent}`, 'Content-Length: 0', '', '');
    this.counters.malformedAnswered400++;
    this.logger.debug({ err: err.message, src }, 'answered malformed request with 400');
    this.transportLayer.reply(Buffer.from(lines.join('\r\n'), 'utf8'), src).catch((e: Error) => {
      this.logger.debug({ err: e.message }, 'could not send 400');
    });
  }
}
