import { DomainError } from './errors.js';

/** VoIPBIN-style permission bits; access keys and the platform admin hold ALL. */
export const Permission = { none: 0, agent: 16, admin: 32, manager: 64, all: 65535 } as const;

/** Who is calling, resolved once per request from the credential. */
export interface Principal {
  keyId: string;
  kind: 'admin' | 'access' | 'login';
  /** The tenant the request acts for: the key's own, or X-Account-ID for the platform admin. */
  tenantId: string | null;
  isPlatformAdmin: boolean;
  permission: number;
  /** Set for login tokens: the agent the token acts as. */
  agentId: string | null;
}

/** Tenant scope every repository call takes. */
export interface Scope {
  tenantId: string;
}

export function scopeOf(p: Principal): Scope {
  if (!p.tenantId) {
    throw new DomainError('invalid', 'X-Account-ID header is required to act for a tenant', 'X-Account-ID');
  }
  return { tenantId: p.tenantId };
}

/**
 * Admin/manager bits (or a tenant-wide key, or the platform admin) may manage the tenant: its
 * agents, lines, trunks, numbers, credentials and calls. A plain agent (0 or 16) only itself.
 */
export function canManage(p: Principal): boolean {
  return p.isPlatformAdmin || p.kind === 'access' || (p.permission & (Permission.admin | Permission.manager)) !== 0;
}

/** Who the principal is when counting what it holds open: the agent across all its logins, else the key. */
export function holderOf(p: Principal): string {
  return p.agentId ? `agent:${p.agentId}` : `key:${p.keyId}`;
}
