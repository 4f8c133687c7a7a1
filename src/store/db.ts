import { mkdirSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type DbKind = 'sqlite' | 'postgres';

export interface OpenedDb {
  db: Db;
  kind: DbKind;
  /** Files that hold the data (SQLite only), for at-rest checks. */
  files: string[];
}

// PostgreSQL returns COUNT/SUM over integers as strings (int8/numeric); parse them so both
// dialects hand services plain numbers.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

export function openDatabase(opts: { databaseUrl: string | null; dataDir: string }): OpenedDb {
  if (opts.databaseUrl && /^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle connection the server drops (restart, admin termination) is discarded by the pool
    // and the next query reconnects; without a listener the event would crash the process.
    pool.on('error', () => {});
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'postgres', files: [] };
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = join(opts.dataDir, 'dialtone.sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  cacheStatements(sqlite);
  return {
    db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }),
    kind: 'sqlite',
    files: [file, `${file}-wal`, `${file}-shm`],
  };
}

/**
 * Kysely asks better-sqlite3 to prepare every query anew, and preparing was ~14 % of CPU in the
 * HTTP benchmark. Queries are built from a small set of shapes, so reuse prepared statements by
 * SQL text; a statement still being iterated (busy) is never handed out twice.
 */
function cacheStatements(sqlite: SQLite.Database, max = 1000): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SQLite.Statement>();
  sqlite.prepare = ((source: string) => {
    const cached = cache.get(source);
    if (cached && !cached.busy) return cached;
    const stmt = prepare(source);
    if (!cached) {
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof sqlite.prepare;
}

/** Loads every NNN_name.ts file next to this one, in name order. */
class FolderMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
    const out: Record<string, Migration> = {};
    for (const f of readdirSync(dir).filter((n) => /^\d+_.*\.(ts|js)$/.test(n)).sort()) {
      out[f.replace(/\.(ts|js)$/, '')] = await import(pathToFileURL(join(dir, f)).href);
    }
    return out;
  }
}

export async function migrate(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: new FolderMigrations() }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  }
}
