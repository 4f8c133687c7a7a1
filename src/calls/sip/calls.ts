/**
 * The call layer on the SIP edge: an INVITE is checked, routed (a value, see routing.ts), given
 * to its handler's legs, rung, and bridged to the caller once a leg answers. Every attempt is a
 * row of the calls table with the same events as Twilio calls.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Agent } from '../../domain/agents.js';
import { LIVEKIT_MISSING } from '../../domain/call-handler.js';
import { Pacer } from '../../media/pacer.js';
import { answerWithVoice, type VoiceCall } from './voice-call.js';
import type { CallStatus } from '../../domain/calls.js';
import { DomainError } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import type { InviteSink } from '../../edge/index.js';
import type { DialogLayer, IncomingInvite, SipStack } from '../../sip/index.js';
import type { CallRuntime } from '../runtime.js';
import { inviteProblem, nextMaxForwards } from './checks.js';
import { bodyOf, unansweredStatus } from './outcomes.js';
import { LiveSipCall } from './live-call.js';
import { CallRecords } from './records.js';
import { peopleLegs } from './people.js';
import type { LiveKitPort } from './livekit-leg.js';
import { Ringing, type Leg, type RingOutcome } from './ringing.js';
import { TrunkDialer } from './outbound.js';
import { InboundRouter, type RoutedCall } from './routing.js';
import type { NumberAuth } from './trunk-auth.js';
import type { TrustedSources } from './trust.js';


export type { LiveKitPort } from './livekit-leg.js';

export interface SipCallsDeps {
  services: Services;
  config: Config;
  runtime: CallRuntime;
  trust: TrustedSources;
  /** Digest authentication of calls to tenants' numbers from other addresses; without it they get 403. */
  auth?: NumberAuth;
  logger: Logger;
  livekit?: LiveKitPort;
}


function reasonHeader(status: number, text: string): Record<string, string> {
  return { Reason: `SIP;cause=${status};text="${text.replace(/["\\\r\n]/g, "'")}"` };
}

export class SipCalls implements InviteSink {
  private readonly router: InboundRouter;
  private readonly live = new Map<string, LiveSipCall>();
  /** Calls answered by the native voice runtime. */
  private readonly voice = new Map<string, VoiceCall>();
  private readonly pacer = new Pacer();
  /** Call-IDs of INVITEs we sent that are still ringing or up, to see loops. */
  private readonly ourCallIds = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private closing = false;
  /** Calls this instance places through tenants' trunks. */
  readonly outbound: TrunkDialer;
  /** Answered and ended: written in batches, off the path of other calls' answers. */
  private readonly records: CallRecords;

  constructor(private readonly dialogs: DialogLayer, private readonly sip: SipStack, private readonly deps: SipCallsDeps) {
    this.router = new InboundRouter(deps.services, deps.trust, deps.auth ?? null);
    this.records = new CallRecords(deps.services.calls);
    this.outbound = new TrunkDialer(dialogs, { ...deps, records: this.records }, { pacer: this.pacer, publicHost: sip.publicHost });
  }

  get liveCount(): number {
    return this.live.size + this.voice.size;
  }

  /** Calls bridged to another side, and calls Dialtone answers itself (voice sessions). */
  get counts(): { bridged: number; voice: number } {
    return { bridged: this.live.size, voice: this.voice.size };
  }

  onInvite(invite: IncomingInvite, lineId: string | null): void {
    const work = this.take(invite, lineId).catch((err: Error) => {
      this.deps.logger.error({ err: err.message, callId: invite.request.callId }, 'inbound SIP call failed');
      invite.reject(500, undefined, { headers: reasonHeader(500, 'internal error') });
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.live.values(), ...[...this.voice.values()].map((v) => v.conversation)].map((c) => c.end('instance shutting down')));
    await Promise.allSettled([...this.pending, this.outbound.closeAll()]);
    await this.records.flush();
  }

  private reject(invite: IncomingInvite, status: number, reason: string, headers: Record<string, string> = {}): void {
    this.deps.logger.info({ callId: invite.request.callId, status, reason }, 'inbound SIP call refused');
    invite.reject(status, undefined, { headers: { ...headers, ...reasonHeader(status, reason) } });
  }

