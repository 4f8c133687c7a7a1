/**
 * What Kamailio will not do on demand, played by SIPp registrars (423, 403, 503, 302), and
 * SIP over TLS against a small TLS registrar (the Debian Kamailio ships without its tls module).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSipStack, formatUri, newCallId, newTag, parseNameAddrList, type SipStack, type SipUri } from '../../src/sip/index.js';
import { contactToken } from '../../src/registration/target.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { makeCert } from '../sip/helpers.js';
import { createLine, fastSip } from './helpers.js';
import { Kamailio, sippServer, waitFor, type SippRun } from './peers.js';

const BASE_PORT = 15160;

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

interface TlsRegistrar {
  stack: SipStack;
  port: number;
  /** AOR user → `contact-user@host:port;transport=<what the REGISTER came over>`. */
  bindings: Map<string, string>;
  /** AOR user → the Contact URI as registered. */
  contacts: Map<string, SipUri>;
}

/**
 * A registrar over TLS that accepts every REGISTER and remembers the bindings it holds; it
 * trusts `clientCa` when it reaches a Contact over TLS itself.
 */
async function tlsRegistrar(cert: string, key: string, clientCa?: string): Promise<TlsRegistrar> {
  const bindings = new Map<string, string>();
  const contacts = new Map<string, SipUri>();
  const stack = createSipStack({
    host: '127.0.0.1', port: 0, publicHost: '127.0.0.1',
    tls: { port: 0, cert: readFileSync(cert), key: readFileSync(key) },
    ...(clientCa ? { tlsClient: { ca: readFileSync(clientCa) } } : {}),
  });
  const ports = await stack.start();
  stack.onRequest((req, ctx) => {
    if (req.method !== 'REGISTER') return ctx.respond(405);
    const aor = req.to.uri.user ?? '';
    const contact = parseNameAddrList(req.headers.getAll('Contact')).items[0]!;
    const expires = Number(req.headers.get('Expires') ?? '3600');
    if (expires === 0) {
      bindings.delete(aor);
      contacts.delete(aor);
    } else {
      bindings.set(aor, `${contact.uri.user}@${contact.uri.host}:${contact.uri.port};transport=${ctx.transport}`);
      contacts.set(aor, contact.uri);
    }
    ctx.respond(200, undefined, { headers: expires ? { Contact: `${req.headers.get('Contact')};expires=${Math.min(expires, 300)}` } : {} });
  });
  return { stack, port: ports.tlsPort!, bindings, contacts };
}

/** What a registrar does to check a binding (qualify): OPTIONS to the registered Contact. */
function optionsTo(stack: SipStack, contact: SipUri) {
  return stack.request({
    method: 'OPTIONS',
    uri: formatUri(contact),
    headers: {
      From: `<sip:registrar@127.0.0.1>;tag=${newTag()}`, To: `<${formatUri(contact)}>`,
      'Call-ID': newCallId(stack.publicHost), CSeq: '1 OPTIONS',
    },
  });
}

