import type { InstanceRegistry } from '../../cluster/membership.js';
import type { StoreHandle } from '../transactions.js';

/** The `instances` table: one row per live instance, renewed while it lives. */
export class SqlInstances implements InstanceRegistry {
  constructor(private readonly store: StoreHandle) {}

  async renew(id: string, startedAt: string, expiresAt: string): Promise<void> {
    await this.store.db.insertInto('instances').values({ id, started_at: startedAt, expires_at: expiresAt })
      .onConflict((oc) => oc.column('id').doUpdateSet({ expires_at: expiresAt })).execute();
  }

  async remove(id: string): Promise<void> {
    await this.store.db.deleteFrom('instances').where('id', '=', id).execute();
  }

  async live(now: string): Promise<string[]> {
    const rows = await this.store.db.selectFrom('instances').select('id').where('expires_at', '>', now).orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  async forgetExpired(before: string): Promise<void> {
    await this.store.db.deleteFrom('instances').where('expires_at', '<', before).execute();
  }
}
