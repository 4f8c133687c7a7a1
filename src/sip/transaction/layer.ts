/**
 * Transaction layer: matches incoming messages to transactions (RFC 3261
 * §17.1.3 / §17.2.3), creates server transactions for new requests, and handles
 * CANCEL against its INVITE (§9.2). Knows nothing about sockets: sending goes
 * through injected functions.
 */
import { SipTransportError } from '../errors.js';
import { BRANCH_MAGIC_COOKIE } from '../ids.js';
import { silentLogger, type SipLogger } from '../logger.js';
import { createResponse, type SipRequest, type SipResponse } from '../message.js';
import type { MessageSource } from '../transport/types.js';
import { formatUri } from '../uri.js';
import { ClientInviteTransaction, ClientNonInviteTransaction, type ClientTransaction, type ClientTransactionEvents } from './client.js';
import { ServerInviteTransaction, ServerNonInviteTransaction, type ServerTransaction } from './server.js';
import { realClock, resolveTimers, type Clock, type TimerValues } from './timers.js';

export interface TransactionLayerOptions {
  /** Routes a response from a server transaction back to where the request came from. */
  sendResponse(res: SipResponse, src: MessageSource): Promise<void>;
  clock?: Clock;
  timers?: Partial<TimerValues>;
  logger?: SipLogger;
}

/** Called for each new request (never for retransmissions). tx is undefined for ACKs to 2xx. */
export type TransactionRequestHandler = (req: SipRequest, src: MessageSource, tx: ServerTransaction | undefined) => void;

export function clientKey(branch: string | undefined, cseqMethod: string): string {
  return `${branch ?? ''}|${cseqMethod}`;
}

/**
 * §17.2.3: with an RFC 3261 branch, branch + sent-by + method (ACK counts as INVITE).
 * Older peers get the fallback on Call-ID, CSeq, From tag, sent-by and Request-URI.
 */
