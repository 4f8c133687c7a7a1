import type { TenantTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import { event, isUniqueViolation } from './deps.js';
import type { Principal, Scope } from './principal.js';

export type TenantStatus = 'trial' | 'active' | 'suspended';
export const TENANT_STATUSES: readonly TenantStatus[] = ['trial', 'active', 'suspended'];

export interface Tenant {
  id: string;
  name: string;
  subdomain: string | null;
  status: TenantStatus;
  billingEmail: string | null;
  limits: { maxAgents: number; maxConcurrentCalls: number };
  createdAt: string;
  updatedAt: string;
}

export interface NewTenant {
  name: string;
  subdomain?: string | null;
  maxAgents?: number;
  maxConcurrentCalls?: number;
  billingEmail?: string | null;
}

export interface TenantPatch {
  name?: string;
  status?: TenantStatus;
  maxAgents?: number;
  maxConcurrentCalls?: number;
  billingEmail?: string | null;
}

export const DEFAULT_LIMITS = { maxAgents: 10, maxConcurrentCalls: 10 };

function toTenant(r: TenantTable): Tenant {
  return {
    id: r.id,
    name: r.name,
    subdomain: r.subdomain,
    status: r.status as TenantStatus,
    billingEmail: r.billing_email,
    limits: { maxAgents: r.max_agents, maxConcurrentCalls: r.max_concurrent_calls },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const LIMIT_RANGE = { min: 1, max: 100_000 };

function checkName(name: unknown): void {
  if (typeof name !== 'string' || name.trim().length === 0) throw invalid('name', 'name must not be empty');
  if (name.length > 200) throw invalid('name', 'name must be at most 200 characters');
}

function checkLimit(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < LIMIT_RANGE.min || value > LIMIT_RANGE.max) {
    throw invalid(field, `${field} must be an integer from ${LIMIT_RANGE.min} to ${LIMIT_RANGE.max}`);
  }
}

function checkEmail(value: string | null | undefined): void {
  if (value == null) return;
  if (value.length > 254 || !EMAIL.test(value)) throw invalid('billing_email', 'billing_email must be an email address');
}

/** Trial is where every tenant starts; once it leaves trial it moves only between active and suspended. */
function checkTransition(from: TenantStatus, to: TenantStatus): void {
  if (!TENANT_STATUSES.includes(to)) throw invalid('status', `status must be one of ${TENANT_STATUSES.join(', ')}`);
  if (to === 'trial' && from !== 'trial') throw invalid('status', 'a tenant cannot go back to trial');
}

function requirePlatformAdmin(principal: Principal, action: string): void {
  if (!principal.isPlatformAdmin) throw new DomainError('forbidden', `only the platform admin may ${action}`);
}

/**
 * Tenants known to exist, per database: the platform admin's X-Account-ID is checked on every
 * request. Tenants are never deleted, so a positive answer cannot go stale; unknown ids are not
 * remembered (a tenant made on another instance is found at once). Bounded, oldest out.
 */
const knownTenants = new WeakMap<object, Set<string>>();
const KNOWN_TENANTS_MAX = 10_000;

export class TenantService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(input: NewTenant): Promise<Tenant> {
    checkName(input.name);
    checkLimit('max_agents', input.maxAgents);
    checkLimit('max_concurrent_calls', input.maxConcurrentCalls);
    checkEmail(input.billingEmail);
    if (input.subdomain != null && !SUBDOMAIN.test(input.subdomain)) {
      throw invalid('subdomain', 'subdomain must be lowercase letters, digits and hyphens (1-63)');
    }
    const now = this.deps.clock.now().toISOString();
    const row: TenantTable = {
      id: this.deps.ids.uuid(),
      name: input.name,
      subdomain: input.subdomain ?? null,
      status: 'trial',
      max_agents: input.maxAgents ?? DEFAULT_LIMITS.maxAgents,
      max_concurrent_calls: input.maxConcurrentCalls ?? DEFAULT_LIMITS.maxConcurrentCalls,
      billing_email: input.billingEmail ?? null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.db.insertInto('tenants').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`subdomain ${input.subdomain} is taken`, 'subdomain');
      throw err;
    }
    await this.deps.bus.publish(event(this.deps, 'tenant.created', row.id, { tenant_id: row.id }));
    return toTenant(row);
  }

  /** Creating tenants is the platform's business, not a tenant's. */
  async createFor(principal: Principal, input: NewTenant): Promise<Tenant> {
    requirePlatformAdmin(principal, 'create tenants');
    return this.create(input);
  }

  async listFor(principal: Principal): Promise<Tenant[]> {
    requirePlatformAdmin(principal, 'list tenants');
    return this.list();
  }

  /**
   * The tenant a request acts for when it may name one itself (a body or query `tenant_id`): the
   * platform admin may name any existing tenant, a tenant key only its own (any other is not found).
   */
  async scopeFor(principal: Principal, requested: string | undefined): Promise<Scope> {
    if (requested === undefined || requested === principal.tenantId) {
      if (!principal.tenantId) throw invalid('X-Account-ID', 'X-Account-ID header (or tenant_id) is required to act for a tenant');
      return { tenantId: principal.tenantId };
    }
    if (!principal.isPlatformAdmin || principal.tenantId) throw notFound('tenant');
    if (!(await this.exists(requested))) throw notFound('tenant');
    return { tenantId: requested };
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.deps.db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toTenant);
  }

  /** Platform admin sees any tenant; everyone else only their own (others are 404). */
  async getFor(principal: Principal, id: string): Promise<Tenant> {
    if (!principal.isPlatformAdmin && principal.tenantId !== id) throw notFound('tenant');
    return this.get(id);
  }

  async get(id: string): Promise<Tenant> {
    const row = await this.deps.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('tenant');
    return toTenant(row);
  }

  async exists(id: string): Promise<boolean> {
    let known = knownTenants.get(this.deps.db);
    if (!known) knownTenants.set(this.deps.db, (known = new Set()));
    if (known.has(id)) return true;
    if (!(await this.deps.db.selectFrom('tenants').select('id').where('id', '=', id).executeTakeFirst())) return false;
    if (known.size >= KNOWN_TENANTS_MAX) known.delete(known.values().next().value as string);
    known.add(id);
    return true;
  }

  async patch(principal: Principal, id: string, patch: TenantPatch): Promise<Tenant> {
    const current = await this.getFor(principal, id);
    // Status and limits are the platform's decision (billing); a tenant may only rename itself.
    const touchesPlatformFields = patch.status !== undefined || patch.maxAgents !== undefined || patch.maxConcurrentCalls !== undefined;
    if (touchesPlatformFields && !principal.isPlatformAdmin) {
      throw new DomainError('forbidden', 'only the platform admin may change a tenant\'s status or limits');
    }
    if (patch.name !== undefined) checkName(patch.name);
    if (patch.status !== undefined) checkTransition(current.status, patch.status);
    checkLimit('max_agents', patch.maxAgents);
    checkLimit('max_concurrent_calls', patch.maxConcurrentCalls);
    checkEmail(patch.billingEmail);
    const now = this.deps.clock.now().toISOString();
    await this.deps.db
      .updateTable('tenants')
      .set({
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.status !== undefined && { status: patch.status }),
        ...(patch.maxAgents !== undefined && { max_agents: patch.maxAgents }),
        ...(patch.maxConcurrentCalls !== undefined && { max_concurrent_calls: patch.maxConcurrentCalls }),
        ...(patch.billingEmail !== undefined && { billing_email: patch.billingEmail }),
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    await this.deps.bus.publish(event(this.deps, 'tenant.updated', id, { tenant_id: id }));
    return this.get(id);
  }
}
