import type { Kysely } from 'kysely';

/** Phony's agents carry a personality apart from their prompt; its clients read it back as sent. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('personality', 'text', (c) => c.notNull().defaultTo('')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('personality').execute();
}
