import type { Logger } from 'pino';
import { createLogger } from './log.js';
import type { Config } from './config.js';
import { createServices, type Services } from './domain/services.js';
import { randomIds, systemClock, type WallClock, type IdSource } from './domain/ids.js';
import { InProcessBus, RedisBus, type EventBus } from './events/bus.js';
import { buildApp, type App } from './http/app.js';
import type { Brain } from './brain/index.js';
import { CallRuntime } from './calls/runtime.js';
import { createSipEdge, type SipEdge } from './edge/index.js';
import { SipCalls, type LiveKitPort } from './calls/sip/calls.js';
import { TenantSources } from './calls/sip/trust.js';
import { sharedNonces, TrunkDigestAuth } from './calls/sip/trunk-auth.js';
import { liveKitPort } from './calls/sip/livekit-leg.js';
import { startLiveKitSync, type LiveKit } from './livekit/index.js';
import type { ListeningPorts } from './sip/index.js';
import { migrate, openDatabase, type OpenedDb } from './store/db.js';
import { Vault, loadMasterKey } from './vault/vault.js';
import { createRepositories } from './store/repositories/index.js';
import { OutboxTransactor } from './store/transactions.js';
import { Metrics } from './ops/metrics.js';
import { activityLog } from './ops/activity-log.js';
import { serveMetrics } from './ops/metrics-listener.js';
import type { Server as HttpServer } from 'node:http';
import { LocalLink, RedisLink, type ClusterLink } from './cluster/link.js';
import { serveCallControl } from './cluster/call-control.js';
import { shareKeyCacheDrops } from './cluster/key-cache.js';
import { startMembership, type Membership } from './cluster/membership.js';
import { LocalSlots, RedisSlots, type SocketSlots } from './cluster/socket-slots.js';
import { AuthCache } from './domain/keys.js';

/** /readyz waits this long for the database before calling it unreachable. */
const READY_DEADLINE_MS = 2_000;

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'timeout' })), ms); });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export interface Server {
  config: Config;
  app: App;
  services: Services;
  store: OpenedDb;
  bus: EventBus;
  /** The other instances sharing this database and Redis; a LocalLink without REDIS_URL. */
  cluster: ClusterLink;
  /** The instance lease and the sweep of dead instances' calls; null without REDIS_URL. */
  membership: Membership | null;
  logger: Logger;
  /** The SIP stack and the registration engine on it; null until `startSip()` (an HTTP-only server has none). */
  sipEdge: SipEdge | null;
  /** The SIP call layer on the edge; null until `startSip()`. */
  sipCalls: SipCalls | null;
  /** Live relay sessions and the brains answering in them. */
  runtime: CallRuntime;
  /** LiveKit provisioning (the inbound trunk the edge authenticates to, per-agent rules); null without LIVEKIT_* settings. */
  livekit: LiveKit | null;
  /** Set only when this start generated the platform-admin key (printed once). */
  generatedAdminKey: string | null;
  /** Starts the HTTP API only: no SIP socket is opened and no line registers. */
  listen(): Promise<{ httpUrl: string }>;
  /** Opens the SIP sockets and starts the registration engine (once; later calls give the same ports). */
  startSip(): Promise<ListeningPorts>;
  /** Stops whatever was started: the SIP edge first, while the database can still record line states. */
  close(): Promise<void>;
}

export interface ServerOverrides {
  logger?: Logger;
  clock?: WallClock;
  ids?: IdSource;
  /** Answers for every agent instead of the configured brain (benchmarks). */
  brain?: Brain;
  /** Where `livekit` calls go (tests); by default the LiveKit settings decide. */
  livekit?: LiveKitPort;
  /** The event loop's delay and utilisation the SIP edge sheds INVITEs by (tests); by default measured. */
  sipLoad?: () => { lagMs: number; busy: number };
}

/**
 * The composition root: config → store → vault → bus → services → HTTP, and the SIP edge as a
 * part of its own, built only when `startSip()` asks for it.
 */
