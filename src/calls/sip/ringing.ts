/**
 * Rings one or more outgoing legs for a call and settles on one answer: all at once (`ringall`:
 * the first 2xx wins, the others get CANCEL, a late 2xx is ACKed and ended) or one after another
 * (`linear`: each leg for a bounded time). Knows SIP dialogs, nothing of tenants or agents.
 */
import type { Dialog, DialogLayer, InviteOptions, MessageExtras, OutgoingInvite, SipResponse } from '../../sip/index.js';

/** One destination to ring, ready to send. */
export interface Leg extends Omit<InviteOptions, keyof MessageExtras | 'onProvisional'> {
  /** For logs and the call record: what this leg is (an address, LiveKit, a trunk). */
  label: string;
  headers?: Record<string, string | string[]>;
}

/** The INVITE options of a leg (its label is ours, not SIP's). */
export function inviteOptions({ label: _label, ...options }: Leg): Omit<Leg, 'label'> {
  return options;
}

export type RingMethod = 'ringall' | 'linear';

export type RingOutcome =
  | { answered: true; dialog: Dialog; response: SipResponse; leg: Leg }
  /** No leg answered: the status and reason to give the caller. `cancelled`: we stopped ringing. */
  | { answered: false; status: number; reason: string; cancelled: boolean };

export interface RingOptions {
  method: RingMethod;
  /** Linear only: how long one leg rings before the next is tried, ms. */
  legTimeoutMs: number;
  /** The caller's offer, sent to every leg. */
  offer: MessageExtras;
  /** Provisional responses of any leg (ringing, early media). */
  onProvisional?: (res: SipResponse, leg: Leg) => void;
  /** Told the Call-ID of each INVITE sent, so a loop back to us can be recognised. */
  onSent?: (callId: string) => void;
}

/** RFC 3261 §16.7-like choice of the response the caller gets when no leg answered. */
function best(failures: Array<{ status: number; reason: string }>): { status: number; reason: string } {
  const real = failures.filter((f) => f.status !== 487);
  const pick = real.find((f) => f.status >= 600) ?? real.find((f) => f.status === 486) ?? real[0];
  return pick ?? { status: 480, reason: 'nobody answered' };
}

function reasonOf(res: SipResponse, leg: Leg): string {
  return `${leg.label} answered ${res.status} ${res.reason}`.trim();
}

export class Ringing {
  private readonly live = new Set<OutgoingInvite>();
  private stopped = false;
  private won = false;
  readonly outcome: Promise<RingOutcome>;

  constructor(private readonly dialogs: DialogLayer, private readonly legs: Leg[], private readonly opts: RingOptions) {
    this.outcome = legs.length === 0
      ? Promise.resolve({ answered: false, status: 480, reason: 'nothing to ring', cancelled: false })
      : opts.method === 'linear' ? this.linear() : this.ringall();
  }

  /** Stops ringing: CANCEL to every leg still ringing. */
  cancel(): void {
    this.stopped = true;
    for (const inv of this.live) inv.cancel();
  }

  private send(leg: Leg): OutgoingInvite {
    const inv = this.dialogs.invite({
      ...inviteOptions(leg),
      ...this.opts.offer,
      headers: { ...leg.headers },
      onProvisional: (res) => { if (!this.won) this.opts.onProvisional?.(res, leg); },
    });
    this.opts.onSent?.(inv.callId);
    this.live.add(inv);
    return inv;
  }

  /** Waits for one leg's final answer; a transport failure or timeout counts as a failure. */
  private async settle(inv: OutgoingInvite, leg: Leg): Promise<{ dialog: Dialog; response: SipResponse } | { status: number; reason: string }> {
    try {
      const out = await inv.outcome;
      if (out.dialog) return { dialog: out.dialog, response: out.response };
      return { status: out.response.status, reason: reasonOf(out.response, leg) };
    } catch (err) {
      const timeout = /no answer/.test((err as Error).message);
      return { status: timeout ? 408 : 503, reason: `${leg.label}: ${(err as Error).message}` };
    } finally {
      this.live.delete(inv);
    }
  }

  private async ringall(): Promise<RingOutcome> {
    const failures: Array<{ status: number; reason: string }> = [];
    return new Promise<RingOutcome>((resolve) => {
      let pending = this.legs.length;
      for (const leg of this.legs) {
        const inv = this.send(leg);
        void this.settle(inv, leg).then((r) => {
          pending--;
          if ('dialog' in r) {
            if (this.won || this.stopped) {
              void r.dialog.bye(); // a second answer (or one after we gave up): end it at once
            } else {
              this.won = true;
              for (const other of this.live) other.cancel();
              resolve({ answered: true, dialog: r.dialog, response: r.response, leg });
            }
          } else {
            failures.push(r);
          }
          if (pending === 0 && !this.won) resolve({ answered: false, ...best(failures), cancelled: this.stopped });
        });
      }
    });
  }

  private async linear(): Promise<RingOutcome> {
    const failures: Array<{ status: number; reason: string }> = [];
    for (const leg of this.legs) {
      if (this.stopped) break;
      const inv = this.send(leg);
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; inv.cancel(); }, this.opts.legTimeoutMs);
      const r = await this.settle(inv, leg);
      clearTimeout(timer);
      if ('dialog' in r) {
        if (this.stopped) {
          void r.dialog.bye();
          break;
        }
        this.won = true;
        return { answered: true, dialog: r.dialog, response: r.response, leg };
      }
      failures.push(timedOut ? { status: 480, reason: `${leg.label} did not answer within ${Math.round(this.opts.legTimeoutMs / 1000)} s` } : r);
    }
    return { answered: false, ...best(failures), cancelled: this.stopped };
  }
}
