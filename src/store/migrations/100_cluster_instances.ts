import type { Kysely } from 'kysely';

/**
 * Cluster mode: the instances alive now (each renews its row; one whose `expires_at` passed is
 * gone), and which instance holds each live call, so the others can end a dead one's calls.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('calls').addColumn('owner_instance', 'text').execute();
  await db.schema.createIndex('calls_owner_live').on('calls').columns(['owner_instance', 'status']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('calls_owner_live').execute();
  await db.schema.alterTable('calls').dropColumn('owner_instance').execute();
  await db.schema.dropTable('instances').execute();
}
