import { PRESENCES, RING_METHODS, type Agent, type AgentLimits, type AgentService, type Presence } from './agents.js';
import { DomainError, conflict, forbidden, invalid } from './errors.js';
import { domainEvent } from './events.js';
import type { WallClock, IdSource } from './ids.js';
import type { KeyService } from './keys.js';
import { atCreation, pageByCreation, type Page } from './paging.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { Permission, canManage, scopeOf, type Principal, type Scope } from './principal.js';
import type { TagService } from './tags.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { requireE164, requireOneOf, requireText } from './validate.js';

export type AddressType = 'tel' | 'extension' | 'sip';
export const ADDRESS_TYPES: readonly AddressType[] = ['tel', 'extension', 'sip'];

/** Where a call-center agent can be reached: a phone number, a PBX extension or a SIP address. */
export interface AgentAddress {
  type: AddressType;
  target: string;
}

/** An agent as the call-center directory sees it: the shared agent plus its reachability and tags. */
export interface DirectoryAgent extends Agent {
  tagIds: string[];
  addresses: AgentAddress[];
  /** `sip:direct.<hash>@<SIP domain>`: dials this agent without going through a queue. */
  directUri: string | null;
  /** Set only on the value a delete returns. */
  deletedAt?: string;
}

export interface NewDirectoryAgent {
  username: string;
  password: string;
  name: string;
  detail?: string;
  ringMethod?: string;
  permission?: number;
  tagIds?: string[];
  addresses?: Array<{ type: string; target: string }>;
}

export interface DirectoryAgentPatch {
  name?: string;
  detail?: string;
  ringMethod?: string;
}

export interface LoginResult {
  agent: DirectoryAgent;
  token: string;
}

/** What the directory adds to an agent. */
export interface AgentDetails {
  addresses: AgentAddress[];
  tagIds: string[];
}

/** Agents' addresses and tags, and the agent-row writes only the directory makes (the agents repository). */
export interface AgentDirectoryRepository {
  /** One of `addresses` that an agent other than `ownerId` (any agent when null) already has. */
  takenAddress(tx: Tx | undefined, scope: Scope, ownerId: string | null, addresses: readonly AgentAddress[]): Promise<AgentAddress | null>;
  /** 'address taken' (a concurrent writer won) leaves `tx` unusable: the caller ends it by throwing. */
  replaceAddresses(tx: Tx, scope: Scope, agentId: string, addresses: ReadonlyArray<AgentAddress & { id: string }>): Promise<'replaced' | 'address taken'>;
  replaceTags(tx: Tx, scope: Scope, agentId: string, tagIds: readonly string[]): Promise<void>;
  /** Every agent id given is in the map, with empty lists when it has nothing. */
  details(scope: Scope, agentIds: readonly string[]): Promise<Map<string, AgentDetails>>;
  touch(tx: Tx, scope: Scope, id: string, at: string): Promise<void>;
  /** Agents of the tenant other than `except` holding any of `bits`. */
  countHolding(tx: Tx, scope: Scope, bits: number, opts: { except: string }): Promise<number>;
}

export interface AgentDirectoryDeps {
  agents: AgentService;
  keys: KeyService;
  tags: TagService;
  directory: AgentDirectoryRepository;
  /** Only to hold the tenant row while the last-admin rule is checked. */
  limits: AgentLimits;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
  sipDomain: string;
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,100}$/;
const EXTENSION = /^\d{1,20}$/;
const SIP_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const SIP_ADDRESS = new RegExp(`^[A-Za-z0-9._~!$&'()*+,;=%-]+@${SIP_LABEL}(?:\\.${SIP_LABEL})*(?::\\d{1,5})?$`);
const ROLE_BITS = Permission.agent | Permission.admin | Permission.manager;

/** 0, 65535, or any mix of the agent/admin/manager bits. */
export function isValidPermission(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
    && (value === Permission.all || (value & ~ROLE_BITS) === 0);
}

function addressTaken(address: AgentAddress | null): DomainError {
  return conflict(address
    ? `address ${address.type} ${address.target} already belongs to another agent`
    : 'one of the addresses already belongs to another agent', 'addresses');
}

function holdsAdmin(permission: number): boolean {
  return (permission & Permission.admin) !== 0;
}

/**
 * Admin outranks manager: an agent logged in without the admin bit may neither grant admin
 * (nor 65535, which includes it) nor manage an agent holding it, so a manager cannot promote
 * itself or take over an admin's account. Tenant keys and the platform admin are unrestricted.
 */
