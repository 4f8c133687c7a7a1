/**
 * Two dialogs joined back to back: what one side sends in its dialog (a re-INVITE or UPDATE with
 * a new offer, DTMF, BYE) is carried to the other. Bodies pass through untouched: media flows
 * between the two peers directly, this process only signals.
 */
import type { Dialog, DialogEndReason, IncomingDialogRequest, MessageExtras } from '../../sip/index.js';
import { bodyOf } from './outcomes.js';

export type Side = 'caller' | 'callee';

export interface BridgeEnd {
  /** Which side ended it ('local' when this process did, e.g. a supervisor or shutdown). */
  by: Side | 'local';
  reason: DialogEndReason;
}

export class Bridge {
  private ending: BridgeEnd | undefined;
  private readonly waiters: Array<(end: BridgeEnd) => void> = [];

  constructor(public caller: Dialog, public callee: Dialog) {
    this.join(caller, 'caller');
    this.join(callee, 'callee');
  }

  get ended(): BridgeEnd | undefined {
    return this.ending;
  }

  /** Resolves once both legs are over. */
  done(): Promise<BridgeEnd> {
    if (this.ending) return Promise.resolve(this.ending);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends both legs with BYE. */
  async hangUp(): Promise<void> {
    this.finish({ by: 'local', reason: 'local-bye' });
    await Promise.all([this.caller, this.callee].map((d) => (d.isTerminated ? undefined : d.bye().catch(() => undefined))));
  }

  /** Puts a new callee in place of the current one (a transfer); the old one gets BYE. */
  async replaceCallee(next: Dialog): Promise<void> {
    const old = this.callee;
    this.callee = next;
    this.join(next, 'callee');
    if (!old.isTerminated) await old.bye().catch(() => undefined);
  }

  private other(side: Side): Dialog {
    return side === 'caller' ? this.callee : this.caller;
  }

  private join(d: Dialog, side: Side): void {
    d.on('terminated', (reason) => {
      // A replaced callee ending is not the end of the call.
      if (side === 'callee' && d !== this.callee) return;
      if (this.ending) return;
      this.finish({ by: side, reason });
      const peer = this.other(side);
      if (!peer.isTerminated) void peer.bye().catch(() => undefined);
    });
    d.on('offer', (inc) => void this.carryOffer(side, inc));
    d.on('dtmf', (digit) => {
      const peer = this.other(side);
      if (!peer.isTerminated) void peer.sendDtmf(digit.signal, digit.duration).catch(() => undefined);
    });
  }

  /** A re-INVITE or UPDATE from one side becomes the same request on the other; its answer comes back. */
  private async carryOffer(side: Side, inc: IncomingDialogRequest): Promise<void> {
    const peer = this.other(side);
    const req = inc.request;
    const offer: MessageExtras = req.body.length ? { body: req.body, contentType: req.headers.get('Content-Type') ?? 'application/sdp' } : {};
    try {
      const res = req.method === 'UPDATE' ? await peer.update(offer) : await peer.reinvite(offer);
      inc.respond(res.status, res.reason, res.status < 300 ? bodyOf(res) : {});
    } catch (err) {
      inc.respond(500, undefined, { headers: { 'Retry-After': '1' } });
      void err;
    }
  }

  private finish(end: BridgeEnd): void {
    if (this.ending) return;
    this.ending = end;
    for (const w of this.waiters.splice(0)) w(end);
  }
}
