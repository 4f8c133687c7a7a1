/**
 * The SIP addresses tenants give us (registrars, trunk hosts), read with the SIP stack's own URI
 * parser so what we accept is what the stack will send to. The rules here are only the ones the
 * product adds on top of RFC 3261.
 */
import { SipParseError } from '../sip/errors.js';
import { formatHost, formatUri, parseHostPort, parseUri, type SipUri } from '../sip/uri.js';
import { invalid } from './errors.js';

export const SIP_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type SipTransport = (typeof SIP_TRANSPORTS)[number];

/** A registrar address as Dialtone stores it: lower-cased scheme, host and parameter names. */
export interface RegistrarUri {
  scheme: 'sip' | 'sips';
  /** Host name or IP address; IPv6 keeps its brackets. */
  host: string;
  transport: SipTransport | null;
  /** The normalized text, what `registrar` holds from now on. */
  text: string;
}

const MAX_REGISTRAR_LENGTH = 512;

const badRegistrar = (why: string) => invalid('registrar', `registrar must be a sip: or sips: URI like sip:pbx.example.com:5060 (${why})`);

function parseOrExplain<T>(parse: () => T, explain: (why: string) => Error): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SipParseError) throw explain(err.message);
    throw err;
  }
}

/**
 * Validates a registrar URI (throws `invalid('registrar')`) and returns its normalized form.
 * Stricter than RFC 3261 on purpose: no password in the URI (a plaintext secret), no `;` or `?`
 * in the user part, no URI headers, and no `maddr`, which would send the REGISTER somewhere
 * other than the host that passed the private-address check.
 */
export function parseRegistrar(value: string): RegistrarUri {
  if (value.length > MAX_REGISTRAR_LENGTH) throw badRegistrar(`at most ${MAX_REGISTRAR_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw badRegistrar('no spaces or control characters');
  if (!/^sips?:/i.test(value)) throw badRegistrar('unsupported scheme');
  const uri: SipUri = parseOrExplain(() => parseUri(value), badRegistrar);
  const scheme = uri.scheme as 'sip' | 'sips';
  if (uri.password !== undefined) throw badRegistrar('put the password in the password field, not in the URI');
  if (uri.user !== undefined && /[;?]/.test(uri.user)) throw badRegistrar('invalid user part');
  if (uri.headers.size > 0) throw badRegistrar('URI headers are not allowed');
  if (uri.port === 0) throw badRegistrar('port must be 1-65535');
  if (uri.params.has('maddr')) throw badRegistrar('the maddr parameter is not allowed');
  let transport: SipTransport | null = null;
  if (uri.params.has('transport')) {
    const t = uri.params.get('transport')?.toLowerCase();
    if (!t || !(SIP_TRANSPORTS as readonly string[]).includes(t)) throw badRegistrar(`transport must be one of ${SIP_TRANSPORTS.join(', ')}`);
    if (scheme === 'sips' && t !== 'tls') throw badRegistrar('a sips: registrar needs transport=tls');
    transport = t as SipTransport;
    uri.params.set('transport', t);
  }
  // Lower-case and without a trailing dot, so the duplicate check cannot be dodged by spelling.
  uri.host = uri.host.toLowerCase().replace(/\.$/, '');
  return { scheme, host: formatHost(uri.host), transport, text: formatUri(uri) };
}

/** A trunk's SIP host: a name, an IPv4 or bracketed IPv6 address, and an optional port. */
export interface TrunkTarget {
  /** IPv6 keeps its brackets. */
  host: string;
  port: number | null;
}

/**
 * Reads a trunk address: `host`, `host:port` or `sip:host[:port]`. Returns null when it is none
 * of these (a user part, parameters or another scheme are not a trunk address).
 */
export function parseTrunkAddress(address: string): TrunkTarget | null {
  const rest = address.trim().replace(/^sip:/i, '');
  try {
    const hp = parseHostPort(rest, 'trunk address');
    if (hp.end !== rest.length || hp.port === 0) return null;
    return { host: formatHost(hp.host), port: hp.port ?? null };
  } catch (err) {
    if (err instanceof SipParseError) return null;
    throw err;
  }
}
