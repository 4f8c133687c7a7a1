import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import { invalid } from './errors.js';

/** Loopback, RFC 1918, CGNAT, link-local, unique-local, unspecified. */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number);
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31)
      || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = ip.toLowerCase();
  if (v6.startsWith('::ffff:')) return isPrivateAddress(v6.slice(7));
  return v6 === '::1' || v6 === '::' || v6.startsWith('fe80:') || v6.startsWith('fc') || v6.startsWith('fd');
}

/**
 * Refuses SIP targets (registrars, trunk addresses) that are or resolve to private addresses,
 * unless ALLOW_PRIVATE_SIP_TARGETS is set: otherwise a tenant could make the server send SIP
 * into the operator's own network. A name that does not resolve is allowed here; the
 * registration engine reports that as its own error later.
 */
export async function assertPublicSipTarget(field: string, host: string, config: Config): Promise<void> {
  if (config.sip.allowPrivateTargets) return;
  const bare = host.replace(/^\[|\]$/g, '');
  let addresses: string[] = [];
  if (isIP(bare)) addresses = [bare];
  else if (bare === 'localhost' || bare.endsWith('.localhost')) addresses = ['127.0.0.1'];
  else {
    try {
      addresses = (await lookup(bare, { all: true })).map((a) => a.address);
    } catch {
      addresses = [];
    }
  }
  if (addresses.some(isPrivateAddress)) {
    throw invalid(field, `${field} ${host} is a loopback, private or link-local address; set ALLOW_PRIVATE_SIP_TARGETS=1 to allow it`);
  }
}
