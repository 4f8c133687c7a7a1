/**
 * RFC 3263-lite server location: numeric host → as is; explicit port → A/AAAA;
 * otherwise SRV for the transport, falling back to A/AAAA on the default port.
 * NAPTR is skipped: the transport is chosen by the caller (URI or explicit option).
 */
import * as dnsPromises from 'node:dns/promises';
import { isIP } from 'node:net';
import { SipResolveError } from './errors.js';

export type TransportName = 'udp' | 'tcp' | 'tls';

export interface ResolvedTarget {
  /** IP address to connect / send to. */
  address: string;
  port: number;
  transport: TransportName;
  /** Name the target was found under (TLS SNI and certificate checks use it). */
  hostname: string;
}

export interface SrvRecordLike {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The subset of node:dns/promises used here; inject a fake in tests. */
export interface DnsLike {
  resolveSrv(name: string): Promise<SrvRecordLike[]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
  /** getaddrinfo fallback so /etc/hosts names such as "localhost" work. */
  lookup?(host: string): Promise<Array<{ address: string; family: number }>>;
}

export const systemDns: DnsLike = {
  resolveSrv: (name) => dnsPromises.resolveSrv(name),
  resolve4: (host) => dnsPromises.resolve4(host),
  resolve6: (host) => dnsPromises.resolve6(host),
  lookup: (host) => dnsPromises.lookup(host, { all: true }),
};

export function defaultPort(transport: TransportName): number {
  return transport === 'tls' ? 5061 : 5060;
}

function srvName(host: string, transport: TransportName): string {
  if (transport === 'tls') return `_sips._tcp.${host}`;
  return `_sip._${transport}.${host}`;
}

/**
 * RFC 2782 ordering: ascending priority; within a priority, a weighted random
 * permutation (weight-0 records still get a chance, just a small one).
 */
export function orderSrv<T extends SrvRecordLike>(records: T[], random: () => number = Math.random): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: T[] = [];
  for (const prio of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = [...byPriority.get(prio)!].sort((a, b) => a.weight - b.weight);
    while (pool.length) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let x = random() * total;
        pick = pool.findIndex((r) => (x -= r.weight) < 0);
        if (pick < 0) pick = pool.length - 1;
      }
      out.push(pool.splice(pick, 1)[0]!);
    }
  }
  return out;
}

export class Resolver {
  constructor(
    private readonly dns: DnsLike = systemDns,
    /** Which address families to return, IPv4 first. */
    private readonly families: Array<4 | 6> = [4, 6],
  ) {}

  /** Resolves a SIP host (from a URI or an outbound proxy) into ordered targets. */
  async resolve(host: string, port: number | undefined, transport: TransportName): Promise<ResolvedTarget[]> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    if (isIP(bare)) return [{ address: bare, port: port ?? defaultPort(transport), transport, hostname: bare }];
    if (port !== undefined) return this.addresses(bare, port, transport, bare);

    const srv = await this.dns.resolveSrv(srvName(bare, transport)).catch(() => [] as SrvRecordLike[]);
    // A single "." target means the service is explicitly not offered (RFC 2782).
    const usable = srv.filter((r) => r.name && r.name !== '.');
    if (usable.length) {
      const out: ResolvedTarget[] = [];
      for (const r of orderSrv(usable)) {
        try {
          out.push(...(await this.addresses(r.name, r.port, transport, bare)));
        } catch {
          // try the next SRV target
        }
      }
      if (out.length) return out;
      throw new SipResolveError(bare);
    }
    return this.addresses(bare, defaultPort(transport), transport, bare);
  }

  private async addresses(name: string, port: number, transport: TransportName, hostname: string): Promise<ResolvedTarget[]> {
    if (isIP(name)) return [{ address: name, port, transport, hostname }];
    const found: string[] = [];
    for (const fam of this.families) {
      const list = await (fam === 4 ? this.dns.resolve4(name) : this.dns.resolve6(name)).catch(() => [] as string[]);
      found.push(...list);
    }
    if (!found.length && this.dns.lookup) {
      const list = await this.dns.lookup(name).catch(() => []);
      for (const fam of this.families) found.push(...list.filter((a) => a.family === fam).map((a) => a.address));
    }
    if (!found.length) throw new SipResolveError(name === hostname ? hostname : `${hostname} (${name})`);
    return found.map((address) => ({ address, port, transport, hostname }));
  }
}
