import { randomBytes } from 'node:crypto';
import type { DomainEvent } from '../events/catalog.js';
/**
 * The registration engine: one small state machine per active registration that REGISTERs the
 * line at its registrar, keeps the binding fresh, retries with backoff when that fails, and
 * reports each state change through the registration service.
 */
import {
  formatUri,
  parseNameAddrList,
  realClock,
  type Clock,
  type RequestResult,
  type SipResponse,
  type SipStack,
} from '../sip/index.js';
import type { Config } from '../config.js';
import { backoffDelay } from './backoff.js';
import { describeRejection, describeSipError, statusLine } from './describe.js';
import type { LeasePort } from './lease.js';
import { Pacer } from './pacer.js';
import { InFlightWindow, type Answer } from './window.js';
import type { EngineRegistration, RegistrationStore, StateChange, EngineRegistrationState } from './store.js';
import { addressOfRecord, contactToken, redirectTarget, registerTarget, type RegisterTarget } from './target.js';

/** The engine's share of `config.registration` (lease and instance id belong to the lease keeper). */
export type RegistrationTuning = Pick<Config['registration'], 'registersPerSecond' | 'failuresBeforeFailedState'
  | 'maxAttemptsBeforeGivingUp' | 'backoffBaseMs' | 'backoffMaxMs' | 'deregisterOnShutdown'>;

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface RegistrationEngineOptions {
  sip: Pick<SipStack, 'request' | 'publicHost' | 'listening'>;
  store: RegistrationStore;
  tuning: RegistrationTuning;
  /** Subscribes to domain events; returns the unsubscribe function. */
  subscribe?: (handler: (event: DomainEvent) => void) => () => void;
  clock?: Clock;
  random?: () => number;
  logger?: EngineLogger;
  /** Upper bound for de-registering everything on close(), ms. */
  shutdownBudgetMs?: number;
  /** Several instances on one database: register only the lines whose lease this one holds. */
  leases?: {
    port: LeasePort;
    ttlMs: number;
    /**
     * How many instances share the lines now (cluster mode); with it this one holds at most its
     * fair share, ceil(active lines / instances), and gives back what is above it.
     */
    instances?: () => Promise<number>;
  };
  /** Told how each REGISTER (refreshes and de-registrations too) ended, for metrics. */
  onOutcome?: (outcome: RegisterOutcome) => void;
}

/** A REGISTER's end by the registrar's final answer: 2xx, 3xx, a refusal we do not retry, another failure, or none at all. */
export type RegisterOutcome = 'ok' | 'redirected' | 'rejected' | 'failed' | 'no_response';

function outcomeOf(status: number): RegisterOutcome {
  if (status < 300) return 'ok';
  if (status < 400) return 'redirected';
  return [401, 403, 404, 407, 604].includes(status) ? 'rejected' : 'failed';
}

export const DEFAULT_EXPIRES = 3600;
export const MAX_REDIRECTS = 5;
/** De-registrations in flight at once on shutdown. */
const SHUTDOWN_WINDOW = 100;
/** Refresh no later than this long before the binding runs out. */
const REFRESH_MARGIN_S = 5;

const silent: EngineLogger = { info() {}, warn() {}, debug() {} };

type Registration = EngineRegistration & { password: string };

/**
 * One registration as the engine holds it: only what its REGISTERs need, not the registration
 * row it was made from (10,000 of these stay in memory for as long as the lines are active).
 */
class Line {
  readonly id: string;
  readonly generation: number;
  readonly username: string;
  readonly authUser: string;
  readonly password: string;
  readonly token: string;
  readonly callId: string;
  readonly fromTag: string;
  readonly home: RegisterTarget;
  target: RegisterTarget;
  cseq = 0;
  expires: number;
  contactHost: string | null = null;
  contactPort: number | null = null;
  contactCorrected = false;
  /** We believe the registrar holds our binding (a 200 came back and no de-register since). */
  bound = false;
  busy = false;
  /** Send the next REGISTER as soon as the current one is done (423, 3xx, corrected Contact). */
  again = false;
  stopped = false;
  failures = 0;
  attempts = 0;
  redirects = 0;
  timer: unknown = null;
  reported: { state: EngineRegistrationState; error: string | null };