function covers(actor: Principal, bits: number): boolean {
  return actor.kind !== 'login' || holdsAdmin(actor.permission) || !holdsAdmin(bits);
}

function requirePermission(value: unknown): number {
  if (!isValidPermission(value)) {
    throw invalid('permission', 'permission must be 0, 65535, or a sum of 16 (agent), 32 (admin) and 64 (manager)');
  }
  return value;
}

function requireUsername(value: unknown): string {
  if (typeof value !== 'string' || !USERNAME.test(value)) {
    throw invalid('username', 'username must be 1-100 characters of letters, digits and . _ @ + -');
  }
  return value;
}

function requirePassword(value: unknown): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > 128) {
    throw invalid('password', 'password must be 1-128 characters');
  }
  return value;
}

/** Checks each address's format and that none is listed twice. */
function requireAddresses(list: ReadonlyArray<{ type: string; target: string }>): AgentAddress[] {
  const seen = new Set<string>();
  return list.map((a, i) => {
    const field = `addresses[${i}]`;
    const type = requireOneOf(`${field}.type`, a?.type, ADDRESS_TYPES);
    const target = a?.target;
    if (type === 'tel') requireE164(`${field}.target`, target);
    else if (type === 'extension' && (typeof target !== 'string' || !EXTENSION.test(target))) {
      throw invalid(`${field}.target`, `${field}.target must be an extension of 1-20 digits`);
    } else if (type === 'sip' && (typeof target !== 'string' || target.length > 255 || !SIP_ADDRESS.test(target))) {
      throw invalid(`${field}.target`, `${field}.target must be a SIP address like alice@example.com`);
    }
    const key = `${type}:${target as string}`;
    if (seen.has(key)) throw invalid('addresses', `addresses lists ${type} ${target as string} twice`);
    seen.add(key);
    return { type, target: target as string };
  });
}

/**
 * The call-center view of agents (VoIPBIN-style): usernames and passwords, presence, addresses,
 * tags, permission bits, direct SIP hashes and login. Every method takes the acting principal
 * and applies who-may-do-what here, so dialects only translate.
 */
