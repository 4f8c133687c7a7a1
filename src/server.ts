import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { createServices, type Services } from './domain/services.js';
import { randomIds, systemClock, type Clock, type IdSource } from './domain/ids.js';
import { InProcessBus, RedisBus, type EventBus } from './events/bus.js';
import { buildApp, type App } from './http/app.js';
import { migrate, openDatabase, type OpenedDb } from './store/db.js';
import { Vault, loadMasterKey } from './vault/vault.js';

export interface Server {
  config: Config;
  app: App;
  services: Services;
  store: OpenedDb;
  bus: EventBus;
  logger: Logger;
  /** Set only when this start generated the platform-admin key (printed once). */
  generatedAdminKey: string | null;
  listen(): Promise<{ httpUrl: string }>;
  close(): Promise<void>;
}

export interface ServerOverrides {
  logger?: Logger;
  clock?: Clock;
  ids?: IdSource;
}

/** The composition root: config → store → vault → bus → services → edges. */
export async function createServer(config: Config, overrides: ServerOverrides = {}): Promise<Server> {
  const logger = overrides.logger ?? pino({ level: config.logLevel });
  const store = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(store.db);
  const { key } = loadMasterKey(config.masterKey, config.dataDir);
  const vault = new Vault(key);
  const bus: EventBus = config.redisUrl ? new RedisBus(config.redisUrl) : new InProcessBus();
  const services = createServices({
    db: store.db, dbKind: store.kind, vault, bus, config, logger,
    clock: overrides.clock ?? systemClock,
    ids: overrides.ids ?? randomIds,
  });
  const generatedAdminKey = await services.keys.ensureAdminKey(config.adminApiKey);
  const app = await buildApp({ config, services, logger });

  let closed = false;
  return {
    config, app, services, store, bus, logger, generatedAdminKey,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      return { httpUrl: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}` };
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await bus.close();
      await store.db.destroy();
    },
  };
}