  private async take(invite: IncomingInvite, lineId: string | null): Promise<void> {
    const req = invite.request;
    const problem = inviteProblem(req, this.ourCallIds.has(req.callId ?? ''));
    if (problem) return this.reject(invite, problem.status, problem.reason);
    if (this.closing) return this.reject(invite, 503, 'instance shutting down');

    const decision = await this.router.route({
      requestUser: req.uri.user, requestHost: req.uri.host, toUser: req.to.uri.user, fromUser: req.from.uri.user,
      sourceAddress: invite.source.address, lineId,
      ...(req.headers.get('Proxy-Authorization') !== undefined ? { credentials: req.headers.get('Proxy-Authorization')! } : {}),
    });
    if (decision.kind === 'reject') return this.reject(invite, decision.status, decision.reason, decision.headers);
    const routed = decision.call;
    // Recorded before the answer goes out, so whoever sees the refusal finds it in the history.
    const refuse = async (status: number, reason: string, callStatus: 'busy' | 'failed'): Promise<void> => {
      await this.deps.services.calls.recordRejected(routed.scope, {
        agentId: routed.agent.id, phoneNumber: routed.phoneNumber, direction: 'inbound', fromNumber: routed.fromNumber,
        toNumber: routed.toNumber, status: callStatus, endReason: reason, handler: routed.handler, lineId: routed.lineId,
      }).finally(() => this.reject(invite, status, reason));
    };

    if (routed.handler === 'livekit' && !this.deps.livekit) return refuse(503, LIVEKIT_MISSING, 'failed');
    if (routed.handler === 'sip' && routed.agent.presence !== 'available') {
      return refuse(480, `agent ${routed.agent.id} is ${routed.agent.presence}, not available`, 'busy');
    }

    let callSid: string;
    try {
      callSid = (await this.deps.services.calls.open(routed.scope, {
        agentId: routed.agent.id, phoneNumber: routed.phoneNumber, direction: 'inbound', fromNumber: routed.fromNumber,
        toNumber: routed.toNumber, status: 'ringing', handler: routed.handler, lineId: routed.lineId,
      })).callSid;
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'limit') return refuse(486, err.message, 'busy');
      throw err;
    }
    const finish = (status: CallStatus, reason: string, sipStatus: number) =>
      this.records.update(callSid, { status, endReason: reason, sipStatus });

    if (routed.handler === 'dialtone' || routed.handler === 'relay') return this.answerOurselves(invite, routed, callSid);

    const headers: Record<string, string> = { 'Max-Forwards': nextMaxForwards(req) };
    const legs = await this.legsFor(routed, callSid, headers, invite);
    if (typeof legs === 'string') {
      const status = legs === LIVEKIT_MISSING ? 503 : 480;
      await finish('failed', legs, status).finally(() => this.reject(invite, status, legs));
      return;
    }
    if (invite.cancelled) return void (await finish('canceled', 'caller cancelled', 487));

    const person = routed.handler === 'sip';
    if (person) await this.setPresence(routed.scope, routed.agent, 'ringing');
    const sent: string[] = [];
    const ringing = new Ringing(this.dialogs, legs, {
      method: person ? routed.agent.ringMethod : 'ringall',
      legTimeoutMs: this.deps.config.calls.linearRingTimeoutMs,
      offer: { body: req.body, contentType: 'application/sdp' },
      onSent: (id) => { sent.push(id); this.ourCallIds.add(id); },
      onProvisional: (res) => {
        if (res.status === 100) return;
        invite.progress(res.status === 183 && res.body.length ? 183 : 180, res.status === 183 ? bodyOf(res) : {});
      },
    });
    const onCancel = () => ringing.cancel();
    invite.on('cancel', onCancel);
    const outcome: RingOutcome = await ringing.outcome;
    invite.off('cancel', onCancel);
    for (const id of sent) if (!outcome.answered || id !== outcome.dialog.callId) this.ourCallIds.delete(id);

    if (!outcome.answered || invite.cancelled) {
      if (outcome.answered) void outcome.dialog.bye();
      const cancelled = invite.cancelled || (!outcome.answered && outcome.cancelled);
      const status = outcome.answered ? 487 : outcome.status;
      const reason = cancelled ? 'caller cancelled' : (outcome as { reason: string }).reason;
      if (!cancelled) this.reject(invite, status, reason);
      if (person) await this.setPresence(routed.scope, routed.agent, 'available');
      await finish(unansweredStatus(status, cancelled), reason, cancelled ? 487 : status);
      return;
    }

