import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { invalid, notFound } from './errors.js';
import { Permission, type Principal, type Scope } from './principal.js';

export type KeyKind = 'admin' | 'access' | 'login';

/** An access key as shown after creation: never with its token, only its visible prefix. */
export interface AccessKey {
  id: string;
  tenantId: string | null;
  kind: KeyKind;
  name: string;
  detail: string;
  tokenPrefix: string;
  permission: number;
  agentId: string | null;
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const LOGIN_TTL_SECONDS = 7 * 24 * 3600;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toKey(r: ApiKeyTable): AccessKey {
  return {
    id: r.id, tenantId: r.tenant_id, kind: r.kind as KeyKind, name: r.name, detail: r.detail,
    tokenPrefix: r.token_prefix, permission: r.permission, agentId: r.agent_id,
    expiresAt: r.expires_at, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/**
 * API keys and login tokens. Tokens are random, stored only as SHA-256 hashes with a short
 * visible prefix; the hash is the lookup key, and the stored hash is compared in constant time.
 */
export class KeyService {
  constructor(private readonly deps: ServiceDeps) {}

  private newToken(kind: KeyKind): string {
    const tag = kind === 'login' ? 'dtl' : kind === 'admin' ? 'dta' : 'dtk';
    return `${tag}_${randomBytes(24).toString('base64url')}`;
  }

  private async insert(row: Omit<ApiKeyTable, 'token_hash' | 'token_prefix' | 'id' | 'created_at' | 'updated_at'>, token: string): Promise<AccessKey> {
    const now = this.deps.clock.now().toISOString();
    const full: ApiKeyTable = {
      ...row,
      id: this.deps.ids.uuid(),
      token_prefix: token.slice(0, 10),
      token_hash: hashToken(token),
      created_at: now,
      updated_at: now,
    };
    await this.deps.db.insertInto('api_keys').values(full).execute();
    return toKey(full);
  }

  /** Makes sure a platform-admin key exists. Returns a freshly generated token only when it made one. */
  async ensureAdminKey(fixedToken: string | null): Promise<string | null> {
    if (fixedToken) {
      const existing = await this.deps.db.selectFrom('api_keys').select('id').where('token_hash', '=', hashToken(fixedToken)).executeTakeFirst();
      if (!existing) {
        await this.insert({ tenant_id: null, kind: 'admin', name: 'platform admin', detail: 'from ADMIN_API_KEY', permission: Permission.all, agent_id: null, expires_at: null }, fixedToken);
      }
      return null;
    }
    const any = await this.deps.db.selectFrom('api_keys').select('id').where('kind', '=', 'admin').executeTakeFirst();
    if (any) return null;
    const token = this.newToken('admin');
    await this.insert({ tenant_id: null, kind: 'admin', name: 'platform admin', detail: 'generated at first start', permission: Permission.all, agent_id: null, expires_at: null }, token);
    return token;
  }

  /** Resolves a presented token to a principal; `accountId` is X-Account-ID (honoured for the admin only). */
  async authenticate(token: string, accountId: string | null): Promise<Principal | null> {
    if (!token || token.length > 512) return null;
    const digest = hashToken(token);
    const row = await this.deps.db.selectFrom('api_keys').selectAll().where('token_hash', '=', digest).executeTakeFirst();
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(digest, 'hex'))) return null;
    if (row.expires_at && row.expires_at <= this.deps.clock.now().toISOString()) return null;
    const isAdmin = row.kind === 'admin';
    return {
      keyId: row.id,
      kind: row.kind as KeyKind,
      tenantId: isAdmin ? accountId : row.tenant_id,
      isPlatformAdmin: isAdmin,
      permission: row.permission,
      agentId: row.agent_id,
    };
  }

  /** A tenant access key; `expireSeconds` of 0 or absent means it never expires. */
  async mintAccessKey(scope: Scope, input: { name: string; detail: string; expireSeconds?: number }): Promise<{ key: AccessKey; token: string }> {
    if (input.expireSeconds !== undefined && (!Number.isInteger(input.expireSeconds) || input.expireSeconds < 0)) {
      throw invalid('expire', 'expire must be a non-negative number of seconds');
    }
    const token = this.newToken('access');
    const expiresAt = input.expireSeconds
      ? new Date(this.deps.clock.now().getTime() + input.expireSeconds * 1000).toISOString()
      : null;
    const key = await this.insert({ tenant_id: scope.tenantId, kind: 'access', name: input.name, detail: input.detail, permission: Permission.all, agent_id: null, expires_at: expiresAt }, token);
    return { key, token };
  }

  async mintLoginToken(scope: Scope, agentId: string, permission: number, username: string): Promise<string> {
    const token = this.newToken('login');
    const expiresAt = new Date(this.deps.clock.now().getTime() + LOGIN_TTL_SECONDS * 1000).toISOString();
    await this.insert({ tenant_id: scope.tenantId, kind: 'login', name: `login ${username}`, detail: '', permission, agent_id: agentId, expires_at: expiresAt }, token);
    return token;
  }

  async listAccessKeys(scope: Scope, page: { pageSize: number; pageToken?: string }): Promise<AccessKey[]> {
    let q = this.deps.db.selectFrom('api_keys').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('kind', '=', 'access')
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.pageSize);
    if (page.pageToken) q = q.where('created_at', '<', page.pageToken);
    return (await q.execute()).map(toKey);
  }

  async getAccessKey(scope: Scope, id: string): Promise<AccessKey> {
    const row = await this.deps.db.selectFrom('api_keys').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('kind', '=', 'access').where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('access key');
    return toKey(row);
  }

  async updateAccessKey(scope: Scope, id: string, patch: { name?: string; detail?: string }): Promise<AccessKey> {
    await this.getAccessKey(scope, id);
    await this.deps.db.updateTable('api_keys')
      .set({ ...(patch.name !== undefined && { name: patch.name }), ...(patch.detail !== undefined && { detail: patch.detail }), updated_at: this.deps.clock.now().toISOString() })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    return this.getAccessKey(scope, id);
  }

  async deleteAccessKey(scope: Scope, id: string): Promise<AccessKey> {
    const key = await this.getAccessKey(scope, id);
    await this.deps.db.deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    return key;
  }

  /** Tokens of an agent stop working when the agent goes away or changes password. */
  async revokeAgentTokens(scope: Scope, agentId: string): Promise<void> {
    await this.deps.db.deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
  }
}
