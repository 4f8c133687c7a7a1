import type { Config } from '../config.js';
import type { Vault } from '../vault/vault.js';
import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { invalid, notFound } from './errors.js';
import { offsetPage, type OffsetPage, type OffsetWindow } from './paging.js';
import { domainEvent } from './events.js';
import type { Scope } from './principal.js';
import { parseTrunkAddress } from './sip-addresses.js';
import { assertPublicSipTarget } from './sip-target.js';
import { requireE164, requireOneOf, requireText } from './validate.js';

export type TrunkType = 'twilio' | 'exotel';
export const TRUNK_TYPES: readonly TrunkType[] = ['twilio', 'exotel'];
export const MAX_TRUNK_NUMBERS = 100;

/** An outbound SIP trunk: where to send calls and which caller ids it may use. The password stays sealed. */
export interface Trunk {
  id: string;
  tenantId: string;
  name: string;
  /** As the user gave it: `host`, `host:port` or `sip:host[:port]`. */
  address: string;
  numbers: string[];
  authUsername: string;
  type: TrunkType;
  createdAt: string;
  updatedAt: string;
}

export interface NewTrunk {
  name: unknown;
  address: unknown;
  numbers: unknown;
  authUsername: unknown;
  authPassword: unknown;
  type: unknown;
}

/** A trunk as stored: with its SIP password sealed by the vault. */
export interface StoredTrunk extends Trunk {
  sealedPassword: string;
}

/** Where trunks are kept; the only writer of the trunks table. */
export interface TrunkRepository {
  insert(tx: Tx | undefined, trunk: StoredTrunk): Promise<void>;
  get(scope: Scope, id: string): Promise<StoredTrunk | null>;
  /** Newest first; fetches one row past `window.limit` when a window is given. */
  list(scope: Scope, window?: OffsetWindow): Promise<StoredTrunk[]>;
  delete(tx: Tx | undefined, scope: Scope, id: string): Promise<void>;
  /** Across tenants: the tenants with a trunk listing this caller id (the call layer routes by it). */
  tenantsWithNumber(e164: string): Promise<string[]>;
}

export interface TrunkServiceDeps {
  trunks: TrunkRepository;
  vault: Vault;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
  /** Whether private SIP targets are allowed, and how names are resolved for that check. */
  config: Config;
}

function withoutSecret({ sealedPassword: _, ...trunk }: StoredTrunk): Trunk {
  return trunk;
}

function requireNumbers(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid('trunk_numbers', 'trunk_numbers must be an array of E.164 phone numbers');
  if (value.length === 0) throw invalid('trunk_numbers', 'trunk_numbers must list at least one phone number');
  if (value.length > MAX_TRUNK_NUMBERS) throw invalid('trunk_numbers', `trunk_numbers may list at most ${MAX_TRUNK_NUMBERS} phone numbers`);
  const seen = new Set<string>();
  return value.map((n, i) => {
    const field = `trunk_numbers[${i}]`;
    const e164 = requireE164(field, n);
    if (seen.has(e164)) throw invalid(field, `${field} ${e164} is listed twice`);
    seen.add(e164);
    return e164;
  });
}

export class TrunkService {
  constructor(private readonly deps: TrunkServiceDeps) {}

  async create(scope: Scope, input: NewTrunk): Promise<Trunk> {
    const name = requireText('trunk_name', input.name, { max: 100 });
    const address = requireText('trunk_address', input.address, { max: 260 }).trim();
    const target = parseTrunkAddress(address);
    if (!target) throw invalid('trunk_address', 'trunk_address must be a SIP host: a hostname or IP address, optionally with :port or a sip: prefix');
    const numbers = requireNumbers(input.numbers);
    const authUsername = requireText('trunk_auth_username', input.authUsername, { max: 256 });
    const authPassword = requireText('trunk_auth_password', input.authPassword, { max: 256 });
    const type = requireOneOf('trunk_type', input.type, TRUNK_TYPES);
    await assertPublicSipTarget('trunk_address', target.host, this.deps.config);

    const now = this.deps.clock.now().toISOString();
    const trunk: StoredTrunk = {
      id: this.deps.ids.hex('ST_', 12),
      tenantId: scope.tenantId,
      name,
      address,
      numbers,
      authUsername,
      sealedPassword: this.deps.vault.seal(authPassword),
      type,
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      await this.deps.trunks.insert(tx, trunk);
      tx.emit(domainEvent(this.deps.clock, 'trunk.created', scope.tenantId, { trunk_id: trunk.id, trunk_type: type }));
    });
    return withoutSecret(trunk);
  }

  /** Newest first. */
  async list(scope: Scope): Promise<Trunk[]> {
    return (await this.deps.trunks.list(scope)).map(withoutSecret);
  }

  async page(scope: Scope, window: OffsetWindow): Promise<OffsetPage<Trunk>> {
    const page = offsetPage(await this.deps.trunks.list(scope, window), window);
    return { items: page.items.map(withoutSecret), nextOffset: page.nextOffset };
  }

  async get(scope: Scope, id: string): Promise<Trunk> {
    return withoutSecret(await this.stored(scope, id));
  }

  /** The SIP digest credentials, unsealed, for placing calls through the trunk. Never for a response. */
  async getCredentials(scope: Scope, id: string): Promise<{ username: string; password: string }> {
    const trunk = await this.stored(scope, id);
    return { username: trunk.authUsername, password: this.deps.vault.open(trunk.sealedPassword) };
  }

  /** The tenant whose trunk lists `e164`, when exactly one does. */
  async tenantOfNumber(e164: string): Promise<string | null> {
    const tenants = await this.deps.trunks.tenantsWithNumber(e164);
    return tenants.length === 1 ? tenants[0]! : null;
  }

  async delete(scope: Scope, id: string): Promise<void> {
    await this.stored(scope, id);
    await this.deps.uow.run(async (tx) => {
      await this.deps.trunks.delete(tx, scope, id);
      tx.emit(domainEvent(this.deps.clock, 'trunk.deleted', scope.tenantId, { trunk_id: id }));
    });
  }

  private async stored(scope: Scope, id: string): Promise<StoredTrunk> {
    const trunk = await this.deps.trunks.get(scope, id);
    if (!trunk) throw notFound(`trunk ${id}`);
    return trunk;
  }
}