  constructor(reg: Registration, publicHost: string, random: () => number, boot: string) {
    this.id = reg.id;
    this.generation = reg.generation;
    this.username = reg.username;
    const authUser = reg.options.auth_username;
    this.authUser = typeof authUser === 'string' && authUser ? authUser : reg.username;
    this.password = reg.password;
    this.token = contactToken(reg.id);
    // One Call-ID per line and boot (RFC 3261 §10.2.4). Kept across boots, a restarted process
    // would start CSeq again at 1 under the Call-ID the registrar holds with a higher CSeq, which
    // it refuses as out of order until the old binding runs out; a new Call-ID replaces the binding.
    this.callId = `${this.token}.${boot}@${publicHost}`;
    this.fromTag = Math.floor(random() * 2 ** 48).toString(36);
    this.home = registerTarget(reg.registrar, reg.options);
    this.target = this.home;
    const wanted = Number(reg.options.expires);
    this.expires = Number.isInteger(wanted) && wanted > 0 ? wanted : DEFAULT_EXPIRES;
    // A stored `registered` was some earlier process's success: this one has not registered the
    // line yet (after a crash a TCP binding is gone with its connection), so it says registering.
    this.reported = { state: reg.state === 'registered' ? 'initial' : reg.state, error: null };
  }
}

export interface EngineStats {
  lines: number;
  registered: number;
  pending: number;
  registersSent: number;
}

export class RegistrationEngine {
  private readonly lines = new Map<string, Line>();
  private readonly byToken = new Map<string, Line>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: EngineLogger;
  private readonly pacer: Pacer;
  /** Per registrar (Request-URI and transport): the REGISTER transactions it may have open at once. */
  private readonly windows = new Map<string, InFlightWindow>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private registersSent = 0;
  private leaseTimer: unknown = null;
  /** Lines this instance may hold (its fair share), as of the last lease round; Infinity without a cap. */
  private share = Number.POSITIVE_INFINITY;
  /** Claims in flight, counted against the share before they land. */
  private claiming = 0;
  /** Names this run of the engine in every Call-ID it sends. */
  private readonly boot: string;
  /** Work started by events, so close() and tests can wait for it. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly opts: RegistrationEngineOptions) {
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger ?? silent;
    this.pacer = new Pacer(opts.tuning.registersPerSecond, this.clock);
    this.boot = randomBytes(5).toString('hex');
  }

  /** Subscribes to registration events and resumes every active registration. */
  async start(): Promise<void> {
    if (this.opts.subscribe) {
      this.unsubscribe = this.opts.subscribe((e) => this.onEvent(e));
    }
    await this.computeShare();
    const active = await this.opts.store.listActive();
    await this.disownStale(active);
    this.track(this.fill(active.map((r) => r.id)));
    this.log.info({ count: active.length }, 'registration engine resumed active registrations');
    if (this.opts.leases) this.scheduleLeaseRound();
  }

  /**
   * A `registered` left by an earlier process under our lease name (or by the only process there
   * is) describes a binding nobody refreshes any more: it says `registering` before start() returns,
   * so no reader takes it for live while the line waits for its turn to REGISTER.
   */
  private async disownStale(active: EngineRegistration[]): Promise<void> {
    const stale = active.filter((r) => r.state === 'registered');
    if (!stale.length) return;
    const ours = this.opts.leases ? await this.opts.leases.port.renew(stale.map((r) => r.id)) : null;
    await Promise.all(stale.filter((r) => !ours || ours.has(r.id))
      .map((r) => this.opts.store.reportState(r.id, r.generation, { state: 'registering', error: null })));
  }

