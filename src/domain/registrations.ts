import type { Config } from '../config.js';
import type { RegistrationStateName, RegistrationStatusName } from '../events/catalog.js';
import type { Vault } from '../vault/vault.js';
import { CALL_HANDLERS, DEFAULT_CALL_HANDLER, handlerProblem, type CallHandler } from './call-handler.js';
import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { Batcher } from '../lib/batcher.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import { domainEvent } from './events.js';
import { compareKeysets, decodePageToken, keysetOf, keysetPage, pageSizeOf, type Keyset, type TokenPage } from './paging.js';
import type { AgentMove, PhoneNumberRepository, PhoneNumberService } from './numbers.js';
import type { Scope } from './principal.js';
import { SIP_TRANSPORTS, parseRegistrar } from './sip-addresses.js';
import { assertPublicSipTarget } from './sip-target.js';
import { isE164, requireE164, requireObject, requireOneOf, requireText } from './validate.js';

export type RegistrationStatus = RegistrationStatusName;
export type RegistrationState = RegistrationStateName;
export const REGISTRATION_STATES: readonly RegistrationState[] = ['initial', 'registering', 'registered', 'failed'];

export const LIMITS = { name: 200, username: 128, password: 256, optionsJson: 4096, authUsername: 128 } as const;

/** A SIP line Dialtone keeps registered with a registrar on a tenant's behalf. Never carries the password. */
export interface Registration {
  id: string;
  tenantId: string;
  name: string | null;
  handler: CallHandler;
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
  /**
   * The instance registering the line and until when it last promised to (its row lease); read
   * to tell whether `registered` still holds. Absent where the reader does not know it.
   */
  leaseOwner?: string | null;
  leaseExpiresAt?: string | null;
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
  agentHandler: CallHandler | null;
  createdAt: string;
}

export type PhoneEndpoint =
  | { kind: 'registration'; registration: Registration }
  | { kind: 'number'; number: NumberEndpoint };

