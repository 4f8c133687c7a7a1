import { DomainError, conflict, invalid, notFound } from './errors.js';
import { domainEvent } from './events.js';
import type { WallClock, IdSource } from './ids.js';
import type { Principal, Scope } from './principal.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';

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

/** The limits a create must stay under, read while the tenant row is held. */
export interface TenantLimits {
  status: TenantStatus;
  maxAgents: number;
  maxConcurrentCalls: number;
}

export interface TenantChanges {
  name?: string;
  status?: TenantStatus;
  maxAgents?: number;
  maxConcurrentCalls?: number;
  billingEmail?: string | null;
  updatedAt: string;
}

/** Where tenants are kept; the only writer of the tenants table. A tenant's scope is its own id. */
export interface TenantRepository {
  /** 'subdomain taken' leaves `tx` unusable: the caller ends it by throwing. */
  insert(tx: Tx, tenant: Tenant): Promise<'inserted' | 'subdomain taken'>;
  get(scope: Scope, tx?: Tx): Promise<Tenant | null>;
  exists(scope: Scope): Promise<boolean>;
  listOldestFirst(): Promise<Tenant[]>;
  update(tx: Tx, scope: Scope, changes: TenantChanges): Promise<void>;
  /** The tenant row; what it owns goes with it by cascade. */
  delete(tx: Tx, scope: Scope): Promise<void>;
  /** Reads the limits and holds the tenant row until `tx` ends, so limit checks cannot race. */
  lockLimits(tx: Tx, scope: Scope): Promise<TenantLimits | null>;
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
 * Tenants known to exist: the platform admin's X-Account-ID is checked on every request. Only the
 * admin's DELETE removes a tenant; this instance forgets it then, another may still answer yes
 * until the id is evicted, and the admin's requests for it then find nothing (404) or fail on the
 * foreign key. Unknown ids are not remembered (a tenant made on another instance is found at
 * once). Bounded, oldest out.
 */
export class KnownTenants {
  private readonly ids = new Set<string>();
  constructor(private readonly max = 10_000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  forget(id: string): void {
    this.ids.delete(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    if (this.ids.size >= this.max) this.ids.delete(this.ids.values().next().value as string);
    this.ids.add(id);
  }
}

export interface TenantServiceDeps {
  tenants: TenantRepository;
  known: KnownTenants;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

/**
 * What `AnalyticsService` still hands over while it builds its own TenantService; goes away once
 * it receives the shared one from createServices.
 */
interface LegacyTenantDeps {
  repos: { tenants: TenantRepository };
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

export class TenantService {
  private readonly deps: TenantServiceDeps;

  constructor(deps: TenantServiceDeps | LegacyTenantDeps) {
    this.deps = 'repos' in deps ? { ...deps, tenants: deps.repos.tenants, known: new KnownTenants() } : deps;
  }

  async create(input: NewTenant): Promise<Tenant> {
    checkName(input.name);
    checkLimit('max_agents', input.maxAgents);
    checkLimit('max_concurrent_calls', input.maxConcurrentCalls);
    checkEmail(input.billingEmail);
    if (input.subdomain != null && !SUBDOMAIN.test(input.subdomain)) {
      throw invalid('subdomain', 'subdomain must be lowercase letters, digits and hyphens (1-63)');
    }
    const now = this.deps.clock.now().toISOString();
    const tenant: Tenant = {
      id: this.deps.ids.uuid(),
      name: input.name,
      subdomain: input.subdomain ?? null,
      status: 'trial',
      billingEmail: input.billingEmail ?? null,
      limits: {
        maxAgents: input.maxAgents ?? DEFAULT_LIMITS.maxAgents,
        maxConcurrentCalls: input.maxConcurrentCalls ?? DEFAULT_LIMITS.maxConcurrentCalls,
      },
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      if ((await this.deps.tenants.insert(tx, tenant)) === 'subdomain taken') {
        throw conflict(`subdomain ${input.subdomain} is taken`, 'subdomain');
      }
      tx.emit(domainEvent(this.deps.clock, 'tenant.created', tenant.id, { tenant_id: tenant.id }));
    });
    return tenant;
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
    return this.deps.tenants.listOldestFirst();
  }

  /** Platform admin sees any tenant; everyone else only their own (others are 404). */
  async getFor(principal: Principal, id: string): Promise<Tenant> {
    if (!principal.isPlatformAdmin && principal.tenantId !== id) throw notFound('tenant');
    return this.get(id);
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.deps.tenants.get({ tenantId: id });
    if (!tenant) throw notFound('tenant');
    return tenant;
  }

  async exists(id: string): Promise<boolean> {
    if (this.deps.known.has(id)) return true;
    if (!(await this.deps.tenants.exists({ tenantId: id }))) return false;
    this.deps.known.add(id);
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
    await this.deps.uow.run(async (tx) => {
      await this.deps.tenants.update(tx, { tenantId: id }, { ...patch, updatedAt: now });
      tx.emit(domainEvent(this.deps.clock, 'tenant.updated', id, { tenant_id: id }));
    });
    return this.get(id);
  }
}
