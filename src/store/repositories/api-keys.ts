import type { AccessKey, AccessKeyChanges, ApiKeyRepository, KeyCredential, KeyKind, StoredKey } from '../../domain/keys.js';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { ApiKeyTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';

function toKey(r: ApiKeyTable): AccessKey {
  return {
    id: r.id, tenantId: r.tenant_id, kind: r.kind as KeyKind, name: r.name, detail: r.detail,
    tokenPrefix: r.token_prefix, permission: r.permission, agentId: r.agent_id,
    expiresAt: r.expires_at, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** The `api_keys` table: platform-admin keys, tenant access keys and agents' login tokens. */
export class SqlApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, k: StoredKey): Promise<void> {
    await on(this.store, tx).insertInto('api_keys').values({
      id: k.id, tenant_id: k.tenantId, kind: k.kind, name: k.name, detail: k.detail, token_prefix: k.tokenPrefix,
      token_hash: k.tokenHash, permission: k.permission, agent_id: k.agentId, expires_at: k.expiresAt,
      created_at: k.createdAt, updated_at: k.updatedAt,
    }).execute();
  }

  async findByDigest(digest: string): Promise<KeyCredential | null> {
    const r = await this.store.db.selectFrom('api_keys')
      .select(['id', 'kind', 'tenant_id', 'permission', 'agent_id', 'expires_at', 'token_hash'])
      .where('token_hash', '=', digest).executeTakeFirst();
    return r
      ? { id: r.id, kind: r.kind as KeyKind, tenantId: r.tenant_id, permission: r.permission, agentId: r.agent_id, expiresAt: r.expires_at, tokenHash: r.token_hash }
      : null;
  }

  async hasAdmin(): Promise<boolean> {
    return !!(await this.store.db.selectFrom('api_keys').select('id').where('kind', '=', 'admin').executeTakeFirst());
  }

  async listAccessNewestFirst(scope: Scope, opts: { before?: string; limit: number }): Promise<AccessKey[]> {
    let q = this.store.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', scope.tenantId).where('kind', '=', 'access');
    if (opts.before) q = q.where('created_at', '<', opts.before);
    return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute()).map(toKey);
  }

  async getAccess(scope: Scope, id: string): Promise<AccessKey | null> {
    const row = await this.store.db.selectFrom('api_keys').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('kind', '=', 'access').where('id', '=', id).executeTakeFirst();
    return row ? toKey(row) : null;
  }

  async updateAccess(scope: Scope, id: string, changes: AccessKeyChanges): Promise<void> {
    await this.store.db.updateTable('api_keys').set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.detail !== undefined && { detail: changes.detail }),
      updated_at: changes.updatedAt,
    }).where('tenant_id', '=', scope.tenantId).where('kind', '=', 'access').where('id', '=', id).execute();
  }

  async delete(scope: Scope, id: string): Promise<void> {
    await this.store.db.deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async deleteForAgent(tx: Tx | undefined, scope: Scope, agentId: string): Promise<void> {
    await on(this.store, tx).deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
  }
}
