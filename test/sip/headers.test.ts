import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import {
  canonicalName,
  formatNameAddr,
  formatVia,
  headerKey,
  parseCSeq,
  parseNameAddr,
  parseNameAddrList,
  parseVia,
  parseVias,
} from '../../src/sip/headers.js';
import { splitTopLevel } from '../../src/sip/lex.js';

describe('header names', () => {
  it('expands compact forms', () => {
    const expected: Record<string, string> = {
      i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type',
      f: 'From', s: 'Subject', k: 'Supported', t: 'To', v: 'Via',
    };
    for (const [short, long] of Object.entries(expected)) {
      assert.equal(canonicalName(short), long);
      assert.equal(canonicalName(short.toUpperCase()), long);
      assert.equal(headerKey(short), headerKey(long));
    }
  });

  it('canonicalises known names and keeps unknown ones', () => {
    // Names that are properties of every object are header names like any other.
    assert.equal(canonicalName('constructor'), 'constructor');
    assert.equal(headerKey('__proto__'), '__proto__');
    assert.equal(canonicalName('call-id'), 'Call-ID');
    assert.equal(canonicalName('CSEQ'), 'CSeq');
    assert.equal(canonicalName('www-authenticate'), 'WWW-Authenticate');
    assert.equal(canonicalName('MaX-fOrWaRdS'), 'Max-Forwards');
    assert.equal(canonicalName('X-Custom-Thing'), 'X-Custom-Thing');
    assert.equal(canonicalName('C%6Fntact'), 'C%6Fntact');
  });
});

describe('splitTopLevel', () => {
  it('splits on commas outside quotes and angle brackets', () => {
    assert.deepEqual(splitTopLevel('"Doe, John" <sip:j@x;a=1,2>;q=1, <sip:b@y> , sip:c@z'), [
      '"Doe, John" <sip:j@x;a=1,2>;q=1',
      '<sip:b@y>',
      'sip:c@z',
    ]);
    assert.deepEqual(splitTopLevel('"a \\", b" <sip:x@y>'), ['"a \\", b" <sip:x@y>']);
  });
});

describe('parseNameAddr', () => {
  it('parses quoted display names with escapes', () => {
    const na = parseNameAddr('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8');
    assert.equal(na.displayName, 'J Rosenberg \\"');
    assert.equal(na.uri.user, 'jdrosen');
    assert.equal(na.params.get('tag'), '98asjd8');
  });

  it('parses token display names, including without a space before "<"', () => {
    assert.equal(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName, 'caller');
    const na = parseNameAddr("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>");
    assert.equal(na.displayName, "token1~` token2'+_ token3*%!.-");
  });

  it('gives addr-spec params to the header, name-addr params to the URI', () => {
    const spec = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    assert.equal(spec.uri.params.size, 0);
    assert.equal(spec.params.get('tag'), '1918181833n');
    const na = parseNameAddr('<sip:bob@biloxi.com;transport=tcp>;expires=60;+sip.instance="<urn:uuid:1>"');
    assert.equal(na.uri.params.get('transport'), 'tcp');
    assert.equal(na.params.get('expires'), '60');
    assert.equal(na.params.get('+sip.instance'), '<urn:uuid:1>');
  });

  it('formats back to a parseable form', () => {
    const na = parseNameAddr('"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a;lr');
    const again = parseNameAddr(formatNameAddr(na));
    assert.deepEqual(again, na);
  });

  it('parses Contact lists and "*"', () => {
    const list = parseNameAddrList(['<sip:a@x>;q=0.5, "B, b" <sip:b@y>', '*']);
    assert.equal(list.items.length, 2);
    assert.equal(list.items[1]!.displayName, 'B, b');
    assert.equal(list.star, true);
  });

  for (const bad of [
    '"Mr. J. User <sip:j.user@example.com>',
    'Bell, Alexander <sip:a.g.bell@example.com>',
    '< sip:t.watson@example.org >',
    '<sip:user@example.com',
    '"quoted" sip:user@example.com',
    '<sip:user@example.com>;tag=',
    '<sip:user@example.com>;=x',
    '<sip:user@example.com> junk',
    '',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseNameAddr(bad), SipParseError));
  }
});

describe('parseVia', () => {
  it('tolerates LWS everywhere the grammar allows it', () => {
    const v = parseVia('SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239');
    assert.equal(v.protocol, 'SIP/2.0');
    assert.equal(v.transport, 'UDP');
    assert.equal(v.host, '192.168.255.111');
    assert.equal(v.port, undefined);
    assert.equal(v.branch, 'z9hG4bK30239');
  });

  it('reads port, received, rport (null when empty) and IPv6', () => {
    const v = parseVia('SIP/2.0/tcp [2001:db8::9] : 5070;branch=z9hG4bKx;rport;received=2001:db8::1');
    assert.equal(v.transport, 'TCP');
    assert.equal(v.host, '2001:db8::9');
    assert.equal(v.port, 5070);
    assert.equal(v.rport, null);
    assert.equal(v.received, '2001:db8::1');
    const w = parseVia('SIP/2.0/UDP 10.0.0.1:5060;rport=40000;received=1.2.3.4;branch=z9hG4bKy');
    assert.equal(w.rport, 40000);
    assert.equal(w.received, '1.2.3.4');
    assert.equal(parseVia('SIP/2.0/UDP h;branch=z').rport, undefined);
  });

  it('formats and splits multi-value Via headers', () => {
    const vias = parseVias(['SIP/2.0/TCP spindle.example.com ; branch = z9hG4bK9ikj8 , SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239']);
    assert.equal(vias.length, 2);
    assert.equal(formatVia(vias[0]!), 'SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8');
    assert.equal(vias[1]!.toString(), 'SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239');
  });

  for (const bad of ['SIP/2.0/UDP', 'SIP/2.0 UDP host', 'SIP/2.0/UDPhost', 'SIP/2.0/UDP 192.0.2.15;;', 'SIP/2.0/UDP h;rport=x', 'SIP/2.0/UDP h:70000', 'SIP/2.0/UDP h;branch']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseVia(bad), SipParseError));
  }
});

describe('parseCSeq', () => {
  it('parses and bounds the sequence number', () => {
    assert.deepEqual(parseCSeq('0009 INVITE'), { seq: 9, method: 'INVITE' });
    assert.deepEqual(parseCSeq('2147483647 REGISTER'), { seq: 2147483647, method: 'REGISTER' });
    assert.throws(() => parseCSeq('2147483648 REGISTER'), SipParseError);
    assert.throws(() => parseCSeq('36893488147419103232 REGISTER'), SipParseError);
    assert.throws(() => parseCSeq('1'), SipParseError);
    assert.throws(() => parseCSeq('-1 INVITE'), SipParseError);
    assert.throws(() => parseCSeq('1 IN VITE'), SipParseError);
  });
});
