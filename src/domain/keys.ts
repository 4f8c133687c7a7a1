import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { notFound, invalid } from './errors.js';
import type { WallClock, IdSource } from './ids.js';
import { Permission, type Principal, type Scope } from './principal.js';
import type { Tx } from './unit-of-work.js';

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

/** A key as stored: the shown fields and the digest its token is looked up by. */
export interface StoredKey extends AccessKey {
  tokenHash: string;
}

/** What authentication needs of a stored key. */
export type KeyCredential = Pick<StoredKey, 'id' | 'kind' | 'tenantId' | 'permission' | 'agentId' | 'expiresAt' | 'tokenHash'>;

export interface AccessKeyChanges {
  name?: string;
  detail?: string;
  updatedAt: string;
}

/** Where keys and login tokens are kept; the only writer of the api_keys table. */
export interface ApiKeyRepository {
  insert(tx: Tx | undefined, key: StoredKey): Promise<void>;
  findByDigest(digest: string): Promise<KeyCredential | null>;
  /** Whether any platform-admin key exists. */
  hasAdmin(): Promise<boolean>;
  listAccessNewestFirst(scope: Scope, opts: { before?: string; limit: number }): Promise<AccessKey[]>;
  getAccess(scope: Scope, id: string): Promise<AccessKey | null>;
  updateAccess(scope: Scope, id: string, changes: AccessKeyChanges): Promise<void>;
  delete(scope: Scope, id: string): Promise<void>;
  /** Every key acting as the agent (its login tokens). */
  deleteForAgent(tx: Tx | undefined, scope: Scope, agentId: string): Promise<void>;
}

const LOGIN_TTL_SECONDS = 7 * 24 * 3600;

/** The digest a token is stored and looked up by (also what the rate limiter counts by). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * How long a resolved key is trusted without reading `api_keys` again. Deleting a key through this
 * process takes effect at once (the entry is dropped); a deletion made by another instance is
 * honoured here within this window (docs/decisions.md), or at once in cluster mode, where drops are
 * announced over Redis. Expiry is still checked on every request.
 */
const AUTH_CACHE_TTL_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

/**
 * Digest → credential for access and admin keys; one per process, made in createServices and held
 * by its KeyService. Login tokens are not cached: they are revoked by agent changes made in other
 * services' transactions, which must take effect at once. Only found keys are cached, so a key
 * minted on another instance works immediately.
 */
export type CacheDrop = { keyId: string } | { tenantId: string };

export class AuthCache {
  private readonly entries = new Map<string, { key: KeyCredential; until: number }>();

  constructor(private readonly ttlMs = AUTH_CACHE_TTL_MS, private readonly max = AUTH_CACHE_MAX) {}

  get(digest: string): KeyCredential | undefined {
    const e = this.entries.get(digest);
    if (!e) return undefined;
    if (e.until > performance.now()) return e.key;
    this.entries.delete(digest);
    return undefined;
  }

  set(digest: string, key: KeyCredential): void {
    if (key.kind === 'login') return;
    // Oldest first out: Map keeps insertion order.
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(digest, { key, until: performance.now() + this.ttlMs });
  }

  /** Told of every drop made here, so other instances can drop the same entries (cluster mode). */
  announce: (drop: CacheDrop) => void = () => undefined;

  dropKey(keyId: string): void {
    this.evict({ keyId });
    this.announce({ keyId });
  }

  dropTenant(tenantId: string): void {
    this.evict({ tenantId });
    this.announce({ tenantId });
  }

  /** Drops entries without announcing it: for a drop another instance announced. */
  evict(drop: CacheDrop): void {
    for (const [digest, e] of this.entries) {
      if ('keyId' in drop ? e.key.id === drop.keyId : e.key.tenantId === drop.tenantId) this.entries.delete(digest);
    }
  }
}

export interface KeyServiceDeps {
  keys: ApiKeyRepository;
  authCache: AuthCache;
  clock: WallClock;
  ids: IdSource;
}

/** The fields a caller decides when a key is made; the rest are generated. */
type KeyGrant = Pick<AccessKey, 'tenantId' | 'kind' | 'name' | 'detail' | 'permission' | 'agentId' | 'expiresAt'>;

/**
 * API keys and login tokens. Tokens are random, stored only as SHA-256 hashes with a short
 * visible prefix; the hash is the lookup key, and the stored hash is compared in constant time.
 */
export class KeyService {
  constructor(private readonly deps: KeyServiceDeps) {}

  private newToken(kind: KeyKind): string {
    const tag = kind === 'login' ? 'dtl' : kind === 'admin' ? 'dta' : 'dtk';
    return `${tag}_${randomBytes(24).toString('base64url')}`;
  }

