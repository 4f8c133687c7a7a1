/**
 * One SIP dialog (RFC 3261 §12): its identifiers, route set, remote target and CSeq counters, the
 * requests sent inside it and the ones received for it. It moves bodies through untouched: what an
 * SDP offer means (hold, codecs) is for the layer above.
 */
import { formatNameAddr, parseNameAddrList, type NameAddr } from '../headers.js';
import { SipTimeoutError } from '../errors.js';
import type { SipLogger } from '../logger.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { IncomingContext, OutgoingRequest, SipStack } from '../stack.js';
import type { Clock } from '../transaction/timers.js';
import type { SipUri } from '../uri.js';
import { Emitter } from '../../lib/emitter.js';
import { IncomingDialogRequest, TARGET_REFRESH, type AnswerHooks, type MessageExtras } from './incoming-request.js';

export { IncomingDialogRequest, type MessageExtras } from './incoming-request.js';
import { routeRequest } from './route.js';
import { DTMF_RELAY, formatDtmfRelay, parseDtmfRelay, type DtmfDigit } from './dtmf.js';
import { IncomingRefer, parseSipfrag, Referral } from './refer.js';
import { answerSessionTimer, parseSessionExpires, SessionTimer, sessionAnswerHeaders, type SessionTimerConfig } from './session-timer.js';

export type DialogRole = 'uac' | 'uas';

/** Why a dialog ended. */
export type DialogEndReason = 'local-bye' | 'remote-bye' | 'ack-timeout' | 'session-expired' | 'request-failed';


export interface DialogEvents {
  /** UAS: the ACK for our 2xx to the INVITE (it may carry the answer to an offer in the 2xx). */
  ack: SipRequest;
  /** The peer ended the dialog (already answered 200). */
  bye: SipRequest;
  /** A request inside the dialog no built-in rule answers; answer it with respond(). */
  request: IncomingDialogRequest;
  /**
   * A re-INVITE or UPDATE from the peer; answer it with respond() (the body is opaque: hold is just
   * another SDP). Unheard, it is answered 200 with our current session description.
   */
  offer: IncomingDialogRequest;
  /** The peer asks us to send a request to `referTo` (RFC 3515); accept() or reject() it. Unheard: 603. */
  refer: IncomingRefer;
  /** A digit from an INFO with application/dtmf-relay (already answered 200). */
  dtmf: DtmfDigit;
  /** A re-INVITE or UPDATE completed with a 2xx, sent by either side. */
  refreshed: { by: 'local' | 'remote'; method: string };
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
  /** [0, 1) — injectable for the glare retry delays. */
  random?: () => number;
}