export interface NewRegistration {
  name?: string | null;
  handler?: CallHandler;
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

export interface EndpointPage extends TokenPage<PhoneEndpoint> {
  /** Where the next offset page starts, null at the end; absent when paging by token. */
  nextOffset?: number | null;
}

export interface EndpointQuery {
  pageSize?: number;
  pageToken?: string;
  offset?: number;
  /** Only this kind of endpoint. */
  type?: PhoneEndpoint['kind'];
}

/** The deepest offset page served (see listEndpoints). */
export const OFFSET_MAX = 10_000;

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

/** A registration as stored: with its SIP password sealed by the vault. */
export interface StoredRegistration extends Registration {
  sealedPassword: string;
}

/** A partial update; `restart` also moves the generation on, in the same statement. */
export interface RegistrationChanges {
  name?: string | null;
  handler?: CallHandler;
  outbound?: boolean;
  registrar?: string;
  username?: string;
  sealedPassword?: string;
  options?: Record<string, unknown>;
  state?: RegistrationState;
  error?: null;
  restart: boolean;
  updatedAt: string;
}

/** The engine's report, as applied. */
export interface AppliedState {
  tenantId: string;
  status: RegistrationStatus;
  state: RegistrationState;
  error: string | null;
}

/** Where registrations are kept; the only writer of the registrations table (leases aside). */
export interface RegistrationRepository {
  /** False when the tenant has a registration for that username at that registrar already. */
  insert(tx: Tx | undefined, registration: StoredRegistration): Promise<boolean>;
  get(scope: Scope, id: string, tx?: Tx): Promise<StoredRegistration | null>;
  /** Oldest first, keyset-paged over (created_at, id). */
  listAfter(scope: Scope, after: Keyset | null, limit: number): Promise<Registration[]>;
  /** False on the same duplicate as `insert`. */
  update(tx: Tx | undefined, scope: Scope, id: string, changes: RegistrationChanges): Promise<boolean>;
  /** Active again from `initial`, with a new generation counted from the stored one. */
  activate(tx: Tx | undefined, scope: Scope, id: string, at: string): Promise<void>;
  disable(tx: Tx | undefined, scope: Scope, id: string, at: string): Promise<void>;
  delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void>;
  /** Makes `agentId` the listener unless another agent is. */
  bindListener(tx: Tx | undefined, scope: Scope, id: string, agentId: string, at: string): Promise<AgentMove>;
  /** Clears the listener only while it is `agentId`; false when it was not. */
  unbindListener(tx: Tx | undefined, scope: Scope, id: string, agentId: string, at: string): Promise<boolean>;
  /** The agent's handler (null: it takes any); null when the tenant has no such agent. */
  agentHandler(scope: Scope, agentId: string): Promise<{ handler: CallHandler | null } | null>;
  /** Across tenants, oldest first. */
  listActive(): Promise<StoredRegistration[]>;
  /** Across tenants. */
  find(id: string): Promise<StoredRegistration | null>;
  /** Applies a state report only for that generation of a still active registration; null when it moved on. */
  applyState(tx: Tx | undefined, id: string, generation: number, change: { state: RegistrationState; error?: string | null; failed: boolean; at: string }): Promise<AppliedState | null>;
}

/** The tenant's numbers as phone endpoints: read from where numbers are kept. */
export interface NumberEndpointReader {
  endpoint(scope: Scope, by: { id: string } | { e164: string }): Promise<NumberEndpoint | null>;
  /** Oldest first, keyset-paged over (created_at, id). */
  endpointsAfter(scope: Scope, after: Keyset | null, limit: number): Promise<NumberEndpoint[]>;
}

export interface RegistrationServiceDeps {
  registrations: RegistrationRepository;
  numberEndpoints: NumberEndpointReader;
  /** For binding a listener to a number; adding and removing numbers goes through `numberService`. */
  numbers: PhoneNumberRepository;
  numberService: PhoneNumberService;
  vault: Vault;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
  config: Config;
}

function withoutSecret({ sealedPassword: _, ...registration }: StoredRegistration): Registration {
  return registration;
}

const duplicateRegistration = (username: string, registrar: string) =>
  conflict(`a registration for username ${username} at registrar ${registrar} already exists`, 'registrar');

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

function endpointKey(e: PhoneEndpoint): Keyset {
  return keysetOf(e.kind === 'registration' ? e.registration : e.number);
}

/**
 * Registrations (SIP lines kept registered), the tenant's numbers seen as phone endpoints, and
 * the agent that listens on each. Tenant-facing methods take a scope; the engine-facing ones
 * (listActive, getForEngine, reportState, findListener) work across tenants.
 */
export class RegistrationService {
  /**
   * The engine's state reports arrive in bursts (thousands of lines at start-up): those of one
   * event-loop turn share a transaction, each still judged by its own generation.
   */
  private readonly stateReports: Batcher<{ id: string; generation: number; change: StateChange }, boolean>;

  constructor(private readonly deps: RegistrationServiceDeps) {
    this.stateReports = new Batcher((reports) => deps.uow.run(async (tx) => {
      const applied: boolean[] = [];
      for (const r of reports) applied.push(await this.applyState(tx, r.id, r.generation, r.change));
      return applied;
    }), { windowMs: 0, maxBatch: 500 });
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** Parses and normalizes the registrar, and refuses private targets unless the operator allows them. */
  private async checkRegistrar(value: unknown): Promise<string> {
    const text = requireText('registrar', value, { max: 512 });
    const uri = parseRegistrar(text);
    await assertPublicSipTarget('registrar', uri.host, this.deps.config);
    return uri.text;
  }

  private checkTransportAgreement(registrar: string, options: Record<string, unknown>): void {
    const inUri = parseRegistrar(registrar).transport;
    if (inUri && typeof options.transport === 'string' && options.transport !== inUri) {
      throw invalid('options.transport', `options.transport ${options.transport} contradicts transport=${inUri} in the registrar`);
    }
  }

  async create(scope: Scope, input: NewRegistration): Promise<Registration> {
    const registrar = await this.checkRegistrar(required('registrar', input.registrar));
    const username = requireText('username', required('username', input.username), { max: LIMITS.username });
    const password = requireText('password', required('password', input.password), { max: LIMITS.password });
    const handler = input.handler === undefined ? DEFAULT_CALL_HANDLER : requireOneOf('handler', input.handler, CALL_HANDLERS);
    const options = input.options === undefined ? {} : validateOptions(input.options);
    this.checkTransportAgreement(registrar, options);
    if (input.outbound !== undefined && typeof input.outbound !== 'boolean') throw invalid('outbound', 'outbound must be a boolean');
    const now = this.now();
    const registration: StoredRegistration = {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      name: validateName(input.name),
      handler,
      outbound: input.outbound === true,
      registrar,
      username,
      sealedPassword: this.deps.vault.seal(password),
      options,
      status: 'disabled',
      state: 'initial',
      error: null,
      listenerAgentId: null,
      generation: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      if (!(await this.deps.registrations.insert(tx, registration))) throw duplicateRegistration(username, registrar);
      tx.emit(domainEvent(this.deps.clock, 'registration.created', scope.tenantId, { registration_id: registration.id, generation: registration.generation }));
    });
    return withoutSecret(registration);
  }

