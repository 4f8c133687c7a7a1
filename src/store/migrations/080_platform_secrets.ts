import type { Kysely } from 'kysely';

/**
 * Secrets the platform itself holds, not a tenant (the digest credentials of the LiveKit inbound
 * trunk). One vault envelope per key; nothing here is ever stored in clear.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('platform_secrets')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('sealed_value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('platform_secrets').execute();
}
