import { isIP } from 'node:net';
import { invalid } from './errors.js';

export const SIP_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type SipTransport = (typeof SIP_TRANSPORTS)[number];

/** A registrar address as Dialtone stores it: lower-cased scheme, host and parameter names. */
export interface RegistrarUri {
  scheme: 'sip' | 'sips';
  user: string | null;
  /** Host name or IP address; IPv6 keeps its brackets. */
  host: string;
  port: number | null;
  params: Record<string, string | null>;
  /** The normalized text, what `registrar` holds from now on. */
  text: string;
}

const MAX_LENGTH = 512;
// Registrar URIs are narrower than RFC 3261 allows on purpose: no password in the user part (it
// would be a plaintext secret), no `;` or `?` in the user part, no URI headers.
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})+$/;
const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const PARAM_NAME_RE = /^(?:[A-Za-z0-9\-_.!~*'()]|%[0-9A-Fa-f]{2})+$/;
const PARAM_VALUE_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;

const bad = (why: string) => invalid('registrar', `registrar must be a sip: or sips: URI like sip:pbx.example.com:5060 (${why})`);

function parseHost(text: string): { host: string; rest: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || isIP(text.slice(1, close)) !== 6) throw bad('invalid IPv6 address');
    return { host: text.slice(0, close + 1).toLowerCase(), rest: text.slice(close + 1) };
  }
  const m = /^[A-Za-z0-9.-]*/.exec(text)!;
  const host = m[0].replace(/\.$/, '').toLowerCase();
  if (!host) throw bad('missing host');
  if (host.length > 253 || !host.split('.').every((l) => LABEL_RE.test(l))) throw bad(`invalid host "${host.slice(0, 64)}"`);
  // All-numeric dotted names are meant as IPv4 and must be one (999.1.1.1 is not a host).
  if (/^[0-9.]+$/.test(host) && isIP(host) !== 4) throw bad(`invalid IPv4 address "${host}"`);
  return { host, rest: text.slice(m[0].length) };
}

function parseParams(text: string, scheme: 'sip' | 'sips'): Record<string, string | null> {
  const params: Record<string, string | null> = {};
  if (text === '') return params;
  if (!text.startsWith(';')) throw bad(`unexpected "${text.slice(0, 16)}" after the host`);
  for (const seg of text.slice(1).split(';')) {
    const eq = seg.indexOf('=');
    const name = (eq < 0 ? seg : seg.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? null : seg.slice(eq + 1);
    if (!PARAM_NAME_RE.test(name) || (value !== null && !PARAM_VALUE_RE.test(value))) throw bad(`invalid parameter "${seg.slice(0, 32)}"`);
    if (name in params) throw bad(`parameter ${name} given twice`);
    // maddr would send the REGISTER somewhere other than the host that passed the target check.
    if (name === 'maddr') throw bad('the maddr parameter is not allowed');
    if (name === 'transport') {
      const t = value?.toLowerCase();
      if (!t || !(SIP_TRANSPORTS as readonly string[]).includes(t)) throw bad(`transport must be one of ${SIP_TRANSPORTS.join(', ')}`);
      if (scheme === 'sips' && t !== 'tls') throw bad('a sips: registrar needs transport=tls');
      params[name] = t;
    } else {
      params[name] = value;
    }
  }
  return params;
}

/** Validates a registrar URI (throws `invalid('registrar')`) and returns its normalized form. */
export function parseRegistrarUri(value: string): RegistrarUri {
  if (value.length > MAX_LENGTH) throw bad(`at most ${MAX_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw bad('no spaces or control characters');
  const m = /^(sips?):(.*)$/i.exec(value);
  if (!m) throw bad('unsupported scheme');
  const scheme = m[1].toLowerCase() as 'sip' | 'sips';
  let rest = m[2];
  if (rest.includes('?')) throw bad('URI headers are not allowed');

  let user: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    if (user.includes(':')) throw bad('put the password in the password field, not in the URI');
    if (!USER_RE.test(user)) throw bad('invalid user part');
    rest = rest.slice(at + 1);
  }

  const { host, rest: afterHost } = parseHost(rest);
  rest = afterHost;
  let port: number | null = null;
  if (rest.startsWith(':')) {
    const pm = /^:([0-9]{1,5})(?![0-9])/.exec(rest);
    port = pm ? Number(pm[1]) : NaN;
    if (!pm || port < 1 || port > 65535) throw bad('port must be 1-65535');
    rest = rest.slice(pm[0].length);
  }
  const params = parseParams(rest, scheme);

  const paramText = Object.entries(params).map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('');
  const text = `${scheme}:${user !== null ? `${user}@` : ''}${host}${port !== null ? `:${port}` : ''}${paramText}`;
  return { scheme, user, host, port, params, text };
}
