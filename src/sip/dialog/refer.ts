/**
 * REFER (RFC 3515) inside a dialog: the referrer's view of the implicit subscription (NOTIFYs with
 * `message/sipfrag` status lines) and the referee's handle to answer 202 and report progress.
 */
import { parseNameAddr, type NameAddr } from '../headers.js';
import type { SipLogger } from '../logger.js';
import type { SipResponse } from '../message.js';
import type { IncomingDialogRequest, MessageExtras } from './incoming-request.js';
import { Emitter } from '../../lib/emitter.js';

export const SIPFRAG = 'message/sipfrag;version=2.0';

export interface ReferProgress {
  status: number;
  reason: string;
  /** The subscription ended with this NOTIFY. */
  final: boolean;
}

/** The status line of a sipfrag body, e.g. "SIP/2.0 180 Ringing". */
export function parseSipfrag(body: string | Buffer): { status: number; reason: string } | undefined {
  const m = /^SIP\/2\.0\s+(\d{3})\s*([^\r\n]*)/.exec(body.toString('utf8').trimStart());
  return m ? { status: Number(m[1]), reason: m[2]!.trim() } : undefined;
}

export function formatSipfrag(status: number, reason: string): string {
  return `SIP/2.0 ${status} ${reason}\r\n`;
}

/** What the referrer sees: progress events until the final NOTIFY. */
export class Referral extends Emitter<{ progress: ReferProgress }> {
  private last: ReferProgress | undefined;
  private readonly finalWaiters: Array<(p: ReferProgress) => void> = [];

  /** The answer to the REFER (202 when the referee took it). */
  response: SipResponse | undefined;

  constructor(
    /** CSeq of the REFER: the `id` of its Event header. */
    readonly id: number,
  ) {
    super();
  }

  get latest(): ReferProgress | undefined {
    return this.last;
  }

  /** Resolves with the final progress report (the NOTIFY that ended the subscription). */
  done(): Promise<ReferProgress> {
    if (this.last?.final) return Promise.resolve(this.last);
    return new Promise((resolve) => this.finalWaiters.push(resolve));
  }

  /** Called by the dialog for each NOTIFY of this subscription. */
  report(p: ReferProgress): void {
    this.last = p;
    this.emit('progress', p);
    if (p.final) for (const w of this.finalWaiters.splice(0)) w(p);
  }
}

/** What the referee gets: the target, and how to answer and report. */
export class IncomingRefer {
  readonly referTo: NameAddr;
  private ended = false;

  constructor(
    private readonly inc: IncomingDialogRequest,
    private readonly notify: (extras: MessageExtras) => Promise<SipResponse>,
    private readonly logger: SipLogger,
  ) {
    this.referTo = parseNameAddr(inc.request.headers.get('Refer-To') ?? '');
  }

  get request() {
    return this.inc.request;
  }

  /** 202, then the initial NOTIFY (§2.4.4: the referee must send one at once). */
  accept(): void {
    this.inc.respond(202);
    void this.progress(100, 'Trying');
  }

  reject(status = 603, reason?: string): void {
    this.ended = true;
    this.inc.respond(status, reason);
  }

  /** Reports how the referred request is going; a final status (≥ 200) ends the subscription. Resolves once the NOTIFY is answered. */
  progress(status: number, reason: string): Promise<void> {
    if (this.ended) return Promise.resolve();
    const final = status >= 200;
    if (final) this.ended = true;
    const id = this.inc.request.cseq.seq;
    return this.notify({
      headers: {
        Event: `refer;id=${id}`,
        'Subscription-State': final ? 'terminated;reason=noresource' : 'active;expires=60',
      },
      body: formatSipfrag(status, reason),
      contentType: SIPFRAG,
    }).then(() => undefined, (err: Error) => this.logger.debug({ err: err.message }, 'NOTIFY failed'));
  }
}
