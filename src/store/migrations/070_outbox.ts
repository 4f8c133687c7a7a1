import type { Kysely } from 'kysely';

/**
 * The transactional outbox: a domain event is written here in the same transaction as the
 * change it describes, published after the commit and then deleted. Rows still here at start
 * were committed by a process that died before publishing them; they are published then.
 * `seq` orders them as they were written.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('event_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('event_outbox_seq').on('event_outbox').columns(['seq']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('event_outbox').execute();
}
