/**
 * Which source addresses speak for a tenant: the resolved hosts of its trunks and of its lines'
 * registrars. An INVITE from one of them may reach the tenant's numbers and cause calls through
 * its trunks; one from anywhere else may not (toll fraud).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import { parseTrunkAddress } from '../../domain/sip-addresses.js';
import { parseUri } from '../../sip/index.js';

export interface TrustedSources {
  isTrusted(scope: Scope, address: string): Promise<boolean>;
}

/** How long a tenant's resolved addresses are reused: trunk and registrar names rarely move. */
const TTL_MS = 30_000;
const MAX_TENANTS = 10_000;

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

async function resolve(host: string): Promise<string[]> {
  const h = bare(host);
  if (isIP(h)) return [h];
  try {
    return (await lookup(h, { all: true })).map((a) => a.address.toLowerCase());
  } catch {
    return []; // an unresolvable name trusts nobody
  }
}

/** The IPv4 form of an IPv4-mapped IPv6 address, so `::ffff:10.0.0.1` matches `10.0.0.1`. */
function normal(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

export class TenantSources implements TrustedSources {
  private readonly cache = new Map<string, { at: number; addresses: Promise<Set<string>> }>();

  constructor(private readonly services: Services, private readonly now: () => number = Date.now) {}

  async isTrusted(scope: Scope, address: string): Promise<boolean> {
    return (await this.addressesOf(scope)).has(normal(address));
  }

  /** Forgets what was resolved (trunks or lines changed). */
  invalidate(tenantId?: string): void {
    if (tenantId) this.cache.delete(tenantId);
    else this.cache.clear();
  }

  private addressesOf(scope: Scope): Promise<Set<string>> {
    const hit = this.cache.get(scope.tenantId);
    if (hit && this.now() - hit.at < TTL_MS) return hit.addresses;
    if (this.cache.size >= MAX_TENANTS) this.cache.clear();
    const addresses = this.load(scope).catch((err: unknown) => {
      this.cache.delete(scope.tenantId);
      throw err;
    });
    this.cache.set(scope.tenantId, { at: this.now(), addresses });
    return addresses;
  }

  private async load(scope: Scope): Promise<Set<string>> {
    const hosts = new Set<string>();
    for (const t of await this.services.trunks.list(scope)) {
      const target = parseTrunkAddress(t.address);
      if (target) hosts.add(target.host);
    }
    for (const line of await this.services.registrations.linesOf(scope)) {
      try {
        hosts.add(parseUri(line.registrar).host);
      } catch {
        // stored registrars were validated on the way in
      }
    }
    const out = new Set<string>();
    for (const list of await Promise.all([...hosts].map(resolve))) for (const a of list) out.add(normal(a));
    return out;
  }
}
