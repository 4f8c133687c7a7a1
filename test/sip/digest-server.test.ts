import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeDigest, digestMatches, NonceIssuer, parseChallenge, parseDigestAnswer } from '../../src/sip/index.js';

const KEY = Buffer.alloc(32, 7);

describe('digest, server side', () => {
  it('a nonce is fresh until its expiry, stale after it, and forged when altered or made with another key', () => {
    let now = 1_000_000;
    const issuer = new NonceIssuer(KEY, 5000, () => now);
    const nonce = issuer.issue();
    assert.equal(issuer.check(nonce), 'fresh');
    now += 5000;
    assert.equal(issuer.check(nonce), 'fresh');
    now += 1;
    assert.equal(issuer.check(nonce), 'stale');
    assert.equal(issuer.check(`${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`), 'forged');
    // Pushing the expiry forward breaks the MAC.
    const [, rand, mac] = nonce.split('.');
    assert.equal(issuer.check(`${(now + 1e9).toString(36)}.${rand}.${mac}`), 'forged');
    assert.equal(new NonceIssuer(Buffer.alloc(32, 8), 5000, () => now).check(issuer.issue()), 'forged');
    assert.equal(issuer.check('no-dots-here'), 'forged');
    assert.equal(issuer.check(''), 'forged');
  });

  it('verifies what the client side computes, with and without qop, and nothing else', () => {
    const issuer = new NonceIssuer(KEY, 60_000);
    for (const header of [issuer.challenge('sip.example'), 'Digest realm="sip.example", nonce="abc123", algorithm=MD5']) {
      const challenge = parseChallenge(header);
      const creds = computeDigest({ challenge, username: 'carrier1', password: 'pw', method: 'INVITE', uri: 'sip:+15550100000@sip.example' });
      const answer = parseDigestAnswer(creds.header)!;
      assert.equal(answer.username, 'carrier1');
      assert.equal(digestMatches(answer, 'pw', 'INVITE'), true);
      assert.equal(digestMatches(answer, 'pW', 'INVITE'), false);
      assert.equal(digestMatches(answer, 'pw', 'BYE'), false);
      assert.equal(digestMatches({ ...answer, uri: 'sip:+15550100001@sip.example' }, 'pw', 'INVITE'), false);
      if (answer.nc) assert.equal(digestMatches({ ...answer, nc: '00000002' }, 'pw', 'INVITE'), false);
    }
    assert.match(issuer.challenge('r', true), /, stale=true$/);
  });

  it('refuses credentials headers that are not a complete digest answer', () => {
    for (const bad of [undefined, '', 'Basic dXNlcjpwdw==', 'Digest username="u"', 'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", algorithm=ROT13',
      'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth', 'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, nc=1, cnonce="c"',
      'Digest username="u", realm=', 'Digest "unterminated']) {
      assert.equal(parseDigestAnswer(bad), null, String(bad));
    }
  });
});
