/**
 * A SIP call answered by Dialtone itself (handlers `dialtone` and `relay`): our own SDP answer,
 * one RTP session from the port range, the agent's greeting spoken by the offline synthesiser,
 * RFC 4733 digits in (recorded as caller turns) and out (supervisor `dtmf`), supervisor `text`
 * spoken at once, a media timeout that hangs up. Speech recognition and the agent's replies are
 * the next step of the voice runtime; until a speech-to-text service exists the agent says so.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Agent } from '../../domain/agents.js';
import { DomainError } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import { encodeG711 } from '../../media/g711.js';
import type { Pacer } from '../../media/pacer.js';
import { bindInRange, RtpSession } from '../../media/rtp-session.js';
import { answerOffer, readRemoteMedia } from '../../media/sdp.js';
import type { Dialog, IncomingInvite } from '../../sip/index.js';
import { synthesize } from '../../voice/offline-tts.js';
import type { LiveCallControl } from '../sessions.js';
import { trunkLeg } from './trunk-legs.js';

export const NO_STT_NOTICE = 'I cannot understand speech on this line yet, because no speech-to-text service is configured. You can press keys, or call back later.';

export interface VoiceCallDeps {
  services: Services;
  config: Config;
  pacer: Pacer;
  publicHost: string;
  logger: Logger;
}

export type VoiceAnswer =
  | { ok: true; call: VoiceCall }
  | { ok: false; status: number; reason: string };

/** Negotiates media and answers the INVITE; the call then runs until either side ends it. */
export async function answerWithVoice(invite: IncomingInvite, info: { callSid: string; scope: Scope; agent: Agent }, deps: VoiceCallDeps): Promise<VoiceAnswer> {
  const m = deps.config.media;
  const socket = await bindInRange(m.rtpPortMin, m.rtpPortMax, deps.config.sip.host === '::' ? '0.0.0.0' : deps.config.sip.host);
  const negotiated = answerOffer(invite.request.body.toString('utf8'), { address: deps.publicHost, port: socket.address().port });
  if (!negotiated.ok) {
    socket.close();
    return { ok: false, status: negotiated.status, reason: negotiated.reason };
  }
  const rtp = new RtpSession(socket, {
    pacer: deps.pacer, law: negotiated.codec.law, payloadType: negotiated.codec.pt, telephoneEvent: negotiated.telephoneEvent,
    remote: { address: negotiated.remote.address, port: negotiated.remote.port }, mediaTimeoutMs: m.timeoutMs,
  });
  let dialog: Dialog;
  try {
    dialog = invite.accept({ body: negotiated.answer, contentType: 'application/sdp' });
  } catch {
    rtp.close();
    return { ok: false, status: 487, reason: 'caller cancelled' };
  }
  return { ok: true, call: new VoiceCall(info, dialog, rtp, negotiated.codec.law, negotiated.answer, deps) };
}

export class VoiceCall implements LiveCallControl {
  private endReason: string | undefined;
  readonly recorded: Promise<void>;

  constructor(
    readonly info: { callSid: string; scope: Scope; agent: Agent },
    readonly dialog: Dialog,
    readonly rtp: RtpSession,
    private readonly law: 'PCMU' | 'PCMA',
    private answer: string,
    private readonly deps: VoiceCallDeps,
  ) {
    rtp.on('digit', ({ digit }) => void this.turn('caller', `pressed ${digit}`));
    rtp.on('timeout', () => {
      this.endReason ??= `no media from the caller for ${Math.round(deps.config.media.timeoutMs / 1000)} s`;
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
        rtp.close();
        const reason = this.endReason ?? (why === 'remote-bye' ? 'caller hung up' : why === 'session-expired' ? 'session timer expired' : 'ended');
        void deps.services.calls.updateStatus(info.callSid, { status: 'completed', endReason: reason, sipStatus: 200 })
          .catch((err: Error) => deps.logger.warn({ callSid: info.callSid, err: err.message }, 'could not record the end of a voice call'))
          .finally(resolve);
      });
    });
  }

  /** Speaks the greeting (and, with no speech-to-text, why the agent will not understand the caller). */
  async greet(): Promise<void> {
    const greeting = this.info.agent.greeting.trim() || `Hello, you have reached ${this.info.agent.name}.`;
    await this.say(`${greeting} ${NO_STT_NOTICE}`, 'agent');
  }

  async speak(text: string): Promise<void> {
    await this.say(text, 'supervisor');
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
    this.endReason = `transferred to ${target}`;
  }

  async end(reason = 'ended by supervisor'): Promise<void> {
    this.endReason ??= reason;
    if (!this.dialog.isTerminated) await this.dialog.bye().catch(() => undefined);
    await this.recorded;
  }

  private async say(text: string, role: 'agent' | 'supervisor'): Promise<void> {
    const audio = await synthesize(text, this.info.agent.language);
    if (this.dialog.isTerminated) return;
    this.rtp.play(encodeG711(this.law, audio.pcm));
    await this.turn(role, text);
  }

  private async turn(role: 'caller' | 'agent' | 'supervisor', text: string): Promise<void> {
    await this.deps.services.calls.addTurn(this.info.callSid, { role, text })
      .catch((err: Error) => this.deps.logger.warn({ callSid: this.info.callSid, err: err.message }, 'could not record a turn'));
  }
}
