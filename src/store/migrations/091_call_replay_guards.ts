import type { Kysely } from 'kysely';

/**
 * What a call has already accepted from the carrier, so a captured request replayed later is
 * refused: the highest status-callback sequence number applied, and when its one relay session
 * opened. Apart from `calls` because only carrier-driven calls have it; gone with the call.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('call_replay_guards')
    .addColumn('call_sid', 'text', (c) => c.primaryKey().references('calls.call_sid').onDelete('cascade'))
    .addColumn('last_sequence', 'integer')
    .addColumn('relay_opened_at', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('call_replay_guards').ifExists().execute();
}
