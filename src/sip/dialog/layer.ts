/**
 * The dialog layer: sits on a SIP stack, makes dialogs from INVITEs sent (`invite`) and received
 * (`onInvite`), routes requests carrying a To tag to their dialog (481 when there is none), and
 * hands everything else to `onRequest`. It owns the stack's request handler once created.
 */
import { formatNameAddr, parseNameAddr } from '../headers.js';
import { newCallId, newTag } from '../ids.js';
import { silentLogger, type SipLogger } from '../logger.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { IncomingContext, OutgoingRequest, SipStack, SipStackInternals } from '../stack.js';
import type { Clock } from '../transaction/timers.js';
import type { TransportName } from '../transport/types.js';
import { formatHost, parseUri } from '../uri.js';
import { Dialog, dialogKey, firstContact, recordRoute, type DialogDeps, type MessageExtras } from './dialog.js';
import { Emitter } from '../../lib/emitter.js';
import { uriTransport } from './route.js';
import {
  answerSessionTimer,
  effectiveMinSE,
  minSEOf,
  parseSessionExpires,
  sessionAnswerHeaders,
  sessionRequestHeaders,
  type SessionTimerConfig,
} from './session-timer.js';

export interface DialogLayerOptions {
  stack: SipStack & Pick<SipStackInternals, 'transactionLayer'>;
  /** Defaults to the stack's transaction clock, so one fake clock drives both in tests. */
  clock?: Clock;
  logger?: SipLogger;
  /** User part of our Contact (default "dialtone"). */
  contactUser?: string;
  /** [0, 1) for the glare retry delays (tests pin it). */
  random?: () => number;
  /** RFC 4028 session timers we ask for on INVITEs we send and impose on those we answer. */
  sessionTimer?: SessionTimerConfig;
}

export interface InviteOptions extends MessageExtras {
  /** Request-URI. */
  uri: string;
  /** Our address (name-addr, without tag). */
  from: string;
  /** The callee (name-addr, without tag). */
  to: string;
  transport?: TransportName;
  /** Outbound proxy: first hop instead of the Request-URI's host. */
  target?: { host: string; port: number };
  credentials?: { username: string; password: string };
  onProvisional?: (res: SipResponse) => void;
  /** Overrides the layer's session-timer wishes for this call; null = ask for none. */
  sessionTimer?: SessionTimerConfig | null;
  /**
   * Late offer (an INVITE without a body): the first 2xx carries the peer's offer and the caller
   * sends the ACK, with the answer, through `dialog.sendAck(response.cseq.seq, answer)`.
   */
  ackLater?: boolean;
}

export type InviteOutcome =
  | { dialog: Dialog; response: SipResponse }
  /** Rejected, or cancelled (`cancelled`: the INVITE ended because we cancelled it, whatever the peer answered). */
  | { dialog: undefined; response: SipResponse; cancelled: boolean };

export interface OutgoingInvite {
  readonly callId: string;
  /** Resolves with the final response; rejects on timeout or transport failure. */
  readonly outcome: Promise<InviteOutcome>;
  /** Sends a CANCEL once a provisional response has come (at once if one already has). */
  cancel(): void;
}

export interface IncomingInviteEvents {
  /** The caller cancelled; 487 has been sent. */
  cancel: undefined;
  /** The INVITE has its final answer (accepted, rejected or cancelled); emitted once. */
  final: undefined;
  /** The first 180/183 went out; emitted at most once. */
  ringing: undefined;
}

/** An INVITE outside any dialog, waiting for `accept()` or `reject()`. The stack has already sent 100. */
export class IncomingInvite extends Emitter<IncomingInviteEvents> {
  private answered = false;
  private finalSent = false;
  private rang = false;

  constructor(
    readonly request: SipRequest,
    private readonly ctx: IncomingContext,
    private readonly layer: DialogLayer,
  ) {
    super();
    ctx.onCancelled(() => {
      this.emit('cancel', undefined);
      this.settle();
    });
  }

  private settle(): void {
    if (this.finalSent) return;
    this.finalSent = true;
    this.emit('final', undefined);
  }

  get cancelled(): boolean {
    return this.ctx.cancelled;
  }

  get transport(): TransportName {
    return this.ctx.transport;
  }

  /** Where the INVITE came from (the previous hop, not necessarily the caller). */
  get source(): { transport: TransportName; address: string; port: number } {
    return { transport: this.ctx.transport, address: this.ctx.remoteAddress, port: this.ctx.remotePort };
  }

  progress(status = 180, extras: MessageExtras = {}): void {
    if (status < 101 || status > 199) throw new RangeError(`not a provisional status: ${status}`);
    if (this.answered) return;
    this.ctx.respond(status, undefined, responseExtras(extras));
    if (!this.rang) {
      this.rang = true;
      this.emit('ringing', undefined);
    }
  }

  /** Answers 200 and returns the confirmed-to-be dialog (its `ack` event tells when the ACK came). */
  accept(extras: MessageExtras = {}): Dialog {
    if (this.answered || this.ctx.cancelled) throw new Error('INVITE already answered');
    this.answered = true;
    try {
      return this.layer.acceptInvite(this.request, this.ctx, extras);
    } finally {
      this.settle();
    }
  }

