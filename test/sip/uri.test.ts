import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import { formatUri, parseUri } from '../../src/sip/uri.js';

describe('parseUri', () => {
  it('parses user, host, port, params and headers', () => {
    const u = parseUri('sip:alice:secret@Atlanta.example.com:5070;Transport=TCP;lr?subject=project%20x&priority=urgent');
    assert.equal(u.scheme, 'sip');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secret');
    assert.equal(u.host, 'Atlanta.example.com');
    assert.equal(u.port, 5070);
    assert.equal(u.params.get('transport'), 'TCP');
    assert.equal(u.params.get('lr'), null);
    assert.equal(u.headers.get('subject'), 'project x');
    assert.equal(u.headers.get('priority'), 'urgent');
  });

  it('handles sips, scheme case and a host-only URI', () => {
    const u = parseUri('SIPS:example.com');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, undefined);
    assert.equal(u.host, 'example.com');
    assert.equal(u.port, undefined);
  });

  it('parses IPv6 references without keeping the brackets', () => {
    const u = parseUri('sip:bob@[2001:db8::10]:5061;maddr=[2001:db8::1]');
    assert.equal(u.host, '2001:db8::10');
    assert.equal(u.port, 5061);
    assert.equal(u.params.get('maddr'), '[2001:db8::1]');
    assert.equal(formatUri(u), 'sip:bob@[2001:db8::10]:5061;maddr=[2001:db8::1]');
    assert.equal(parseUri('sip:[::1]').host, '::1');
  });

  it('decodes escaped user characters and params (RFC 4475 esc01)', () => {
    assert.equal(parseUri('sip:%75se%72@example.com').user, 'user');
    assert.equal(parseUri('sip:sips%3Auser%40example.com@example.net').user, 'sips:user@example.com');
    const c = parseUri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31');
    assert.equal(c.user, 'caller');
    assert.equal(c.params.get('lr'), null);
    assert.equal(c.params.get('name'), 'value%41');
    assert.equal(parseUri('sip:null-%00-null@example.com').user, 'null-\u0000-null');
  });

  it('keeps ";" and "?" in the user part when an @ follows (RFC 4475 semiuri)', () => {
    const u = parseUri('sip:user;par=u%40example.net@example.com');
    assert.equal(u.user, 'user;par=u@example.net');
    assert.equal(u.host, 'example.com');
    assert.equal(u.params.size, 0);
  });

  it('re-escapes on format so output parses back to the same URI', () => {
    const u = parseUri('sip:I%20have%20spaces@example.net;x=a%3Bb');
    const s = formatUri(u);
    assert.equal(s, 'sip:I%20have%20spaces@example.net;x=a%3Bb');
    assert.deepEqual(parseUri(s), u);
    const utf8 = parseUri('sip:%C3%A9t%C3%A9@example.com');
    assert.equal(utf8.user, 'été');
    assert.equal(formatUri(utf8), 'sip:%C3%A9t%C3%A9@example.com');
  });

  it('parses tel: URIs', () => {
    const u = parseUri('tel:+1-201-555-0123;phone-context=example.com');
    assert.equal(u.scheme, 'tel');
    assert.equal(u.user, '+1-201-555-0123');
    assert.equal(u.params.get('phone-context'), 'example.com');
    assert.equal(formatUri(u), 'tel:+1-201-555-0123;phone-context=example.com');
  });

  for (const bad of [
    'sip:',
    'example.com',
    'http://example.com',
    '<sip:user@example.com>',
    'sip:user@',
    'sip:user@host:99999',
    'sip:user@host:',
    'sip:user@[::1',
    'sip:user@[not-ipv6]',
    'sip:us er@host',
    'sip:user@host;;lr',
    'sip:user@host;a b',
    'sip:%zz@host',
    'sip:user@host junk',
    'sip:user@-host-',
    'sip:user@999.1.1.1',
    'sip:10.0.0',
    'tel:abc!',
  ]) {
    it(`rejects ${JSON.stringify(bad)} with SipParseError`, () => {
      assert.throws(() => parseUri(bad), SipParseError);
    });
  }
});
