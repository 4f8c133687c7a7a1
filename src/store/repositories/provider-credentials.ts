import type { Provider, ProviderCredentialRepository, StoredCredential } from '../../domain/credentials.js';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { ProviderCredentialTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';
import { isForeignKeyViolation } from '../violations.js';

function toCredential(r: ProviderCredentialTable): StoredCredential {
  return {
    id: r.id, tenantId: r.tenant_id, provider: r.provider as Provider, label: r.label,
    sealedCredentials: r.sealed_credentials, accountRef: r.account_ref, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** The `provider_credentials` table: its only writer. */
export class SqlProviderCredentialRepository implements ProviderCredentialRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, c: StoredCredential): Promise<void> {
    await on(this.store, tx).insertInto('provider_credentials').values({
      id: c.id, tenant_id: c.tenantId, provider: c.provider, label: c.label, sealed_credentials: c.sealedCredentials,
      account_ref: c.accountRef, created_at: c.createdAt, updated_at: c.updatedAt,
    }).execute();
  }

  async get(scope: Scope, id: string): Promise<StoredCredential | null> {
    const row = await this.store.db.selectFrom('provider_credentials').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toCredential(row) : null;
  }

  async list(scope: Scope): Promise<StoredCredential[]> {
    const rows = await this.store.db.selectFrom('provider_credentials').selectAll()
      .where('tenant_id', '=', scope.tenantId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toCredential);
  }

  async findByAccountRef(provider: Provider, accountRef: string): Promise<StoredCredential[]> {
    const rows = await this.store.db.selectFrom('provider_credentials').selectAll()
      .where('provider', '=', provider).where('account_ref', '=', accountRef)
      .orderBy('created_at').orderBy('id').execute();
    return rows.map(toCredential);
  }

  async deleteUnlessUsed(tx: Tx, scope: Scope, id: string): Promise<boolean> {
    const db = on(this.store, tx);
    const { n } = await db.selectFrom('phone_numbers').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', scope.tenantId).where('credentials_id', '=', id).executeTakeFirstOrThrow();
    if (Number(n) > 0) return false;
    try {
      await db.deleteFrom('provider_credentials').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    } catch (err) {
      // The foreign key catches a number attached between the count and the delete.
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
    return true;
  }
}
