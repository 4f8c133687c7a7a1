import type { DomainEvent, EventPayloads, EventType, RegistrationStateName, RegistrationStatusName } from '../events/catalog.js';
import type { PhoneNumberTable, RegistrationTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { event, isUniqueViolation } from './deps.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import type { Scope } from './principal.js';
import { SIP_TRANSPORTS, parseRegistrarUri } from './registrar-uri.js';
import { assertPublicSipTarget } from './sip-target.js';
import { isE164, requireE164, requireObject, requireOneOf, requireText } from './validate.js';

export type RegistrationStatus = 'active' | 'failed' | 'disabled';
export type RegistrationState = 'initial' | 'registering' | 'registered' | 'failed';
export const REGISTRATION_STATES: readonly RegistrationState[] = ['initial', 'registering', 'registered', 'failed'];

/** Who answers calls arriving on a registration; `livekit` when the client does not say. */
export const REGISTRATION_HANDLERS = ['livekit', 'dialtone', 'relay', 'sip'] as const;
export type RegistrationHandler = (typeof REGISTRATION_HANDLERS)[number];
export const DEFAULT_HANDLER: RegistrationHandler = 'livekit';

export const LIMITS = { name: 200, username: 128, password: 256, optionsJson: 4096, authUsername: 128 } as const;

/** A SIP line Dialtone keeps registered with a registrar on a tenant's behalf. Never carries the password. */
export interface Registration {
  id: string;
  tenantId: string;
  name: string | null;
  handler: string;
  outbound: boolean;
  registrar: string;
  username: string;
  options: Record<string, unknown>;
  status: RegistrationStatus;
  state: RegistrationState;
  error: string | null;
  listenerAgentId: string | null;
  /** Bumped on (re)activation and on any change to what is sent to the registrar. */
  generation: number;
  createdAt: string;
  updatedAt: string;
}

/** A tenant phone number seen as a phone endpoint (DDI). Its handler is that of the agent answering it. */
export interface NumberEndpoint {
  id: string;
  tenantId: string;
  number: string;
  name: string | null;
  agentId: string | null;
  agentHandler: string | null;
  createdAt: string;
}

export type PhoneEndpoint =
  | { kind: 'registration'; registration: Registration }
  | { kind: 'number'; number: NumberEndpoint };

export interface NewRegistration {
  name?: string | null;
  handler?: string;
  outbound?: boolean;
  registrar?: string;
  username?: string;
  password?: string;
  options?: Record<string, unknown>;
}

export type RegistrationPatch = NewRegistration;

export interface NewNumberEndpoint {
  number?: string;
  name?: string | null;
}

export interface EndpointPage {
  items: PhoneEndpoint[];
  nextPageToken: string | null;
}

export interface ListenTarget {
  id?: string;
  number?: string;
}

export interface StateChange {
  state: RegistrationState;
  error?: string | null;
  status?: 'failed';
}

export const PAGE_SIZE = { default: 50, max: 200 } as const;

function toRegistration(r: RegistrationTable): Registration {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    handler: r.handler,
    outbound: r.outbound === 1,
    registrar: r.registrar,
    username: r.username,
    options: JSON.parse(r.options) as Record<string, unknown>,
    status: r.status as RegistrationStatus,
    state: r.state as RegistrationState,
    error: r.error,
    listenerAgentId: r.listener_agent_id,
    generation: r.generation,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

type NumberRow = Pick<PhoneNumberTable, 'id' | 'tenant_id' | 'e164' | 'friendly_name' | 'agent_id' | 'created_at'> & { agent_handler: string | null };

function toNumberEndpoint(r: NumberRow): NumberEndpoint {
  return {
    id: r.id, tenantId: r.tenant_id, number: r.e164, name: r.friendly_name,
    agentId: r.agent_id, agentHandler: r.agent_handler, createdAt: r.created_at,
  };
}

/** Known option keys are checked; unknown ones are kept as the client sent them. */
function validateOptions(value: unknown): Record<string, unknown> {
  const options = requireObject('options', value);
  if (options.expires !== undefined) {
    const e = options.expires;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 60 || e > 86400) {
      throw invalid('options.expires', 'options.expires must be an integer number of seconds from 60 to 86400');
    }
  }
  if (options.transport !== undefined) requireOneOf('options.transport', options.transport, SIP_TRANSPORTS);
  if (options.auth_username !== undefined) requireText('options.auth_username', options.auth_username, { max: LIMITS.authUsername });
  if (JSON.stringify(options).length > LIMITS.optionsJson) {
    throw invalid('options', `options must be at most ${LIMITS.optionsJson} characters as JSON`);
  }
  return options;
}

function validateName(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw invalid('name', 'name must be a string');
  if (value.length > LIMITS.name) throw invalid('name', `name must be at most ${LIMITS.name} characters`);
  return value;
}

function required(field: string, value: unknown): unknown {
  if (value === undefined || value === null) throw invalid(field, `${field} is required`);
  return value;
}

/** Page tokens are opaque to clients: the (created_at, id) of the last item shown. */
function encodePageToken(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodePageToken(token: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch { /* falls through to the error below */ }
  throw invalid('page_token', 'page_token is not a token this API returned');
}

function endpointKey(e: PhoneEndpoint): [string, string] {
  return e.kind === 'registration' ? [e.registration.createdAt, e.registration.id] : [e.number.createdAt, e.number.id];
}

/**
 * Registrations (SIP lines kept registered), the tenant's numbers seen as phone endpoints, and
 * the agent that listens on each. Tenant-facing methods take a scope; the engine-facing ones
 * (listActive, getForEngine, reportState, findListener) work across tenants.
 */
export class RegistrationService {
  constructor(private readonly deps: ServiceDeps) {}

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private async publish<T extends EventType>(type: T, tenantId: string, data: EventPayloads[T]): Promise<void> {
    await this.deps.bus.publish(event(this.deps, type, tenantId, data) as DomainEvent);
  }

  /** Parses and normalizes the registrar, and refuses private targets unless the operator allows them. */
  private async checkRegistrar(value: unknown): Promise<string> {
    const text = requireText('registrar', value, { max: 512 });
    const uri = parseRegistrarUri(text);
    await assertPublicSipTarget('registrar', uri.host, this.deps.config);
    return uri.text;
  }

  private checkTransportAgreement(registrar: string, options: Record<string, unknown>): void {
    const inUri = parseRegistrarUri(registrar).params.transport;
    if (inUri && typeof options.transport === 'string' && options.transport !== inUri) {
      throw invalid('options.transport', `options.transport ${options.transport} contradicts transport=${inUri} in the registrar`);
    }
  }

  async create(scope: Scope, input: NewRegistration): Promise<Registration> {
    const registrar = await this.checkRegistrar(required('registrar', input.registrar));
    const username = requireText('username', required('username', input.username), { max: LIMITS.username });
    const password = requireText('password', required('password', input.password), { max: LIMITS.password });
    const handler = input.handler === undefined ? DEFAULT_HANDLER : requireOneOf('handler', input.handler, REGISTRATION_HANDLERS);
    const options = input.options === undefined ? {} : validateOptions(input.options);
    this.checkTransportAgreement(registrar, options);
    if (input.outbound !== undefined && typeof input.outbound !== 'boolean') throw invalid('outbound', 'outbound must be a boolean');
    const now = this.now();
    const row: RegistrationTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      name: validateName(input.name),
      handler,
      outbound: input.outbound ? 1 : 0,
      registrar,
      username,
      sealed_password: this.deps.vault.seal(password),
      options: JSON.stringify(options),
      status: 'disabled',
      state: 'initial',
      error: null,
      listener_agent_id: null,
      generation: 0,
      lease_owner: null,
      lease_expires_at: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.db.insertInto('registrations').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`a registration for username ${username} at registrar ${registrar} already exists`, 'registrar');
      throw err;
    }
    await this.publish('registration.created', scope.tenantId, { registration_id: row.id, generation: row.generation });
    return toRegistration(row);
  }

  /** Adds a phone number to the tenant, as the telephony API would without a carrier. */
  async addNumber(scope: Scope, input: NewNumberEndpoint): Promise<NumberEndpoint> {
    const number = requireE164('number', required('number', input.number));
    const now = this.now();
    const row: PhoneNumberTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      e164: number,
      provider: null,
      credentials_id: null,
      agent_id: null,
      inbound_enabled: 1,
      outbound_enabled: 1,
      friendly_name: validateName(input.name),
      carrier_sid: null,
      capabilities: '["voice"]',
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.db.insertInto('phone_numbers').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`number ${number} is already registered`, 'number');
      throw err;
    }
    await this.publish('phone_number.created', scope.tenantId, { phone_number_id: row.id, phone_number: number, agent_id: null });
    return toNumberEndpoint({ ...row, agent_handler: null });
  }

  private async findRow(scope: Scope, id: string): Promise<RegistrationTable | undefined> {
    return this.deps.db.selectFrom('registrations').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
  }

  async get(scope: Scope, id: string): Promise<Registration> {
    const row = await this.findRow(scope, id);
    if (!row) throw notFound('registration');
    return toRegistration(row);
  }

  private numbersQuery(scope: Scope) {
    return this.deps.db.selectFrom('phone_numbers')
      .leftJoin('agents', 'agents.id', 'phone_numbers.agent_id')
      .select([
        'phone_numbers.id', 'phone_numbers.tenant_id', 'phone_numbers.e164', 'phone_numbers.friendly_name',
        'phone_numbers.agent_id', 'phone_numbers.created_at', 'agents.handler as agent_handler',
      ])
      .where('phone_numbers.tenant_id', '=', scope.tenantId);
  }

  /** A registration by id, or a tenant number by its id or its E.164 text. */
  async getEndpoint(scope: Scope, idOrNumber: string): Promise<PhoneEndpoint> {
    if (isE164(idOrNumber)) {
      const n = await this.numbersQuery(scope).where('phone_numbers.e164', '=', idOrNumber).executeTakeFirst();
      if (!n) throw notFound('phone endpoint');
      return { kind: 'number', number: toNumberEndpoint(n) };
    }
    const r = await this.findRow(scope, idOrNumber);
    if (r) return { kind: 'registration', registration: toRegistration(r) };
    const n = await this.numbersQuery(scope).where('phone_numbers.id', '=', idOrNumber).executeTakeFirst();
    if (!n) throw notFound('phone endpoint');
    return { kind: 'number', number: toNumberEndpoint(n) };
  }

  /** Registrations and numbers together, oldest first, keyset-paged over (created_at, id). */
  async listEndpoints(scope: Scope, page: { pageSize?: number; pageToken?: string } = {}): Promise<EndpointPage> {
    const size = page.pageSize ?? PAGE_SIZE.default;
    if (!Number.isInteger(size) || size < 1 || size > PAGE_SIZE.max) {
      throw invalid('page_size', `page_size must be an integer from 1 to ${PAGE_SIZE.max}`);
    }
    const after = page.pageToken ? decodePageToken(page.pageToken) : null;
    let rq = this.deps.db.selectFrom('registrations').selectAll().where('tenant_id', '=', scope.tenantId);
    let nq = this.numbersQuery(scope);
    if (after) {
      const [at, id] = after;
      rq = rq.where((eb) => eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])]));
      nq = nq.where((eb) => eb.or([
        eb('phone_numbers.created_at', '>', at),
        eb.and([eb('phone_numbers.created_at', '=', at), eb('phone_numbers.id', '>', id)]),
      ]));
    }
    // One more than a page from each side is enough to know whether another page follows.
    const [regs, nums] = await Promise.all([
      rq.orderBy('created_at').orderBy('id').limit(size + 1).execute(),
      nq.orderBy('phone_numbers.created_at').orderBy('phone_numbers.id').limit(size + 1).execute(),
    ]);
    const merged: PhoneEndpoint[] = [
      ...regs.map((r) => ({ kind: 'registration' as const, registration: toRegistration(r) })),
      ...nums.map((n) => ({ kind: 'number' as const, number: toNumberEndpoint(n) })),
    ].sort((a, b) => {
      const [ac, ai] = endpointKey(a);
      const [bc, bi] = endpointKey(b);
      return ac < bc ? -1 : ac > bc ? 1 : ai < bi ? -1 : ai > bi ? 1 : 0;
    });
    const items = merged.slice(0, size);
    const last = items[items.length - 1];
    const nextPageToken = merged.length > size && last ? encodePageToken(...endpointKey(last)) : null;
    return { items, nextPageToken };
  }

  /**
   * Partial update. A change to what is sent to the registrar (registrar, username, password,
   * options) starts over: state initial, no error, a new generation the engine must pick up.
   */
  async update(scope: Scope, id: string, patch: RegistrationPatch): Promise<Registration> {
    const current = await this.findRow(scope, id);
    if (!current) throw notFound('registration');
    const set: Partial<RegistrationTable> = {};
    if (patch.name !== undefined) set.name = validateName(patch.name);
    if (patch.outbound !== undefined) {
      if (typeof patch.outbound !== 'boolean') throw invalid('outbound', 'outbound must be a boolean');
      set.outbound = patch.outbound ? 1 : 0;
    }
    if (patch.handler !== undefined) {
      const handler = requireOneOf('handler', patch.handler, REGISTRATION_HANDLERS);
      if (handler !== current.handler && current.listener_agent_id) {
        await this.assertAgentHandles(scope, current.listener_agent_id, handler);
      }
      set.handler = handler;
    }
    let moved = false;
    if (patch.registrar !== undefined) {
      const registrar = await this.checkRegistrar(patch.registrar);
      if (registrar !== current.registrar) { set.registrar = registrar; moved = true; }
    }
    if (patch.username !== undefined) {
      const username = requireText('username', patch.username, { max: LIMITS.username });
      if (username !== current.username) { set.username = username; moved = true; }
    }
    if (patch.password !== undefined) {
      const password = requireText('password', patch.password, { max: LIMITS.password });
      if (password !== this.deps.vault.open(current.sealed_password)) { set.sealed_password = this.deps.vault.seal(password); moved = true; }
    }
    if (patch.options !== undefined) {
      const options = JSON.stringify(validateOptions(patch.options));
      if (options !== current.options) { set.options = options; moved = true; }
    }
    this.checkTransportAgreement(set.registrar ?? current.registrar, JSON.parse(set.options ?? current.options) as Record<string, unknown>);
    if (moved) {
      set.state = 'initial';
      set.error = null;
    }
    if (Object.keys(set).length === 0) return toRegistration(current);
    set.updated_at = this.now();
    try {
      // The generation moves in SQL so two concurrent edits cannot hand out the same one.
      await this.deps.db.updateTable('registrations')
        .set((eb) => (moved ? { ...set, generation: eb('generation', '+', 1) } : set))
        .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw conflict(`a registration for username ${set.username ?? current.username} at registrar ${set.registrar ?? current.registrar} already exists`, 'registrar');
      }
      throw err;
    }
    const updated = await this.get(scope, id);
    if (moved && updated.status === 'active') {
      await this.publish('registration.updated', scope.tenantId, { registration_id: id, generation: updated.generation });
    }
    return updated;
  }

  /** (Re)starts registering, also after the engine gave up (`failed`). */
  async activate(scope: Scope, id: string): Promise<Registration> {
    const current = await this.findRow(scope, id);
    if (!current) throw notFound('registration');
    // Bumping from the stored value in SQL keeps two concurrent activations from reusing a generation.
    await this.deps.db.updateTable('registrations')
      .set((eb) => ({ status: 'active', state: 'initial', error: null, generation: eb('generation', '+', 1), updated_at: this.now() }))
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    const reg = await this.get(scope, id);
    await this.publish('registration.activated', scope.tenantId, { registration_id: id, generation: reg.generation });
    return reg;
  }

  /** Stops registering; the listener binding stays. */
  async disable(scope: Scope, id: string): Promise<Registration> {
    if (!(await this.findRow(scope, id))) throw notFound('registration');
    await this.deps.db.updateTable('registrations')
      .set({ status: 'disabled', state: 'initial', error: null, updated_at: this.now() })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    const reg = await this.get(scope, id);
    await this.publish('registration.disabled', scope.tenantId, { registration_id: id, generation: reg.generation });
    return reg;
  }

  /** Removes a registration (the engine de-registers on the event) or a tenant number. */
  async delete(scope: Scope, idOrNumber: string): Promise<PhoneEndpoint> {
    const endpoint = await this.getEndpoint(scope, idOrNumber);
    if (endpoint.kind === 'registration') {
      const reg = endpoint.registration;
      await this.deps.db.deleteFrom('registrations').where('tenant_id', '=', scope.tenantId).where('id', '=', reg.id).execute();
      await this.publish('registration.deleted', scope.tenantId, { registration_id: reg.id, generation: reg.generation });
    } else {
      const n = endpoint.number;
      await this.deps.db.deleteFrom('phone_numbers').where('tenant_id', '=', scope.tenantId).where('id', '=', n.id).execute();
      await this.publish('phone_number.deleted', scope.tenantId, { phone_number_id: n.id, phone_number: n.number });
    }
    return endpoint;
  }

  private async agentHandler(scope: Scope, agentId: string): Promise<{ handler: string | null }> {
    const agent = await this.deps.db.selectFrom('agents').select(['handler'])
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).executeTakeFirst();
    if (!agent) throw notFound('agent');
    return agent;
  }

  /** An agent without a handler takes calls from any handler. */
  private async assertAgentHandles(scope: Scope, agentId: string, handler: string): Promise<void> {
    const agent = await this.agentHandler(scope, agentId);
    if (agent.handler !== null && agent.handler !== handler) {
      throw new DomainError('precondition', `agent handler ${agent.handler} does not match the endpoint's handler ${handler}`, 'handler');
    }
  }

  /**
   * Makes the agent the one that answers calls arriving on a registration or a number.
   * Binding the same agent again is a no-op; taking over another agent's endpoint is a conflict.
   */
  async listen(scope: Scope, agentId: string, target: ListenTarget): Promise<{ agentId: string; endpoint: PhoneEndpoint }> {
    if ((target.id === undefined) === (target.number === undefined)) {
      throw invalid('id', 'id or number is required, not both: id names a phone endpoint, number an E.164 number of this tenant');
    }
    const agent = await this.agentHandler(scope, agentId);
    const endpoint = target.number !== undefined
      ? await this.getEndpoint(scope, requireE164('number', target.number))
      : await this.getEndpoint(scope, requireText('id', target.id, { max: 128 }));

    if (endpoint.kind === 'registration') {
      const reg = endpoint.registration;
      if (agent.handler !== null && agent.handler !== reg.handler) {
        throw new DomainError('precondition', `agent handler ${agent.handler} does not match the registration's handler ${reg.handler}`, 'handler');
      }
      const changed = await this.bindOnce(scope, agentId, this.deps.db.updateTable('registrations')
        .set({ listener_agent_id: agentId, updated_at: this.now() })
        .where('tenant_id', '=', scope.tenantId).where('id', '=', reg.id)
        .where((eb) => eb.or([eb('listener_agent_id', 'is', null), eb('listener_agent_id', '=', agentId)])));
      if (!changed) throw conflict('the registration already has another listening agent', 'id');
      await this.publish('registration.listener_bound', scope.tenantId, { registration_id: reg.id, agent_id: agentId, previous_agent_id: reg.listenerAgentId });
      return { agentId, endpoint: { kind: 'registration', registration: { ...reg, listenerAgentId: agentId } } };
    }
    const n = endpoint.number;
    const changed = await this.bindOnce(scope, agentId, this.deps.db.updateTable('phone_numbers')
      .set({ agent_id: agentId, updated_at: this.now() })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', n.id)
      .where((eb) => eb.or([eb('agent_id', 'is', null), eb('agent_id', '=', agentId)])));
    if (!changed) throw conflict(`number ${n.number} is already answered by another agent`, target.number !== undefined ? 'number' : 'id');
    // Same event the telephony and deployment APIs publish when they move a number's agent.
    await this.publish('phone_number.updated', scope.tenantId, { phone_number_id: n.id, phone_number: n.number, agent_id: agentId, previous_agent_id: n.agentId });
    return { agentId, endpoint: { kind: 'number', number: { ...n, agentId, agentHandler: agent.handler } } };
  }

  /**
   * Runs a conditional bind: false when the endpoint belongs to another agent. The agent being
   * deleted meanwhile surfaces as a foreign-key error, reported as the agent not being found.
   */
  private async bindOnce(scope: Scope, agentId: string, update: { executeTakeFirst(): Promise<{ numUpdatedRows: bigint }> }): Promise<boolean> {
    try {
      return (await update.executeTakeFirst()).numUpdatedRows > 0n;
    } catch (err) {
      await this.agentHandler(scope, agentId);
      throw err;
    }
  }

  // ---- engine-facing: across tenants ----

  async listActive(): Promise<Registration[]> {
    const rows = await this.deps.db.selectFrom('registrations').selectAll()
      .where('status', '=', 'active').orderBy('created_at').orderBy('id').execute();
    return rows.map(toRegistration);
  }

  async getForEngine(id: string): Promise<(Registration & { password: string }) | null> {
    const row = await this.deps.db.selectFrom('registrations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? { ...toRegistration(row), password: this.deps.vault.open(row.sealed_password) } : null;
  }

  /**
   * Applies the engine's view of a registration unless it moved on meanwhile (re-activated,
   * edited, disabled, deleted): the generation and status checks sit in the UPDATE itself so a
   * late report can never overwrite a newer state. Returns false when nothing was applied.
   */
  async reportState(id: string, generation: number, change: StateChange): Promise<boolean> {
    requireOneOf('state', change.state, REGISTRATION_STATES);
    const set: Partial<RegistrationTable> = { state: change.state, updated_at: this.now() };
    if (change.error !== undefined) set.error = change.error === null ? null : change.error.slice(0, 1000);
    if (change.status === 'failed') set.status = 'failed';
    const row = await this.deps.db.updateTable('registrations').set(set)
      .where('id', '=', id).where('generation', '=', generation).where('status', '=', 'active')
      .returning(['tenant_id', 'status', 'state', 'error'])
      .executeTakeFirst();
    if (!row) return false;
    await this.publish('registration.state', row.tenant_id, { registration_id: id, status: row.status as RegistrationStatusName, state: row.state as RegistrationStateName, error: row.error });
    return true;
  }

  async findListener(id: string): Promise<{ registration: Registration; agentId: string | null } | null> {
    const row = await this.deps.db.selectFrom('registrations').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const registration = toRegistration(row);
    return { registration, agentId: registration.listenerAgentId };
  }
}
