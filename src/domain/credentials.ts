import type { ProviderCredentialTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { event } from './deps.js';
import { conflict, invalid, notFound } from './errors.js';
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

/** True when a database error is a foreign-key violation, in either dialect. */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

function toCredential(r: ProviderCredentialTable): ProviderCredential {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    provider: r.provider as Provider,
    label: r.label,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

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

/** Carrier credentials of a tenant (Twilio, Plivo, Vobiz), sealed at rest; phone numbers point at them. */
export class ProviderCredentialService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(scope: Scope, input: NewProviderCredential): Promise<ProviderCredential> {
    const provider = requireOneOf('provider', input.provider, PROVIDERS);
    const label = requireText('label', input.label, { max: 200 });
    const credentials = checkCredentials(provider, input.credentials);
    const now = this.deps.clock.now().toISOString();
    const row: ProviderCredentialTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      provider,
      label,
      sealed_credentials: this.deps.vault.sealJson(credentials),
      account_ref: accountRefOf(credentials),
      created_at: now,
      updated_at: now,
    };
    await this.deps.db.insertInto('provider_credentials').values(row).execute();
    await this.deps.bus.publish(event(this.deps, 'provider_credential.created', scope.tenantId, { credentials_id: row.id, provider }));
    return toCredential(row);
  }

  async list(scope: Scope): Promise<ProviderCredential[]> {
    const rows = await this.deps.db.selectFrom('provider_credentials').selectAll()
      .where('tenant_id', '=', scope.tenantId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toCredential);
  }

  async get(scope: Scope, id: string): Promise<ProviderCredential> {
    return toCredential(await this.row(scope, id));
  }

  /** The unsealed credentials, for the call runtime talking to the carrier. */
  async open(scope: Scope, id: string): Promise<CarrierCredentials> {
    return this.deps.vault.openJson<CarrierCredentials>((await this.row(scope, id)).sealed_credentials);
  }

  /**
   * The credentials a carrier webhook may belong to, found by the account id the carrier sends
   * (Twilio AccountSid, Plivo auth id) across tenants, so its signature can be checked. Several
   * tenants may run on one carrier account; the caller picks the tenant from the call or number.
   */
  async findByAccountRef(provider: Provider, accountRef: string): Promise<Array<{ id: string; tenantId: string; credentials: CarrierCredentials }>> {
    const rows = await this.deps.db.selectFrom('provider_credentials').selectAll()
      .where('provider', '=', provider).where('account_ref', '=', accountRef)
      .orderBy('created_at').orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, credentials: this.deps.vault.openJson<CarrierCredentials>(row.sealed_credentials) }));
  }

  /** Refused while a phone number still points at the credential: those numbers would lose their carrier. */
  async delete(scope: Scope, id: string): Promise<void> {
    await this.row(scope, id);
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        const { n } = await trx.selectFrom('phone_numbers').select((eb) => eb.fn.countAll<number>().as('n'))
          .where('tenant_id', '=', scope.tenantId).where('credentials_id', '=', id).executeTakeFirstOrThrow();
        if (Number(n) > 0) throw inUse(id);
        await trx.deleteFrom('provider_credentials').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
      });
    } catch (err) {
      // The foreign key catches a number attached between the check and the delete.
      if (isForeignKeyViolation(err)) throw inUse(id);
      throw err;
    }
    await this.deps.bus.publish(event(this.deps, 'provider_credential.deleted', scope.tenantId, { credentials_id: id }));
  }

  private async row(scope: Scope, id: string): Promise<ProviderCredentialTable> {
    const row = await this.deps.db.selectFrom('provider_credentials').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`credential ${id}`);
    return row;
  }
}