  /**
   * Renews our leases, drops lines another instance took over, and picks up active lines whose
   * holder went away (its lease ran out) — every third of the lease time (a quarter in cluster mode).
   */
  private scheduleLeaseRound(): void {
    const leases = this.opts.leases!;
    this.leaseTimer = this.clock.setTimeout(() => {
      this.track(this.leaseRound(leases.port).finally(() => {
        if (!this.closed) this.scheduleLeaseRound();
      }));
      // In cluster mode a quarter: a dead instance's lines are picked up sooner after their leases lapse.
    }, Math.max(100, Math.floor(leases.ttlMs / (leases.instances ? 4 : 3))));
  }

  private async computeShare(): Promise<void> {
    const count = this.opts.leases?.instances;
    if (!count) return;
    const active = await this.opts.leases!.port.activeCount();
    this.share = Math.ceil(active / Math.max(1, await count()));
  }

  private async leaseRound(port: LeasePort): Promise<void> {
    const held = await port.renew([...this.lines.keys()]);
    for (const line of [...this.lines.values()]) {
      if (held.has(line.id)) continue;
      this.log.info({ registration: line.id }, 'lease lost to another instance; leaving the line to it');
      this.forget(line);
      this.halt(line);
    }
    if (this.closed) return;
    await this.computeShare();
    // More instances than when we took these: give back only what is above our share, the
    // newest first, so a newcomer fills up from released lines and nobody churns the rest.
    const excess = this.lines.size - this.share;
    if (excess > 0) {
      const extra = [...this.lines.keys()].slice(-excess);
      this.log.info({ lines: extra.length, share: this.share }, 'giving back lines above this instance\'s share');
      await Promise.all(extra.map((id) => this.retire(id)));
    }
    if (this.closed) return;
    await this.fill(await port.unclaimed());
  }

  /** Arms the lines among `ids` this instance may take, up to its share. */
  private async fill(ids: string[]): Promise<void> {
    const free = ids.filter((id) => !this.lines.has(id));
    if (this.share === Number.POSITIVE_INFINITY) {
      for (const id of free) this.track(this.arm(id));
      return;
    }
    // Capped: the instances all see the same free lines. In a random order and in batches as
    // large as the room left, they mostly claim different ones, and a claim lost to another
    // instance frees its place for the next batch instead of holding it until the next round.
    shuffle(free, this.random);
    for (let i = 0; i < free.length && !this.closed;) {
      const room = this.share - this.lines.size - this.claiming;
      if (room <= 0) break;
      const batch = free.slice(i, i + room);
      i += batch.length;
      await Promise.all(batch.map((id) => this.arm(id).catch((err: Error) => this.log.warn({ err: err.message }, 'registration engine task failed'))));
    }
  }

  stats(): EngineStats {
    let registered = 0;
    for (const l of this.lines.values()) if (l.bound) registered++;
    return { lines: this.lines.size, registered, pending: this.pacer.pending, registersSent: this.registersSent };
  }

  /** The registration a request to our Contact is for, by the Contact's user part. */
  registrationForContact(user: string | undefined): string | null {
    return (user && this.byToken.get(user)?.id) || null;
  }

