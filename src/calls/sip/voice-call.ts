/**
 * A SIP call answered (or, through a trunk, placed) by Dialtone itself (handlers `dialtone` and
 * `relay`): our own SDP answer, one RTP session from the port range, and the call's conversation
 * with our speech edge — the agent's speech engine (see src/voice/engine.ts) hears the caller's RTP and speaks into the
 * paced queue. RFC 4733 digits in (caller turns) and out (supervisor `dtmf`), supervisor `text`
 * spoken at once, REFER for transfers, a media timeout that hangs up.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BrainEvent, BrainInput, TranscriptLine } from '../../brain/index.js';
import type { Config } from '../../config.js';
import { AGENT_ENDED, APOLOGY, Conversation, type ReplySink, type SpeechEdge } from '../../conversation/conversation.js';
import type { Agent } from '../../domain/agents.js';
import { DomainError } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import type { G711Law } from '../../media/g711.js';
import type { Pacer } from '../../media/pacer.js';
import { bindPairInRange, RtpSession } from '../../media/rtp-session.js';
import { answerOffer, readRemoteMedia } from '../../media/sdp.js';
import type { Dialog, IncomingInvite } from '../../sip/index.js';
import type { VoiceEngine, VoiceHost, VoiceProfile } from '../../voice/engine.js';
import { createEngine, engineKindFor } from '../../voice/engines.js';
import { playOffline } from '../../voice/offline-engine.js';
import type { CallRuntime } from '../runtime.js';
import { trunkLeg } from './trunk-legs.js';

export { NO_STT_NOTICE } from '../../voice/offline-engine.js';

export interface VoiceCallDeps {
  services: Services;
  config: Config;
  runtime: CallRuntime;
  pacer: Pacer;
  publicHost: string;
  logger: Logger;
}

export type VoiceAnswer =
  | { ok: true; call: VoiceCall }
  | { ok: false; status: number; reason: string };

export interface VoiceCallInfo {
  callSid: string;
  scope: Scope;
  agent: Agent;
  context?: Record<string, unknown>;
  /** Who the other side is, for the record (`callee` on calls the agent places). */
  peer?: 'caller' | 'callee';
}

/**
 * The DTMF menu of calls Dialtone answers: `0` hands the caller to the agent's `transfer_to`
 * (a number or SIP URI in its context data) when it has one; every other key goes to the brain.
 */
export function transferTargetOf(agent: Pick<Agent, 'contextData'>): string | null {
  const t = agent.contextData.transfer_to;
  return typeof t === 'string' && t.trim() ? t.trim() : null;
}

/** Our side of a call's media: the RTP session from the range and the SDP answer that names it. */
export type VoiceMedia =
  | { ok: true; rtp: RtpSession; law: G711Law; answer: string }
  | { ok: false; status: number; reason: string };

/** Answers an SDP offer (an inbound INVITE's, or a callee's in its 200 to our late-offer INVITE). */
export async function openMedia(offer: string, deps: VoiceCallDeps): Promise<VoiceMedia> {
  const m = deps.config.media;
  const { rtp: socket, rtcp } = await bindPairInRange(m.rtpPortMin, m.rtpPortMax, deps.config.sip.host === '::' ? '0.0.0.0' : deps.config.sip.host);
  const negotiated = answerOffer(offer, { address: deps.publicHost, port: socket.address().port });
  if (!negotiated.ok) {
    socket.close();
    rtcp.close();
    return { ok: false, status: negotiated.status, reason: negotiated.reason };
  }
  const rtp = new RtpSession(socket, {
    pacer: deps.pacer, law: negotiated.codec.law, payloadType: negotiated.codec.pt, telephoneEvent: negotiated.telephoneEvent,
    remote: { address: negotiated.remote.address, port: negotiated.remote.port }, mediaTimeoutMs: m.timeoutMs,
    rtcp: { socket: rtcp, cname: `dialtone-${randomBytes(4).toString('hex')}@${deps.publicHost}` },
  });
  return { ok: true, rtp, law: negotiated.codec.law, answer: negotiated.answer };
}

/** Negotiates media and answers the INVITE; the call then runs until either side ends it. */
export async function answerWithVoice(invite: IncomingInvite, info: VoiceCallInfo, deps: VoiceCallDeps): Promise<VoiceAnswer> {
  const media = await openMedia(invite.request.body.toString('utf8'), deps);
  if (!media.ok) return media;
  let dialog: Dialog;
  try {
    dialog = invite.accept({ body: media.answer, contentType: 'application/sdp' });
  } catch {
    media.rtp.close();
    return { ok: false, status: 487, reason: 'caller cancelled' };
  }
  return { ok: true, call: new VoiceCall(info, dialog, media.rtp, media.law, media.answer, deps) };
}

export class VoiceCall implements SpeechEdge, VoiceHost {
  readonly conversation: Conversation;
  readonly engine: VoiceEngine;
  readonly profile: VoiceProfile;
  readonly recorded: Promise<void>;

