/** The SIP edge as the server runs it: one SIP stack, the registration engine on top, and the contact handler. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { createSipStack, type ListeningPorts, type SipStack } from '../sip/index.js';
import { RegistrationEngine } from './engine.js';
import { createIncomingHandler } from './incoming.js';
import type { LeaseFactory } from './lease.js';
import type { RegistrationStore } from './store.js';

export { RegistrationEngine } from './engine.js';
export type { RegistrationEngineOptions, RegistrationTuning, EngineStats } from './engine.js';
export type { RegistrationStore, EngineRegistration, StateChange } from './store.js';
export type { LeasePort, LeaseFactory } from './lease.js';

export interface SipEdge {
  sip: SipStack;
  engine: RegistrationEngine;
  start(): Promise<ListeningPorts>;
  /** De-registers (if configured, bounded in time) and closes the sockets. */
  stop(): Promise<void>;
}

/** Without `leases` this instance registers every active line itself (a single-instance setup). */
export function createSipEdge(config: Config, store: RegistrationStore, bus: EventBus, logger: Logger, leases?: LeaseFactory): SipEdge {
  const log = logger.child({ component: 'sip' });
  const tlsCa = config.sip.tlsCaFile ? readFileSync(config.sip.tlsCaFile) : undefined;
  const tls = config.sip.tls;
  const sip = createSipStack({
    host: config.sip.host,
    port: config.sip.port,
    publicHost: config.sip.publicHost,
    logger: log,
    ...(config.sip.t1Ms ? { timers: { T1: config.sip.t1Ms } } : {}),
    ...(tlsCa ? { tlsClient: { ca: tlsCa } } : {}),
    ...(tls ? { tls: { port: tls.port, cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}),
  });
  const r = config.registration;
  const owner = r.instanceId ?? (config.sip.port ? `${hostname()}:${config.sip.port}` : undefined);
  const leasing = leases && r.leaseMs > 0 ? { port: leases(owner, r.leaseMs), ttlMs: r.leaseMs } : undefined;
  const engine = new RegistrationEngine({
    ...(leasing ? { leases: leasing } : {}),
    sip,
    store,
    tuning: config.registration,
    subscribe: (handler) => bus.subscribe(handler),
    logger: logger.child({ component: 'registrations' }),
  });
  sip.onRequest(createIncomingHandler({
    registrationFor: (user) => engine.registrationForContact(user),
    store,
    logger: log,
  }));
  let started = false;
  return {
    sip,
    engine,
    async start() {
      const ports = await sip.start();
      started = true;
      await engine.start();
      return ports;
    },
    async stop() {
      if (!started) return;
      started = false;
      await engine.close();
      await sip.stop();
    },
  };
}