  /** Resolves once the work events have started so far is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.leaseTimer !== null) this.clock.clearTimeout(this.leaseTimer);
    this.pacer.clear();
    const lines = [...this.lines.values()];
    this.lines.clear();
    this.byToken.clear();
    for (const l of lines) this.halt(l);
    await this.deregisterAll(lines);
    // Hand the lines over at once instead of letting another instance wait for the leases to run out.
    await this.opts.leases?.port.release(lines.map((l) => l.id)).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'could not release registration leases');
    });
  }

  private async deregisterAll(lines: Line[]): Promise<void> {
    if (!this.opts.tuning.deregisterOnShutdown) return;
    const held = lines.filter((l) => l.bound || l.busy);
    if (!held.length) return;
    const budget = this.opts.shutdownBudgetMs ?? 5_000;
    let timer: unknown;
    let expired = false;
    const deadline = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(() => { expired = true; resolve(); }, budget);
    });
    // A window of requests in flight rather than all at once: thousands of simultaneous UDP
    // REGISTERs overflow the registrar's socket buffer and then wait for retransmissions.
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (!expired && next < held.length) {
        await this.deregister(held[next++]!);
        done++;
      }
    };
    const workers = Array.from({ length: Math.min(SHUTDOWN_WINDOW, held.length) }, worker);
    await Promise.race([Promise.allSettled(workers), deadline]);
    this.clock.clearTimeout(timer);
    this.log.info({ held: held.length, deregistered: done }, 'de-registered lines on shutdown');
  }

  // ------------------------------------------------------------ events

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: Error) => this.log.warn({ err: err.message }, 'registration engine task failed'));
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }

  private onEvent(e: DomainEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'registration.activated':
      case 'registration.updated': {
        // State reports do not move the generation; only a real change (credentials, registrar) does.
        const current = this.lines.get(e.data.registration_id);
        if (current && current.generation >= e.data.generation) return;
        this.track(this.replace(e.data.registration_id));
        return;
      }
      case 'registration.disabled':
      case 'registration.deleted':
        this.track(this.retire(e.data.registration_id));
        return;
    }
  }

  /** De-registers the old binding (if any) and registers the current version. */
  private async replace(id: string): Promise<void> {
    await this.retire(id);
    await this.arm(id);
  }

  private async retire(id: string): Promise<void> {
    const line = this.lines.get(id);
    if (!line) return;
    this.forget(line);
    this.halt(line);
    if (line.bound || line.busy) await this.deregister(line);
    await this.opts.leases?.port.release([id]);
  }

  private async arm(id: string): Promise<void> {
    const reg = await this.opts.store.getForEngine(id);
    if (this.closed || !reg || reg.status !== 'active') return;
    const existing = this.lines.get(id);
    if (existing && existing.generation >= reg.generation) return;
    if (this.opts.leases) {
      // At our share: leave the line to an instance below its own (the lease round retries).
      if (!existing && this.lines.size + this.claiming >= this.share) return;
      this.claiming++;
      let claimed: boolean;
      try { claimed = await this.opts.leases.port.claim(id); } finally { this.claiming--; }
      if (!claimed) return; // another instance has it
    }
    // Read again: a concurrent event or lease round may have armed it while we waited.
    const current = this.lines.get(id);
    if (this.closed || (current && current.generation >= reg.generation)) return;
    if (current) {
      this.forget(current);
      this.halt(current);
    }
    let line: Line;
    try {
      line = new Line(reg, this.opts.sip.publicHost, this.random, this.boot);
    } catch (err) {
      await this.opts.store.reportState(reg.id, reg.generation, {
        state: 'failed', status: 'failed', error: `invalid registrar "${reg.registrar}": ${(err as Error).message}`,
      });
      return;
    }
    this.lines.set(id, line);
    this.byToken.set(line.token, line);
    this.pacer.schedule(() => this.run(line));
  }

  private forget(line: Line): void {
    if (this.lines.get(line.id) === line) this.lines.delete(line.id);
    if (this.byToken.get(line.token) === line) this.byToken.delete(line.token);
  }

  private halt(line: Line): void {
    line.stopped = true;
    if (line.timer !== null) this.clock.clearTimeout(line.timer);
    line.timer = null;
  }

  // ------------------------------------------------------------ one attempt

  private later(line: Line, ms: number, paced: boolean): void {
    if (line.stopped) return;
    if (line.timer !== null) this.clock.clearTimeout(line.timer);
    line.timer = this.clock.setTimeout(() => {
      line.timer = null;
      if (paced) this.pacer.schedule(() => this.run(line));
      else this.run(line);
    }, ms);
  }

  private run(line: Line): void {
    if (line.stopped || line.busy || this.closed) return;
    this.track(this.attempt(line));
  }