    const callee = outcome.dialog;
    let caller;
    try {
      caller = invite.accept(bodyOf(outcome.response));
    } catch {
      // The caller's CANCEL won the race with the answer.
      void callee.bye();
      this.ourCallIds.delete(callee.callId);
      if (person) await this.setPresence(routed.scope, routed.agent, 'available');
      return void (await finish('canceled', 'caller cancelled', 487));
    }
    this.answered(callSid);
    if (person) await this.setPresence(routed.scope, routed.agent, 'busy');
    const call = new LiveSipCall({ callSid, scope: routed.scope, agentId: routed.agent.id }, caller, callee, {
      services: this.deps.services, dialogs: this.dialogs, records: this.records, logger: this.deps.logger,
      onEnded: () => {
        this.live.delete(callSid);
        this.ourCallIds.delete(callee.callId);
        unregister();
        if (person) void this.setPresence(routed.scope, routed.agent, 'available');
      },
    });
    this.live.set(callSid, call);
    const unregister = this.deps.runtime.sessions.register(callSid, call);
  }

  /** Recorded in the next batch; the end of the call, queued after it, cannot overtake it. */
  private answered(callSid: string): void {
    this.records.update(callSid, { status: 'in-progress' })
      .catch((err: Error) => this.deps.logger.warn({ callSid, err: err.message }, 'could not record the answer of a SIP call'));
  }

  /** The native voice runtime answers: our SDP, our RTP, the agent's greeting. */
  private async answerOurselves(invite: IncomingInvite, routed: RoutedCall, callSid: string): Promise<void> {
    const finish = (status: CallStatus, reason: string, sipStatus: number) =>
      this.records.update(callSid, { status, endReason: reason, sipStatus });
    if (invite.cancelled) return void (await finish('canceled', 'caller cancelled', 487));
    const answered = await answerWithVoice(invite, { callSid, scope: routed.scope, agent: routed.agent }, {
      services: this.deps.services, config: this.deps.config, runtime: this.deps.runtime, pacer: this.pacer, publicHost: this.sip.publicHost, logger: this.deps.logger,
    });
    if (!answered.ok) {
      await finish(answered.status === 487 ? 'canceled' : 'failed', answered.reason, answered.status);
      if (answered.status !== 487) this.reject(invite, answered.status, answered.reason);
      return;
    }
    const call = answered.call;
    this.answered(callSid);
    const unregister = this.deps.runtime.sessions.register(callSid, call.conversation);
    this.voice.set(callSid, call);
    void call.recorded.finally(() => {
      unregister();
      this.voice.delete(callSid);
    });
    void call.start();
  }

  /** The legs of the call's handler, or why there are none. */
  private async legsFor(routed: RoutedCall, callSid: string, headers: Record<string, string>, invite: IncomingInvite): Promise<Leg[] | string> {
    const req = invite.request;
    if (routed.handler === 'livekit') {
      const leg = await this.deps.livekit?.legFor({ agentId: routed.agent.id, tenantId: routed.scope.tenantId, lineId: routed.lineId, callSid });
      if (!leg) return LIVEKIT_MISSING;
      return [{
        ...leg,
        from: req.headers.get('From')?.replace(/;\s*tag=[^;>]*/i, '') ?? `<sip:anonymous@${this.sip.publicHost}>`,
        to: leg.to ?? `<${leg.uri}>`,
        headers: { ...headers, ...leg.headers },
      }];
    }
    const person = await this.deps.services.directory.forCall(routed.scope, routed.agent.id);
    const legs = await peopleLegs(this.deps.services, {
      scope: routed.scope, addresses: person.addresses, lineId: routed.lineId, mayUseTrunk: routed.trusted,
      callerName: req.from.displayName, callerUser: req.from.uri.user ?? 'anonymous', publicHost: this.sip.publicHost, headers,
    }, this.deps.logger);
    return legs.length ? legs : `agent ${routed.agent.id} has no address that can be rung`;
  }

  private async setPresence(scope: Scope, agent: Agent, presence: 'ringing' | 'busy' | 'available'): Promise<void> {
    try {
      await this.deps.services.agents.update(scope, agent.id, { presence });
    } catch (err) {
      this.deps.logger.warn({ agentId: agent.id, presence, err: (err as Error).message }, 'could not set agent presence');
    }
  }
}
