import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type DbKind = 'sqlite' | 'postgres';

export interface OpenedDb {
  db: Db;
  kind: DbKind;
  /** Files that hold the data (SQLite only), for at-rest checks. */
  files: string[];
  /** PostgreSQL's connection pool, for its metrics (SQLite has one connection and no pool). */
  pool?: Pick<pg.Pool, 'totalCount' | 'idleCount' | 'waitingCount'>;
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
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'postgres', files: [], pool };
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = join(opts.dataDir, 'dialtone.sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  cacheStatements(sqlite);
  checkpointOffLoop(sqlite, file);
  return {
    db: new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) }),
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

/**
 * WAL checkpoints on a worker thread with its own connection to the file, instead of on the event
 * loop. By default SQLite checkpoints inside whichever commit takes the WAL past 1000 pages: that
 * commit copies the pages into the database file and fsyncs it while every request waits (measured
 * here: ~30 % of an average insert's time on the loop, and stalls of 10-40 ms). The worker runs
 * PASSIVE checkpoints, which never block readers or writers. Under a steady stream of writes a
 * passive checkpoint never catches up completely, so the WAL could not start over; past
 * RESTART_FRAMES the worker runs one RESTART checkpoint, which holds writers off only while it
 * copies the few frames written since the last pass and syncs. Durability is unchanged: a commit
 * is durable once it is in the WAL, as before. If the worker cannot run, the connection goes back
 * to SQLite's automatic checkpoints.
 */
const CHECKPOINT_EVERY_MS = 100;
const RESTART_FRAMES = 4096;
const CHECKPOINTER = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 1000');
setInterval(() => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    if (passive && passive.log >= workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch { /* busy (another checkpoint, a long write): the next tick tries again */ }
}, workerData.everyMs);
`;

function checkpointOffLoop(sqlite: SQLite.Database, file: string): void {
  let worker: Worker;
  try {
    worker = new Worker(CHECKPOINTER, {
      eval: true,
      execArgv: [], // plain JS: no TypeScript loader in the thread
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file, everyMs: CHECKPOINT_EVERY_MS, restartFrames: RESTART_FRAMES },
    });
  } catch {
    return;
  }
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  let closing = false;
  const fallBack = () => {
    if (!closing && sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallBack);
  worker.on('exit', fallBack);
  const close = sqlite.close.bind(sqlite);
  sqlite.close = (() => {
    closing = true;
    void worker.terminate();
    return close();
  }) as typeof sqlite.close;
}

/**
 * Transactions take SQLite's write lock when they begin (BEGIN IMMEDIATE). With the checkpoint
 * thread's second connection, a deferred transaction that read first and then wrote could find
 * its read snapshot outdated and fail at once with "database is locked" instead of waiting; an
 * immediate one waits (busy_timeout) for the lock and then sees the latest data.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /*
   * The one connection is handed out in arrival order by a queue of our own. Kysely's mutex wakes
   * every waiter on each release and all but one go back to waiting, so n queued queries cost n²
   * wake-ups: with 10,000 lines resuming at start-up that was 40 % of the CPU (profiled). The
   * parent's mutex is taken once at init and kept; this queue decides who runs.
   */
  private connection: DatabaseConnection | null = null;
  private inUse = false;
  private readonly waiting: Array<(c: DatabaseConnection) => void> = [];

  override async init(): Promise<void> {
    await super.init();
    this.connection = await super.acquireConnection();
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.inUse) {
      this.inUse = true;
      return this.connection!;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  override async releaseConnection(): Promise<void> {
    const next = this.waiting.shift();
    if (next) next(this.connection!);
    else this.inUse = false;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly cfg: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(cfg);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.cfg);
  }
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
