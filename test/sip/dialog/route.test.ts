/** Where in-dialog requests go (RFC 3261 §12.2.1.1), loose and strict next hops. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeRequest } from '../../../src/sip/dialog/route.js';
import { parseNameAddr } from '../../../src/sip/headers.js';
import { parseUri } from '../../../src/sip/uri.js';

const target = parseUri('sip:bob@192.0.2.10:5070;transport=tcp');

describe('routeRequest', () => {
  it('sends straight to the remote target without a route set', () => {
    assert.deepEqual(routeRequest([], target), { uri: 'sip:bob@192.0.2.10:5070;transport=tcp', route: [], transport: 'tcp' });
  });

  it('keeps the remote target as Request-URI and sends to a loose first route', () => {
    const r = routeRequest([parseNameAddr('<sip:p1.example.com;lr>'), parseNameAddr('<sip:p2.example.com:5080;lr;transport=tcp>')], target);
    assert.equal(r.uri, 'sip:bob@192.0.2.10:5070;transport=tcp');
    assert.deepEqual(r.route, ['<sip:p1.example.com;lr>', '<sip:p2.example.com:5080;lr;transport=tcp>']);
    assert.deepEqual(r.target, { host: 'p1.example.com', port: 5060 });
    assert.equal(r.transport, 'udp');
  });

  it('puts a strict first route in the Request-URI and the remote target last in Route', () => {
    const r = routeRequest([parseNameAddr('<sip:strict.example.com;transport=tcp>'), parseNameAddr('<sip:p2.example.com;lr>')], target);
    assert.equal(r.uri, 'sip:strict.example.com;transport=tcp');
    assert.deepEqual(r.route, ['<sip:p2.example.com;lr>', '<sip:bob@192.0.2.10:5070;transport=tcp>']);
    assert.equal(r.target, undefined);
    assert.equal(r.transport, 'tcp');
  });

  it('drops method and header components from the Request-URI', () => {
    assert.equal(routeRequest([], parseUri('sip:bob@192.0.2.10;method=INVITE?subject=hi')).uri, 'sip:bob@192.0.2.10');
  });
});
