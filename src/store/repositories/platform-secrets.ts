import type { PlatformSecretRepository } from '../../domain/platform-secrets.js';
import type { StoreHandle } from '../transactions.js';

/** The `platform_secrets` table: its only writer. */
export class SqlPlatformSecretRepository implements PlatformSecretRepository {
  constructor(private readonly store: StoreHandle) {}

  async get(key: string): Promise<string | null> {
    const row = await this.store.db.selectFrom('platform_secrets').select('sealed_value').where('key', '=', key).executeTakeFirst();
    return row?.sealed_value ?? null;
  }

  async putIfAbsent(key: string, sealedValue: string, at: string): Promise<string> {
    await this.store.db.insertInto('platform_secrets').values({ key, sealed_value: sealedValue, created_at: at })
      .onConflict((oc) => oc.column('key').doNothing()).execute();
    const stored = await this.get(key);
    if (stored === null) throw new Error(`platform secret ${key} vanished right after it was written`);
    return stored;
  }
}
