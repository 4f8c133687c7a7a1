/**
 * Client transactions (RFC 3261 §17.1, with the RFC 6026 Accepted state for INVITE).
 * They own retransmission and timeout; the caller (TU) only sees responses,
 * a timeout, or a transport error.
 */
import { SipHeaders, SipRequest, type SipResponse } from '../message.js';
import { TimerSet, type Clock, type TimerValues } from './timers.js';

export type ClientTxState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientTransactionEvents {
  onProvisional?(res: SipResponse): void;
  /** Called once, with the first final response. */
  onFinal(res: SipResponse): void;
  /** Timer F / Timer B fired without a final response. */
  onTimeout(): void;
  onTransportError(err: Error): void;
  onTerminated?(): void;
  /** INVITE only: a 2xx after the first one (a retransmission, or another fork's answer); the TU must ACK it. */
  onAccepted2xx?(res: SipResponse): void;
}

export interface ClientTransactionDeps {
  /** Sends to the transaction's fixed destination; rejects on transport failure. */
  send(req: SipRequest): Promise<void>;
  /** True over TCP/TLS: no retransmissions, zero linger timers. */
  reliable: boolean;
  clock: Clock;
  timers: TimerValues;
}

export abstract class ClientTransaction {
  state: ClientTxState = 'trying';
  protected readonly timerSet: TimerSet;
  private terminatedNotified = false;
  private held: SipRequest | null;

  constructor(
    request: SipRequest,
    protected readonly deps: ClientTransactionDeps,
    protected readonly events: ClientTransactionEvents,
  ) {
    this.held = request;
    this.timerSet = new TimerSet(deps.clock);
  }

  /** The request sent; a non-INVITE transaction lets go of it once it has its final response. */
  get request(): SipRequest {
    if (!this.held) throw new Error('the transaction no longer holds its request');
    return this.held;
  }

  /**
   * Completed only absorbs retransmitted responses (Timer K, 5 s over UDP), which needs no
   * request: dropping it lets it die young instead of being promoted to the old generation.
   */
  protected letGoOfRequest(): void {
    this.held = null;
  }

  abstract start(): void;
  abstract receiveResponse(res: SipResponse): void;

  get isFinal(): boolean {
    return this.state === 'completed' || this.state === 'accepted' || this.state === 'terminated';
  }

  terminate(): void {
    this.state = 'terminated';
    this.timerSet.clear();
    if (!this.terminatedNotified) {
      this.terminatedNotified = true;
      this.events.onTerminated?.();
    }
  }

  protected transmit(msg: SipRequest): void {
    this.deps.send(msg).catch((err: Error) => {
      if (this.isFinal) return;
      this.terminate();
      this.events.onTransportError(err);
    });
  }

  /** Runs fn after ms, or right away for the zero-length timers of reliable transports. */
  protected after(name: string, ms: number, fn: () => void): void {
    if (ms <= 0) fn();
    else this.timerSet.start(name, ms, fn);
  }
}

/** RFC 3261 §17.1.2: Timer E retransmits (T1 doubling to T2), Timer F times out, Timer K lingers. */
export class ClientNonInviteTransaction extends ClientTransaction {
  private interval = 0;

  start(): void {
    this.state = 'trying';
    this.transmit(this.request);
    const { T1 } = this.deps.timers;
    if (!this.deps.reliable) {
      this.interval = T1;
      this.timerSet.start('E', T1, () => this.fireE());
    }
    this.timerSet.start('F', 64 * T1, () => this.fireF());
  }

  private fireE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    const { T2 } = this.deps.timers;
    // In Proceeding the interval jumps straight to T2 (§17.1.2.2).
    this.interval = this.state === 'trying' ? Math.min(2 * this.interval, T2) : T2;
    this.transmit(this.request);
    this.timerSet.start('E', this.interval, () => this.fireE());
  }

  private fireF(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.terminate();
    this.events.onTimeout();
  }

  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // Completed absorbs retransmitted finals
    if (res.status < 200) {
      this.state = 'proceeding';
      this.events.onProvisional?.(res);
      return;
    }
    this.state = 'completed';
    this.timerSet.stop('E');
    this.timerSet.stop('F');
    this.letGoOfRequest();
    this.events.onFinal(res);
    this.after('K', this.deps.reliable ? 0 : this.deps.timers.T4, () => this.terminate());
  }
}