  reject(status = 486, reason?: string, extras: MessageExtras = {}): void {
    if (status < 300) throw new RangeError(`not a rejection: ${status}`);
    if (this.answered || this.ctx.cancelled) return;
    this.answered = true;
    this.ctx.respond(status, reason, responseExtras(extras));
    this.settle();
  }
}

function responseExtras(extras: MessageExtras): { headers: Record<string, string | string[]>; body?: string | Buffer } {
  const headers: Record<string, string | string[]> = { ...extras.headers };
  if (extras.body === undefined) return { headers };
  headers['Content-Type'] = extras.contentType ?? 'application/sdp';
  return { headers, body: extras.body };
}

type RequestHandler = (req: SipRequest, ctx: IncomingContext) => void;

export class DialogLayer {
  private readonly dialogs = new Map<string, Dialog>();
  private inviteHandler: ((invite: IncomingInvite) => void) | undefined;
  private otherHandler: RequestHandler | undefined;
  private readonly stack: DialogLayerOptions['stack'];
  private readonly clock: Clock;
  private readonly logger: SipLogger;
  private readonly contactUser: string;
  private readonly random: (() => number) | undefined;
  private readonly sessionTimer: SessionTimerConfig | undefined;

  constructor(opts: DialogLayerOptions) {
    this.stack = opts.stack;
    this.clock = opts.clock ?? opts.stack.transactionLayer.clock;
    this.logger = opts.logger ?? silentLogger;
    this.contactUser = opts.contactUser ?? 'dialtone';
    this.random = opts.random;
    this.sessionTimer = opts.sessionTimer;
    this.stack.onRequest((req, ctx) => this.receive(req, ctx));
  }

  /** New INVITEs (no To tag). Without a handler they get 480. */
  onInvite(handler: (invite: IncomingInvite) => void): void {
    this.inviteHandler = handler;
  }

  /** Requests outside any dialog other than INVITE (OPTIONS, REGISTER, ...); default: OPTIONS 200, the rest 501. */
  onRequest(handler: RequestHandler): void {
    this.otherHandler = handler;
  }

  get size(): number {
    return this.dialogs.size;
  }

  find(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.dialogs.get(dialogKey(callId, localTag, remoteTag));
  }

  // ------------------------------------------------------------ UAC

  invite(o: InviteOptions): OutgoingInvite {
    const callId = newCallId(this.stack.publicHost);
    const local = parseNameAddr(o.from);
    local.params.set('tag', newTag());
    const transport = o.transport ?? uriTransport(parseUri(o.uri));
    const contact = this.contact(transport);
    const abort = new AbortController();
    const headers: Record<string, string | string[]> = {
      From: formatNameAddr(local),
      To: o.to,
      'Call-ID': callId,
      CSeq: '1 INVITE',
      Contact: contact,
      ...o.headers,
    };
    if (o.body !== undefined) headers['Content-Type'] = o.contentType ?? 'application/sdp';
    // Every 2xx makes a dialog of its own; the first wins, later ones (forks) are ACKed and ended.
    const byRemoteTag = new Map<string, Dialog>();
    const timer = o.sessionTimer === null ? undefined : (o.sessionTimer ?? this.sessionTimer);
    const localBody: MessageExtras | undefined = o.body === undefined ? undefined : { body: o.body, contentType: o.contentType ?? 'application/sdp' };
    const fromResponse = (res: SipResponse): Dialog => {
      const d = new Dialog(
        {
          role: 'uac',
          callId,
          local,
          remote: res.to,
          localSeq: res.cseq.seq,
          remoteSeq: undefined,
          routeSet: recordRoute(res).reverse(),
          remoteTarget: firstContact(res) ?? parseUri(o.uri),
          localContact: contact,
          ...(localBody ? { localBody } : {}),
          ...(res.body.length ? { remoteBody: res.body } : {}),
          ...(timer ? { sessionTimer: timer } : {}),
        },
        this.deps(o.credentials),
      );
      byRemoteTag.set(d.remoteTag, d);
      if (!o.ackLater || byRemoteTag.size > 1) d.sendAck(res.cseq.seq);
      return d;
    };
    const onAccepted2xx = (res: SipResponse): void => {
      const known = byRemoteTag.get(res.to.params.get('tag') ?? '');
      if (known) known.repeatAck(res);
      else void fromResponse(res).bye();
    };
    const req: OutgoingRequest = { method: 'INVITE', uri: o.uri, headers, transport, signal: abort.signal, onAccepted2xx };
    if (o.body !== undefined) req.body = o.body;
    if (o.target) req.target = o.target;
    if (o.credentials) req.credentials = o.credentials;
    if (o.onProvisional) req.onProvisional = o.onProvisional;

    const send = async (): Promise<SipResponse> => {
      let interval = timer?.expires ?? 0;
      let minSE = effectiveMinSE(timer);
      for (let seq = 1, round = 0; ; round++) {
        headers.CSeq = `${seq} INVITE`;
        if (timer) Object.assign(headers, sessionRequestHeaders(Math.max(interval, minSE), minSE), o.headers);
        const { response } = await this.stack.request(req);
        // RFC 4028 §7.4: too short for the callee; ask again, with its Min-SE, in the same dialog-to-be.
        const theirs = response.status === 422 ? minSEOf(response) : undefined;
        if (!timer || theirs === undefined || theirs <= Math.max(interval, minSE) || round >= 2 || abort.signal.aborted) return response;
        interval = minSE = theirs;
        seq = response.cseq.seq + 1;
      }
    };
    const outcome = send().then((response): InviteOutcome => {
      if (response.status >= 300) return { dialog: undefined, response, cancelled: abort.signal.aborted };
      const dialog = fromResponse(response);
      if (abort.signal.aborted) {
        // We lost the CANCEL/200 race: the call was answered anyway, so end it properly.
        void dialog.bye();
        return { dialog: undefined, response, cancelled: true };
      }
      dialog.sessionTimer.negotiated(true, parseSessionExpires(response.headers.get('Session-Expires')));
      this.dialogs.set(dialog.key, dialog);
      return { dialog, response };
    });
    return { callId, outcome, cancel: () => abort.abort() };
  }