export class AgentDirectoryService {
  private readonly agents: AgentService;
  private readonly keys: KeyService;
  private readonly tags: TagService;
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly deps: AgentDirectoryDeps) {
    this.agents = deps.agents;
    this.keys = deps.keys;
    this.tags = deps.tags;
  }

  /** `tagIds` matches agents with any of them (the queue question "who can take this call"). */
  async list(actor: Principal, page: { pageSize: number; before?: string; status?: Presence; tagIds?: readonly string[] }): Promise<Page<DirectoryAgent>> {
    const scope = this.requireManager(actor, 'listing agents');
    const presence = page.status === undefined ? undefined : requireOneOf('status', page.status, PRESENCES);
    const anyTagIds = page.tagIds === undefined ? undefined : page.tagIds.map((t) => requireText('tag_ids', t, { max: 64 }));
    const result = await pageByCreation(page.pageSize, (limit) =>
      this.agents.list(scope, { pageSize: limit, before: page.before ? atCreation(page.before) : undefined, presence, anyTagIds }));
    return { items: await this.withDetails(scope, result.items), next: result.next };
  }

  /** A plain agent may read itself only. */
  async get(actor: Principal, id: string): Promise<DirectoryAgent> {
    const scope = scopeOf(actor);
    const agent = await this.agents.get(scope, id);
    if (actor.agentId !== id && !canManage(actor)) throw forbidden('an agent may only read itself');
    return (await this.withDetails(scope, [agent]))[0];
  }

  async create(actor: Principal, input: NewDirectoryAgent): Promise<DirectoryAgent> {
    const scope = this.requireManager(actor, 'creating agents');
    const username = requireUsername(input.username);
    const password = requirePassword(input.password);
    const name = requireText('name', input.name, { max: 255 });
    const detail = input.detail === undefined ? '' : requireText('detail', input.detail, { min: 0, max: 2000 });
    const ringMethod = input.ringMethod === undefined ? 'ringall' : requireOneOf('ring_method', input.ringMethod, RING_METHODS);
    const permission = input.permission === undefined ? Permission.none : requirePermission(input.permission);
    if (!covers(actor, permission)) throw forbidden('only an admin may grant the admin permission');
    const addresses = requireAddresses(input.addresses ?? []);
    const tagIds = await this.tags.requireAll(scope, input.tagIds ?? []);
    await this.assertAddressesFree(undefined, scope, null, addresses);
    const passwordHash = await hashPassword(password);
    // Addresses and tags go in with the agent, so a taken address leaves no half-made agent.
    const agent = await this.agents.create(scope, { name, detail, ringMethod, permission, username, passwordHash }, async (tx, made) => {
      await this.writeAddresses(tx, scope, made.id, addresses);
      if (tagIds.length) await this.deps.directory.replaceTags(tx, scope, made.id, tagIds);
    });
    return this.load(scope, agent.id);
  }

  async update(actor: Principal, id: string, patch: DirectoryAgentPatch): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    await this.agents.update(scope, id, {
      ...(patch.name !== undefined && { name: requireText('name', patch.name, { max: 255 }) }),
      ...(patch.detail !== undefined && { detail: requireText('detail', patch.detail, { min: 0, max: 2000 }) }),
      ...(patch.ringMethod !== undefined && { ringMethod: requireOneOf('ring_method', patch.ringMethod, RING_METHODS) }),
    });
    return this.load(scope, id);
  }

  /** Deleting also revokes the agent's login tokens (they go with the agent row). */
  async delete(actor: Principal, id: string): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    const before = await this.load(scope, id);
    await this.agents.delete(scope, id, async (tx, agent) => {
      if (holdsAdmin(agent.permission)) await this.assertAnotherAdmin(tx, scope, id, 'deleted');
    });
    return { ...before, deletedAt: this.deps.clock.now().toISOString() };
  }

  /** Agents set their own presence; managers may set anyone's. */
  async setStatus(actor: Principal, id: string, status: string): Promise<DirectoryAgent> {
    const scope = scopeOf(actor);
    const target = await this.agents.get(scope, id);
    if (actor.agentId !== id && !(canManage(actor) && covers(actor, target.permission))) {
      throw forbidden('an agent may only change its own status');
    }
    const presence: Presence = requireOneOf('status', status, PRESENCES);
    await this.agents.update(scope, id, { presence });
    return this.load(scope, id);
  }

  /** Replaces the whole list in one transaction; an address belongs to one agent per tenant. */
  async setAddresses(actor: Principal, id: string, list: Array<{ type: string; target: string }>): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    const addresses = requireAddresses(list);
    await this.deps.uow.run(async (tx) => {
      await this.assertAddressesFree(tx, scope, id, addresses);
      await this.writeAddresses(tx, scope, id, addresses);
      await this.changed(tx, scope, id);
    });
    return this.load(scope, id);
  }

  /** Replaces the agent's tags; every id must be a tag of this tenant. */
  async setTagIds(actor: Principal, id: string, tagIds: string[]): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    const ids = await this.tags.requireAll(scope, tagIds);
    await this.deps.uow.run(async (tx) => {
      await this.deps.directory.replaceTags(tx, scope, id, ids);
      await this.changed(tx, scope, id);
    });
    return this.load(scope, id);
  }

  /**
   * The tenant always keeps one agent holding admin. Existing login tokens carry the old
   * permission, so they are revoked and the agent logs in again.
   */
  async setPermission(actor: Principal, id: string, value: number): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    const permission = requirePermission(value);
    if (!covers(actor, permission)) throw forbidden('only an admin may grant the admin permission');
    await this.deps.uow.run(async (tx) => {
      await this.deps.limits.lockLimits(tx, scope);
      const current = await this.agents.get(scope, id, tx);
      if (holdsAdmin(current.permission) && !holdsAdmin(permission)) await this.assertAnotherAdmin(tx, scope, id, 'demoted');
      await this.agents.setPermission(tx, scope, id, permission);
      if (current.permission !== permission) await this.keys.revokeAgentTokens(scope, id, tx);
      tx.emit(domainEvent(this.deps.clock, 'agent.updated', scope.tenantId, { agent_id: id }));
    });
    return this.load(scope, id);
  }

  /** A new password logs the agent out everywhere. */
  async setPassword(actor: Principal, id: string, value: string): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    const passwordHash = await hashPassword(requirePassword(value));
    await this.agents.update(scope, id, { passwordHash });
    await this.keys.revokeAgentTokens(scope, id);
    return this.load(scope, id);
  }

  /** The previous direct URI stops reaching the agent. */
  async regenerateDirectHash(actor: Principal, id: string): Promise<DirectoryAgent> {
    const { scope } = await this.requireManagerOf(actor, id);
    await this.agents.regenerateDirectHash(scope, id);
    await this.deps.uow.publish(domainEvent(this.deps.clock, 'agent.updated', scope.tenantId, { agent_id: id }));
    return this.load(scope, id);
  }

  /**
   * Username and password, across tenants: the first agent with that username whose password
   * matches. Unknown users and wrong passwords fail alike, and take about as long.
   */
  async login(username: string, password: string): Promise<LoginResult> {
    const candidates = username && password ? await this.agents.findLoginCandidates(username) : [];
    for (const c of candidates) {
      if (await verifyPassword(password, c.passwordHash)) {
        const scope = { tenantId: c.tenantId };
        const token = await this.keys.mintLoginToken(scope, c.id, c.permission, username);
        return { agent: await this.load(scope, c.id), token };
      }
    }
    if (candidates.length === 0) await verifyPassword(password || 'x', await this.timingHash());
    throw new DomainError('unauthenticated', 'wrong username or password');
  }

  directUri(hash: string | null): string | null {
    return hash ? `sip:direct.${hash}@${this.deps.sipDomain}` : null;
  }

  private timingHash(): Promise<string> {
    this.dummyHash ??= hashPassword('not a real password');
    return this.dummyHash;
  }

  private requireManager(actor: Principal, what: string): Scope {
    const scope = scopeOf(actor);
    if (!canManage(actor)) throw forbidden(`${what} needs the manager or admin permission`);
    return scope;
  }

  /** Not found before forbidden: another tenant's agent stays invisible. */
  private async requireManagerOf(actor: Principal, id: string): Promise<{ scope: Scope; agent: Agent }> {
    const scope = scopeOf(actor);
    const agent = await this.agents.get(scope, id);
    if (!canManage(actor)) throw forbidden('managing agents needs the manager or admin permission');
    if (!covers(actor, agent.permission)) throw forbidden('only an admin may manage an agent holding the admin permission');
    return { scope, agent };
  }

  /** Holds the tenant row first (PostgreSQL), so two demotions or deletions cannot both pass. */
  private async assertAnotherAdmin(tx: Tx, scope: Scope, id: string, verb: string): Promise<void> {
    await this.deps.limits.lockLimits(tx, scope);
    if ((await this.deps.directory.countHolding(tx, scope, Permission.admin, { except: id })) === 0) {
      throw conflict(`this is the last agent with admin permission in the tenant and cannot be ${verb}`, 'permission');
    }
  }

  private async assertAddressesFree(tx: Tx | undefined, scope: Scope, ownerId: string | null, addresses: AgentAddress[]): Promise<void> {
    const taken = await this.deps.directory.takenAddress(tx, scope, ownerId, addresses);
    if (taken) throw addressTaken(taken);
  }

  /** Replaces the agent's addresses; a writer racing past the check still loses on the unique index. */
  private async writeAddresses(tx: Tx, scope: Scope, agentId: string, addresses: AgentAddress[]): Promise<void> {
    const rows = addresses.map((a) => ({ ...a, id: this.deps.ids.uuid() }));
    if ((await this.deps.directory.replaceAddresses(tx, scope, agentId, rows)) === 'address taken') throw addressTaken(null);
  }

  private async changed(tx: Tx, scope: Scope, id: string): Promise<void> {
    await this.deps.directory.touch(tx, scope, id, this.deps.clock.now().toISOString());
    tx.emit(domainEvent(this.deps.clock, 'agent.updated', scope.tenantId, { agent_id: id }));
  }

  /** The agent with its addresses, for the call layer ringing it (no acting principal: the call is the reason). */
  async forCall(scope: Scope, id: string): Promise<DirectoryAgent> {
    return this.load(scope, id);
  }

  private async load(scope: Scope, id: string): Promise<DirectoryAgent> {
    return (await this.withDetails(scope, [await this.agents.get(scope, id)]))[0];
  }

  /** Addresses and tags for a page of agents in two queries. */
  private async withDetails(scope: Scope, agents: Agent[]): Promise<DirectoryAgent[]> {
    if (agents.length === 0) return [];
    const details = await this.deps.directory.details(scope, agents.map((a) => a.id));
    return agents.map((a) => ({
      ...a,
      addresses: details.get(a.id)?.addresses ?? [],
      tagIds: details.get(a.id)?.tagIds ?? [],
      directUri: this.directUri(a.directHash),
    }));
  }
}
