import type { OffsetWindow } from '../../domain/paging.js';
import type { Scope } from '../../domain/principal.js';
import type { StoredTrunk, TrunkRepository, TrunkType } from '../../domain/trunks.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { TrunkTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';

function toTrunk(r: TrunkTable): StoredTrunk {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    address: r.address,
    numbers: JSON.parse(r.numbers) as string[],
    authUsername: r.auth_username,
    sealedPassword: r.sealed_password,
    type: r.type as TrunkType,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The `trunks` table: its only writer. */
export class SqlTrunkRepository implements TrunkRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, t: StoredTrunk): Promise<void> {
    await on(this.store, tx).insertInto('trunks').values({
      id: t.id, tenant_id: t.tenantId, name: t.name, address: t.address, numbers: JSON.stringify(t.numbers),
      auth_username: t.authUsername, sealed_password: t.sealedPassword, type: t.type, created_at: t.createdAt, updated_at: t.updatedAt,
    }).execute();
  }

  async get(scope: Scope, id: string): Promise<StoredTrunk | null> {
    const row = await this.store.db.selectFrom('trunks').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toTrunk(row) : null;
  }

  async list(scope: Scope, window?: OffsetWindow): Promise<StoredTrunk[]> {
    let q = this.store.db.selectFrom('trunks').selectAll().where('tenant_id', '=', scope.tenantId)
      .orderBy('created_at', 'desc').orderBy('id', 'desc');
    if (window) q = q.limit(window.limit + 1).offset(window.offset);
    return (await q.execute()).map(toTrunk);
  }

  async tenantsWithNumber(e164: string): Promise<string[]> {
    // Numbers are a JSON array of E.164 text; the quoted form cannot match a longer number.
    const rows = await this.store.db.selectFrom('trunks').select('tenant_id')
      .where('numbers', 'like', `%${JSON.stringify(e164)}%`).execute();
    return [...new Set(rows.map((r) => r.tenant_id))];
  }

  async delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void> {
    await on(this.store, tx).deleteFrom('trunks').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }
}
