/**
 * Outbound calls through a tenant's SIP trunk, started by an authenticated API caller only. The
 * callee is called first with a late offer (no SDP): once it answers, its offer goes to the
 * agent's handler (LiveKit SIP), whose answer goes back in our ACK. That way the agent joins
 * only when someone picked up, and media flows between the callee and the agent directly.
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
import { LiveSipCall } from './live-call.js';
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
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly dialogs: DialogLayer, private readonly deps: TrunkDialerDeps) {
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
    const problem = handler === 'sip' ? 'an agent with the sip handler is a person; ring them with an inbound call'
      : handler === 'livekit' ? handlerProblem(handler, this.deps.config)
      : `calls placed through a trunk are bridged to LiveKit for now; the ${handler} handler answers inbound calls only`;
    if (problem || !this.deps.livekit) throw new DomainError('unavailable', problem ?? handlerProblem('livekit', { livekit: null })!);
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
    await Promise.allSettled([...this.live.values()].map((c) => c.end('instance shutting down')));
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
}

/** For callers that only know the agent and its number: the trunk holding that number, if any. */
export async function trunkForAgent(services: Services, scope: Scope, agentId: string): Promise<string | null> {
  const numbers = (await services.numbers.forAgent(scope, agentId)).map((n) => n.e164);
  if (!numbers.length) return null;
  const trunk = (await services.trunks.list(scope)).find((t) => t.numbers.some((n) => numbers.includes(n)));
  return trunk?.id ?? null;
}

