/** Driven time, a scripted SIP stack and an in-memory store for engine unit tests. */
import { SipResponse, SipTimeoutError, type Clock, type OutgoingRequest, type RequestResult } from '../../src/sip/index.js';
import type { EngineRegistration, RegistrationStore, StateChange } from '../../src/registration/store.js';
import { RegistrationEngine, type RegistrationTuning } from '../../src/registration/engine.js';
import type { DomainEvent } from '../../src/events/catalog.js';

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void { this.timers.delete(h as number); }
  /** Moves time forward, firing due timers in order and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
  nextTimerIn(): number | null {
    const ats = [...this.timers.values()].map((v) => v.at - this.t);
    return ats.length ? Math.min(...ats) : null;
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

export type Answer = { status: number; headers?: Record<string, string | undefined>; authRejected?: boolean; via?: RequestResult['via'] } | Error;

export class FakeSip {
  readonly publicHost = '192.0.2.10';
  sent: Array<OutgoingRequest & { at: number }> = [];
  /** Decides the answer to each REGISTER; default 200 granting what was asked. */
  answer: (req: OutgoingRequest) => Answer = (req) => ({ status: 200, headers: { Expires: String(req.headers.Expires) } });
  constructor(private readonly clock: FakeClock) {}
  /** What the stack listens on; set tlsPort to play a server with a TLS certificate. */
  ports: { udpPort: number; tcpPort: number; tlsPort?: number } = { udpPort: 5070, tcpPort: 5070 };
  listening() { return { ...this.ports }; }
  async request(req: OutgoingRequest): Promise<RequestResult> {
    this.sent.push({ ...req, at: this.clock.now() });
    const a = this.answer(req);
    if (a instanceof Error) throw a;
    return {
      response: new SipResponse(a.status, undefined, { CSeq: String(req.headers.CSeq), ...a.headers }),
      authRejected: a.authRejected ?? false,
      local: { transport: 'udp', address: this.publicHost, port: 5070 },
      via: a.via ?? { received: this.publicHost, rport: 5070 },
      remote: { host: '198.51.100.1', port: 5060 },
    };
  }
  registers(): Array<OutgoingRequest & { at: number }> { return this.sent; }
}

export class FakeStore implements RegistrationStore {
  regs = new Map<string, EngineRegistration & { password: string }>();
  reports: Array<{ id: string; generation: number } & StateChange> = [];
  add(id: string, over: Partial<EngineRegistration> = {}): EngineRegistration & { password: string } {
    const reg = {
      id, tenantId: 't1', registrar: 'sip:provider.example.com', username: `user-${id}`, options: {},
      status: 'active' as const, state: 'initial' as const, generation: 1, password: 'pw', ...over,
    };
    this.regs.set(id, reg);
    return reg;
  }
  async listActive() { return [...this.regs.values()].filter((r) => r.status === 'active'); }
  async getForEngine(id: string) { const r = this.regs.get(id); return r ? { ...r, options: { ...r.options } } : null; }
  async reportState(id: string, generation: number, change: StateChange) {
    const r = this.regs.get(id);
    if (!r || r.generation !== generation || r.status !== 'active') return false;
    this.reports.push({ id, generation, ...change });
    r.state = change.state;
    if (change.status) r.status = change.status;
    return true;
  }
  async findListener(id: string) {
    const r = this.regs.get(id);
    return r ? { registration: r, agentId: null } : null;
  }
  last(id: string) { return [...this.reports].reverse().find((r) => r.id === id); }
}

export const TUNING: RegistrationTuning = {
  registersPerSecond: 1000, failuresBeforeFailedState: 3, maxAttemptsBeforeGivingUp: 10,
  backoffBaseMs: 5_000, backoffMaxMs: 30 * 60_000, deregisterOnShutdown: true,
};

export function timeout(): Error {
  return new SipTimeoutError('no answer to REGISTER over UDP from 198.51.100.1:5060 after 32 s');
}

export function makeEngine(over: Partial<RegistrationTuning> = {}, random = () => 0.5) {
  const clock = new FakeClock();
  const sip = new FakeSip(clock);
  const store = new FakeStore();
  let handler: ((e: DomainEvent) => void) | null = null;
  const engine = new RegistrationEngine({
    sip, store, clock, random, tuning: { ...TUNING, ...over },
    subscribe: (h) => { handler = h; return () => { handler = null; }; },
  });
  const emit = async (type: string, id: string, generation: number) => {
    handler?.({ type, tenantId: 't1', timestamp: new Date(0).toISOString(), data: { registration_id: id, generation } } as DomainEvent);
    await flush();
    await engine.settled();
  };
  return { clock, sip, store, engine, emit };
}
