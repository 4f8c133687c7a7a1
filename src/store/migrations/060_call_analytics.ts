import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Analytics over a year of a busy tenant would read every call row on each request. The
 * database keeps two running totals instead, updated by triggers on `calls` in the same
 * transaction as the call (so nothing written through any path is missed):
 *   call_hourly_totals       per tenant, UTC hour ('YYYY-MM-DDTHH') and status
 *   call_agent_daily_totals  per tenant, UTC day and agent
 * Services read these for whole hours/days and the `calls` table only for the partial day at
 * the start of a period. The per-agent view reads `calls` through the two covering indexes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

  await db.schema.createTable('call_hourly_totals')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('hour', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('calls', 'integer', (c) => c.notNull())
    .addColumn('seconds', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('call_hourly_totals_pk', ['tenant_id', 'hour', 'status'])
    .execute();
  await db.schema.createTable('call_agent_daily_totals')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('calls', 'integer', (c) => c.notNull())
    .addColumn('seconds', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('call_agent_daily_totals_pk', ['tenant_id', 'day', 'agent_id'])
    .execute();

  await sql`INSERT INTO call_hourly_totals (tenant_id, hour, status, calls, seconds)
    SELECT tenant_id, substr(started_at, 1, 13), status, count(*), sum(coalesce(duration_seconds, 0))
    FROM calls GROUP BY tenant_id, substr(started_at, 1, 13), status`.execute(db);
  await sql`INSERT INTO call_agent_daily_totals (tenant_id, day, agent_id, calls, seconds)
    SELECT tenant_id, substr(started_at, 1, 10), agent_id, count(*), sum(coalesce(duration_seconds, 0))
    FROM calls WHERE agent_id IS NOT NULL GROUP BY tenant_id, substr(started_at, 1, 10), agent_id`.execute(db);

  // The same four statements in both dialects; only the trigger wrapping differs.
  const remove = (r: 'OLD') => `
    UPDATE call_hourly_totals SET calls = calls - 1, seconds = seconds - coalesce(${r}.duration_seconds, 0)
      WHERE tenant_id = ${r}.tenant_id AND hour = substr(${r}.started_at, 1, 13) AND status = ${r}.status;
    UPDATE call_agent_daily_totals SET calls = calls - 1, seconds = seconds - coalesce(${r}.duration_seconds, 0)
      WHERE tenant_id = ${r}.tenant_id AND day = substr(${r}.started_at, 1, 10) AND agent_id = ${r}.agent_id;`;
  const add = (r: 'NEW') => `
    INSERT INTO call_hourly_totals (tenant_id, hour, status, calls, seconds)
      VALUES (${r}.tenant_id, substr(${r}.started_at, 1, 13), ${r}.status, 1, coalesce(${r}.duration_seconds, 0))
      ON CONFLICT (tenant_id, hour, status) DO UPDATE
      SET calls = call_hourly_totals.calls + 1, seconds = call_hourly_totals.seconds + excluded.seconds;
    INSERT INTO call_agent_daily_totals (tenant_id, day, agent_id, calls, seconds)
      SELECT ${r}.tenant_id, substr(${r}.started_at, 1, 10), ${r}.agent_id, 1, coalesce(${r}.duration_seconds, 0)
      WHERE ${r}.agent_id IS NOT NULL
      ON CONFLICT (tenant_id, day, agent_id) DO UPDATE
      SET calls = call_agent_daily_totals.calls + 1, seconds = call_agent_daily_totals.seconds + excluded.seconds;`;
  const watched = 'tenant_id, agent_id, started_at, status, duration_seconds';

  if (postgres) {
    await sql.raw(`CREATE FUNCTION calls_keep_totals() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN ${remove('OLD')} END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN ${add('NEW')} END IF;
        RETURN NULL;
      END $$`).execute(db);
    await sql.raw(`CREATE TRIGGER calls_keep_totals AFTER INSERT OR DELETE OR UPDATE OF ${watched} ON calls
      FOR EACH ROW EXECUTE FUNCTION calls_keep_totals()`).execute(db);
  } else {
    await sql.raw(`CREATE TRIGGER calls_totals_insert AFTER INSERT ON calls BEGIN ${add('NEW')} END`).execute(db);
    await sql.raw(`CREATE TRIGGER calls_totals_update AFTER UPDATE OF ${watched} ON calls BEGIN ${remove('OLD')} ${add('NEW')} END`).execute(db);
    await sql.raw(`CREATE TRIGGER calls_totals_delete AFTER DELETE ON calls BEGIN ${remove('OLD')} END`).execute(db);
  }

  // The per-agent view: hour-of-day and status buckets, and a date range, both read from the index alone.
  await sql`CREATE INDEX calls_tenant_agent_hour_status ON calls (tenant_id, agent_id, (substr(started_at, 12, 2)), status, started_at, duration_seconds)`.execute(db);
  await db.schema.createIndex('calls_tenant_agent_started_totals').on('calls')
    .columns(['tenant_id', 'agent_id', 'started_at', 'status', 'duration_seconds']).execute();
  await db.schema.dropIndex('calls_tenant_agent_started').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.createIndex('calls_tenant_agent_started').on('calls').columns(['tenant_id', 'agent_id', 'started_at']).execute();
  await db.schema.dropIndex('calls_tenant_agent_started_totals').execute();
  await db.schema.dropIndex('calls_tenant_agent_hour_status').execute();
  if (postgres) {
    await sql`DROP TRIGGER IF EXISTS calls_keep_totals ON calls`.execute(db);
    await sql`DROP FUNCTION IF EXISTS calls_keep_totals()`.execute(db);
  } else {
    for (const t of ['calls_totals_insert', 'calls_totals_update', 'calls_totals_delete']) await sql.raw(`DROP TRIGGER IF EXISTS ${t}`).execute(db);
  }
  await db.schema.dropTable('call_agent_daily_totals').ifExists().execute();
  await db.schema.dropTable('call_hourly_totals').ifExists().execute();
}