  /** Adds a phone number to the tenant, as the telephony API would without a carrier. */
  async addNumber(scope: Scope, input: NewNumberEndpoint): Promise<NumberEndpoint> {
    const e164 = requireE164('number', required('number', input.number));
    const n = await this.deps.numberService.create(scope, { e164, friendlyName: validateName(input.name) });
    return { id: n.id, tenantId: n.tenantId, number: n.e164, name: n.friendlyName, agentId: n.agentId, agentHandler: null, createdAt: n.createdAt };
  }

  async get(scope: Scope, id: string): Promise<Registration> {
    return this.shown(withoutSecret(await this.stored(scope, id)));
  }

  /**
   * What a reader is shown: a `registered` nobody refreshes is not registered, and a registered
   * line whose handler cannot answer here says so in its error (the line is up, its calls will be
   * refused). While a line is not registered, `error` is the registrar's alone.
   */
  private shown(reg: Registration): Registration {
    const r = this.unrefreshed(reg);
    return r.error === null && r.state === 'registered' ? { ...r, error: handlerProblem(r.handler, this.deps.config) } : r;
  }

  /**
   * `registered` is the last report of an instance that may since have died (kill -9 reports
   * nothing), and a registrar drops a binding nobody refreshes. The instance renews its lease
   * far more often than any binding runs out, so a line whose lease is gone or lapsed is shown
   * as `registering`: nobody is keeping it registered until an instance picks it up.
   */
  private unrefreshed(r: Registration): Registration {
    if (r.state !== 'registered' || this.deps.config.registration.leaseMs <= 0 || r.leaseExpiresAt === undefined) return r;
    const until = r.leaseExpiresAt === null ? NaN : Date.parse(r.leaseExpiresAt);
    if (r.leaseOwner && until >= this.deps.clock.now().getTime()) return r;
    const error = Number.isNaN(until)
      ? 'no running instance is keeping this line registered; it was registered when the last one stopped'
      : `not refreshed since ${r.leaseExpiresAt}: the instance registering it (${r.leaseOwner}) stopped renewing its lease; another instance takes the line over`;
    return { ...r, state: 'registering', error };
  }

  private async stored(scope: Scope, id: string, tx?: Tx): Promise<StoredRegistration> {
    const found = await this.deps.registrations.get(scope, id, tx);
    if (!found) throw notFound('registration');
    return found;
  }

  /** A registration by id, or a tenant number by its id or its E.164 text. */
  async getEndpoint(scope: Scope, idOrNumber: string): Promise<PhoneEndpoint> {
    if (isE164(idOrNumber)) {
      const n = await this.deps.numberEndpoints.endpoint(scope, { e164: idOrNumber });
      if (!n) throw notFound('phone endpoint');
      return { kind: 'number', number: n };
    }
    const r = await this.deps.registrations.get(scope, idOrNumber);
    if (r) return { kind: 'registration', registration: this.shown(withoutSecret(r)) };
    const n = await this.deps.numberEndpoints.endpoint(scope, { id: idOrNumber });
    if (!n) throw notFound('phone endpoint');
    return { kind: 'number', number: n };
  }

