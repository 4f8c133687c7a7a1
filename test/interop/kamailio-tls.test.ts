/**
 * A registration over TLS to a real Kamailio (tls module): the binding appears in Kamailio's
 * location table over TLS and is gone after disable; an untrusted registrar certificate fails
 * with a TLS error and binds nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { makeCert } from '../sip/helpers.js';
import { createLine, fastSip } from './helpers.js';
import { Kamailio, waitFor } from './peers.js';

const BASE_PORT = 15260;
const USERS = { tina: 'tina-pw', uma: 'uma-pw' };

testDbs().forEach((db, i) => {
  describe(`registrations over TLS at a real Kamailio (${db})`, () => {
    const port = BASE_PORT + i * 10;
    const tlsPort = port + 1;
    const dir = mkdtempSync(join(tmpdir(), 'dialtone-kamailio-tls-'));
    const { cert, key } = makeCert();
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key);
    const kamailio = new Kamailio({ port, users: USERS, minExpires: 5, maxExpires: 10, tls: { port: tlsPort, certFile, keyFile } });
    let trusting: TestServer;
    let untrusting: TestServer;

    before(async () => {
      await kamailio.start();
      trusting = await startTestServer(db, { config: (c) => { fastSip(c); c.sip.tlsCaFile = certFile; }, sip: true });
      untrusting = await startTestServer(db, { config: fastSip, sip: true });
    });
    after(async () => {
      await trusting?.close().catch(() => {});
      await untrusting?.close().catch(() => {});
      await kamailio.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('binds over TLS when the registrar certificate is trusted, and unbinds on disable', async () => {
      const tenantKey = (await trusting.newTenant()).key;
      const line = await createLine(trusting, tenantKey, { registrar: `sip:127.0.0.1:${tlsPort};transport=tls`, username: 'tina', password: 'tina-pw' });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      const [binding] = await waitFor('tina bound', async () => { const b = await kamailio.lookup('tina'); return b.length ? b : null; });
      assert.match(binding!.address, /;transport=tls$/);
      await line.disable();
      await waitFor('tina unbound', async () => (await kamailio.lookup('tina')).length === 0, 5_000);
    });

    it('refuses an untrusted registrar certificate with a TLS error and binds nothing', async () => {
      const tenantKey = (await untrusting.newTenant()).key;
      const line = await createLine(untrusting, tenantKey, { registrar: `sip:127.0.0.1:${tlsPort};transport=tls`, username: 'uma', password: 'uma-pw' });
      await line.activate();
      const r = await line.waitFor('a TLS error', (x) => typeof x.error === 'string' && x.error.startsWith('TLS:'));
      assert.match(r.error, /self-signed certificate/);
      assert.deepEqual(await kamailio.lookup('uma'), []);
      await line.disable();
    });
  });
});
