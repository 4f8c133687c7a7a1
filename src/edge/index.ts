/**
 * The one SIP edge: it owns the SIP stack and the dialog layer on it, and dispatches what arrives
 * by method. The registration engine and the call layer are its clients; neither creates sockets.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { createSipStack, DialogLayer, type IncomingInvite, type ListeningPorts, type SipStack, type SipStackInternals } from '../sip/index.js';
import { RegistrationEngine, type RegisterOutcome } from '../registration/engine.js';
import type { LeaseFactory } from '../registration/lease.js';
import type { RegistrationStore } from '../registration/store.js';
import { loopLoad, OverloadGuard, type LoadSource } from './overload.js';
import { answerOutOfDialog } from './requests.js';

export type { RegistrationStore } from '../registration/store.js';

/** What takes the INVITEs that open calls: the call layer (src/calls/sip/). */
export interface InviteSink {
  /** `lineId`: the registration whose Contact the Request-URI names, if any. */
  onInvite(invite: IncomingInvite, lineId: string | null): void;
  /** Ends every call on both legs (shutdown); resolves once each is recorded. */
  closeAll(): Promise<void>;
}

export interface SipEdge {
  sip: SipStack & SipStackInternals;
  dialogs: DialogLayer;
  engine: RegistrationEngine;
  overload: OverloadGuard;
  start(): Promise<ListeningPorts>;
  /** Ends the calls, de-registers (if configured, bounded in time) and closes the sockets. */
  stop(): Promise<void>;
}

export interface SipEdgeDeps {
  config: Config;
  registrations: RegistrationStore;
  bus: EventBus;
  logger: Logger;
  /** Without it this instance registers every active line itself (a single-instance setup). */
  leases?: LeaseFactory;
  /** Cluster mode: how many instances are live now, so this one registers only its fair share of the lines. */
  instances?: () => Promise<number>;
  /** Builds the call layer on the edge's dialogs; without it INVITEs get 480. */
  calls?: (dialogs: DialogLayer, sip: SipStack) => InviteSink;
  /** Each REGISTER's outcome (metrics). */
  onRegisterOutcome?: (outcome: RegisterOutcome) => void;
  /** The event loop's delay and utilisation for overload shedding (tests inject them); default: measured. */
  load?: LoadSource;
}

export function createSipEdge(deps: SipEdgeDeps): SipEdge {
  const { config, logger } = deps;
  const log = logger.child({ component: 'sip' });
  const tlsCa = config.sip.tlsCaFile ? readFileSync(config.sip.tlsCaFile) : undefined;
  const tls = config.sip.tls;
  const sip = createSipStack({
    host: config.sip.host,
    port: config.sip.port,
    publicHost: config.sip.publicHost,
    maxConnections: config.sip.maxConnections,
    messageDeadline: config.sip.messageDeadlineMs,
    logger: log,
    ...(config.sip.t1Ms ? { timers: { T1: config.sip.t1Ms } } : {}),
    ...(tlsCa ? { tlsClient: { ca: tlsCa } } : {}),
    ...(tls ? { tls: { port: tls.port, cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}),
  });
  const r = config.registration;
  const owner = r.instanceId ?? (config.sip.port ? `${hostname()}:${config.sip.port}` : undefined);
  const leasing = deps.leases && r.leaseMs > 0
    ? { port: deps.leases(owner, r.leaseMs), ttlMs: r.leaseMs, ...(deps.instances ? { instances: deps.instances } : {}) }
    : undefined;
  const engine = new RegistrationEngine({
    ...(leasing ? { leases: leasing } : {}),
    sip,
    store: deps.registrations,
    tuning: config.registration,
    subscribe: (handler) => deps.bus.subscribe(handler),
    logger: logger.child({ component: 'registrations' }),
    ...(deps.onRegisterOutcome ? { onOutcome: deps.onRegisterOutcome } : {}),
  });
  const dialogs = new DialogLayer({ stack: sip, logger: log.child({ layer: 'dialog' }), sessionTimer: { expires: config.sip.sessionExpires, minSE: 90 } });
  const calls = deps.calls?.(dialogs, sip);
  const measured = deps.load ? undefined : loopLoad();
  let lastShedLog = 0;
  const overload = new OverloadGuard(config.sip.overload, deps.load ?? measured!.load);
  dialogs.onInvite((invite) => {
    const admitted = overload.admit();
    if (admitted.shed) {
      const { status, reason, headers } = admitted.shed;
      // One line per burst, not one per INVITE: logging each would add to the overload.
      if (Date.now() - lastShedLog > 5000) {
        lastShedLog = Date.now();
        log.warn({ reason, shedSoFar: overload.shed }, 'shedding new INVITEs with 503');
      }
      return invite.reject(status, undefined, { headers });
    }
    invite.once('final', admitted.done);
    invite.once('ringing', admitted.done);
    const lineId = engine.registrationForContact(invite.request.uri.user);
    if (calls) calls.onInvite(invite, lineId);
    else invite.reject(480, undefined, { headers: { Reason: 'SIP;cause=480;text="calls are not handled on this instance"' } });
  });
  dialogs.onRequest(answerOutOfDialog({ registrationFor: (user) => engine.registrationForContact(user) }));

  let started = false;
  return {
    sip,
    dialogs,
    engine,
    overload,
    async start() {
      const ports = await sip.start();
      started = true;
      await engine.start();
      return ports;
    },
    async stop() {
      if (!started) return;
      started = false;
      await calls?.closeAll();
      await engine.close();
      await sip.stop();
      measured?.stop();
    },
  };
}
