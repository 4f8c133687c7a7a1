import { isIP } from 'node:net';
import type { TrunkTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { event } from './deps.js';
import { invalid, notFound } from './errors.js';
import type { Scope } from './principal.js';
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

export interface SipTarget {
  host: string;
  port: number | null;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Reads a trunk address: a hostname, an IPv4 address or a bracketed IPv6 address, with an
 * optional `:port` and an optional `sip:` scheme. Returns null when it is none of these.
 */
export function parseSipTarget(address: string): SipTarget | null {
  const rest = address.trim().replace(/^sip:/i, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(rest);
  if (!m) return null;
  const host = m[1];
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 ? { host, port } : null;
  // Dotted digits must be a real IPv4 address, not a hostname that happens to look like one.
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4 ? { host, port } : null;
  return HOSTNAME.test(host) ? { host, port } : null;
}

function toTrunk(r: TrunkTable): Trunk {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    address: r.address,
    numbers: JSON.parse(r.numbers) as string[],
    authUsername: r.auth_username,
    type: r.type as TrunkType,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
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
  constructor(private readonly deps: ServiceDeps) {}

  async create(scope: Scope, input: NewTrunk): Promise<Trunk> {
    const name = requireText('trunk_name', input.name, { max: 100 });
    const address = requireText('trunk_address', input.address, { max: 260 }).trim();
    const target = parseSipTarget(address);
    if (!target) throw invalid('trunk_address', 'trunk_address must be a SIP host: a hostname or IP address, optionally with :port or a sip: prefix');
    const numbers = requireNumbers(input.numbers);
    const authUsername = requireText('trunk_auth_username', input.authUsername, { max: 256 });
    const authPassword = requireText('trunk_auth_password', input.authPassword, { max: 256 });
    const type = requireOneOf('trunk_type', input.type, TRUNK_TYPES);
    await assertPublicSipTarget('trunk_address', target.host, this.deps.config);

    const now = this.deps.clock.now().toISOString();
    const row: TrunkTable = {
      id: this.deps.ids.hex('ST_', 12),
      tenant_id: scope.tenantId,
      name,
      address,
      numbers: JSON.stringify(numbers),
      auth_username: authUsername,
      sealed_password: this.deps.vault.seal(authPassword),
      type,
      created_at: now,
      updated_at: now,
    };
    await this.deps.db.insertInto('trunks').values(row).execute();
    await this.deps.bus.publish(event(this.deps, 'trunk.created', scope.tenantId, { trunk_id: row.id, trunk_type: type }));
    return toTrunk(row);
  }

  /** Newest first. */
  async list(scope: Scope): Promise<Trunk[]> {
    const rows = await this.deps.db.selectFrom('trunks').selectAll().where('tenant_id', '=', scope.tenantId)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toTrunk);
  }

  async get(scope: Scope, id: string): Promise<Trunk> {
    return toTrunk(await this.row(scope, id));
  }

  /** The SIP digest credentials, unsealed, for placing calls through the trunk. Never for a response. */
  async getCredentials(scope: Scope, id: string): Promise<{ username: string; password: string }> {
    const row = await this.row(scope, id);
    return { username: row.auth_username, password: this.deps.vault.open(row.sealed_password) };
  }

  async delete(scope: Scope, id: string): Promise<void> {
    await this.row(scope, id);
    await this.deps.db.deleteFrom('trunks').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    await this.deps.bus.publish(event(this.deps, 'trunk.deleted', scope.tenantId, { trunk_id: id }));
  }

  private async row(scope: Scope, id: string): Promise<TrunkTable> {
    const row = await this.deps.db.selectFrom('trunks').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`trunk ${id}`);
    return row;
  }
}