  private async attempt(line: Line): Promise<void> {
    line.busy = true;
    try {
      if (line.reported.state === 'initial') {
        if (!(await this.report(line, { state: 'registering', error: line.reported.error }))) return;
      }
      let result: RequestResult;
      try {
        result = await this.sendWindowed(line);
      } catch (err) {
        if (line.stopped) return;
        await this.failed(line, describeSipError(err, hostOf(line.target), line.target.transport));
        return;
      }
      if (line.stopped) return;
      await this.handle(line, result);
    } finally {
      line.busy = false;
      if (line.again && !line.stopped) {
        line.again = false;
        this.run(line);
      }
    }
  }

  private contact(line: Line): string {
    if (line.contactHost === null || line.contactPort === null) {
      const ports = this.opts.sip.listening();
      const t = line.target.transport;
      line.contactHost = this.opts.sip.publicHost;
      line.contactPort = t === 'udp' ? ports.udpPort : t === 'tls' ? (ports.tlsPort ?? ports.tcpPort) : ports.tcpPort;
    }
    const host = line.contactHost.includes(':') ? `[${line.contactHost}]` : line.contactHost;
    // RFC 3261 §8.1.1.8: a sips: Request-URI needs a sips: Contact, which can only be offered with
    // a TLS listener of our own; otherwise the Contact names the transport.
    if (line.target.requestUri.startsWith('sips:') && this.opts.sip.listening().tlsPort !== undefined) {
      return `<sips:${line.token}@${host}:${line.contactPort}>`;
    }
    const transport = line.target.transport === 'udp' ? '' : `;transport=${line.target.transport}`;
    return `<sip:${line.token}@${host}:${line.contactPort}${transport}>`;
  }

  /** Sends through the registrar's window, and forgets the window once it is idle. */
  private async sendWindowed(line: Line): Promise<RequestResult> {
    const key = `${line.target.transport} ${line.target.requestUri}`;
    let window = this.windows.get(key);
    if (!window) this.windows.set(key, window = new InFlightWindow(this.clock));
    try {
      return await window.run(() => this.send(line, line.expires), (o) => registrarLoad(line.target.transport, o));
    } finally {
      if (window.inFlight === 0 && window.queued === 0) this.windows.delete(key);
    }
  }

  /** `contact`: another binding of this line to remove (Expires 0) instead of our own. */
  private send(line: Line, expires: number, contact?: string): Promise<RequestResult> {
    const aor = addressOfRecord(line.username, line.target.domain);
    line.cseq += 1;
    this.registersSent++;
    const pending = this.opts.sip.request({
      method: 'REGISTER',
      uri: line.target.requestUri,
      transport: line.target.transport,
      headers: {
        From: `<${aor}>;tag=${line.fromTag}`,
        To: `<${aor}>`,
        'Call-ID': line.callId,
        CSeq: `${line.cseq} REGISTER`,
        Contact: contact ?? this.contact(line),
        Expires: String(expires),
        Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY',
      },
      credentials: { username: line.authUser, password: line.password },
    });
    return pending.then((r) => {
      // The stack may have used higher CSeqs for the authenticated retry; continue after those.
      const seq = Number.parseInt(r.response.headers.get('CSeq') ?? '', 10);
      if (Number.isInteger(seq) && seq > line.cseq) line.cseq = seq;
      this.opts.onOutcome?.(outcomeOf(r.response.status));
      return r;
    }, (err: unknown) => {
      this.opts.onOutcome?.('no_response');
      throw err;
    });
  }

