/**
 * Server transactions (RFC 3261 §17.2, RFC 6026 Accepted state). They absorb
 * request retransmissions by replaying the last response and, for INVITE over
 * UDP, retransmit the final response until the ACK arrives.
 */
import { newTag } from '../ids.js';
import type { SipRequest, SipResponse } from '../message.js';
import { TimerSet, type Clock, type TimerValues } from './timers.js';

export type ServerTxState = 'trying' | 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

export interface ServerTransactionDeps {
  /** Sends a response back towards the request's origin (Via / connection rules). */
  sendResponse(res: SipResponse): Promise<void>;
  reliable: boolean;
  clock: Clock;
  timers: TimerValues;
}

export interface ServerTransactionEvents {
  onTerminated?(): void;
  onTransportError?(err: Error): void;
  /** INVITE only: Timer H / L fired without an ACK for our final response. */
  onAckTimeout?(): void;
}

export abstract class ServerTransaction {
  state: ServerTxState;
  lastResponse: SipResponse | undefined;
  /** The To tag this transaction answers with, stable across provisional and final responses. */
  readonly localTag = newTag();
  protected readonly timerSet: TimerSet;
  private terminatedNotified = false;

  constructor(
    readonly request: SipRequest,
    protected readonly deps: ServerTransactionDeps,
    protected readonly events: ServerTransactionEvents = {},
    initial: ServerTxState,
  ) {
    this.state = initial;
    this.timerSet = new TimerSet(deps.clock);
  }

  /** Sends a response through the transaction. Returns false if it was too late (already final). */
  abstract respond(res: SipResponse): boolean;
  /** The same request arrived again. */
  abstract receiveRetransmission(): void;

  get isFinal(): boolean {
    return this.state !== 'trying' && this.state !== 'proceeding';
  }

  terminate(): void {
    this.state = 'terminated';
    this.timerSet.clear();
    if (!this.terminatedNotified) {
      this.terminatedNotified = true;
      this.events.onTerminated?.();
    }
  }

  protected transmit(res: SipResponse): void {
    this.lastResponse = res;
    this.deps.sendResponse(res).catch((err: Error) => {
      this.events.onTransportError?.(err);
      this.terminate();
    });
  }

  protected resendLast(): void {
    if (this.lastResponse) this.transmit(this.lastResponse);
  }

  protected after(name: string, ms: number, fn: () => void): void {
    if (ms <= 0) fn();
    else this.timerSet.start(name, ms, fn);
  }
}

/** RFC 3261 §17.2.2. */
export class ServerNonInviteTransaction extends ServerTransaction {
  constructor(request: SipRequest, deps: ServerTransactionDeps, events?: ServerTransactionEvents) {
    super(request, deps, events, 'trying');
    // A TU that never answers must not leak the transaction: the client gave up after 64*T1 anyway.
    this.timerSet.start('TU', 64 * deps.timers.T1, () => this.terminate());
  }

  respond(res: SipResponse): boolean {
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    this.transmit(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return true;
    }
    this.state = 'completed';
    this.timerSet.stop('TU');
    // Timer J: stay around to answer retransmissions of the request.
    this.after('J', this.deps.reliable ? 0 : 64 * this.deps.timers.T1, () => this.terminate());
    return true;
  }

  receiveRetransmission(): void {
    // In Trying there is nothing to replay yet; the retransmission is simply absorbed.
    if (this.state === 'proceeding' || this.state === 'completed') this.resendLast();
  }
}

/** RFC 3261 §17.2.1 with RFC 6026: 2xx lead to Accepted, others to Completed awaiting ACK. */
export class ServerInviteTransaction extends ServerTransaction {
  private interval = 0;
  /** Set when a CANCEL matched this INVITE. */
  cancelled = false;
  private acked = false;

  constructor(request: SipRequest, deps: ServerTransactionDeps, events?: ServerTransactionEvents) {
    super(request, deps, events, 'proceeding');
  }

  respond(res: SipResponse): boolean {
    if (this.state !== 'proceeding') return false;
    this.transmit(res);
    if (res.status < 200) return true;
    const { T1 } = this.deps.timers;
    this.state = res.status < 300 ? 'accepted' : 'completed';
    if (!this.deps.reliable) {
      // Timer G: keep sending the final response until the ACK shows up.
      this.interval = T1;
      this.timerSet.start('G', T1, () => this.fireG());
    }
    // Timer H (non-2xx) / Timer L (2xx): give up waiting for the ACK.
    this.timerSet.start(this.state === 'accepted' ? 'L' : 'H', 64 * T1, () => {
      this.terminate();
      if (!this.acked) this.events.onAckTimeout?.();
    });
    return true;
  }

  private fireG(): void {
    if (this.state !== 'completed' && this.state !== 'accepted') return;
    this.resendLast();
    this.interval = Math.min(2 * this.interval, this.deps.timers.T2);
    this.timerSet.start('G', this.interval, () => this.fireG());
  }

  receiveRetransmission(): void {
    // Accepted absorbs: the 2xx is already being retransmitted by Timer G.
    if (this.state === 'proceeding' || this.state === 'completed') this.resendLast();
  }

  receiveAck(): void {
    if (this.state === 'accepted' || this.state === 'completed') this.acked = true;
    if (this.state === 'accepted') {
      this.timerSet.stop('G');
      return;
    }
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.timerSet.stop('G');
    this.timerSet.stop('H');
    // Timer I: absorb further ACK retransmissions.
    this.after('I', this.deps.reliable ? 0 : this.deps.timers.T4, () => this.terminate());
  }
}
