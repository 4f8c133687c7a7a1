/**
 * One SIP call once both legs are up: keeps its record in step (answered, ended and why), takes
 * the supervisor's controls (end, transfer, dtmf; text needs an AI voice) and carries out a
 * transfer the callee side asks for with REFER.
 */
import type { Logger } from 'pino';
import { DomainError, conflict } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import type { Dialog, DialogLayer, IncomingRefer } from '../../sip/index.js';
import type { LiveCallControl } from '../sessions.js';
import type { CallRecords } from './records.js';
import { Bridge, type BridgeEnd } from './bridge.js';
import { bodyOf } from './outcomes.js';
import { inviteOptions, type Leg } from './ringing.js';
import { trunkLeg } from './trunk-legs.js';
import { calledNumber } from './routing.js';

export interface LiveSipCallDeps {
  services: Services;
  dialogs: DialogLayer;
  records: CallRecords;
  logger: Logger;
  /** Called once the call is over and recorded (presence, bookkeeping). */
  onEnded?: () => void;
}

export interface LiveSipCallInfo {
  callSid: string;
  scope: Scope;
  agentId: string | null;
}

function endReasonOf(end: BridgeEnd, localReason: string | undefined): string {
  if (end.by === 'local') return localReason ?? 'ended';
  if (end.reason === 'session-expired') return 'session timer expired';
  if (end.reason === 'ack-timeout') return 'no ACK for the answer';
  return end.by === 'caller' ? 'caller hung up' : 'callee hung up';
}

export class LiveSipCall implements LiveCallControl {
  readonly bridge: Bridge;
  private localReason: string | undefined;
  private handoff: Record<string, unknown> | undefined;
  /** Resolves once the call's end is recorded. */
  readonly recorded: Promise<void>;

  constructor(readonly info: LiveSipCallInfo, caller: Dialog, callee: Dialog, private readonly deps: LiveSipCallDeps) {
    this.bridge = new Bridge(caller, callee);
    callee.on('refer', (refer) => void this.carryRefer(refer));
    this.recorded = this.bridge.done().then((end) => this.record(end));
  }

  async speak(): Promise<void> {
    throw conflict(`call ${this.info.callSid} has no AI voice to speak text (a SIP call bridged to ${this.bridge.callee.remote.uri.host}); text works on relay calls`);
  }

  async sendDigits(digits: string): Promise<void> {
    for (const d of digits) await this.bridge.caller.sendDtmf(d, 160);
  }

  async end(reason = 'ended by supervisor'): Promise<void> {
    this.localReason = reason;
    await this.bridge.hangUp();
    await this.recorded;
  }

  /**
   * REFER to the caller's side first (its phone or PBX dials the target); when it refuses or
   * fails, the caller is bridged to the target through the tenant's trunk.
   */
  async transfer(target: string): Promise<void> {
    const leg = await trunkLeg(this.deps.services, this.info.scope, null, target, {});
    const referTo = leg ? leg.leg.uri : `tel:${target}`;
    this.handoff = { type: 'transfer', target };
    try {
      const referral = await this.bridge.caller.refer(`<${referTo}>`);
      if (referral.response && referral.response.status < 300) {
        const final = await Promise.race([referral.done(), new Promise<undefined>((r) => setTimeout(r, 30_000))]);
        if (final && final.status < 300) {
          this.localReason = `transferred to ${target}`;
          await this.bridge.hangUp();
          return;
        }
      }
    } catch (err) {
      this.deps.logger.info({ callSid: this.info.callSid, err: (err as Error).message }, 'REFER to the caller failed; bridging through the trunk');
    }
    if (!leg) throw new DomainError('precondition', `the caller refused the transfer and the tenant has no trunk to reach ${target} through`);
    if (!(await this.moveCaller(leg.leg))) throw new DomainError('upstream', `the transfer target ${target} did not answer`);
    this.localReason = `transferred to ${target}`;
  }

  /**
   * Rings `leg` with the caller's media, then points the caller at it (re-INVITE) and drops the
   * old callee; `beforeDrop` runs while the old callee's dialog is still up (its REFER's NOTIFY).
   */
  private async moveCaller(leg: Leg, beforeDrop?: () => Promise<void>): Promise<boolean> {
    const caller = this.bridge.caller;
    const offer = caller.remoteBody?.length ? { body: caller.remoteBody, contentType: 'application/sdp' } : {};
    const out = await this.deps.dialogs.invite({ ...inviteOptions(leg), ...offer }).outcome.catch(() => undefined);
    if (!out?.dialog) return false;
    const res = await caller.reinvite(bodyOf(out.response)).catch(() => undefined);
    if (!res || res.status >= 300) {
      void out.dialog.bye();
      return false;
    }
    await beforeDrop?.();
    await this.bridge.replaceCallee(out.dialog);
    return true;
  }

  /** LiveKit (or any callee) asks for a transfer: we dial the target ourselves and report to the referrer. */
  private async carryRefer(refer: IncomingRefer): Promise<void> {
    const uri = refer.referTo.uri;
    const number = calledNumber(uri.user) ?? (uri.scheme === 'tel' ? calledNumber(uri.host) : null);
    let leg: Leg | undefined;
    if (number) leg = (await trunkLeg(this.deps.services, this.info.scope, null, number, {}).catch(() => null))?.leg;
    if (!leg) return refer.reject(603, 'no trunk to reach the transfer target through');
    refer.accept();
    this.handoff = { type: 'transfer', target: number };
    const moved = await this.moveCaller(leg, () => refer.progress(200, 'OK'));
    if (!moved) await refer.progress(503, 'Service Unavailable');
  }

  private async record(end: BridgeEnd): Promise<void> {
    try {
      await this.deps.records.update(this.info.callSid, {
        status: 'completed', endReason: endReasonOf(end, this.localReason), sipStatus: 200,
        ...(this.handoff ? { handoff: this.handoff } : {}),
      });
    } catch (err) {
      this.deps.logger.warn({ callSid: this.info.callSid, err: (err as Error).message }, 'could not record the end of a SIP call');
    } finally {
      this.deps.onEnded?.();
    }
  }
}