testDbs().forEach((db, i) => {
  describe(`registrations against SIPp registrars and over TLS (${db})`, () => {
    const base = BASE_PORT + i * 20;
    const certDir = mkdtempSync(join(tmpdir(), 'dialtone-tls-'));
    const trusted = selfSigned(certDir, 'registrar');
    const stranger = selfSigned(certDir, 'stranger');
    const expired = makeCert({ expired: true });
    const expiredCert = join(certDir, 'expired.crt');
    const expiredKey = join(certDir, 'expired.key');
    writeFileSync(expiredCert, expired.cert);
    writeFileSync(expiredKey, expired.key);
    // Our server trusts both, so the expired one fails on its dates and not on who signed it.
    const caBundle = join(certDir, 'trusted-bundle.pem');
    writeFileSync(caBundle, Buffer.concat([readFileSync(trusted.cert), expired.cert]));
    const kamailio = new Kamailio({ port: base + 10, users: { redirected: 'redirected-pw' } });
    const sipps: SippRun[] = [];
    const stacks: SipStack[] = [];
    let ts: TestServer;
    let key: string;

    const sipp = (scenario: string, offset: number, keys: Record<string, string> = {}) => {
      const run = sippServer(scenario, base + offset, 26000 + i * 100 + offset * 4, keys);
      sipps.push(run);
      return { run, registrar: `sip:127.0.0.1:${base + offset}` };
    };

    before(async () => {
      await kamailio.start();
      ts = await startTestServer(db, {
        config: (c) => {
          fastSip(c);
          c.sip.tlsCaFile = caBundle;
          c.sip.tls = { port: 0, certFile: trusted.cert, keyFile: trusted.key };
        },
        sip: true,
      });
      key = (await ts.newTenant()).key;
    });
    after(async () => {
      await Promise.all(sipps.map((s) => s.stop()));
      await ts?.close().catch(() => {});
      await Promise.all(stacks.map((s) => s.stop()));
      await kamailio.destroy();
      rmSync(certDir, { recursive: true, force: true });
    });

    it('retries at once with Min-Expires after 423, then de-registers on disable', async () => {
      const { run, registrar } = sipp('reg_423.xml', 1);
      const line = await createLine(ts, key, { registrar, username: 'u423', password: 'pw', options: { expires: 60 } });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      await line.disable();
      assert.equal(await run.done, 0, run.output());
    });

    it('shows the 423 retry in the error while it waits', async () => {
      const { run, registrar } = sipp('reg_423.xml', 2);
      const line = await createLine(ts, key, { registrar, username: 'u423b', password: 'pw', options: { expires: 60 } });
      // The state report in between is fast; the domain event stream shows it.
      const seen: string[] = [];
      const off = ts.server.bus.subscribe((e) => {
        if (e.type === 'registration.state' && e.data.registration_id === line.id && typeof e.data.error === 'string') seen.push(e.data.error);
      });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      off();
      assert.deepEqual(seen, ['423 Interval Too Brief, retried with 3600 s']);
      await line.disable();
      assert.equal(await run.done, 0, run.output());
    });

    it('stops on 403 with the registrar\'s reason', async () => {
      const { run, registrar } = sipp('reg_403.xml', 3);
      const line = await createLine(ts, key, { registrar, username: 'u403', password: 'pw' });
      await line.activate();
      const r = await line.waitFor('failed', (x) => x.status === 'failed');
      assert.equal(r.state, 'failed');
      assert.equal(r.error, 'registrar 127.0.0.1 rejected the registration: 403 Forbidden (account suspended)');
      assert.equal(await run.done, 0, run.output());
    });

    it('retries after 503 (honouring Retry-After) and then registers', async () => {
      const { run, registrar } = sipp('reg_503.xml', 4);
      const line = await createLine(ts, key, { registrar, username: 'u503', password: 'pw', handler: 'sip' });
      await line.activate();
      const waiting = await line.waitFor('the 503', (x) => x.error !== undefined);
      assert.equal(waiting.state, 'registering');
      assert.equal(waiting.error, 'registrar 127.0.0.1 answered 503 Service Unavailable');
      const ok = await line.waitFor('registered', (x) => x.state === 'registered');
      assert.equal(ok.error, undefined, 'error cleared on success');
      await line.disable();
      assert.equal(await run.done, 0, run.output());
    });

    it('follows a 302 to the registrar it names (Kamailio holds the binding)', async () => {
      const { run, registrar } = sipp('reg_302.xml', 5, { target: `127.0.0.1:${base + 10}` });
      const line = await createLine(ts, key, { registrar, username: 'redirected', password: 'redirected-pw' });
      await line.activate();
      await line.waitFor('registered', (x) => x.state === 'registered');
      const udpPort = ts.server.sipEdge!.sip.listening().udpPort;
      const bindings = await kamailio.lookup('redirected');
      assert.deepEqual(bindings.map((b) => b.address), [`sip:${contactToken(line.id)}@127.0.0.1:${udpPort}`]);
      assert.equal(await run.done, 0, run.output());
      await line.disable();
      await waitFor('binding gone', async () => (await kamailio.lookup('redirected')).length === 0, 5_000);
    });

    it('registers over TLS advertising our TLS listener, answers OPTIONS there, and de-registers on disable', async () => {
      const reg = await tlsRegistrar(trusted.cert, trusted.key, trusted.cert);
      stacks.push(reg.stack);
      const line = await createLine(ts, key, { registrar: `sip:127.0.0.1:${reg.port}`, username: 'tlsuser', password: 'pw', options: { transport: 'tls' } });
      await line.activate();
      await line.waitFor('registered', (x) => x.state === 'registered');
      const ours = ts.server.sipEdge!.sip.listening();
      assert.ok(ours.tlsPort && ours.tlsPort !== ours.tcpPort, 'a TLS listener of its own');
      assert.equal(reg.bindings.get('tlsuser'), `${contactToken(line.id)}@127.0.0.1:${ours.tlsPort};transport=tls`);
      const qualify = await optionsTo(reg.stack, reg.contacts.get('tlsuser')!);
      assert.equal(qualify.response.status, 200);
      assert.equal(qualify.local.transport, 'tls');
      assert.equal(qualify.remote.port, ours.tlsPort);
      await line.disable();
      await waitFor('TLS binding gone', () => !reg.bindings.has('tlsuser'), 5_000);
    });

    it('advertises a sips: Contact on the TLS listener to a sips: registrar', async () => {
      const reg = await tlsRegistrar(trusted.cert, trusted.key, trusted.cert);
      stacks.push(reg.stack);
      const line = await createLine(ts, key, { registrar: `sips:127.0.0.1:${reg.port}`, username: 'sipsuser', password: 'pw' });
      await line.activate();
      await line.waitFor('registered', (x) => x.state === 'registered');
      const contact = reg.contacts.get('sipsuser')!;
      assert.equal(formatUri(contact), `sips:${contactToken(line.id)}@127.0.0.1:${ts.server.sipEdge!.sip.listening().tlsPort}`);
      assert.equal((await optionsTo(reg.stack, contact)).response.status, 200);
      await line.disable();
      await waitFor('sips binding gone', () => !reg.contacts.has('sipsuser'), 5_000);
    });

    it('reports an expired registrar certificate as such, registering and then failed', async () => {
      const reg = await tlsRegistrar(expiredCert, expiredKey);
      stacks.push(reg.stack);
      const line = await createLine(ts, key, { registrar: `sip:127.0.0.1:${reg.port}`, username: 'tlsexpired', password: 'pw', options: { transport: 'tls' } });
      const seen: Array<{ state: unknown; error: unknown }> = [];
      const off = ts.server.bus.subscribe((e) => {
        if (e.type === 'registration.state' && e.data.registration_id === line.id) seen.push({ state: e.data.state, error: e.data.error });
      });
      await line.activate();
      const r = await line.waitFor('failed', (x) => x.state === 'failed');
      off();
      assert.equal(r.error, 'TLS: certificate has expired');
      assert.equal(r.status, 'active', 'retries go on after the state turns failed');
      const failures = seen.filter((s) => typeof s.error === 'string');
      assert.deepEqual(failures.map((s) => s.state).slice(0, 2), ['registering', 'failed']);
      assert.ok(failures.every((s) => s.error === 'TLS: certificate has expired'), JSON.stringify(failures));
      assert.equal(reg.bindings.size, 0);
      await line.disable();
    });

    it('names the TLS problem when the registrar\'s certificate is not trusted', async () => {
      const reg = await tlsRegistrar(stranger.cert, stranger.key);
      stacks.push(reg.stack);
      const line = await createLine(ts, key, { registrar: `sip:127.0.0.1:${reg.port}`, username: 'tlsuser2', password: 'pw', options: { transport: 'tls' } });
      await line.activate();
      const r = await line.waitFor('a TLS error', (x) => x.error !== undefined);
      assert.match(r.error, /^TLS: self[- ]signed certificate$/);
      assert.equal(reg.bindings.size, 0);
      await line.disable();
    });
  });
});