  /** Registrations and numbers together, oldest first, keyset-paged over (created_at, id). */
  /**
   * Oldest first, by a keyset token or (as Aplisay's clients page) by offset. An offset page is
   * cut from the merged head of both kinds, so its cost grows with the offset: OFFSET_MAX bounds it.
   */
  async listEndpoints(scope: Scope, page: EndpointQuery = {}): Promise<EndpointPage> {
    const size = pageSizeOf(page.pageSize, PAGE_SIZE);
    const offset = page.offset;
    if (offset !== undefined) {
      if (!Number.isInteger(offset) || offset < 0 || offset > OFFSET_MAX) throw invalid('offset', `offset must be an integer from 0 to ${OFFSET_MAX}`);
      if (page.pageToken !== undefined) throw invalid('offset', 'offset and page_token are two ways to page: send one');
    }
    const after = page.pageToken ? decodePageToken(page.pageToken) : null;
    const skip = offset ?? 0;
    // One more than the page from each side is enough to know whether another page follows.
    const limit = skip + size + 1;
    const [regs, nums] = await Promise.all([
      page.type === 'number' ? [] : this.deps.registrations.listAfter(scope, after, limit),
      page.type === 'registration' ? [] : this.deps.numberEndpoints.endpointsAfter(scope, after, limit),
    ]);
    const merged: PhoneEndpoint[] = [
      ...regs.map((registration) => ({ kind: 'registration' as const, registration: this.shown(registration) })),
      ...nums.map((number) => ({ kind: 'number' as const, number })),
    ].sort((a, b) => compareKeysets(endpointKey(a), endpointKey(b)));
    const { items, nextPageToken } = keysetPage(merged.slice(skip), size, endpointKey);
    return { items, nextPageToken, ...(page.pageToken === undefined ? { nextOffset: nextPageToken ? skip + size : null } : {}) };
  }

  /**
   * Partial update. A change to what is sent to the registrar (registrar, username, password,
   * options) starts over: state initial, no error, a new generation the engine must pick up.
   */
  async update(scope: Scope, id: string, patch: RegistrationPatch): Promise<Registration> {
    const current = await this.stored(scope, id);
    const changes: RegistrationChanges = { restart: false, updatedAt: this.now() };
    let changed = false;
    if (patch.name !== undefined) { changes.name = validateName(patch.name); changed = true; }
    if (patch.outbound !== undefined) {
      if (typeof patch.outbound !== 'boolean') throw invalid('outbound', 'outbound must be a boolean');
      changes.outbound = patch.outbound;
      changed = true;
    }
    if (patch.handler !== undefined) {
      const handler = requireOneOf('handler', patch.handler, CALL_HANDLERS);
      if (handler !== current.handler && current.listenerAgentId) {
        await this.assertAgentHandles(scope, current.listenerAgentId, handler);
      }
      changes.handler = handler;
      changed = true;
    }
    if (patch.registrar !== undefined) {
      const registrar = await this.checkRegistrar(patch.registrar);
      if (registrar !== current.registrar) { changes.registrar = registrar; changes.restart = true; }
    }
    if (patch.username !== undefined) {
      const username = requireText('username', patch.username, { max: LIMITS.username });
      if (username !== current.username) { changes.username = username; changes.restart = true; }
    }
    if (patch.password !== undefined) {
      const password = requireText('password', patch.password, { max: LIMITS.password });
      if (password !== this.deps.vault.open(current.sealedPassword)) { changes.sealedPassword = this.deps.vault.seal(password); changes.restart = true; }
    }
    if (patch.options !== undefined) {
      const options = validateOptions(patch.options);
      if (JSON.stringify(options) !== JSON.stringify(current.options)) { changes.options = options; changes.restart = true; }
    }
    this.checkTransportAgreement(changes.registrar ?? current.registrar, changes.options ?? current.options);
    if (changes.restart) {
      changes.state = 'initial';
      changes.error = null;
    }
    if (!changed && !changes.restart) return this.shown(withoutSecret(current));
    return this.shown(await this.deps.uow.run(async (tx) => {
      if (!(await this.deps.registrations.update(tx, scope, id, changes))) {
        throw duplicateRegistration(changes.username ?? current.username, changes.registrar ?? current.registrar);
      }
      const updated = withoutSecret(await this.stored(scope, id, tx));
      if (changes.restart && updated.status === 'active') {
        tx.emit(domainEvent(this.deps.clock, 'registration.updated', scope.tenantId, { registration_id: id, generation: updated.generation }));
      }
      return updated;
    }));
  }