  private async handle(line: Line, result: RequestResult): Promise<void> {
    const res = result.response;
    const host = hostOf(line.target);
    if (res.status >= 200 && res.status < 300) return this.succeeded(line, result);
    if (res.status === 423) {
      const min = Number.parseInt(res.headers.get('Min-Expires') ?? '', 10);
      if (Number.isInteger(min) && min > line.expires) {
        line.expires = min;
        const error = `${statusLine(res)}, retried with ${min} s`;
        if (line.reported.state !== 'registered' && !(await this.report(line, { state: 'registering', error }))) return;
        line.again = true;
        return;
      }
      return this.failed(line, `${statusLine(res)} without a usable Min-Expires from ${host}`);
    }
    if (res.status >= 300 && res.status < 400) {
      const next = firstContact(res);
      if (!next) return this.failed(line, `${statusLine(res)} from ${host} without a Contact to follow`);
      if (line.redirects >= MAX_REDIRECTS) return this.failed(line, `registrar ${line.home.domain} redirected more than ${MAX_REDIRECTS} times`);
      line.redirects += 1;
      line.target = redirectTarget(next, line.target);
      line.contactHost = null; // the transport may change with the target
      line.again = true;
      return;
    }
    if (res.status === 401 || res.status === 407) {
      const error = result.authRejected
        ? `credentials rejected by registrar (${res.status} after authentication)`
        : `registrar ${host} asked for authentication that could not be answered (${statusLine(res)})`;
      return this.definitive(line, error);
    }
    if (res.status === 403 || res.status === 404 || res.status === 604) {
      return this.definitive(line, describeRejection(res, host));
    }
    const retryAfter = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    return this.failed(line, `registrar ${host} answered ${statusLine(res)}`, Number.isInteger(retryAfter) ? retryAfter * 1000 : 0);
  }

  private async succeeded(line: Line, result: RequestResult): Promise<void> {
    line.bound = true;
    line.failures = 0;
    line.attempts = 0;
    const granted = grantedExpiry(result.response, line) ?? line.expires;
    if (granted <= 0) {
      line.bound = false;
      return this.failed(line, `registrar ${hostOf(line.target)} accepted the REGISTER but kept no binding`);
    }
    // RFC 3581: behind NAT the registrar sees another address; advertise that one instead (once).
    const seen = result.via;
    if (line.target.transport === 'udp' && !line.contactCorrected && seen.received !== undefined) {
      const port = seen.rport ?? line.contactPort;
      if (seen.received !== line.contactHost || port !== line.contactPort) {
        line.contactCorrected = true;
        this.log.info({ registration: line.id, received: seen.received, rport: port }, 're-registering with the address the registrar sees');
        line.contactHost = seen.received;
        line.contactPort = port;
        line.again = true;
        return;
      }
    }
    await this.removeStaleBindings(line, result.response);
    if (line.stopped) return;
    if (!(await this.report(line, { state: 'registered', error: null }))) return;
    const refreshS = Math.max(1, Math.min(granted / 2, granted - REFRESH_MARGIN_S));
    this.later(line, Math.round(refreshS * 1000), true);
  }

  /**
   * The 200 lists every binding of the address of record (RFC 3261 §10.3). One with this line's
   * Contact user but another host or port was left by an instance that held the line before and
   * died without de-registering: it is removed (Expires 0 for that Contact, which a registrar
   * honours under any Call-ID), so the line keeps exactly one binding of ours. Bindings with
   * other users (a desk phone on the same account) are not ours and stay.
   */
  private async removeStaleBindings(line: Line, res: SipResponse): Promise<void> {
    let items;
    try { items = parseNameAddrList(res.headers.getAll('Contact')).items; } catch { return; }
    const stale = items.filter((c) => c.uri.user === line.token
      && !(c.uri.host === line.contactHost && (c.uri.port ?? 5060) === line.contactPort));
    for (const c of stale) {
      try {
        const r = await this.send(line, 0, `<${formatUri(c.uri)}>`);
        this.log.info({ registration: line.id, status: r.response.status }, 'removed a binding another instance left');
      } catch (err) {
        this.log.warn({ registration: line.id, err: (err as Error).message }, 'could not remove a stale binding');
      }
    }
  }

