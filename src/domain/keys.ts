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

/** The digest a token is stored and looked up by (also what the rate limiter counts by). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * How long a resolved key is trusted without reading `api_keys` again. Deleting a key through this
 * process takes effect at once (the entry is dropped); a deletion made by another instance is
 * honoured here within this window (docs/decisions.md). Expiry is still checked on every request.
 */
const AUTH_CACHE_TTL_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

/** What authentication needs of an `api_keys` row. */
type KeyRow = Pick<ApiKeyTable, 'id' | 'kind' | 'tenant_id' | 'permission' | 'agent_id' | 'expires_at'>;

/**
 * Digest → key row for access and admin keys, shared by every KeyService over the same database
 * (several services hold their own KeyService). Login tokens are not cached: they are revoked by
 * agent changes made in other services' transactions, which must take effect at once.
 * Only found keys are cached, so a key minted on another instance works immediately.
 */
class AuthCache {
  private readonly entries = new Map<string, { row: KeyRow; until: number }>();

  get(digest: string): KeyRow | undefined {
    const e = this.entries.get(digest);
    if (!e) return undefined;
    if (e.until > performance.now()) return e.row;
    this.entries.delete(digest);
    return undefined;
  }

  set(digest: string, row: KeyRow): void {
    if (row.kind === 'login') return;
    // Oldest first out: Map keeps insertion order.
    if (this.entries.size >= AUTH_CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(digest, { row, until: performance.now() + AUTH_CACHE_TTL_MS });
  }

  dropKey(keyId: string): void {
    for (const [digest, e] of this.entries) if (e.row.id === keyId) this.entries.delete(digest);
  }
}

const authCaches = new WeakMap<object, AuthCache>();
function authCacheFor(db: object): AuthCache {
  let cache = authCaches.get(db);
  if (!cache) authCaches.set(db, (cache = new AuthCache()));
  return cache;
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
  private readonly cache: AuthCache;

  constructor(private readonly deps: ServiceDeps) {
    this.cache = authCacheFor(deps.db);
  }

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

  /**
   * Resolves a presented token to a principal; `accountId` is X-Account-ID (honoured for the admin
   * only). `digest` is `hashToken(token)` when the caller already computed it for this request.
   */
  async authenticate(token: string, accountId: string | null, digest = token.length > 512 ? '' : hashToken(token)): Promise<Principal | null> {
    if (!token || token.length > 512) return null;
    let row: KeyRow | undefined = this.cache.get(digest);
    if (!row) {
      const found = await this.deps.db.selectFrom('api_keys')
        .select(['id', 'kind', 'tenant_id', 'permission', 'agent_id', 'expires_at', 'token_hash'])
        .where('token_hash', '=', digest).executeTakeFirst();
      if (!found || !timingSafeEqual(Buffer.from(found.token_hash, 'hex'), Buffer.from(digest, 'hex'))) return null;
      row = found;
      this.cache.set(digest, { id: found.id, kind: found.kind, tenant_id: found.tenant_id, permission: found.permission, agent_id: found.agent_id, expires_at: found.expires_at });
    }
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
    this.cache.dropKey(id);
    return key;
  }

  /** Tokens of an agent stop working when the agent goes away or changes password. */
  async revokeAgentTokens(scope: Scope, agentId: string): Promise<void> {
    await this.deps.db.deleteFrom('api_keys').where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
  }
}
