import type { Kysely } from 'kysely';

/**
 * SIP calls share the calls table with Twilio calls: these say how a call was carried (its
 * handler, the line or trunk it used) and the SIP status that ended it. Null on Twilio calls.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('calls').addColumn('handler', 'text').execute();
  await db.schema.alterTable('calls').addColumn('line_id', 'text').execute();
  await db.schema.alterTable('calls').addColumn('trunk_id', 'text').execute();
  await db.schema.alterTable('calls').addColumn('sip_status', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const c of ['sip_status', 'trunk_id', 'line_id', 'handler']) await db.schema.alterTable('calls').dropColumn(c).execute();
}
