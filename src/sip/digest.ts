/**
 * HTTP Digest authentication as used by SIP (RFC 2617, RFC 7616 algorithms, RFC 3261 §22).
 * Client side here (parse a challenge, compute the credentials); the server side, which issues
 * challenges and checks what comes back, is digest-server.ts on the same computation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SipParseError } from './errors.js';
import { Scanner, isTokenChar, quote, splitTopLevel } from './lex.js';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** The algorithm token exactly as the server wrote it, when it wrote one (echoed back). */
  algorithmToken?: string;
  /** qop options offered, lower-case; empty for RFC 2069-style challenges. */
  qop: string[];
  stale: boolean;
  domain?: string;
  /** Every auth-param, lower-case names, unquoted values. */
  params: Map<string, string>;
}

export const ALGORITHMS: Record<string, DigestAlgorithm> = {
  md5: 'MD5',
  'md5-sess': 'MD5-sess',
  'sha-256': 'SHA-256',
  'sha-256-sess': 'SHA-256-sess',
};

/** Parses `Digest k=v, k="v", ...` auth-params. */
export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of splitTopLevel(text)) {
    if (part === '') continue;
    const sc = new Scanner(part);
    const name = sc.readToken('auth-param').toLowerCase();
    sc.skipWs();
    sc.expect('=', 'auth-param');
    sc.skipWs();
    const value = sc.peek() === '"' ? sc.readQuoted('auth-param') : sc.readWhile((c) => isTokenChar(c) || c === '/' || c === ':');
    sc.skipWs();
    if (!sc.eof()) throw new SipParseError(`unexpected text in auth-param "${name}"`);
    params.set(name, value);
  }
  return params;
}

/** Parses one WWW-Authenticate / Proxy-Authenticate value. Throws SipParseError if it is not a usable Digest challenge. */
export function parseChallenge(headerValue: string): DigestChallenge {
  const m = /^\s*([A-Za-z0-9-]+)\s+([\s\S]*)$/.exec(headerValue);
  if (!m || m[1]!.toLowerCase() !== 'digest') throw new SipParseError('not a Digest challenge');
  const params = parseAuthParams(m[2]!);
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) throw new SipParseError('Digest challenge without realm or nonce');
  const algorithmToken = params.get('algorithm');
  const algorithm = algorithmToken === undefined ? 'MD5' : ALGORITHMS[algorithmToken.toLowerCase()];
  if (!algorithm) throw new SipParseError(`unsupported Digest algorithm "${algorithmToken}"`);
  const qop = (params.get('qop') ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter(Boolean);
  const ch: DigestChallenge = {
    realm,
    nonce,
    algorithm,
    qop,
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
    params,
  };
  if (algorithmToken !== undefined) ch.algorithmToken = algorithmToken;
  const opaque = params.get('opaque');
  if (opaque !== undefined) ch.opaque = opaque;
  const domain = params.get('domain');
  if (domain !== undefined) ch.domain = domain;
  return ch;
}

export interface DigestInput {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  /** digest-uri: the Request-URI as sent. */
  uri: string;
  /** Message body, needed only for qop=auth-int. */
  body?: Buffer | string;
  /** Fixed for tests; random otherwise. */
  cnonce?: string;
  /** Nonce count to use (1-based). */
  nc?: number;
}

export interface DigestCredentials {
  /** The header value for Authorization / Proxy-Authorization. */
  header: string;
  response: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

function hasher(alg: DigestAlgorithm): (s: string | Buffer) => string {
  const name = alg.startsWith('SHA-256') ? 'sha256' : 'md5';
  return (s) => createHash(name).update(s).digest('hex');
}

/** Picks "auth" when offered (cheaper, works with any body), else "auth-int". */
function chooseQop(offered: string[]): string | undefined {
  if (offered.length === 0) return undefined;
  if (offered.includes('auth')) return 'auth';
  if (offered.includes('auth-int')) return 'auth-int';
  throw new SipParseError(`no supported qop in "${offered.join(',')}"`);
}

/** Computes the Digest response and the credentials header value. */
export function computeDigest(input: DigestInput): DigestCredentials {
  const { challenge: ch, username, password, method, uri } = input;
  const H = hasher(ch.algorithm);
  const qop = chooseQop(ch.qop);
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');

  let ha1 = H(`${username}:${ch.realm}:${password}`);
  if (ch.algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${ch.nonce}:${cnonce}`);
  const a2 = qop === 'auth-int' ? `${method}:${uri}:${H(input.body ?? '')}` : `${method}:${uri}`;
  const ha2 = H(a2);
  const response = qop ? H(`${ha1}:${ch.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${ch.nonce}:${ha2}`);

  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(ch.realm)}`,
    `nonce=${quote(ch.nonce)}`,
    `uri=${quote(uri)}`,
    `response=${quote(response)}`,
  ];
  if (ch.algorithmToken !== undefined) parts.push(`algorithm=${ch.algorithmToken}`);
  if (qop) parts.push(`cnonce=${quote(cnonce)}`, `qop=${qop}`, `nc=${nc}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${quote(ch.opaque)}`);
  const creds: DigestCredentials = { header: `Digest ${parts.join(', ')}`, response };
  if (qop) Object.assign(creds, { qop, nc, cnonce });
  return creds;
}

/**
 * Keeps nonce counts so that reusing a nonce yields nc=00000001, 00000002, ...
 * (RFC 2617 §3.2.2). Bounded so a long-running process does not grow without limit.
 */
export class DigestClient {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxNonces = 256) {}

  authorize(input: Omit<DigestInput, 'nc'>): DigestCredentials {
    const key = `${input.challenge.realm}\u0000${input.challenge.nonce}`;
    const nc = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key); // re-insert to keep most recent last
    this.counts.set(key, nc);
    if (this.counts.size > this.maxNonces) this.counts.delete(this.counts.keys().next().value!);
    return computeDigest({ ...input, nc });
  }
}
