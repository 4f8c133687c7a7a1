/**
 * The server side of SIP digest authentication (RFC 3261 §22.3, RFC 2617): challenges with
 * nonces that carry their own expiry and a MAC, so any instance holding the key can check one
 * without remembering it, and verification of the credentials that answer them. The response is
 * computed by the same code the client side uses (digest.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ALGORITHMS, computeDigest, parseAuthParams, type DigestAlgorithm } from './digest.js';
import { quote } from './lex.js';

/** What an Authorization / Proxy-Authorization header says. */
export interface DigestAnswer {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  algorithmToken?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

/** The digest answer in a credentials header, or null when there is none or it is not well formed. */
export function parseDigestAnswer(header: string | undefined): DigestAnswer | null {
  const m = /^\s*digest\s+([\s\S]*)$/i.exec(header ?? '');
  if (!m) return null;
  let p: Map<string, string>;
  try {
    p = parseAuthParams(m[1]!);
  } catch {
    return null;
  }
  const [username, realm, nonce, uri, response] = ['username', 'realm', 'nonce', 'uri', 'response'].map((k) => p.get(k));
  if (username === undefined || realm === undefined || !nonce || !uri || !response) return null;
  const algorithmToken = p.get('algorithm');
  const algorithm = algorithmToken === undefined ? 'MD5' : ALGORITHMS[algorithmToken.toLowerCase()];
  if (!algorithm) return null;
  const qop = p.get('qop')?.toLowerCase();
  const nc = p.get('nc');
  const cnonce = p.get('cnonce');
  if (qop !== undefined && (qop !== 'auth' || !nc || !/^[0-9a-f]{8}$/i.test(nc) || !cnonce)) return null;
  const a: DigestAnswer = { username, realm, nonce, uri, response: response.toLowerCase(), algorithm };
  if (algorithmToken !== undefined) a.algorithmToken = algorithmToken;
  if (qop !== undefined) Object.assign(a, { qop, nc, cnonce });
  const opaque = p.get('opaque');
  if (opaque !== undefined) a.opaque = opaque;
  return a;
}

/** Whether `answer` is what someone knowing `password` would send for this request. */
export function digestMatches(answer: DigestAnswer, password: string, method: string): boolean {
  const expected = computeDigest({
    challenge: { realm: answer.realm, nonce: answer.nonce, algorithm: answer.algorithm, qop: answer.qop ? [answer.qop] : [], stale: false, params: new Map() },
    username: answer.username, password, method, uri: answer.uri,
    ...(answer.cnonce ? { cnonce: answer.cnonce } : {}),
    ...(answer.nc ? { nc: parseInt(answer.nc, 16) } : {}),
  }).response;
  const a = Buffer.from(expected);
  const b = Buffer.from(answer.response);
  return a.length === b.length && timingSafeEqual(a, b);
}

export type NonceState = 'fresh' | 'stale' | 'forged';

/**
 * Nonces of the form `<expiry, base 36>.<random>.<MAC>`. A nonce past its expiry is `stale`
 * (answered with a new challenge, stale=true, so the client retries without asking its user);
 * one whose MAC does not check was never issued here (`forged`).
 */
export class NonceIssuer {
  constructor(private readonly key: Buffer, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  issue(): string {
    const body = `${(this.now() + this.ttlMs).toString(36)}.${randomBytes(9).toString('base64url')}`;
    return `${body}.${this.mac(body)}`;
  }

  check(nonce: string): NonceState {
    const cut = nonce.lastIndexOf('.');
    if (cut < 0) return 'forged';
    const body = nonce.slice(0, cut);
    const given = Buffer.from(nonce.slice(cut + 1));
    const want = Buffer.from(this.mac(body));
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'forged';
    const expiry = parseInt(body.split('.')[0]!, 36);
    return Number.isFinite(expiry) && this.now() <= expiry ? 'fresh' : 'stale';
  }

  /** A Proxy-Authenticate / WWW-Authenticate value with a new nonce. */
  challenge(realm: string, stale = false): string {
    return `Digest realm=${quote(realm)}, nonce=${quote(this.issue())}, algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 22);
  }
}
