import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from '../../src/store/db.js';
import type { StoreHandle } from '../../src/store/transactions.js';
import { createPgDatabase, type TestDb } from './server.js';

export interface TestStore extends StoreHandle {
  /** The SQLite files (empty for PostgreSQL), for checks on what is stored at rest. */
  files: string[];
  close(): Promise<void>;
}

/** A migrated, empty database of the given kind (a temp SQLite file or a temp PostgreSQL database). */
export async function openTestStore(kind: TestDb): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-store-'));
  const pgDb = kind === 'postgres' ? await createPgDatabase() : null;
  const opened = openDatabase({ databaseUrl: pgDb?.url ?? null, dataDir });
  await migrate(opened.db);
  return {
    db: opened.db,
    kind: opened.kind,
    files: opened.files,
    async close() {
      await opened.db.destroy();
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Inserts a bare tenant row so tenant-owned rows have something to reference. */
export async function insertTenant(store: StoreHandle, id: string): Promise<void> {
  const now = new Date().toISOString();
  await store.db.insertInto('tenants').values({
    id, name: `tenant ${id}`, subdomain: null, status: 'active', max_agents: 10, max_concurrent_calls: 5,
    billing_email: null, created_at: now, updated_at: now,
  }).execute();
}
