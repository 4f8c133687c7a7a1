import type { Vault } from '../vault/vault.js';
import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { conflict, invalid, notFound } from './errors.js';
import { domainEvent } from './events.js';
import type { Scope } from './principal.js';
import { requireObject, requireOneOf, requireText } from './validate.js';

export type Provider = 'twilio' | 'plivo' | 'vobiz';
export const PROVIDERS: readonly Provider[] = ['twilio', 'plivo', 'vobiz'];

/**
 * Carrier API credentials as the carrier names them, so the call runtime can hand them to the
 * carrier's SDK unchanged. Twilio identifies the account by its Account SID; Plivo and Vobiz by
 * an auth id. Only ever held in memory or sealed by the vault.
 */
export interface TwilioCredentials { account_sid: string; auth_token: string }
export interface AuthIdCredentials { auth_id: string; auth_token: string }
export type CarrierCredentials = TwilioCredentials | AuthIdCredentials;

/** What may be shown about a stored credential: never the secret, not even the account id. */
export interface ProviderCredential {
  id: string;
  tenantId: string;
  provider: Provider;
  label: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewProviderCredential {
  provider: unknown;
  label: unknown;
  credentials: unknown;
}

/** The credential fields each carrier needs; anything else is refused so typos do not pass silently. */
const REQUIRED_KEYS: Record<Provider, readonly string[]> = {
  twilio: ['account_sid', 'auth_token'],
  plivo: ['auth_id', 'auth_token'],
  vobiz: ['auth_id', 'auth_token'],
};

const TWILIO_ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

/** Checks the credentials object against what its carrier needs and returns exactly those keys. */
function checkCredentials(provider: Provider, value: unknown): CarrierCredentials {
  const given = requireObject('credentials', value);
  const needed = REQUIRED_KEYS[provider];
  const extra = Object.keys(given).filter((k) => !needed.includes(k));
  if (extra.length) {
    const names = extra.map((k) => `credentials.${k}`).join(', ');
    throw invalid(`credentials.${extra[0]}`, `${names} ${extra.length > 1 ? 'are not fields' : 'is not a field'} of ${provider} credentials (expected ${needed.join(', ')})`);
  }
  const out: Record<string, string> = {};
  for (const key of needed) {
    const field = `credentials.${key}`;
    if (given[key] === undefined) throw invalid(field, `${field} is required for ${provider}`);
    out[key] = requireText(field, given[key], { max: 256 });
  }
  if (provider === 'twilio' && !TWILIO_ACCOUNT_SID.test(out.account_sid)) {
    throw invalid('credentials.account_sid', 'credentials.account_sid must be a Twilio Account SID: AC followed by 32 hex digits');
  }
  return out as unknown as CarrierCredentials;
}

/** The public account identifier carriers put in their webhooks. */
function accountRefOf(credentials: CarrierCredentials): string {
  return 'account_sid' in credentials ? credentials.account_sid : credentials.auth_id;
}

const inUse = (id: string) => conflict(`credential ${id} is still used by phone numbers; delete them or move them to another credential first`, 'id');

/** A credential as stored: the metadata and the sealed credentials with their public account id. */
export interface StoredCredential extends ProviderCredential {
  sealedCredentials: string;
  /** The public account identifier carriers put in their webhooks (Twilio AccountSid, Plivo auth id). */
  accountRef: string | null;
}

/** Where carrier credentials are kept; the only writer of the provider_credentials table. */
export interface ProviderCredentialRepository {
  insert(tx: Tx | undefined, credential: StoredCredential): Promise<void>;
  get(scope: Scope, id: string): Promise<StoredCredential | null>;
  /** Newest first. */
  list(scope: Scope): Promise<StoredCredential[]>;
  /** Across tenants, oldest first. */
  findByAccountRef(provider: Provider, accountRef: string): Promise<StoredCredential[]>;
  /** Deletes the credential unless a phone number still points at it; false when one does. */
  deleteUnlessUsed(tx: Tx, scope: Scope, id: string): Promise<boolean>;
}

export interface ProviderCredentialServiceDeps {
  credentials: ProviderCredentialRepository;
  vault: Vault;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

function metadata(c: StoredCredential): ProviderCredential {
  return { id: c.id, tenantId: c.tenantId, provider: c.provider, label: c.label, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

/** Carrier credentials of a tenant (Twilio, Plivo, Vobiz), sealed at rest; phone numbers point at them. */
export class ProviderCredentialService {
  constructor(private readonly deps: ProviderCredentialServiceDeps) {}

  async create(scope: Scope, input: NewProviderCredential): Promise<ProviderCredential> {
    const provider = requireOneOf('provider', input.provider, PROVIDERS);
    const label = requireText('label', input.label, { max: 200 });
    const credentials = checkCredentials(provider, input.credentials);
    const now = this.deps.clock.now().toISOString();
    const stored: StoredCredential = {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      provider,
      label,
      sealedCredentials: this.deps.vault.sealJson(credentials),
      accountRef: accountRefOf(credentials),
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      await this.deps.credentials.insert(tx, stored);
      tx.emit(domainEvent(this.deps.clock, 'provider_credential.created', scope.tenantId, { credentials_id: stored.id, provider }));
    });
    return metadata(stored);
  }

  async list(scope: Scope): Promise<ProviderCredential[]> {
    return (await this.deps.credentials.list(scope)).map(metadata);
  }

  async get(scope: Scope, id: string): Promise<ProviderCredential> {
    return metadata(await this.stored(scope, id));
  }

  /** The unsealed credentials, for the call runtime talking to the carrier. */
  async open(scope: Scope, id: string): Promise<CarrierCredentials> {
    return this.deps.vault.openJson<CarrierCredentials>((await this.stored(scope, id)).sealedCredentials);
  }

  /**
   * The credentials a carrier webhook may belong to, found by the account id the carrier sends
   * (Twilio AccountSid, Plivo auth id) across tenants, so its signature can be checked. Several
   * tenants may run on one carrier account; the caller picks the tenant from the call or number.
   */
  async findByAccountRef(provider: Provider, accountRef: string): Promise<Array<{ id: string; tenantId: string; credentials: CarrierCredentials }>> {
    const found = await this.deps.credentials.findByAccountRef(provider, accountRef);
    return found.map((c) => ({ id: c.id, tenantId: c.tenantId, credentials: this.deps.vault.openJson<CarrierCredentials>(c.sealedCredentials) }));
  }

  /** Refused while a phone number still points at the credential: those numbers would lose their carrier. */
  async delete(scope: Scope, id: string): Promise<void> {
    await this.stored(scope, id);
    await this.deps.uow.run(async (tx) => {
      if (!(await this.deps.credentials.deleteUnlessUsed(tx, scope, id))) throw inUse(id);
      tx.emit(domainEvent(this.deps.clock, 'provider_credential.deleted', scope.tenantId, { credentials_id: id }));
    });
  }

  private async stored(scope: Scope, id: string): Promise<StoredCredential> {
    const found = await this.deps.credentials.get(scope, id);
    if (!found) throw notFound(`credential ${id}`);
    return found;
  }
}