  /** (Re)starts registering, also after the engine gave up (`failed`). */
  async activate(scope: Scope, id: string): Promise<Registration> {
    await this.stored(scope, id);
    return this.deps.uow.run(async (tx) => {
      await this.deps.registrations.activate(tx, scope, id, this.now());
      const reg = withoutSecret(await this.stored(scope, id, tx));
      tx.emit(domainEvent(this.deps.clock, 'registration.activated', scope.tenantId, { registration_id: id, generation: reg.generation }));
      return reg;
    });
  }

  /** Stops registering; the listener binding stays. */
  async disable(scope: Scope, id: string): Promise<Registration> {
    await this.stored(scope, id);
    return this.deps.uow.run(async (tx) => {
      await this.deps.registrations.disable(tx, scope, id, this.now());
      const reg = withoutSecret(await this.stored(scope, id, tx));
      tx.emit(domainEvent(this.deps.clock, 'registration.disabled', scope.tenantId, { registration_id: id, generation: reg.generation }));
      return reg;
    });
  }

  /** Removes a registration (the engine de-registers on the event) or a tenant number. */
  async delete(scope: Scope, idOrNumber: string): Promise<PhoneEndpoint> {
    const endpoint = await this.getEndpoint(scope, idOrNumber);
    if (endpoint.kind === 'registration') {
      const reg = endpoint.registration;
      await this.deps.uow.run(async (tx) => {
        await this.deps.registrations.delete(tx, scope, reg.id);
        tx.emit(domainEvent(this.deps.clock, 'registration.deleted', scope.tenantId, { registration_id: reg.id, generation: reg.generation }));
      });
    } else {
      await this.deps.numberService.delete(scope, endpoint.number.id);
    }
    return endpoint;
  }

  private async agentHandler(scope: Scope, agentId: string): Promise<{ handler: CallHandler | null }> {
    const agent = await this.deps.registrations.agentHandler(scope, agentId);
    if (!agent) throw notFound('agent');
    return agent;
  }

  /** An agent without a handler takes calls from any handler. */
  private async assertAgentHandles(scope: Scope, agentId: string, handler: CallHandler): Promise<void> {
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
    const at = this.now();

    if (endpoint.kind === 'registration') {
      const reg = endpoint.registration;
      if (agent.handler !== null && agent.handler !== reg.handler) {
        throw new DomainError('precondition', `agent handler ${agent.handler} does not match the registration's handler ${reg.handler}`, 'handler');
      }
      await this.deps.uow.run(async (tx) => {
        const move = await this.deps.registrations.bindListener(tx, scope, reg.id, agentId, at);
        if (move === 'no_agent') throw notFound('agent');
        if (move === 'taken') throw conflict('the registration already has another listening agent', 'id');
        tx.emit(domainEvent(this.deps.clock, 'registration.listener_bound', scope.tenantId, { registration_id: reg.id, agent_id: agentId, previous_agent_id: reg.listenerAgentId }));
      });
      return { agentId, endpoint: { kind: 'registration', registration: { ...reg, listenerAgentId: agentId } } };
    }
    const n = endpoint.number;
    await this.deps.uow.run(async (tx) => {
      const move = await this.deps.numbers.setAgent(tx, scope, n.id, agentId, { at, onlyIfFreeFor: agentId });
      if (move === 'no_agent') throw notFound('agent');
      if (move === 'taken') throw conflict(`number ${n.number} is already answered by another agent`, target.number !== undefined ? 'number' : 'id');
      // Same event the telephony and deployment APIs publish when they move a number's agent.
      tx.emit(domainEvent(this.deps.clock, 'phone_number.updated', scope.tenantId, { phone_number_id: n.id, phone_number: n.number, agent_id: agentId, previous_agent_id: n.agentId }));
    });
    return { agentId, endpoint: { kind: 'number', number: { ...n, agentId, agentHandler: agent.handler } } };
  }

