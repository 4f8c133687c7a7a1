/**
 * Digest authentication of INVITEs to a tenant's numbers that come from an address none of its
 * trunks or registrars resolve to: a carrier that sends from addresses of its own, or a PBX
 * behind NAT, proves itself with the username and password of one of the tenant's trunks. No
 * credentials: 407 with a challenge. Wrong ones, a nonce not issued here, a replayed answer:
 * 403. A correct answer to an expired nonce: a new challenge with stale=true.
 */
import { randomBytes } from 'node:crypto';
import { digestMatches, NonceIssuer, parseDigestAnswer, parseUri, type DigestAnswer } from '../../sip/index.js';
import type { PlatformSecretRepository } from '../../domain/platform-secrets.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import type { Vault } from '../../vault/vault.js';

export type AuthOutcome =
  | { kind: 'authenticated'; trunkId: string }
  | { kind: 'challenge'; headers: Record<string, string> }
  | { kind: 'refused'; reason: string };

export interface NumberAuth {
  /** `credentials`: the INVITE's Proxy-Authorization; `requestUser`: its Request-URI user. */
  check(scope: Scope, credentials: string | undefined, requestUser: string | undefined): Promise<AuthOutcome>;
}

const SEEN_MAX = 50_000;

export class TrunkDigestAuth implements NumberAuth {
  /** Answers already accepted (nonce, count, client nonce) until their nonce expires: a replay is refused. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly services: Services,
    private readonly nonces: () => Promise<NonceIssuer>,
    private readonly realm: string,
    private readonly nonceTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async check(scope: Scope, credentials: string | undefined, requestUser: string | undefined): Promise<AuthOutcome> {
    const nonces = await this.nonces();
    const challenge = (stale = false): AuthOutcome => ({ kind: 'challenge', headers: { 'Proxy-Authenticate': nonces.challenge(this.realm, stale) } });
    if (credentials === undefined) return challenge();
    const answer = parseDigestAnswer(credentials);
    if (!answer) return { kind: 'refused', reason: 'malformed Proxy-Authorization' };
    // An answer to someone else's challenge (another realm) is no answer to ours.
    if (answer.realm !== this.realm) return challenge();
    const state = nonces.check(answer.nonce);
    if (state === 'forged') return { kind: 'refused', reason: 'the nonce was not issued here' };
    if (!sameUser(answer.uri, requestUser)) return { kind: 'refused', reason: 'the credentials are for another address' };
    const trunkId = await this.matchingTrunk(scope, answer);
    if (!trunkId) return { kind: 'refused', reason: 'wrong credentials for the trunks of this number' };
    if (state === 'stale') return challenge(true);
    if (!this.firstUse(answer)) return { kind: 'refused', reason: 'these credentials were used already' };
    return { kind: 'authenticated', trunkId };
  }

  private async matchingTrunk(scope: Scope, answer: DigestAnswer): Promise<string | null> {
    for (const trunk of await this.services.trunks.list(scope)) {
      if (trunk.authUsername !== answer.username) continue;
      const { password } = await this.services.trunks.getCredentials(scope, trunk.id);
      if (digestMatches(answer, password, 'INVITE')) return trunk.id;
    }
    return null;
  }

  private firstUse(answer: DigestAnswer): boolean {
    const now = this.now();
    const key = `${answer.nonce}\u0000${answer.nc ?? ''}\u0000${answer.cnonce ?? ''}`;
    if (this.seen.has(key)) return false;
    if (this.seen.size >= SEEN_MAX) {
      for (const [k, until] of this.seen) if (until < now) this.seen.delete(k);
      if (this.seen.size >= SEEN_MAX) this.seen.delete(this.seen.keys().next().value!);
    }
    this.seen.set(key, now + this.nonceTtlMs);
    return true;
  }
}

const NONCE_KEY = 'sip.digest_nonce_key';

/**
 * The nonce issuer with the key every instance on this database shares (generated once,
 * sealed), so a challenge one instance sent can be answered to another.
 */
export function sharedNonces(secrets: PlatformSecretRepository, vault: Vault, ttlMs: number, now: () => number = Date.now): () => Promise<NonceIssuer> {
  let loading: Promise<NonceIssuer> | null = null;
  const load = async () => {
    let sealed = await secrets.get(NONCE_KEY);
    sealed ??= await secrets.putIfAbsent(NONCE_KEY, vault.seal(randomBytes(32).toString('base64')), new Date(now()).toISOString());
    return new NonceIssuer(Buffer.from(vault.open(sealed), 'base64'), ttlMs, now);
  };
  return () => {
    loading ??= load().catch((err: unknown) => {
      loading = null;
      throw err;
    });
    return loading;
  };
}

/**
 * The digest-uri names the user the INVITE is for (a proxy may have rewritten the host). Some
 * clients (SIPp among them) digest a host-only URI; that answer is bound to no number, but it
 * still opens one call only, as every answer does.
 */
function sameUser(uri: string, requestUser: string | undefined): boolean {
  try {
    const user = parseUri(uri).user;
    return user === undefined || user === '' || user === requestUser;
  } catch {
    return false;
  }
}
