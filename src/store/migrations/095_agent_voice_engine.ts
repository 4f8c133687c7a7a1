import type { Kysely } from 'kysely';

/** An AI agent may pick its own speech engine for calls Dialtone answers; null follows VOICE_ENGINE. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('voice_engine', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('voice_engine').execute();
}