/**
 * RFC 3261 §17.1.1 + RFC 6026: Timer A retransmits until a provisional arrives, Timer B
 * times out while Calling; non-2xx finals are ACKed here, 2xx ACKs belong to the TU.
 */
export class ClientInviteTransaction extends ClientTransaction {
  private interval = 0;
  private ack: SipRequest | undefined;

  start(): void {
    this.state = 'calling';
    this.transmit(this.request);
    const { T1 } = this.deps.timers;
    if (!this.deps.reliable) {
      this.interval = T1;
      this.timerSet.start('A', T1, () => this.fireA());
    }
    this.timerSet.start('B', 64 * T1, () => this.fireB());
  }

  private fireA(): void {
    if (this.state !== 'calling') return;
    this.interval *= 2;
    this.transmit(this.request);
    this.timerSet.start('A', this.interval, () => this.fireA());
  }

  private fireB(): void {
    if (this.state !== 'calling') return;
    this.terminate();
    this.events.onTimeout();
  }

  receiveResponse(res: SipResponse): void {
    const { T1 } = this.deps.timers;
    if (this.state === 'completed') {
      if (res.status >= 300 && this.ack) this.transmit(this.ack); // our ACK was lost
      return;
    }
    if (this.state === 'accepted') {
      // RFC 6026 §7.2: in Accepted every 2xx goes up, since only the TU can ACK it.
      if (res.status >= 200 && res.status < 300) this.events.onAccepted2xx?.(res);
      return;
    }
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.timerSet.stop('A');
      this.timerSet.stop('B');
      this.events.onProvisional?.(res);
      return;
    }
    this.timerSet.stop('A');
    this.timerSet.stop('B');
    if (res.status < 300) {
      // Accepted: linger (Timer M) so retransmitted 2xx are absorbed rather than treated as strays.
      this.state = 'accepted';
      this.events.onFinal(res);
      this.timerSet.start('M', 64 * T1, () => this.terminate());
      return;
    }
    this.state = 'completed';
    this.ack = buildNon2xxAck(this.request, res);
    this.transmit(this.ack);
    this.events.onFinal(res);
    this.after('D', this.deps.reliable ? 0 : 64 * T1, () => this.terminate());
  }
}

/** RFC 3261 §17.1.1.3: the ACK for a non-2xx final response shares the INVITE's branch. */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const h = new SipHeaders();
  const topVia = invite.headers.get('Via');
  if (topVia !== undefined) h.append('Via', topVia);
  for (const r of invite.headers.getAll('Route')) h.append('Route', r);
  h.append('Max-Forwards', '70');
  const from = invite.headers.get('From');
  if (from !== undefined) h.append('From', from);
  const to = res.headers.get('To') ?? invite.headers.get('To');
  if (to !== undefined) h.append('To', to);
  const callId = invite.headers.get('Call-ID');
  if (callId !== undefined) h.append('Call-ID', callId);
  h.append('CSeq', `${invite.cseq.seq} ACK`);
  return new SipRequest('ACK', invite.uri, h);
}

/** RFC 3261 §9.1: a CANCEL copies the INVITE's Request-URI, top Via (same branch), Route, Call-ID, From, To and CSeq number. */
export function buildCancel(invite: SipRequest): SipRequest {
  const h = new SipHeaders();
  const topVia = invite.headers.get('Via');
  if (topVia !== undefined) h.append('Via', topVia);
  for (const r of invite.headers.getAll('Route')) h.append('Route', r);
  h.append('Max-Forwards', '70');
  for (const name of ['From', 'To', 'Call-ID']) {
    const v = invite.headers.get(name);
    if (v !== undefined) h.append(name, v);
  }
  h.append('CSeq', `${invite.cseq.seq} CANCEL`);
  return new SipRequest('CANCEL', invite.uri, h);
}
