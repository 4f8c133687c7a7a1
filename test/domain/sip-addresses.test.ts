import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/domain/errors.js';
import { parseRegistrar, parseTrunkAddress } from '../../src/domain/sip-addresses.js';

describe('registrar URIs', () => {
  it('are normalized: lower-case scheme, host and transport, no trailing dot, IPv6 in brackets', () => {
    assert.deepEqual(parseRegistrar('SIP:Voip.Example.NET.:5060'), { scheme: 'sip', host: 'voip.example.net', transport: null, text: 'sip:voip.example.net:5060' });
    assert.deepEqual(parseRegistrar('sips:[2001:DB8::1]:5061;transport=TLS'), { scheme: 'sips', host: '[2001:db8::1]', transport: 'tls', text: 'sips:[2001:db8::1]:5061;transport=tls' });
    assert.equal(parseRegistrar('sip:1001@pbx.example.com;lr').text, 'sip:1001@pbx.example.com;lr');
  });

  for (const bad of ['sip:user:secret@host', 'sip:host?subject=x', 'sip:host;maddr=10.0.0.1', 'sips:host;transport=udp', 'sip:host:0', 'tel:+15550100', 'sip:ho st']) {
    it(`refuses ${bad} as bad input naming the registrar`, () => {
      assert.throws(() => parseRegistrar(bad), (err: unknown) => err instanceof DomainError && err.kind === 'invalid' && err.field === 'registrar' && /^registrar /.test(err.message));
    });
  }
});

describe('trunk addresses', () => {
  it('are a host with an optional port and sip: prefix', () => {
    assert.deepEqual(parseTrunkAddress('sip:sip.exotel.com:5061'), { host: 'sip.exotel.com', port: 5061 });
    assert.deepEqual(parseTrunkAddress('[2001:db8::1]:5060'), { host: '[2001:db8::1]', port: 5060 });
    assert.deepEqual(parseTrunkAddress('203.0.113.10'), { host: '203.0.113.10', port: null });
  });

  it('are nothing else', () => {
    for (const bad of ['not a host!', 'sip:', 'example.com:70000', 'example.com:0', '300.1.2.3', 'https://example.com/sip', 'sip:user@example.com', 'example.com;transport=tcp']) {
      assert.equal(parseTrunkAddress(bad), null, bad);
    }
  });
});
