/**
 * One SIP dialog (RFC 3261 §12): its identifiers, route set, remote target and CSeq counters, the
 * requests sent inside it and the ones received for it. It moves bodies through untouched: what an
 * SDP offer means (hold, codecs) is for the layer above.
 */
import { formatNameAddr, parseNameAddrList, type NameAddr } from '../headers.js';
import type { SipLogger } from '../logger.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { IncomingContext, OutgoingRequest, SipStack } from '../stack.js';
import type { Clock } from '../transaction/timers.js';
import type { SipUri } from '../uri.js';
import { Emitter } from './emitter.js';
import { routeRequest } from './route.js';

export type DialogRole = 'uac' | 'uas';

/** Why a dialog ended. */
export type DialogEndReason = 'local-bye' | 'remote-bye' | 'ack-timeout' | 'session-expired' | 'request-failed';

/** Headers and an opaque body to add to a request or response. */
export interface MessageExtras {
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Content-Type of body (default application/sdp). */
  contentType?: string;
}

export interface DialogEvents {
  /** UAS: the ACK for our 2xx to the INVITE (it may carry the answer to an offer in the 2xx). */
  ack: SipRequest;
  /** The peer ended the dialog (already answered 200). */
  bye: SipRequest;
  /** A request inside the dialog no built-in rule answers; answer it with respond(). */
  request: IncomingDialogRequest;
  /** The dialog is over, for whatever reason; fired once. */
  terminated: DialogEndReason;
}

/** What a dialog needs from the layer that owns it. */
export interface DialogDeps {
  stack: Pick<SipStack, 'request' | 'sendAck'>;
  clock: Clock;
  /** RFC 3261 T1, ms. */
  T1: number;
  logger: SipLogger;
  forget(dialog: Dialog): void;
  credentials?: { username: string; password: string };
}

export interface DialogInit {
  role: DialogRole;
  callId: string;
  /** Our From (UAC) / To (UAS) with our tag in params. */
  local: NameAddr;
  /** The peer's address with its tag in params. */
  remote: NameAddr;
  /** CSeq of the last request we sent in this dialog (0 = none yet). */
  localSeq: number;
  remoteSeq: number | undefined;
  /** In the order our requests traverse it. */
  routeSet: NameAddr[];
  remoteTarget: SipUri;
  /** Our Contact header value. */
  localContact: string;
  /** The bodies exchanged by the INVITE transaction, kept for re-answers. */
  localBody?: MessageExtras;
  remoteBody?: Buffer;
}

/** A request received inside a dialog, waiting for the application's answer. */
export class IncomingDialogRequest {
  private answered = false;

  constructor(
    readonly request: SipRequest,
    private readonly ctx: IncomingContext,
    private readonly contact: string,
    private readonly onAnswer: (status: number, extras: MessageExtras) => void = () => {},
  ) {}

  get method(): string {
    return this.request.method;
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  respond(status: number, reason?: string, extras: MessageExtras = {}): void {
    if (this.answered && status >= 200) return;
    if (status >= 200) this.answered = true;
    const headers: Record<string, string | string[]> = { ...extras.headers };
    // Target-refresh requests carry our Contact in their 2xx (§12.2.2).
    if (status >= 200 && status < 300 && TARGET_REFRESH.has(this.request.method)) headers.Contact = this.contact;
    if (extras.body !== undefined) headers['Content-Type'] = extras.contentType ?? 'application/sdp';
    const extra: { headers: Record<string, string | string[]>; body?: string | Buffer } = { headers };
    if (extras.body !== undefined) extra.body = extras.body;
    this.ctx.respond(status, reason, extra);
    if (status >= 200) this.onAnswer(status, extras);
  }
}

const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

export class Dialog extends Emitter<DialogEvents> {
  readonly role: DialogRole;
  readonly callId: string;
  readonly local: NameAddr;
  readonly remote: NameAddr;
  localSeq: number;
  remoteSeq: number | undefined;
  readonly routeSet: readonly NameAddr[];
  remoteTarget: SipUri;
  readonly localContact: string;
  /** Our latest offer or answer, and the peer's. */
  localBody: MessageExtras | undefined;
  remoteBody: Buffer | undefined;
  private ended: DialogEndReason | undefined;
  /** UAC: the ACK last sent, per INVITE CSeq, to repeat when its 2xx is retransmitted. */
  private lastAck: { seq: number; req: OutgoingRequest } | undefined;

  constructor(
    init: DialogInit,
    protected readonly deps: DialogDeps,
  ) {
    super((err, event) => deps.logger.warn({ err: err.message, event, callId: init.callId }, 'dialog listener threw'));
    this.role = init.role;
    this.callId = init.callId;
    this.local = init.local;
    this.remote = init.remote;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.routeSet = init.routeSet;
    this.remoteTarget = init.remoteTarget;
    this.localContact = init.localContact;
    this.localBody = init.localBody;
    this.remoteBody = init.remoteBody;
  }

  get localTag(): string {
    return this.local.params.get('tag') ?? '';
  }

