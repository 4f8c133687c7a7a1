/**
 * Outbound calls through a tenant's SIP trunk, started by an authenticated API caller only. The
 * callee is called first with a late offer (no SDP): once it answers, its offer goes to the
 * agent's handler (LiveKit SIP), whose answer goes back in our ACK. That way the agent joins
 * only when someone picked up, and media flows between the callee and the agent directly.
 * An agent whose handler is Dialtone's own (`dialtone`, `relay`) runs here instead: the callee's
 * offer is answered with our RTP session, and the agent's speech engine speaks first.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { DEFAULT_CALL_HANDLER, handlerProblem, type CallHandler } from '../../domain/call-handler.js';
import type { Call, CallStatus } from '../../domain/calls.js';
import { DomainError, conflict } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import { requireE164, requireObject } from '../../domain/validate.js';
import type { Dialog, DialogLayer } from '../../sip/index.js';
import type { CallRuntime } from '../runtime.js';
import type { LiveKitPort } from './livekit-leg.js';
import type { Pacer } from '../../media/pacer.js';
import { LiveSipCall } from './live-call.js';
import { openMedia, VoiceCall } from './voice-call.js';
import { bodyOf, unansweredStatus } from './outcomes.js';
import { inviteOptions, type Leg } from './ringing.js';
import type { CallRecords } from './records.js';
import { TrunkPacer, trunkLeg } from './trunk-legs.js';

export interface TrunkCallRequest {
  agentId: string;
  trunkId: string;
  toNumber: unknown;
  /** Becomes the call's context (the trunk API's `metadata`). */
  metadata?: unknown;
}

export interface TrunkDialerDeps {
  services: Services;
  config: Config;
  runtime: CallRuntime;
  logger: Logger;
  livekit?: LiveKitPort;
  records: CallRecords;
}


export class TrunkDialer {
  private readonly pacer: TrunkPacer;
  private readonly live = new Map<string, LiveSipCall>();
  private readonly voice = new Map<string, VoiceCall>();
  private readonly pending = new Set<Promise<void>>();

  /** `media`: what calls whose agent runs here need (the shared pacer, the address our SDP names). */
  constructor(private readonly dialogs: DialogLayer, private readonly deps: TrunkDialerDeps, private readonly media?: { pacer: Pacer; publicHost: string }) {
    this.pacer = new TrunkPacer(deps.config.calls.trunkCps);
  }

  /**
   * Checks everything a user can get wrong, records the call (queued) and starts it; the call's
   * progress shows in its record and on the events stream.
   */
  async place(scope: Scope, req: TrunkCallRequest): Promise<Call> {
    const to = requireE164('to_number', req.toNumber);
    const context = req.metadata === undefined || req.metadata === null ? {} : requireObject('metadata', req.metadata);
    const agent = await this.deps.services.agents.get(scope, req.agentId);
    const trunk = await this.deps.services.trunks.get(scope, req.trunkId);
    if (agent.deployStatus !== 'active') throw conflict(`agent ${agent.id} is inactive; activate it before it places calls`, 'assistant_id');
    const handler: CallHandler = agent.handler ?? DEFAULT_CALL_HANDLER;
    const here = (handler === 'dialtone' || handler === 'relay') && this.media !== undefined;
    const problem = handler === 'sip' ? 'an agent with the sip handler is a person; ring them with an inbound call'
      : handler === 'livekit' ? handlerProblem(handler, this.deps.config)
      : here ? null : `the ${handler} handler cannot place calls on this server`;
    if (problem || (!here && !this.deps.livekit)) throw new DomainError('unavailable', problem ?? handlerProblem('livekit', { livekit: null })!);
    if (!(await this.pacer.take(trunk.id))) {
      throw new DomainError('limit', `trunk ${trunk.id} is at its calls-per-second limit (${this.deps.config.calls.trunkCps}/s) with calls queued; try again shortly`);
    }
    const call = await this.deps.services.calls.open(scope, {
      agentId: agent.id, phoneNumber: trunk.numbers[0] ?? null, direction: 'outbound', fromNumber: trunk.numbers[0] ?? '',
      toNumber: to, status: 'queued', context, handler, trunkId: trunk.id,
    });
    const work = this.run(scope, call, to).catch((err: Error) => {
      this.deps.logger.warn({ callSid: call.callSid, err: err.message }, 'outbound trunk call failed');
      return this.end(call.callSid, 'failed', err.message, 503);
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return call;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.live.values(), ...[...this.voice.values()].map((v) => v.conversation)].map((c) => c.end('instance shutting down')));
    await Promise.allSettled([...this.pending]);
  }