  private async failed(line: Line, error: string, minDelayMs = 0): Promise<void> {
    line.failures += 1;
    line.attempts += 1;
    line.bound = false;
    line.target = line.home;
    line.redirects = 0;
    line.contactHost = null;
    line.contactCorrected = false;
    const t = this.opts.tuning;
    this.log.warn({ registration: line.id, attempt: line.attempts, error }, 'REGISTER failed');
    if (t.maxAttemptsBeforeGivingUp > 0 && line.attempts >= t.maxAttemptsBeforeGivingUp) {
      this.forget(line);
      this.halt(line);
      await this.opts.store.reportState(line.id, line.generation, {
        state: 'failed', status: 'failed', error: `${error} (gave up after ${line.attempts} attempts)`,
      });
      await this.opts.leases?.port.release([line.id]);
      return;
    }
    const state = line.failures >= t.failuresBeforeFailedState ? 'failed' : 'registering';
    if (!(await this.report(line, { state, error }))) return;
    const delay = Math.min(t.backoffMaxMs, Math.max(minDelayMs, backoffDelay(line.failures, t, this.random)));
    this.later(line, delay, true);
  }

  private async definitive(line: Line, error: string): Promise<void> {
    this.log.warn({ registration: line.id, error }, 'registration rejected');
    line.bound = false;
    this.forget(line);
    this.halt(line);
    await this.opts.store.reportState(line.id, line.generation, { state: 'failed', status: 'failed', error });
    await this.opts.leases?.port.release([line.id]);
  }

  /** Reports a change (skipping repeats); false means the line is stale and has been dropped. */
  private async report(line: Line, change: StateChange): Promise<boolean> {
    const error = change.error ?? null;
    if (line.reported.state === change.state && line.reported.error === error && !change.status) return !line.stopped;
    const ok = await this.opts.store.reportState(line.id, line.generation, { ...change, error });
    if (!ok) {
      this.log.debug({ registration: line.id, generation: line.generation }, 'dropping stale registration attempt');
      this.forget(line);
      this.halt(line);
      return false;
    }
    line.reported = { state: change.state, error };
    return !line.stopped;
  }

  /** REGISTER with Expires: 0 for our contact; errors are logged, not thrown. */
  private async deregister(line: Line): Promise<void> {
    if (line.contactHost === null) return;
    try {
      const r = await this.send(line, 0);
      line.bound = false;
      this.log.info({ registration: line.id, status: r.response.status }, 'de-registered');
    } catch (err) {
      this.log.warn({ registration: line.id, err: (err as Error).message }, 'de-register failed');
    }
  }
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function hostOf(t: RegisterTarget): string {
  return t.domain;
}

function firstContact(res: SipResponse) {
  try {
    const { items } = parseNameAddrList(res.headers.getAll('Contact'));
    return items[0]?.uri ?? null;
  } catch {
    return null;
  }
}

/** The expiry the registrar granted our binding: our Contact's `expires`, else the Expires header. */
function grantedExpiry(res: SipResponse, line: Line): number | null {
  try {
    const { items } = parseNameAddrList(res.headers.getAll('Contact'));
    const ours = items.find((c) => c.uri.user === line.token && c.uri.host === line.contactHost && (c.uri.port ?? 5060) === line.contactPort)
      ?? items.find((c) => c.uri.user === line.token);
    const v = ours?.params.get('expires');
    if (v !== undefined && v !== null && /^\d+$/.test(v)) return Number(v);
  } catch {
    // an unparseable Contact list falls back to the Expires header
  }
  const h = res.headers.get('Expires');
  return h !== undefined && /^\d+$/.test(h.trim()) ? Number(h.trim()) : null;
}

/** RFC 3261's default T1: over UDP an answer later than this needed a retransmission (or a slow registrar). */
const T1_MS = 500;

/** Whether a REGISTER's outcome says the registrar is overloaded. */
function registrarLoad(transport: string, o: { value?: RequestResult; error?: unknown; elapsedMs: number }): Answer {
  if (o.error !== undefined) return (o.error as { kind?: string }).kind === 'timeout' ? 'congested' : 'prompt';
  if (o.value?.response.status === 503) return 'congested';
  return transport === 'udp' && o.elapsedMs >= T1_MS ? 'congested' : 'prompt';
}