  private async insert(grant: KeyGrant, token: string): Promise<AccessKey> {
    const now = this.deps.clock.now().toISOString();
    const key: AccessKey = { ...grant, id: this.deps.ids.uuid(), tokenPrefix: token.slice(0, 10), createdAt: now, updatedAt: now };
    await this.deps.keys.insert(undefined, { ...key, tokenHash: hashToken(token) });
    return key;
  }

  /** Makes sure a platform-admin key exists. Returns a freshly generated token only when it made one. */
  async ensureAdminKey(fixedToken: string | null): Promise<string | null> {
    if (fixedToken) {
      if (!(await this.deps.keys.findByDigest(hashToken(fixedToken)))) {
        await this.insert({ tenantId: null, kind: 'admin', name: 'platform admin', detail: 'from ADMIN_API_KEY', permission: Permission.all, agentId: null, expiresAt: null }, fixedToken);
      }
      return null;
    }
    if (await this.deps.keys.hasAdmin()) return null;
    const token = this.newToken('admin');
    await this.insert({ tenantId: null, kind: 'admin', name: 'platform admin', detail: 'generated at first start', permission: Permission.all, agentId: null, expiresAt: null }, token);
    return token;
  }

  /**
   * Resolves a presented token to a principal; `accountId` is X-Account-ID (honoured for the admin
   * only). `digest` is `hashToken(token)` when the caller already computed it for this request.
   */
  async authenticate(token: string, accountId: string | null, digest = token.length > 512 ? '' : hashToken(token)): Promise<Principal | null> {
    if (!token || token.length > 512) return null;
    let key = this.deps.authCache.get(digest);
    if (!key) {
      const found = await this.deps.keys.findByDigest(digest);
      if (!found || !timingSafeEqual(Buffer.from(found.tokenHash, 'hex'), Buffer.from(digest, 'hex'))) return null;
      key = found;
      this.deps.authCache.set(digest, found);
    }
    if (key.expiresAt && key.expiresAt <= this.deps.clock.now().toISOString()) return null;
    const isAdmin = key.kind === 'admin';
    return {
      keyId: key.id,
      kind: key.kind,
      tenantId: isAdmin ? accountId : key.tenantId,
      isPlatformAdmin: isAdmin,
      permission: key.permission,
      agentId: key.agentId,
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
    const key = await this.insert({ tenantId: scope.tenantId, kind: 'access', name: input.name, detail: input.detail, permission: Permission.all, agentId: null, expiresAt }, token);
    return { key, token };
  }

  async mintLoginToken(scope: Scope, agentId: string, permission: number, username: string): Promise<string> {
    const token = this.newToken('login');
    const expiresAt = new Date(this.deps.clock.now().getTime() + LOGIN_TTL_SECONDS * 1000).toISOString();
    await this.insert({ tenantId: scope.tenantId, kind: 'login', name: `login ${username}`, detail: '', permission, agentId, expiresAt }, token);
    return token;
  }

  /** `before` is the creation time the previous page ended at. */
  async listAccessKeys(scope: Scope, page: { pageSize: number; before?: string }): Promise<AccessKey[]> {
    return this.deps.keys.listAccessNewestFirst(scope, { before: page.before, limit: page.pageSize });
  }

  async getAccessKey(scope: Scope, id: string): Promise<AccessKey> {
    const key = await this.deps.keys.getAccess(scope, id);
    if (!key) throw notFound('access key');
    return key;
  }

  async updateAccessKey(scope: Scope, id: string, patch: { name?: string; detail?: string }): Promise<AccessKey> {
    await this.getAccessKey(scope, id);
    await this.deps.keys.updateAccess(scope, id, { ...patch, updatedAt: this.deps.clock.now().toISOString() });
    return this.getAccessKey(scope, id);
  }

  async deleteAccessKey(scope: Scope, id: string): Promise<AccessKey> {
    const key = await this.getAccessKey(scope, id);
    await this.deps.keys.delete(scope, id);
    this.deps.authCache.dropKey(id);
    return key;
  }

  /** Tokens of an agent stop working when the agent goes away or changes password or permission. */
  /** After the tenant's rows are gone: its keys stop working here at once (elsewhere within the cache TTL). */
  forgetTenant(tenantId: string): void {
    this.deps.authCache.dropTenant(tenantId);
  }

  async revokeAgentTokens(scope: Scope, agentId: string, tx?: Tx): Promise<void> {
    await this.deps.keys.deleteForAgent(tx, scope, agentId);
  }
}