export function serverKey(req: SipRequest, methodOverride?: string): string {
  const via = req.topVia;
  const method = methodOverride ?? (req.method === 'ACK' ? 'INVITE' : req.method);
  const sentBy = via?.sentBy ?? '';
  const branch = via?.branch;
  if (branch?.startsWith(BRANCH_MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  const fromTag = req.from.params.get('tag') ?? '';
  return `2543|${req.callId}|${req.cseq.seq}|${fromTag}|${sentBy}|${method}|${formatUri(req.uri)}`;
}

/** Identifies the INVITE an ACK for a 2xx belongs to (that ACK carries a new branch). */
function dialogAckKey(req: SipRequest): string {
  return `${req.callId}|${req.cseq.seq}|${req.from.params.get('tag') ?? ''}`;
}

export interface TransactionCounters {
  retransmissionsAbsorbed: number;
  strayResponses: number;
  transactionsTimedOut: number;
}

export class TransactionLayer {
  readonly timers: TimerValues;
  readonly clock: Clock;
  onRequest: TransactionRequestHandler = () => {};
  /** A CANCEL terminated this INVITE (487 already sent). */
  onCancel: (invite: ServerInviteTransaction) => void = () => {};
  /** Timer L / H fired before an ACK for this INVITE's final response arrived. */
  onAckTimeout: (invite: ServerInviteTransaction) => void = () => {};
  readonly counters: TransactionCounters = { retransmissionsAbsorbed: 0, strayResponses: 0, transactionsTimedOut: 0 };

  private readonly clients = new Map<string, { tx: ClientTransaction; events: ClientTransactionEvents }>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly invitesByDialog = new Map<string, ServerInviteTransaction>();
  private readonly logger: SipLogger;

  constructor(private readonly opts: TransactionLayerOptions) {
    this.timers = resolveTimers(opts.timers);
    this.clock = opts.clock ?? realClock;
    this.logger = opts.logger ?? silentLogger;
  }

  // ------------------------------------------------------------ client side

  /** Starts a client transaction; `send` is bound to the chosen destination. */
  sendRequest(req: SipRequest, send: (r: SipRequest) => Promise<void>, reliable: boolean, events: ClientTransactionEvents): ClientTransaction {
    const key = clientKey(req.topVia?.branch, req.cseq.method);
    const wrapped: ClientTransactionEvents = {
      ...events,
      onTimeout: () => {
        this.counters.transactionsTimedOut++;
        events.onTimeout();
      },
      onTerminated: () => {
        if (this.clients.get(key)?.tx === tx) this.clients.delete(key);
        events.onTerminated?.();
      },
    };
    const deps = { send, reliable, clock: this.clock, timers: this.timers };
    const tx = req.method === 'INVITE' ? new ClientInviteTransaction(req, deps, wrapped) : new ClientNonInviteTransaction(req, deps, wrapped);
    this.clients.set(key, { tx, events: wrapped });
    tx.start();
    return tx;
  }

  /** Returns false for a response no transaction claims (dropped, RFC 3261 §18.1.2). */
  handleResponse(res: SipResponse): boolean {
    const entry = this.clients.get(clientKey(res.topVia?.branch, res.cseq.method));
    if (!entry) {
      this.counters.strayResponses++;
      this.logger.debug({ status: res.status, callId: res.callId }, 'response matches no transaction');
      return false;
    }
    entry.tx.receiveResponse(res);
    return true;
  }

  // ------------------------------------------------------------ server side

  handleRequest(req: SipRequest, src: MessageSource): void {
    if (req.method === 'ACK') return this.handleAck(req, src);
    const key = serverKey(req);
    const existing = this.servers.get(key);
    if (existing) {
      this.counters.retransmissionsAbsorbed++;
      existing.receiveRetransmission();
      return;
    }
    const tx = this.createServerTransaction(req, src, key);
    if (req.method === 'CANCEL') return this.handleCancel(req, tx);
    if (tx instanceof ServerInviteTransaction) {
      // Quench INVITE retransmissions right away; the TU may take a while (§17.2.1).
      tx.respond(createResponse(req, 100));
    }
    this.onRequest(req, src, tx);
  }

  private createServerTransaction(req: SipRequest, src: MessageSource, key: string): ServerTransaction {
    const deps = {
      sendResponse: (res: SipResponse) => this.opts.sendResponse(res, src),
      reliable: src.transport !== 'udp',
      clock: this.clock,
      timers: this.timers,
    };
    let tx: ServerTransaction;
    if (req.method === 'INVITE') {
      const dk = dialogAckKey(req);
      const inv: ServerInviteTransaction = new ServerInviteTransaction(req, deps, {
        onTerminated: () => {
          this.forget(key, inv);
          if (this.invitesByDialog.get(dk) === inv) this.invitesByDialog.delete(dk);
        },
        onAckTimeout: () => {
          this.logger.warn({ callId: req.callId }, 'no ACK for final response to INVITE');
          this.onAckTimeout(inv);
        },
        onTransportError: (err) => this.logger.warn({ err: err.message }, 'could not send response'),
      });
      this.invitesByDialog.set(dk, inv);
      tx = inv;
    } else {
      const nonInv: ServerNonInviteTransaction = new ServerNonInviteTransaction(req, deps, {
        onTerminated: () => this.forget(key, nonInv),
        onTransportError: (err) => this.logger.warn({ err: err.message }, 'could not send response'),
      });
      tx = nonInv;
    }
    this.servers.set(key, tx);
    return tx;
  }

  private forget(key: string, tx: ServerTransaction): void {
    if (this.servers.get(key) === tx) this.servers.delete(key);
  }

  private handleAck(req: SipRequest, src: MessageSource): void {
    const tx = this.servers.get(serverKey(req));
    if (tx instanceof ServerInviteTransaction && tx.state !== 'accepted') {
      // ACK for a non-2xx final: it belongs to the transaction, the TU never sees it.
      tx.receiveAck();
      return;
    }
    // ACK for a 2xx is its own (transaction-less) request: stop our 2xx retransmissions, hand it to the TU.
    (tx as ServerInviteTransaction | undefined)?.receiveAck();
    this.invitesByDialog.get(dialogAckKey(req))?.receiveAck();
    this.onRequest(req, src, undefined);
  }

  private handleCancel(cancel: SipRequest, cancelTx: ServerTransaction): void {
    const invite = this.servers.get(serverKey(cancel, 'INVITE'));
    if (!(invite instanceof ServerInviteTransaction)) {
      cancelTx.respond(createResponse(cancel, 481, undefined, { toTag: cancelTx.localTag }));
      return;
    }
    cancelTx.respond(createResponse(cancel, 200, undefined, { toTag: invite.localTag }));
    if (invite.state === 'proceeding') {
      invite.cancelled = true;
      invite.respond(createResponse(invite.request, 487, undefined, { toTag: invite.localTag }));
      this.onCancel(invite);
    }
  }

  // ------------------------------------------------------------ lifecycle

  get activeTransactions(): { client: number; server: number } {
    return { client: this.clients.size, server: this.servers.size };
  }

  /** Ends every transaction; pending client transactions fail with a transport error. */
  shutdown(): void {
    for (const { tx, events } of [...this.clients.values()]) {
      const pending = !tx.isFinal;
      tx.terminate();
      if (pending) events.onTransportError(new SipTransportError('transport', 'SIP stack stopped'));
    }
    this.clients.clear();
    for (const tx of [...this.servers.values()]) tx.terminate();
    this.servers.clear();
    this.invitesByDialog.clear();
  }
}