/** Options for a re-INVITE we send. */
export interface ReinviteOptions {
  /** Called with a 2xx that carries an offer (our re-INVITE had none) to build the answer for the ACK. */
  answer?: (res: SipResponse) => MessageExtras;
  /** Retries after 491 (§14.1), default 3. */
  glareRetries?: number;
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
  /** Our session-timer wishes (RFC 4028); the peer's are honoured either way. */
  sessionTimer?: SessionTimerConfig;
}


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
  // §14.1: one INVITE transaction at a time in each direction, and an UPDATE offer glares with ours.
  private outgoingInvite = false;
  private incomingInvite = false;
  private offerPending = false;
  private readonly waits = new Set<{ handle: unknown; resolve: () => void }>();
  readonly sessionTimer: SessionTimer;
  /** REFERs we sent whose subscription is still open, by REFER CSeq. */
  private readonly referrals = new Map<number, Referral>();

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
    this.sessionTimer = new SessionTimer(init.sessionTimer, {
      clock: deps.clock,
      refresh: (method) => this.refreshSession(method),
      expire: () => void this.bye({}, 'session-expired'),
    });
  }

  /** The refresher's periodic re-INVITE or UPDATE; skipped when a re-INVITE is under way anyway (it refreshes too). */
  private refreshSession(method: 'INVITE' | 'UPDATE'): void {
    if (this.ended || this.inviteInProgress) return;
    const p = method === 'UPDATE' ? this.update() : this.reinvite(this.localBody ?? {});
    p.catch((err: Error) => this.deps.logger.warn({ err: err.message, callId: this.callId }, 'session refresh failed'));
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
    const response = await this.send(this.outgoing(method, extras));
    this.afterResponse(response);
    return response;
  }

  /** One request in its client transaction; a timeout ends the dialog like a 408 would (§12.2.1.2). */
  private async send(o: OutgoingRequest): Promise<SipResponse> {
    try {
      const { response } = await this.deps.stack.request(o);
      // A digest challenge answered by the stack took another CSeq.
      this.localSeq = Math.max(this.localSeq, response.cseq.seq);
      return response;
    } catch (err) {
      if (err instanceof SipTimeoutError) this.terminate('request-failed');
      throw err;
    }
  }

  /**
   * Sends a re-INVITE (hold, resume or new media are all just another body here) and ACKs its 2xx.
   * A 491 is retried after the §14.1 delay; the promise settles with the last final response.
   */
  reinvite(extras: MessageExtras = {}, opts: ReinviteOptions = {}): Promise<SipResponse> {
    return this.retryingGlare(() => this.sendReinvite(extras, opts), opts.glareRetries ?? 3);
  }

  /** Sends an UPDATE (RFC 3311), with or without an offer; 491 is retried like a re-INVITE's. */
  update(extras: MessageExtras = {}, glareRetries = 3): Promise<SipResponse> {
    return this.retryingGlare(() => this.sendUpdate(extras), glareRetries);
  }

  /** True while a re-INVITE is in progress in either direction. */
  get inviteInProgress(): boolean {
    return this.outgoingInvite || this.incomingInvite;
  }

  private async retryingGlare(send: () => Promise<SipResponse>, retries: number): Promise<SipResponse> {
    for (let attempt = 0; ; attempt++) {
      const res = await send();
      if (res.status !== 491 || attempt >= retries || this.ended) return res;
      await this.wait(this.glareDelay());
      if (this.ended) return res;
    }
  }

  /** §14.1: the Call-ID's owner waits 2.1–4 s, the other side 0–2 s, in 10 ms steps, so one of them goes first. */
  glareDelay(): number {
    const r = (this.deps.random ?? Math.random)();
    return this.role === 'uac' ? 2100 + Math.floor(r * 191) * 10 : Math.floor(r * 201) * 10;
  }

  /** A pause on the dialog's clock, cut short when the dialog ends. */
  protected wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = {
        handle: this.deps.clock.setTimeout(() => {
          this.waits.delete(w);
          resolve();
        }, ms),
        resolve,
      };
      this.waits.add(w);
    });
  }

  private async sendReinvite(extras: MessageExtras, opts: ReinviteOptions): Promise<SipResponse> {
    if (this.ended) throw new Error(`dialog ${this.callId} is terminated`);
    if (this.inviteInProgress) throw new Error('an INVITE transaction is already in progress in this dialog');
    const o = this.outgoing('INVITE', this.withRefreshHeaders('INVITE', extras));
    o.onAccepted2xx = (res) => this.repeatAck(res);
    this.outgoingInvite = true;
    this.offerPending = extras.body !== undefined;
    let response: SipResponse;
    try {
      response = await this.send(o);
    } finally {
      this.outgoingInvite = false;
      this.offerPending = false;
    }
    if (response.status >= 200 && response.status < 300) {
      this.refreshTarget(response);
      if (extras.body !== undefined) this.localBody = extras;
      if (response.body.length) this.remoteBody = response.body;
      const ack = extras.body === undefined && response.body.length && opts.answer ? opts.answer(response) : {};
      if (ack.body !== undefined) this.localBody = ack;
      this.sendAck(response.cseq.seq, ack);
      this.refreshedBy('local', 'INVITE', response);
    } else {
      this.afterResponse(response);
    }
    return response;
  }

  private async sendUpdate(extras: MessageExtras): Promise<SipResponse> {
    if (this.ended) throw new Error(`dialog ${this.callId} is terminated`);
    if (extras.body !== undefined && this.offerPending) throw new Error('an offer is already pending in this dialog');
    const o = this.outgoing('UPDATE', this.withRefreshHeaders('UPDATE', extras));
    this.offerPending = extras.body !== undefined;
    let response: SipResponse;
    try {
      response = await this.send(o);
    } finally {
      this.offerPending = false;
    }
    if (response.status >= 200 && response.status < 300) {
      this.refreshTarget(response);
      if (extras.body !== undefined) this.localBody = extras;
      if (response.body.length) this.remoteBody = response.body;
      this.refreshedBy('local', 'UPDATE', response);
    } else {
      this.afterResponse(response);
    }
    return response;
  }

  /** Every re-INVITE and UPDATE we send is a session refresh when a timer runs or is wanted. */
  private withRefreshHeaders(_method: string, extras: MessageExtras): MessageExtras {
    if (!this.sessionTimer.active && !this.sessionTimer.config) return extras;
    return { ...extras, headers: { ...this.sessionTimer.requestHeaders(), ...extras.headers } };
  }

  /** A re-INVITE or UPDATE succeeded; msg is the peer's request (remote) or the 2xx we got (local). */
  private refreshedBy(by: 'local' | 'remote', method: string, msg: SipRequest | SipResponse): void {
    if (by === 'local') this.sessionTimer.negotiated(true, parseSessionExpires(msg.headers.get('Session-Expires')));
    else {
      const answer = answerSessionTimer(msg as SipRequest, this.sessionTimer.config);
      this.sessionTimer.negotiated(false, 'se' in answer ? answer.se : undefined);
    }
    this.emit('refreshed', { by, method });
  }

  /**
   * Asks the peer to send a request to `target` (a URI or name-addr) and report back in NOTIFYs.
   * The referral is settled by its final NOTIFY, see Referral.done().
   */
  async refer(target: string, extras: MessageExtras = {}): Promise<Referral> {
    if (this.ended) throw new Error(`dialog ${this.callId} is terminated`);
    const referTo = target.trimStart().startsWith('<') ? target : `<${target}>`;
    // Known before the REFER leaves, so a NOTIFY overtaking our reading of the 202 still finds it.
    const referral = new Referral(this.localSeq + 1);
    this.referrals.set(referral.id, referral);
    try {
      referral.response = await this.request('REFER', { ...extras, headers: { 'Refer-To': referTo, ...extras.headers } });
    } catch (err) {
      this.referrals.delete(referral.id);
      throw err;
    }
    if (referral.response.status >= 300) this.referrals.delete(referral.id);
    return referral;
  }

  /** Sends an INFO (any body, opaque). */
  info(extras: MessageExtras = {}): Promise<SipResponse> {
    return this.request('INFO', extras);
  }

  /** Sends one DTMF digit as INFO application/dtmf-relay. */
  sendDtmf(signal: string, duration = 250): Promise<SipResponse> {
    return this.info({ body: formatDtmfRelay({ signal, duration }), contentType: DTMF_RELAY });
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
    if (req.method === 'INVITE') return this.receiveReinvite(req, ctx);
    if (req.method === 'UPDATE') return this.receiveUpdate(req, ctx);
    this.refreshTarget(req);
    const inc = new IncomingDialogRequest(req, ctx, this.localContact);
    if (req.method === 'REFER') return this.receiveRefer(inc);
    if (req.method === 'NOTIFY') return this.receiveNotify(inc);
    if (req.method === 'INFO' && contentType(req) === DTMF_RELAY) return this.receiveDtmf(inc);
    this.receiveOther(inc);
  }

  private receiveRefer(inc: IncomingDialogRequest): void {
    let refer: IncomingRefer;
    try {
      refer = new IncomingRefer(inc, (extras) => this.request('NOTIFY', extras), this.deps.logger);
    } catch {
      return inc.respond(400, 'Bad Refer-To');
    }
    if (this.listens('refer')) this.emit('refer', refer);
    else refer.reject(603);
  }

  /** NOTIFYs of the implicit subscriptions our REFERs made (RFC 3515 §2.4.4). */
  private receiveNotify(inc: IncomingDialogRequest): void {
    const event = inc.request.headers.get('Event') ?? '';
    if (!/^\s*refer\b/i.test(event)) return this.receiveOther(inc);
    const id = /;\s*id\s*=\s*(\d+)/i.exec(event)?.[1];
    const referral = id !== undefined ? this.referrals.get(Number(id)) : [...this.referrals.values()].at(-1);
    if (!referral) return inc.respond(481, 'Subscription Does Not Exist');
    const frag = parseSipfrag(inc.request.body);
    if (!frag) return inc.respond(400, 'Bad sipfrag');
    inc.respond(200);
    const final = /^\s*terminated/i.test(inc.request.headers.get('Subscription-State') ?? '');
    if (final) this.referrals.delete(referral.id);
    referral.report({ ...frag, final });
  }

  private receiveDtmf(inc: IncomingDialogRequest): void {
    const digit = parseDtmfRelay(inc.request.body);
    if (!digit) return inc.respond(400, 'Bad dtmf-relay');
    inc.respond(200);
    this.emit('dtmf', digit);
  }

  private receiveReinvite(req: SipRequest, ctx: IncomingContext): void {
    const inc = new IncomingDialogRequest(req, ctx, this.localContact, {
      onAnswer: (status, extras) => {
        this.incomingInvite = false;
        if (status < 300) this.acceptedOffer(req, extras);
      },
      headers: () => this.sessionAnswer(req),
    });
    // Glare: ours is pending, so the peer retries later (§14.2); two of theirs at once is their mistake.
    if (this.outgoingInvite) return inc.respond(491);
    if (this.incomingInvite) return inc.respond(500, undefined, { headers: { 'Retry-After': String(Math.ceil((this.deps.random ?? Math.random)() * 10)) } });
    if (this.rejectRefresh(inc)) return;
    this.incomingInvite = true;
    ctx.onAckTimeout(() => void this.bye({}, 'ack-timeout'));
    if (this.listens('offer')) this.emit('offer', inc);
    else inc.respond(200, undefined, this.localBody ?? {});
  }

  private receiveUpdate(req: SipRequest, ctx: IncomingContext): void {
    const inc = new IncomingDialogRequest(req, ctx, this.localContact, {
      onAnswer: (status, extras) => {
        if (status < 300) this.acceptedOffer(req, extras);
      },
      headers: () => this.sessionAnswer(req),
    });
    if (req.body.length && this.offerPending) return inc.respond(491);
    if (this.rejectRefresh(inc)) return;
    if (this.listens('offer')) this.emit('offer', inc);
    else inc.respond(200, undefined, req.body.length ? (this.localBody ?? {}) : {});
  }

  /** RFC 4028 §8.1: a refresh asking for less than our Min-SE gets 422. */
  private rejectRefresh(inc: IncomingDialogRequest): boolean {
    const answer = answerSessionTimer(inc.request, this.sessionTimer.config);
    if (!('reject' in answer)) return false;
    inc.respond(422, undefined, { headers: { 'Min-SE': String(answer.reject) } });
    return true;
  }

  private sessionAnswer(req: SipRequest): Record<string, string> {
    return sessionAnswerHeaders(answerSessionTimer(req, this.sessionTimer.config));
  }

  private acceptedOffer(req: SipRequest, extras: MessageExtras): void {
    this.refreshTarget(req);
    if (req.body.length) this.remoteBody = req.body;
    if (extras.body !== undefined) this.localBody = extras;
    this.refreshedBy('remote', req.method, req);
  }

  /** Methods a subclass or later layer knows better; the default hands them to the application. */
  protected receiveOther(inc: IncomingDialogRequest): void {
    if (this.listens('request')) {
      this.emit('request', inc);
      return;
    }
    inc.respond(inc.method === 'OPTIONS' || inc.method === 'INFO' ? 200 : 501);
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

  /** Clears timers; a subclass adds its own. */
  protected onTerminate(): void {
    this.sessionTimer.stop();
    for (const w of this.waits) {
      this.deps.clock.clearTimeout(w.handle);
      w.resolve();
    }
    this.waits.clear();
  }
}

function contentType(msg: SipRequest | SipResponse): string {
  return (msg.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
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