export async function createServer(config: Config, overrides: ServerOverrides = {}): Promise<Server> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const store = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(store.db);
  const { key } = loadMasterKey(config.masterKey, config.dataDir);
  const vault = new Vault(key);
  const bus: EventBus = config.redisUrl ? new RedisBus(config.redisUrl, `${config.redisPrefix}events`) : new InProcessBus();
  const cluster: ClusterLink = config.redisUrl ? new RedisLink(config.redisUrl, config.instanceId, config.redisPrefix) : new LocalLink(config.instanceId);
  const authCache = new AuthCache();
  shareKeyCacheDrops(cluster, authCache);
  const handle = { db: store.db, kind: store.kind };
  const uow = new OutboxTransactor(handle, bus, logger);
  await uow.replay(0);
  const stopReplaying = uow.startReplaying(config.outboxReplayMs);
  const repos = createRepositories(handle);
  const services = createServices({
    vault, config, logger, uow, repos, authCache,
    clock: overrides.clock ?? systemClock,
    ids: overrides.ids ?? randomIds,
  });
  const generatedAdminKey = await services.keys.ensureAdminKey(config.adminApiKey);
  const runtime = new CallRuntime(config, { brain: overrides.brain, bus });
  serveCallControl(cluster, runtime.sessions);
  // Only in cluster mode: a lone instance has nobody to end its calls for, and nobody to tell.
  const membership = config.redisUrl ? await startMembership({
    registry: repos.instances, instanceId: config.instanceId, leaseMs: config.instanceLeaseMs,
    endOrphanedCalls: (reason, now) => services.calls.endOrphaned(reason, now), logger: logger.child({ component: 'cluster' }),
  }) : null;
  uow.onCommitted(activityLog(logger));
  const metrics = config.metrics.token || config.metrics.listen ? new Metrics({
    linesByState: () => repos.opsCounts.linesByState(),
    liveCallsByRoute: () => repos.opsCounts.liveCallsByRoute(),
    relaySessions: () => runtime.activeCalls(),
    sipCalls: () => server.sipCalls?.counts ?? null,
    pool: store.pool,
    dbKind: store.kind,
  }, (what, err) => logger.warn({ what, err: err.message }, 'metrics could not read the database')) : null;
  if (metrics) uow.onCommitted((e) => metrics.committed(e));
  let sipListening = false;
  const readiness = async (): Promise<Record<string, string>> => ({
    database: await withDeadline(repos.opsCounts.ping(), READY_DEADLINE_MS).then(() => 'ok', (err: Error & { code?: string }) => `unreachable (${err.code ?? err.message})`),
    sip: sipListening ? 'ok' : sipStarting ? 'not listening yet' : 'not started (HTTP-only server)',
  });
  const socketSlots: SocketSlots = config.redisUrl
    ? new RedisSlots(config.redisUrl, config.redisPrefix, config.instanceLeaseMs, (err) => logger.warn({ err: err.message }, 'connection slots: Redis unreachable; counting on this instance only'))
    : new LocalSlots();
  const app = await buildApp({ config, services, events: bus, logger, runtime, cluster, socketSlots, sipCalls: () => server.sipCalls, metrics, readiness });
  let metricsServer: HttpServer | null = null;
  const livekit = config.livekit
    ? startLiveKitSync(config.livekit, {
      secrets: repos.platformSecrets, vault, source: repos.livekitAgents, subscribe: (h) => bus.subscribe(h), logger,
    })
    : null;
  let sipStarting: Promise<ListeningPorts> | null = null;

  let closed = false;
  const server: Server = {
    config, app, services, store, bus, cluster, membership, logger, sipEdge: null, sipCalls: null, runtime, livekit, generatedAdminKey,
    async listen() {
      if (metrics && config.metrics.listen) metricsServer = await serveMetrics(metrics, config.metrics.listen, config.metrics.token);
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      return { httpUrl: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}` };
    },
    startSip() {
      if (closed) return Promise.reject(new Error('server is closed'));
      if (!sipStarting) {
        const trust = new TenantSources(services);
        // What makes a source trusted can change with any trunk or line; resolve again next time.
        bus.subscribe((e) => { if (e.type.startsWith('trunk.') || (e.type.startsWith('registration.') && e.type !== 'registration.state')) trust.invalidate(e.tenantId); });
        const edge = createSipEdge({
          config, registrations: services.registrations, bus, logger, leases: repos.registrationLeases,
          // Read at each lease round. A live instance renews every quarter lease, so one whose row
          // runs out within half a lease has missed two renewals: counted out of the shares already,
          // so the survivors have room for its lines when their registration leases lapse.
          ...(membership ? { instances: async () => Math.max(1, (await repos.instances.live(new Date(Date.now() + config.instanceLeaseMs / 2).toISOString())).length) } : {}),
          ...(metrics ? { onRegisterOutcome: (o: string) => metrics.registerOutcome(o) } : {}),
          ...(overrides.sipLoad ? { load: overrides.sipLoad } : {}),
          calls: (dialogs, sip) => (server.sipCalls = new SipCalls(dialogs, sip, {
            services, config, runtime, trust, logger: logger.child({ component: 'calls' }),
            auth: new TrunkDigestAuth(services, sharedNonces(repos.platformSecrets, vault, config.sip.digestNonceTtlMs), config.sip.domain, config.sip.digestNonceTtlMs),
            ...(overrides.livekit ? { livekit: overrides.livekit } : livekit ? { livekit: liveKitPort(livekit) } : {}),
          })),
        });
        server.sipEdge = edge;
        sipStarting = edge.start();
        sipStarting.then(() => { sipListening = !closed; }, () => undefined);
      }
      return sipStarting;
    },
    async close() {
      if (closed) return;
      closed = true;
      sipListening = false;
      // First, while the database is still open: de-register the lines and report their states.
      // Let a start in progress finish, so stop() sees the sockets it opened (its failure went to its caller).
      if (sipStarting) await sipStarting.catch(() => undefined);
      await server.sipEdge?.stop();
      // Relay sessions record why their calls ended while the database is still open.
      await runtime.closeAll();
      await membership?.stop();
      await livekit?.stop();
      await app.close();
      await socketSlots.close();
      if (metricsServer) await new Promise((r) => metricsServer!.close(r));
      await stopReplaying();
      await bus.close();
      await cluster.close();
      await store.db.destroy();
    },
  };
  return server;
}
