/**
 * A Dialtone process of its own (`node src/main.ts`) on SQLite or a fresh PostgreSQL database,
 * for tests of what runs outside the server: the generated client, the CLI. Only its own pid is
 * signalled; its data directory and database are removed on stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DialtoneProcess, freePort } from './dialtone-process.js';
import { createPgDatabase, type TestDb } from './server.js';

export interface SpawnedDialtone {
  base: string;
  adminKey: string;
  proc: DialtoneProcess;
  stop(): Promise<void>;
}

/** `sipPort` comes from the suite's own range, so suites running side by side never collide. */
export async function spawnDialtone(db: TestDb, sipPort: number, env: Record<string, string> = {}): Promise<SpawnedDialtone> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-proc-'));
  const pg = db === 'postgres' ? await createPgDatabase() : null;
  const adminKey = `admin-${randomBytes(12).toString('hex')}`;
  const httpPort = await freePort();
  const proc = new DialtoneProcess({
    PORT: String(httpPort), HOST: '127.0.0.1', DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}),
    ADMIN_API_KEY: adminKey, MASTER_KEY: randomBytes(32).toString('base64'),
    SIP_PORT: String(sipPort), SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1', ALLOW_PRIVATE_SIP_TARGETS: '1',
    LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_PER_HOUR: '10000000',
    PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    ...env,
  });
  try {
    await proc.start();
  } catch (err) {
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    base: `http://127.0.0.1:${httpPort}`, adminKey, proc,
    async stop() {
      await proc.kill('SIGTERM');
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
