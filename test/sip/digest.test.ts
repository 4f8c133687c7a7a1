import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { computeDigest, DigestClient, parseChallenge } from '../../src/sip/digest.js';
import { SipParseError } from '../../src/sip/errors.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** Pulls `name=value` / `name="value"` out of a credentials header. */
function param(header: string, name: string): string | undefined {
  const m = new RegExp(`[ ,]${name}=("([^"]*)"|[^,\\s]+)`).exec(header);
  return m ? (m[2] ?? m[1]) : undefined;
}

describe('parseChallenge', () => {
  it('reads realm, nonce, opaque, qop list, algorithm and stale', () => {
    const ch = parseChallenge('Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=MD5');
    assert.equal(ch.realm, 'atlanta.com');
    assert.equal(ch.nonce, 'f84f1cec41e6cbe5aea9c8e88d359');
    assert.equal(ch.opaque, '');
    assert.deepEqual(ch.qop, ['auth', 'auth-int']);
    assert.equal(ch.algorithm, 'MD5');
    assert.equal(ch.stale, true);
    assert.equal(ch.domain, 'sip:ss1.carrier.com');
  });

  it('defaults to MD5 without qop and recognises the RFC 7616 algorithms', () => {
    const ch = parseChallenge('digest realm="r",nonce="n"');
    assert.equal(ch.algorithm, 'MD5');
    assert.deepEqual(ch.qop, []);
    assert.equal(ch.stale, false);
    for (const alg of ['MD5-sess', 'SHA-256', 'SHA-256-sess'] as const) {
      assert.equal(parseChallenge(`Digest realm="r", nonce="n", algorithm=${alg.toLowerCase()}`).algorithm, alg);
    }
  });

  for (const bad of ['Basic realm="x"', 'Digest nonce="n"', 'Digest realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Digest realm="r, nonce="n"', 'Digest realm']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseChallenge(bad), SipParseError));
  }
});

describe('computeDigest', () => {
  it('matches the RFC 2617 §3.5 example (MD5, qop=auth)', () => {
    const challenge = parseChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const creds = computeDigest({
      challenge, username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b', nc: 1,
    });
    assert.equal(creds.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(creds.qop, 'auth');
    assert.equal(param(creds.header, 'nc'), '00000001');
    assert.equal(param(creds.header, 'qop'), 'auth');
    assert.equal(param(creds.header, 'cnonce'), '0a4f113b');
    assert.equal(param(creds.header, 'opaque'), '5ccc069c403ebaf9f0171e9517f40e41');
    assert.equal(param(creds.header, 'username'), 'Mufasa');
    assert.equal(param(creds.header, 'uri'), '/dir/index.html');
    assert.equal(param(creds.header, 'algorithm'), undefined, 'algorithm is echoed only when the challenge had one');
    assert.ok(creds.header.startsWith('Digest '));
  });

  it('matches the RFC 7616 §3.9.1 examples (SHA-256 and MD5)', () => {
    const base = {
      username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', nc: 1,
    };
    const head = 'Digest realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
    const sha = computeDigest({ ...base, challenge: parseChallenge(`${head}, algorithm=SHA-256`) });
    assert.equal(sha.response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    assert.equal(param(sha.header, 'algorithm'), 'SHA-256');
    const m = computeDigest({ ...base, challenge: parseChallenge(`${head}, algorithm=MD5`) });
    assert.equal(m.response, '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('computes RFC 2069-style responses when no qop is offered', () => {
    const challenge = parseChallenge('Digest realm="biloxi.com", nonce="abc"');
    const creds = computeDigest({ challenge, username: 'bob', password: 'zanzibar', method: 'REGISTER', uri: 'sip:biloxi.com' });
    const expected = md5(`${md5('bob:biloxi.com:zanzibar')}:abc:${md5('REGISTER:sip:biloxi.com')}`);
    assert.equal(creds.response, expected);
    assert.equal(param(creds.header, 'nc'), undefined);
    assert.equal(param(creds.header, 'cnonce'), undefined);
  });

  it('handles MD5-sess and auth-int (when auth is not offered)', () => {
    const challenge = parseChallenge('Digest realm="r", nonce="n", qop="auth-int", algorithm=MD5-sess');
    const creds = computeDigest({ challenge, username: 'u', password: 'p', method: 'MESSAGE', uri: 'sip:x', body: 'hi', cnonce: 'c', nc: 3 });
    const ha1 = md5(`${md5('u:r:p')}:n:c`);
    const ha2 = md5(`MESSAGE:sip:x:${md5('hi')}`);
    assert.equal(creds.response, md5(`${ha1}:n:00000003:c:auth-int:${ha2}`));
    assert.equal(creds.qop, 'auth-int');
    assert.equal(param(creds.header, 'algorithm'), 'MD5-sess');
  });
});

describe('DigestClient', () => {
  it('counts nc per nonce in 8 hex digits', () => {
    const client = new DigestClient();
    const a = parseChallenge('Digest realm="r", nonce="one", qop="auth"');
    const b = parseChallenge('Digest realm="r", nonce="two", qop="auth"');
    const input = { username: 'u', password: 'p', method: 'REGISTER', uri: 'sip:r' };
    assert.equal(client.authorize({ ...input, challenge: a }).nc, '00000001');
    assert.equal(client.authorize({ ...input, challenge: a }).nc, '00000002');
    assert.equal(client.authorize({ ...input, challenge: b }).nc, '00000001');
    for (let i = 0; i < 13; i++) client.authorize({ ...input, challenge: a });
    assert.equal(client.authorize({ ...input, challenge: a }).nc, '00000010');
  });

  it('uses a fresh cnonce each time', () => {
    const client = new DigestClient();
    const ch = parseChallenge('Digest realm="r", nonce="n", qop="auth"');
    const input = { challenge: ch, username: 'u', password: 'p', method: 'REGISTER', uri: 'sip:r' };
    assert.notEqual(client.authorize(input).cnonce, client.authorize(input).cnonce);
  });
});