  private async end(callSid: string, status: CallStatus, reason: string, sipStatus: number): Promise<void> {
    await this.deps.services.calls.updateStatus(callSid, { status, endReason: reason, sipStatus }).catch(() => undefined);
  }

  private async run(scope: Scope, call: Call, to: string): Promise<void> {
    const found = await trunkLeg(this.deps.services, scope, call.trunkId, to, { 'X-Dialtone-Call-Id': call.callSid });
    if (!found) return this.end(call.callSid, 'failed', 'the trunk address cannot be used', 503);
    let rang = false;
    const out = await this.dialogs.invite({
      ...inviteOptions(found.leg),
      ackLater: true,
      onProvisional: (res) => {
        if (rang || res.status < 180) return;
        rang = true;
        void this.deps.services.calls.updateStatus(call.callSid, { status: 'ringing' }).catch(() => undefined);
      },
    }).outcome;
    if (!out.dialog) {
      const r = out.response;
      return this.end(call.callSid, unansweredStatus(r.status), `${found.leg.label} answered ${r.status} ${r.reason}`.trim(), r.status);
    }
    const callee: Dialog = out.dialog;
    const seq = out.response.cseq.seq;
    const offer = bodyOf(out.response);
    const giveUp = async (reason: string, sipStatus: number) => {
      callee.sendAck(seq);
      await callee.bye().catch(() => undefined);
      await this.end(call.callSid, 'failed', reason, sipStatus);
    };
    if (offer.body === undefined) return giveUp('the callee answered without an SDP offer', 488);
    if (call.handler === 'dialtone' || call.handler === 'relay') return this.runHere(scope, call, callee, seq, offer.body.toString('utf8'), giveUp);

    const agentLeg = await this.deps.livekit!.legFor({ agentId: call.agentId!, tenantId: scope.tenantId, lineId: null, callSid: call.callSid });
    if (!agentLeg) return giveUp(handlerProblem('livekit', { livekit: null })!, 503);
    const toAgent: Leg = { ...agentLeg, to: agentLeg.to ?? `<${agentLeg.uri}>`, from: `<sip:${to}@${this.deps.config.sip.publicHost}>` };
    const agentOut = await this.dialogs.invite({ ...inviteOptions(toAgent), ...offer }).outcome.catch((err: Error) => ({ dialog: undefined, error: err.message }) as const);
    if (!agentOut.dialog) {
      const why = 'error' in agentOut ? agentOut.error : `${agentLeg.label} answered ${agentOut.response.status}`;
      return giveUp(why, 'response' in agentOut ? agentOut.response.status : 503);
    }
    callee.sendAck(seq, bodyOf(agentOut.response));
    await this.deps.services.calls.updateStatus(call.callSid, { status: 'in-progress' });
    const live = new LiveSipCall({ callSid: call.callSid, scope, agentId: call.agentId }, callee, agentOut.dialog, {
      services: this.deps.services, dialogs: this.dialogs, records: this.deps.records, logger: this.deps.logger,
      onEnded: () => {
        this.live.delete(call.callSid);
        unregister();
      },
    });
    this.live.set(call.callSid, live);
    const unregister = this.deps.runtime.sessions.register(call.callSid, live);
  }

  /** The agent runs here: our answer in the ACK, our RTP session, the agent's greeting first. */
  private async runHere(scope: Scope, call: Call, callee: Dialog, seq: number, offer: string, giveUp: (reason: string, sipStatus: number) => Promise<void>): Promise<void> {
    const agent = await this.deps.services.agents.get(scope, call.agentId!);
    const deps = { ...this.deps, ...this.media! };
    const media = await openMedia(offer, deps);
    if (!media.ok) return giveUp(media.reason, media.status);
    callee.sendAck(seq, { body: media.answer, contentType: 'application/sdp' });
    await this.deps.services.calls.updateStatus(call.callSid, { status: 'in-progress' });
    const voice = new VoiceCall({ callSid: call.callSid, scope, agent, context: call.context, peer: 'callee' }, callee, media.rtp, media.law, media.answer, deps);
    const unregister = this.deps.runtime.sessions.register(call.callSid, voice.conversation);
    this.voice.set(call.callSid, voice);
    void voice.recorded.finally(() => {
      unregister();
      this.voice.delete(call.callSid);
    });
    await voice.start();
  }
}

/** For callers that only know the agent and its number: the trunk holding that number, if any. */
export async function trunkForAgent(services: Services, scope: Scope, agentId: string): Promise<string | null> {
  const numbers = (await services.numbers.forAgent(scope, agentId)).map((n) => n.e164);
  if (!numbers.length) return null;
  const trunk = (await services.trunks.list(scope)).find((t) => t.numbers.some((n) => numbers.includes(n)));
  return trunk?.id ?? null;
}

