/**
 * SIP / SIPS / tel URIs (RFC 3261 §19.1, RFC 3966 lite).
 *
 * Escapes are decoded on parse (so `sip:%75ser@h` and `sip:user@h` compare equal,
 * as RFC 3261 §19.1.4 wants) and re-applied on format only where the grammar needs them.
 */
import { isIP } from 'node:net';
import { SipParseError } from './errors.js';

export type UriScheme = 'sip' | 'sips' | 'tel';

export interface SipUri {
  scheme: UriScheme;
  /** Decoded user part; for tel: URIs the subscriber number. */
  user?: string;
  password?: string;
  /** Host name or IP address; IPv6 without brackets. Empty for tel: URIs. */
  host: string;
  port?: number;
  /** uri-parameters, lower-case names, decoded values; null = no value. */
  params: Map<string, string | null>;
  /** ?headers, decoded. */
  headers: Map<string, string>;
}

const ESC = '%[0-9A-Fa-f]{2}';
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const USER_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,;?/]|${ESC})+$`);
const PASSWORD_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESC})*$`);
const PARAM_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/:&+$]|${ESC})+$`);
const HEADER_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$]|${ESC})*$`);
// Hostnames: labels of alphanumerics and hyphens; "_" tolerated as deployed DNS uses it.
const HOSTNAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const TEL_NUMBER_RE = /^\+?[0-9A-Fa-f*#\-.()pPwW]+$/;

/** Decodes %XX escapes; keeps UTF-8 when the bytes form valid UTF-8, else maps bytes 1:1. */
export function unescapeUri(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  const buf = Buffer.from(bytes);
  const utf8 = buf.toString('utf8');
  return Buffer.from(utf8, 'utf8').equals(buf) ? utf8 : buf.toString('latin1');
}

function escapeWith(s: string, allowed: RegExp): string {
  let out = '';
  for (const ch of s) {
    if (allowed.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const USER_CHAR = new RegExp(`^[${UNRESERVED}&=+$,;?/]$`);
const PASSWORD_CHAR = new RegExp(`^[${UNRESERVED}&=+$,]$`);
const PARAM_CHAR = new RegExp(`^[${UNRESERVED}\\[\\]/:&+$]$`);
const HEADER_CHAR = new RegExp(`^[${UNRESERVED}\\[\\]/?:+$]$`);

function parsePort(s: string, what: string): number {
  if (!/^[0-9]{1,5}$/.test(s)) throw new SipParseError(`invalid port "${s}" in ${what}`);
  const port = Number(s);
  if (port > 65535) throw new SipParseError(`port out of range in ${what}`);
  return port;
}

/**
 * Parses `host[:port]` as used in URIs and Via sent-by. IPv6 references keep
 * no brackets in the result. Returns the index where host/port ended.
 */
export function parseHostPort(s: string, what: string): { host: string; port?: number; end: number } {
  let host: string;
  let i: number;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new SipParseError(`unterminated IPv6 reference in ${what}`);
    host = s.slice(1, close);
    if (isIP(host) !== 6) throw new SipParseError(`invalid IPv6 address "${host}" in ${what}`);
    i = close + 1;
  } else {
    const m = /^[A-Za-z0-9._-]+/.exec(s);
    if (!m) throw new SipParseError(`missing host in ${what}`);
    host = m[0];
    if (!HOSTNAME_RE.test(host)) throw new SipParseError(`invalid host "${host}" in ${what}`);
    // A top label is never all digits (RFC 3261 toplabel), so dotted digits must be a real IPv4 address.
    if (/^[0-9.]+$/.test(host) && isIP(host) !== 4) throw new SipParseError(`invalid IPv4 address "${host}" in ${what}`);
    i = host.length;
  }
  if (s[i] === ':') {
    const m = /^[0-9]*/.exec(s.slice(i + 1))!;
    const port = parsePort(m[0], what);
    return { host, port, end: i + 1 + m[0].length };
  }
  return { host, end: i };
}

function parseUriParams(s: string, what: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  if (s === '') return params;
  for (const seg of s.split(';')) {
    const eq = seg.indexOf('=');
    const rawName = eq < 0 ? seg : seg.slice(0, eq);
    const rawValue = eq < 0 ? null : seg.slice(eq + 1);
    if (!PARAM_RE.test(rawName) || (rawValue !== null && !PARAM_RE.test(rawValue))) {
      throw new SipParseError(`invalid URI parameter "${seg}" in ${what}`);
    }
    params.set(unescapeUri(rawName).toLowerCase(), rawValue === null ? null : unescapeUri(rawValue));
  }
  return params;
}

function parseUriHeaders(s: string, what: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const seg of s.split('&')) {
    const eq = seg.indexOf('=');
    if (eq <= 0) throw new SipParseError(`invalid URI header "${seg}" in ${what}`);
    const name = seg.slice(0, eq);
    const value = seg.slice(eq + 1);
    if (!HEADER_RE.test(name) || !HEADER_RE.test(value)) throw new SipParseError(`invalid URI header "${seg}" in ${what}`);
    headers.set(unescapeUri(name), unescapeUri(value));
  }
  return headers;
}

export function parseUri(input: string): SipUri {
  const what = 'URI';
  const colon = input.indexOf(':');
  if (colon <= 0) throw new SipParseError(`URI without scheme: "${input.slice(0, 64)}"`);
  const scheme = input.slice(0, colon).toLowerCase();
  const rest = input.slice(colon + 1);
  if (scheme === 'tel') return parseTel(rest);
  if (scheme !== 'sip' && scheme !== 'sips') throw new SipParseError(`unsupported URI scheme "${scheme.slice(0, 32)}"`);

  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  // userinfo may contain ";" and "?" (RFC 3261 user-unreserved) but never a bare "@",
  // so the first "@" is the userinfo delimiter.
  let hostPart = rest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    const user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (!USER_RE.test(user)) throw new SipParseError(`invalid user part in ${what}`);
    uri.user = unescapeUri(user);
    if (pc >= 0) {
      const password = userinfo.slice(pc + 1);
      if (!PASSWORD_RE.test(password)) throw new SipParseError(`invalid password in ${what}`);
      uri.password = unescapeUri(password);
    }
  }
  const hp = parseHostPort(hostPart, what);
  uri.host = hp.host;
  if (hp.port !== undefined) uri.port = hp.port;
  let tail = hostPart.slice(hp.end);
  const q = tail.indexOf('?');
  if (q >= 0) {
    uri.headers = parseUriHeaders(tail.slice(q + 1), what);
    tail = tail.slice(0, q);
  }
  if (tail !== '') {
    if (tail[0] !== ';') throw new SipParseError(`unexpected "${tail.slice(0, 16)}" after host in ${what}`);
    uri.params = parseUriParams(tail.slice(1), what);
  }
  return uri;
}

function parseTel(rest: string): SipUri {
  const semi = rest.indexOf(';');
  const number = semi < 0 ? rest : rest.slice(0, semi);
  if (!TEL_NUMBER_RE.test(number)) throw new SipParseError('invalid tel: number');
  const params = semi < 0 ? new Map<string, string | null>() : parseUriParams(rest.slice(semi + 1), 'tel URI');
  return { scheme: 'tel', user: number, host: '', params, headers: new Map() };
}

/** Brackets IPv6 literals for use in URIs / Via. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function formatUri(u: SipUri): string {
  let out = `${u.scheme}:`;
  if (u.scheme === 'tel') {
    out += u.user ?? '';
  } else {
    if (u.user !== undefined) {
      out += escapeWith(u.user, USER_CHAR);
      if (u.password !== undefined) out += `:${escapeWith(u.password, PASSWORD_CHAR)}`;
      out += '@';
    }
    out += formatHost(u.host);
    if (u.port !== undefined) out += `:${u.port}`;
  }
  for (const [k, v] of u.params) {
    out += `;${escapeWith(k, PARAM_CHAR)}`;
    if (v !== null) out += `=${escapeWith(v, PARAM_CHAR)}`;
  }
  let sep = '?';
  for (const [k, v] of u.headers) {
    out += `${sep}${escapeWith(k, HEADER_CHAR)}=${escapeWith(v, HEADER_CHAR)}`;
    sep = '&';
  }
  return out;
}

export function cloneUri(u: SipUri): SipUri {
  return { ...u, params: new Map(u.params), headers: new Map(u.headers) };
}
