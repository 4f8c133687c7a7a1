/**
 * Session timers (RFC 4028): the Session-Expires / Min-SE negotiation, and for one dialog the
 * refresh at half the interval (by whichever side is the refresher) and the BYE when no refresh
 * came in time.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Clock } from '../transaction/timers.js';

/** RFC 4028 §4: nobody may ask for less than 90 s. */
export const MIN_SE_FLOOR = 90;

export interface SessionTimerConfig {
  /** The interval we ask for (UAC) or impose when the caller asks for none (UAS), seconds; RFC 4028 suggests 1800. */
  expires: number;
  /** The smallest interval we accept, seconds (default and floor 90). */
  minSE?: number;
  /** How the refresher refreshes (default re-INVITE, which every peer supports). */
  refreshWith?: 'INVITE' | 'UPDATE';
}

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  interval: number;
  refresher?: Refresher;
}

export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (value === undefined) return undefined;
  const [delta, ...params] = value.split(';').map((p) => p.trim());
  if (!delta || !/^\d+$/.test(delta)) return undefined;
  const se: SessionExpires = { interval: Number(delta) };
  for (const p of params) {
    const [k, v] = p.split('=').map((x) => x.trim().toLowerCase());
    if (k === 'refresher' && (v === 'uac' || v === 'uas')) se.refresher = v;
  }
  return se;
}

export function formatSessionExpires(se: SessionExpires): string {
  return se.refresher ? `${se.interval};refresher=${se.refresher}` : String(se.interval);
}

export function minSEOf(msg: SipRequest | SipResponse): number | undefined {
  const v = msg.headers.get('Min-SE')?.split(';')[0]?.trim();
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

function hasOptionTag(msg: SipRequest | SipResponse, tag: string): boolean {
  return [...msg.headers.getAll('Supported'), ...msg.headers.getAll('Require')].some((v) => v.split(',').some((t) => t.trim().toLowerCase() === tag));
}

export function effectiveMinSE(cfg: Pick<SessionTimerConfig, 'minSE'> | undefined): number {
  return Math.max(MIN_SE_FLOOR, cfg?.minSE ?? MIN_SE_FLOOR);
}

/** Headers for a request that asks for (or refreshes) a session timer. */
export function sessionRequestHeaders(interval: number, minSE: number, refresher?: Refresher): Record<string, string> {
  return { Supported: 'timer', 'Session-Expires': formatSessionExpires(refresher ? { interval, refresher } : { interval }), 'Min-SE': String(minSE) };
}

export type SessionAnswer =
  /** Answer 422 with this Min-SE. */
  | { reject: number }
  /** Put this Session-Expires in the 2xx (none: no session timer). */
  | { se: SessionExpires | undefined; require: boolean };

/** UAS side (§9): what a 2xx to this INVITE or UPDATE says about the session timer. */
export function answerSessionTimer(req: SipRequest, cfg: SessionTimerConfig | undefined): SessionAnswer {
  const asked = parseSessionExpires(req.headers.get('Session-Expires'));
  const supported = hasOptionTag(req, 'timer');
  if (asked) {
    const min = effectiveMinSE(cfg);
    if (asked.interval < min) return { reject: min };
    // Left to us, the caller refreshes when it can; a caller without timer support cannot.
    return { se: { interval: asked.interval, refresher: asked.refresher ?? (supported ? 'uac' : 'uas') }, require: supported };
  }
  if (cfg) return { se: { interval: Math.max(cfg.expires, effectiveMinSE(cfg)), refresher: 'uas' }, require: false };
  return { se: undefined, require: false };
}

export function sessionAnswerHeaders(answer: SessionAnswer): Record<string, string> {
  if ('reject' in answer || !answer.se) return {};
  const h: Record<string, string> = { 'Session-Expires': formatSessionExpires(answer.se) };
  if (answer.require) h.Require = 'timer';
  return h;
}

export interface SessionTimerDeps {
  clock: Clock;
  refresh(method: 'INVITE' | 'UPDATE'): void;
  expire(): void;
}

/** The running timer of one dialog. */
export class SessionTimer {
  /** Seconds; 0 while no timer is agreed. */
  interval = 0;
  /** Whether this side sends the refreshes. */
  weRefresh = false;
  private refreshHandle: unknown;
  private expiryHandle: unknown;

  constructor(
    readonly config: SessionTimerConfig | undefined,
    private readonly deps: SessionTimerDeps,
  ) {}

  get active(): boolean {
    return this.interval > 0;
  }

  /**
   * A session refresh (the initial INVITE included) ended in a 2xx carrying `se`; `weSent` tells
   * whether we were its UAC, since refresher=uac/uas names the roles in that transaction.
   */
  negotiated(weSent: boolean, se: SessionExpires | undefined): void {
    this.stop();
    if (!se) {
      this.interval = 0;
      return;
    }
    this.interval = se.interval;
    // §7.2: a 2xx with no refresher leaves the job to the UAC.
    const refresher = se.refresher ?? 'uac';
    this.weRefresh = weSent ? refresher === 'uac' : refresher === 'uas';
    const ms = se.interval * 1000;
    if (this.weRefresh) this.refreshHandle = this.deps.clock.setTimeout(() => this.deps.refresh(this.config?.refreshWith ?? 'INVITE'), ms / 2);
    // §10: give up a little before the interval ends, so a BYE still finds the session alive.
    this.expiryHandle = this.deps.clock.setTimeout(() => this.deps.expire(), ms - Math.min(32_000, ms / 3));
  }

  /** Headers for a refresh we send now: same interval, and we stay the refresher if we were. */
  requestHeaders(): Record<string, string> {
    const min = effectiveMinSE(this.config);
    const interval = this.active ? Math.max(this.interval, min) : (this.config?.expires ?? min);
    return sessionRequestHeaders(interval, min, this.active ? (this.weRefresh ? 'uac' : 'uas') : undefined);
  }

  stop(): void {
    if (this.refreshHandle !== undefined) this.deps.clock.clearTimeout(this.refreshHandle);
    if (this.expiryHandle !== undefined) this.deps.clock.clearTimeout(this.expiryHandle);
    this.refreshHandle = this.expiryHandle = undefined;
  }
}
