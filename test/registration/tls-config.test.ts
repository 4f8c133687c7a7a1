import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';

describe('SIP TLS listener configuration', () => {
  it('is off without a certificate, on port 5061 by default with one, and on SIP_TLS_PORT when given', () => {
    assert.equal(loadConfig({}).sip.tls, null);
    assert.deepEqual(loadConfig({ SIP_TLS_CERT_FILE: '/c.pem', SIP_TLS_KEY_FILE: '/k.pem' }).sip.tls, { port: 5061, certFile: '/c.pem', keyFile: '/k.pem' });
    assert.equal(loadConfig({ SIP_TLS_CERT_FILE: '/c.pem', SIP_TLS_KEY_FILE: '/k.pem', SIP_TLS_PORT: '15061' }).sip.tls?.port, 15061);
  });

  it('refuses a certificate without its key (and the other way round) and a bad port', () => {
    assert.throws(() => loadConfig({ SIP_TLS_CERT_FILE: '/c.pem' }), /SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE/);
    assert.throws(() => loadConfig({ SIP_TLS_KEY_FILE: '/k.pem' }), /SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE/);
    assert.throws(() => loadConfig({ SIP_TLS_CERT_FILE: '/c.pem', SIP_TLS_KEY_FILE: '/k.pem', SIP_TLS_PORT: 'x' }), /SIP_TLS_PORT/);
  });
});