  get remoteTag(): string {
    return this.remote.params.get('tag') ?? '';
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  get isTerminated(): boolean {
    return this.ended !== undefined;
  }

  get endReason(): DialogEndReason | undefined {
    return this.ended;
  }

  // ------------------------------------------------------------ sending

  /** Builds an in-dialog request (§12.2.1.1); ACK reuses the INVITE's CSeq, everything else takes the next one. */
  outgoing(method: string, extras: MessageExtras = {}, seq?: number): OutgoingRequest {
    const cseq = seq ?? (method === 'ACK' ? this.localSeq : ++this.localSeq);
    const routed = routeRequest(this.routeSet, this.remoteTarget);
    const headers: Record<string, string | string[]> = {
      From: formatNameAddr(this.local),
      To: formatNameAddr(this.remote),
      'Call-ID': this.callId,
      CSeq: `${cseq} ${method}`,
    };
    if (routed.route.length) headers.Route = routed.route;
    if (TARGET_REFRESH.has(method)) headers.Contact = this.localContact;
    Object.assign(headers, extras.headers);
    if (extras.body !== undefined) headers['Content-Type'] = extras.contentType ?? 'application/sdp';
    const o: OutgoingRequest = { method, uri: routed.uri, headers, transport: routed.transport };
    if (routed.target) o.target = routed.target;
    if (extras.body !== undefined) o.body = extras.body;
    if (this.deps.credentials && method !== 'ACK') o.credentials = this.deps.credentials;
    return o;
  }

  /** Sends a non-INVITE request inside the dialog and resolves with its final response. */
  async request(method: string, extras: MessageExtras = {}): Promise<SipResponse> {
    if (this.ended) throw new Error(`dialog ${this.callId} is terminated`);
    const o = this.outgoing(method, extras);
    const { response } = await this.deps.stack.request(o);
    this.afterResponse(response);
    return response;
  }

  /** Ends the dialog with a BYE; resolves with the BYE's final response (or undefined when it failed). */
  async bye(extras: MessageExtras = {}, reason: DialogEndReason = 'local-bye'): Promise<SipResponse | undefined> {
    if (this.ended) return undefined;
    const o = this.outgoing('BYE', extras);
    this.terminate(reason);
    try {
      const { response } = await this.deps.stack.request(o);
      return response;
    } catch (err) {
      this.deps.logger.debug({ err: (err as Error).message, callId: this.callId }, 'BYE failed');
      return undefined;
    }
  }

  /** UAC: acknowledges a 2xx to an INVITE of this dialog (§13.2.2.4: a request of its own, new branch). */
  sendAck(seq: number, extras: MessageExtras = {}): void {
    const req = this.outgoing('ACK', extras, seq);
    this.lastAck = { seq, req };
    this.transmitAck(req);
  }

  /** UAC: the peer repeated a 2xx (our ACK was lost), so repeat the ACK. */
  repeatAck(res: SipResponse): void {
    if (this.lastAck?.seq === res.cseq.seq) this.transmitAck(this.lastAck.req);
  }

  private transmitAck(req: OutgoingRequest): void {
    this.deps.stack.sendAck(req).catch((err: Error) => this.deps.logger.warn({ err: err.message, callId: this.callId }, 'could not send ACK'));
  }

  /** A 481 or 408 to a request inside the dialog ends it (§12.2.1.2). */
  protected afterResponse(res: SipResponse): void {
    if (res.status === 481 || res.status === 408) this.terminate('request-failed');
  }

  // ------------------------------------------------------------ receiving

  /** A request that matched this dialog (the layer has checked the tags). */
  receive(req: SipRequest, ctx: IncomingContext): void {
    if (req.method === 'ACK') {
      this.receiveAck(req);
      return;
    }
    const seq = req.cseq.seq;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) {
      // §12.2.2: out of order.
      ctx.respond(500, 'Server Internal Error', { headers: { 'Retry-After': '1' } });
      return;
    }
    this.remoteSeq = seq;
    if (req.method === 'BYE') {
      ctx.respond(200);
      this.terminate('remote-bye');
      this.emit('bye', req);
      return;
    }
    this.refreshTarget(req);
    this.receiveOther(new IncomingDialogRequest(req, ctx, this.localContact));
  }

  /** Methods a subclass or later layer knows better; the default hands them to the application. */
  protected receiveOther(inc: IncomingDialogRequest): void {
    if (this.listens('request')) {
      this.emit('request', inc);
      return;
    }
    inc.respond(inc.method === 'INVITE' || inc.method === 'UPDATE' ? 488 : inc.method === 'OPTIONS' || inc.method === 'INFO' ? 200 : 501);
  }

  protected receiveAck(req: SipRequest): void {
    if (req.body.length) this.remoteBody = req.body;
    this.emit('ack', req);
  }

  /** §12.2: a target-refresh request replaces the remote target with its Contact. */
  protected refreshTarget(msg: SipRequest | SipResponse): void {
    const method = msg.cseq.method;
    if (!TARGET_REFRESH.has(method)) return;
    const contact = firstContact(msg);
    if (contact) this.remoteTarget = contact;
  }

  /** Marks the dialog over and tells the owner to forget it; idempotent. */
  terminate(reason: DialogEndReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.onTerminate();
    this.deps.forget(this);
    this.emit('terminated', reason);
  }

  /** Hook for timers to clear. */
  protected onTerminate(): void {}
}

export function firstContact(msg: SipRequest | SipResponse): SipUri | undefined {
  try {
    return parseNameAddrList(msg.headers.getAll('Contact')).items[0]?.uri;
  } catch {
    return undefined;
  }
}

export function recordRoute(msg: SipRequest | SipResponse): NameAddr[] {
  try {
    return parseNameAddrList(msg.headers.getAll('Record-Route')).items;
  } catch {
    return [];
  }
}
