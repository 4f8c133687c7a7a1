import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type Server, type ServerOverrides } from '../../src/server.js';

export type TestDb = 'sqlite' | 'postgres';

/** Every HTTP suite runs on both databases; DIALTONE_TEST_DBS=sqlite narrows it while developing. */
export function testDbs(): TestDb[] {
  const only = process.env.DIALTONE_TEST_DBS;
  return only ? (only.split(',') as TestDb[]) : ['sqlite', 'postgres'];
}

const PG_ADMIN_URL = process.env.DIALTONE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `dialtone_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as `Authorization: Bearer`; pass null for no credential. */
  key?: string | null;
  accountId?: string;
  headers?: Record<string, string>;
  rawBody?: string;
}

export interface TestServer {
  url: string;
  adminKey: string;
  server: Server;
  config: Config;
  db: TestDb;
  dataDir: string;
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<Reply<T>>;
  /** A fresh tenant and a tenant-scoped access key for it. */
  newTenant(input?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  config?: (c: Config) => void;
  overrides?: ServerOverrides;
  /** A PostgreSQL database another test server already uses (instances of one cluster); not dropped on close. */
  databaseUrl?: string;
  /** Also start the SIP edge (sockets and registration engine); HTTP suites run without it. */
  sip?: boolean;
}

export async function startTestServer(db: TestDb, opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-test-'));
  const pgDb = db === 'postgres' && !opts.databaseUrl ? await createPgDatabase() : null;
  const adminKey = `admin-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({});
  config.port = 0;
  config.host = '127.0.0.1';
  config.dataDir = dataDir;
  config.databaseUrl = opts.databaseUrl ?? pgDb?.url ?? null;
  config.adminApiKey = adminKey;
  config.masterKey = randomBytes(32).toString('base64');
  config.rateLimit = { perHour: 1_000_000, perMinute: 1_000_000 };
  config.throttle = { ...config.throttle, loginsPerUsername: 1_000_000, badCredentialsPerMinute: 1_000_000 };
  config.sip.port = 0;
  config.sip.host = '127.0.0.1';
  config.sip.publicHost = '127.0.0.1';
  config.sip.allowPrivateTargets = true;
  // Tests are not load: a busy CI machine must not get INVITEs shed by event-loop lag or
  // utilisation (the overload tests inject their own and set the bounds).
  config.sip.overload = { ...config.sip.overload, lagMs: 0, busyPercent: 0 };
  config.logLevel = process.env.DIALTONE_TEST_LOG ?? 'silent';
  opts.config?.(config);
  const server = await createServer(config, { logger: pino({ level: config.logLevel }), ...opts.overrides });
  const { httpUrl } = await server.listen();
  if (opts.sip) await server.startSip();
  config.publicUrl = httpUrl;

  const request = async <T,>(method: string, path: string, o: RequestOptions = {}): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    const key = o.key === undefined ? adminKey : o.key;
    if (key) headers.authorization = `Bearer ${key}`;
    if (o.accountId) headers['x-account-id'] = o.accountId;
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(httpUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* plain-text bodies stay text */ }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  };

  return {
    url: httpUrl, adminKey, server, config, db, dataDir, request,
    async newTenant(input = {}) {
      // Made through the services so every dialect's suite can start without depending on another's routes.
      const t = await server.services.tenants.create({ name: `tenant ${randomBytes(3).toString('hex')}`, ...input } as never);
      const { token } = await server.services.keys.mintAccessKey({ tenantId: t.id }, { name: 'test', detail: 'test key' });
      return { id: t.id, key: token };
    },
    async close() {
      await server.close();
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