  // ------------------------------------------------------------ UAS

  /** Called by IncomingInvite.accept(). */
  acceptInvite(invite: SipRequest, ctx: IncomingContext, extras: MessageExtras): Dialog {
    const localTag = ctx.localTag ?? newTag();
    const local = invite.to;
    local.params.set('tag', localTag);
    const contact = this.contact(ctx.transport);
    const dialog = new Dialog(
      {
        role: 'uas',
        callId: invite.callId ?? '',
        local,
        remote: invite.from,
        localSeq: 0,
        remoteSeq: invite.cseq.seq,
        routeSet: recordRoute(invite),
        remoteTarget: firstContact(invite) ?? invite.from.uri,
        localContact: contact,
        ...(extras.body !== undefined ? { localBody: extras } : {}),
        ...(invite.body.length ? { remoteBody: invite.body } : {}),
        ...(this.sessionTimer ? { sessionTimer: this.sessionTimer } : {}),
      },
      this.deps(),
    );
    const timer = answerSessionTimer(invite, this.sessionTimer);
    this.dialogs.set(dialog.key, dialog);
    // §13.3.1.4: the 2xx is retransmitted (by the stack's transaction) until the ACK; without one the session ends.
    ctx.onAckTimeout(() => void dialog.bye({}, 'ack-timeout'));
    const res = responseExtras(extras);
    Object.assign(res.headers, sessionAnswerHeaders(timer), extras.headers);
    res.headers.Contact = contact;
    const rr = invite.headers.getAll('Record-Route');
    if (rr.length) res.headers['Record-Route'] = rr;
    ctx.respond(200, undefined, res);
    dialog.sessionTimer.negotiated(false, 'se' in timer ? timer.se : undefined);
    return dialog;
  }

  private receive(req: SipRequest, ctx: IncomingContext): void {
    const toTag = req.to.params.get('tag');
    if (toTag !== undefined && toTag !== null) {
      const dialog = this.dialogs.get(dialogKey(req.callId ?? '', toTag, req.from.params.get('tag') ?? ''));
      if (dialog) dialog.receive(req, ctx);
      else if (req.method !== 'ACK') ctx.respond(481);
      return;
    }
    if (req.method === 'ACK') return;
    if (req.method === 'INVITE') {
      const timer = answerSessionTimer(req, this.sessionTimer);
      if ('reject' in timer) return ctx.respond(422, undefined, { headers: { 'Min-SE': String(timer.reject) } });
      const invite = new IncomingInvite(req, ctx, this);
      if (this.inviteHandler) this.inviteHandler(invite);
      else invite.reject(480);
      return;
    }
    if (this.otherHandler) return this.otherHandler(req, ctx);
    if (req.method === 'OPTIONS') ctx.respond(200, undefined, { headers: { Allow: ALLOW } });
    else ctx.respond(501);
  }

  // ------------------------------------------------------------ shared

  private deps(credentials?: { username: string; password: string }): DialogDeps {
    const deps: DialogDeps = {
      stack: this.stack,
      clock: this.clock,
      T1: this.stack.transactionLayer.timers.T1,
      logger: this.logger,
      forget: (d) => {
        if (this.dialogs.get(d.key) === d) this.dialogs.delete(d.key);
      },
    };
    if (credentials) deps.credentials = credentials;
    if (this.random) deps.random = this.random;
    return deps;
  }

  private contact(transport: TransportName): string {
    const ports = this.stack.listening();
    const port = transport === 'udp' ? ports.udpPort : transport === 'tls' ? (ports.tlsPort ?? ports.tcpPort) : ports.tcpPort;
    const param = transport === 'udp' ? '' : `;transport=${transport}`;
    return `<sip:${this.contactUser}@${formatHost(this.stack.publicHost)}:${port}${param}>`;
  }
}

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY';