  /**
   * Ends an agent's listening on an endpoint (Aplisay's DELETE of a listener). Only that agent's
   * own binding: another agent's, or none, is 404, so a stale client cannot unbind a newer one.
   */
  async unlisten(scope: Scope, agentId: string, endpointId: string): Promise<PhoneEndpoint> {
    const endpoint = await this.getEndpoint(scope, requireText('id', endpointId, { max: 128 }));
    const notListening = () => notFound(`agent ${agentId} is not listening on ${endpointId}`);
    const at = this.now();
    if (endpoint.kind === 'registration') {
      const reg = endpoint.registration;
      if (reg.listenerAgentId !== agentId) throw notListening();
      await this.deps.uow.run(async (tx) => {
        if (!(await this.deps.registrations.unbindListener(tx, scope, reg.id, agentId, at))) throw notListening();
        tx.emit(domainEvent(this.deps.clock, 'registration.listener_bound', scope.tenantId, { registration_id: reg.id, agent_id: null, previous_agent_id: agentId }));
      });
      return { kind: 'registration', registration: { ...reg, listenerAgentId: null } };
    }
    const n = endpoint.number;
    if (n.agentId !== agentId) throw notListening();
    await this.deps.uow.run(async (tx) => {
      // Cleared only while still this agent's; a number moved meanwhile is left alone.
      if ((await this.deps.numbers.setAgent(tx, scope, n.id, null, { at, onlyIfFreeFor: agentId })) !== 'moved') throw notListening();
      tx.emit(domainEvent(this.deps.clock, 'phone_number.updated', scope.tenantId, { phone_number_id: n.id, phone_number: n.number, agent_id: null, previous_agent_id: agentId }));
    });
    return { kind: 'number', number: { ...n, agentId: null, agentHandler: null } };
  }

  // ---- engine-facing: across tenants ----

  /** Every line of the tenant, oldest first (the call layer: trusted sources, extension dialling). */
  async linesOf(scope: Scope): Promise<Registration[]> {
    const out: Registration[] = [];
    for (let after: Keyset | null = null; ;) {
      const page = await this.deps.registrations.listAfter(scope, after, PAGE_SIZE.max);
      out.push(...page);
      if (page.length < PAGE_SIZE.max) return out;
      const last = page[page.length - 1]!;
      after = keysetOf(last);
    }
  }

  async listActive(): Promise<Registration[]> {
    return (await this.deps.registrations.listActive()).map(withoutSecret);
  }

  async getForEngine(id: string): Promise<(Registration & { password: string }) | null> {
    const found = await this.deps.registrations.find(id);
    return found ? { ...withoutSecret(found), password: this.deps.vault.open(found.sealedPassword) } : null;
  }

  /**
   * Applies the engine's view of a registration unless it moved on meanwhile (re-activated,
   * edited, disabled, deleted): the generation and status checks sit in the UPDATE itself so a
   * late report can never overwrite a newer state. Returns false when nothing was applied.
   */
  async reportState(id: string, generation: number, change: StateChange): Promise<boolean> {
    requireOneOf('state', change.state, REGISTRATION_STATES);
    return this.stateReports.submit({ id, generation, change });
  }

  private async applyState(tx: Tx, id: string, generation: number, change: StateChange): Promise<boolean> {
    const error = change.error === undefined ? undefined : change.error === null ? null : change.error.slice(0, 1000);
    const applied = await this.deps.registrations.applyState(tx, id, generation, { state: change.state, error, failed: change.status === 'failed', at: this.now() });
    if (!applied) return false;
    tx.emit(domainEvent(this.deps.clock, 'registration.state', applied.tenantId, { registration_id: id, status: applied.status, state: applied.state, error: applied.error }));
    return true;
  }

  async findListener(id: string): Promise<{ registration: Registration; agentId: string | null } | null> {
    const found = await this.deps.registrations.find(id);
    if (!found) return null;
    const registration = withoutSecret(found);
    return { registration, agentId: registration.listenerAgentId };
  }
}