  constructor(
    readonly info: VoiceCallInfo,
    readonly dialog: Dialog,
    readonly rtp: RtpSession,
    readonly law: G711Law,
    private answer: string,
    private readonly deps: VoiceCallDeps,
  ) {
    const agent = info.agent;
    this.conversation = new Conversation(info.callSid, agent, info.context ?? {}, deps);
    this.conversation.attach(this);
    this.profile = { voice: agent.voice, language: agent.language, greeting: agent.greeting };
    this.engine = createEngine(engineKindFor(agent, deps.config), this, { config: deps.config, agentName: agent.name, logger: deps.logger.child({ callSid: info.callSid }) });
    this.conversation.onContextChange = () => this.engine.contextChanged();

    rtp.on('audio', (frame) => this.engine.hear(frame));
    rtp.on('digit', ({ digit }) => {
      this.conversation.callerPressed(digit);
      const target = digit === '0' ? transferTargetOf(agent) : null;
      if (!target) return this.engine.digit(digit);
      rtp.flush();
      void this.conversation.transfer(target).catch((err: Error) => this.trouble(`transfer to ${target} failed: ${err.message}`));
    });
    rtp.on('timeout', () => {
      this.conversation.ending(`no media from the ${info.peer ?? 'caller'} for ${Math.round(deps.config.media.timeoutMs / 1000)} s`);
      void dialog.bye();
    });
    // A re-INVITE (hold, a moved address): keep our answer, follow their media.
    dialog.on('offer', (inc) => {
      const remote = readRemoteMedia(inc.request.body.toString('utf8'));
      if (remote) rtp.retarget({ address: remote.address, port: remote.port });
      inc.respond(200, undefined, { body: this.answer, contentType: 'application/sdp' });
    });
    this.recorded = new Promise<void>((resolve) => {
      dialog.on('terminated', (why) => {
        this.engine.close();
        rtp.close();
        const reason = this.conversation.endReason ?? (why === 'remote-bye' ? `${info.peer ?? 'caller'} hung up` : why === 'session-expired' ? 'session timer expired' : 'ended');
        void this.conversation.close()
          .then(() => deps.services.calls.updateStatus(info.callSid, { status: 'completed', endReason: reason, sipStatus: 200 }))
          .catch((err: Error) => deps.logger.warn({ callSid: info.callSid, err: err.message }, 'could not record the end of a voice call'))
          .finally(resolve);
      });
    });
  }

  /** Starts the agent's engine (its greeting); an engine that cannot start ends the call. */
  async start(): Promise<void> {
    try {
      await this.engine.start();
    } catch (err) {
      this.dead(`speech service unreachable: ${(err as Error).message}`);
    }
  }

  // VoiceHost: what the engine may do.

  play(audio: Buffer): void {
    if (!this.dialog.isTerminated) this.rtp.play(audio);
  }

  flush(): void {
    this.rtp.flush();
  }

  get playedMs(): number {
    return this.rtp.framesSent * 20;
  }

  get queuedToMs(): number {
    return this.rtp.framesSent * 20 + this.rtp.queuedMs;
  }

  brainInput(): BrainInput {
    return this.conversation.brainInput(new AbortController().signal);
  }

  reply(sink: ReplySink): Promise<void> {
    return this.conversation.respond(sink, undefined, { record: false });
  }

  cutReply(): void {
    this.conversation.cutReply('');
  }

  partial(text: string): void {
    this.conversation.partial(text);
  }

  final(line: TranscriptLine, interrupted = false): void {
    this.conversation.remember(line, interrupted);
  }

  async act(action: BrainEvent): Promise<void> {
    try {
      await this.conversation.act(action);
    } catch (err) {
      this.trouble(`the agent's ${action.type} failed: ${(err as Error).message}`);
    }
  }

  trouble(message: string): void {
    this.deps.logger.warn({ callSid: this.info.callSid, message }, 'voice call: speech or language model failed');
    this.conversation.error(message);
    if (this.dialog.isTerminated) return;
    this.rtp.flush();
    void playOffline(this, APOLOGY)
      .then(() => this.conversation.remember({ role: 'agent', text: APOLOGY }))
      .catch((err: Error) => this.deps.logger.warn({ callSid: this.info.callSid, err: err.message }, 'could not speak the apology'));
  }

  dead(reason: string): void {
    this.conversation.ending(reason);
    this.conversation.error(reason);
    if (!this.dialog.isTerminated) void this.dialog.bye().catch(() => undefined);
  }

  // SpeechEdge: what the conversation (and supervisors) ask of this call.

  async sayNow(text: string): Promise<void> {
    if (this.dialog.isTerminated) return;
    await this.engine.say(text);
  }

  async sendDigits(digits: string): Promise<void> {
    for (const d of digits) {
      if (!this.rtp.sendDigit(d)) throw new DomainError('conflict', 'the caller\'s side did not offer RFC 4733 telephone events, so digits cannot be sent');
    }
  }

  async transfer(target: string): Promise<void> {
    const leg = await trunkLeg(this.deps.services, this.info.scope, null, target, {});
    const referral = await this.dialog.refer(`<${leg ? leg.leg.uri : `tel:${target}`}>`);
    if (!referral.response || referral.response.status >= 300) throw new DomainError('upstream', `the caller's side refused the transfer (${referral.response?.status ?? 'no answer'})`);
    this.conversation.ending(`transferred to ${target}`);
  }

  async hangUp(reason: string): Promise<void> {
    // The agent's goodbye is heard before the BYE (a few seconds at most); anyone else's end is at once.
    const deadline = Date.now() + (reason === AGENT_ENDED ? 5000 : 0);
    while (this.rtp.queuedMs > 0 && Date.now() < deadline && !this.dialog.isTerminated) await new Promise((r) => setTimeout(r, 20));
    if (!this.dialog.isTerminated) await this.dialog.bye().catch(() => undefined);
    await this.recorded;
  }
}
