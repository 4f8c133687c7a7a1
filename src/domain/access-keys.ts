import { forbidden } from './errors.js';
import type { WallClock } from './ids.js';
import type { AccessKey, KeyService } from './keys.js';
import { pageByCreation, type Page } from './paging.js';
import { Permission, scopeOf, type Principal, type Scope } from './principal.js';
import { requireText } from './validate.js';

export interface AccessKeyInput {
  name?: string;
  detail?: string;
  /** Lifetime in seconds; 0 or absent never expires. */
  expireSeconds?: number;
}

/**
 * Tenant access keys as tenants manage them. A key holds every permission of its tenant, so
 * besides tenant keys and the platform admin only an agent holding admin may see or mint them;
 * a manager could otherwise mint its way to admin.
 */
export interface AccessKeyDirectoryDeps {
  keys: KeyService;
  clock: WallClock;
}

export class AccessKeyDirectory {
  private readonly keys: KeyService;

  constructor(private readonly deps: AccessKeyDirectoryDeps) {
    this.keys = deps.keys;
  }

  async list(actor: Principal, page: { pageSize: number; before?: string }): Promise<Page<AccessKey>> {
    const scope = requireKeyManager(actor);
    return pageByCreation(page.pageSize, (limit) => this.keys.listAccessKeys(scope, { pageSize: limit, before: page.before }));
  }

  /** The token is returned here only; afterwards just its prefix is known. */
  async create(actor: Principal, input: AccessKeyInput): Promise<{ key: AccessKey; token: string }> {
    const scope = requireKeyManager(actor);
    return this.keys.mintAccessKey(scope, {
      name: optionalText('name', input.name, 255),
      detail: optionalText('detail', input.detail, 2000),
      expireSeconds: input.expireSeconds,
    });
  }

  async get(actor: Principal, id: string): Promise<AccessKey> {
    return this.keys.getAccessKey(requireKeyManager(actor), id);
  }

  async update(actor: Principal, id: string, patch: { name?: string; detail?: string }): Promise<AccessKey> {
    return this.keys.updateAccessKey(requireKeyManager(actor), id, {
      ...(patch.name !== undefined && { name: optionalText('name', patch.name, 255) }),
      ...(patch.detail !== undefined && { detail: optionalText('detail', patch.detail, 2000) }),
    });
  }

  /** The key stops authenticating at once. */
  async delete(actor: Principal, id: string): Promise<AccessKey & { deletedAt: string }> {
    const key = await this.keys.deleteAccessKey(requireKeyManager(actor), id);
    return { ...key, deletedAt: this.deps.clock.now().toISOString() };
  }
}

function requireKeyManager(actor: Principal): Scope {
  const scope = scopeOf(actor);
  if (actor.kind === 'login' && (actor.permission & Permission.admin) === 0) {
    throw forbidden('managing access keys needs the admin permission');
  }
  return scope;
}

function optionalText(field: string, value: string | undefined, max: number): string {
  return value === undefined ? '' : requireText(field, value, { min: 0, max });
}
