/**
 * Registrations against a real Kamailio registrar (digest auth, in-memory location table),
 * verified in Kamailio's location table with kamcmd, over UDP and TCP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from '../../src/server.js';
import { contactToken } from '../../src/registration/target.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { createLine, fastSip } from './helpers.js';
import { Kamailio, waitFor } from './peers.js';
import { sendUdpRequest } from './sip-client.js';

const BASE_PORT = 15060;
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw', frank: 'frank-pw' };

testDbs().forEach((db, i) => {
  describe(`registrations at a real Kamailio (${db})`, () => {
    const port = BASE_PORT + i * 10;
    const registrar = `sip:127.0.0.1:${port}`;
    const kamailio = new Kamailio({ port, users: USERS, minExpires: 5, maxExpires: 10 });
    let ts: TestServer;
    let key: string;
    let restarted: Server | null = null;
    let second: Server | null = null;

    before(async () => {
      await kamailio.start();
      ts = await startTestServer(db, { config: fastSip, sip: true });
      key = (await ts.newTenant()).key;
    });
    after(async () => {
      await second?.close().catch(() => {});
      await restarted?.close().catch(() => {});
      await ts?.close().catch(() => {});
      await kamailio.destroy();
    });

    it('registers over UDP: the binding is at the registrar, gets refreshed, and is gone after disable', async () => {
      const line = await createLine(ts, key, { registrar, username: 'alice', password: 'alice-pw', options: { expires: 60 } });
      assert.equal((await line.get()).state, 'initial');
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      const udpPort = ts.server.sipEdge!.sip.listening().udpPort;
      const [binding] = await waitFor('alice bound', async () => { const b = await kamailio.lookup('alice'); return b.length ? b : null; });
      assert.equal(binding!.address, `sip:${contactToken(line.id)}@127.0.0.1:${udpPort}`);
      assert.ok(binding!.expires <= 10, 'the registrar capped the expiry at 10 s');
      // Kamailio granted 10 s, so the engine refreshes after 5 s: same Call-ID, higher CSeq.
      const refreshed = await waitFor('a refresh', async () => {
        const [b] = await kamailio.lookup('alice');
        return b && b.cseq > binding!.cseq ? b : null;
      }, 12_000);
      assert.equal(refreshed.callId, binding!.callId);
      assert.equal((await line.get()).state, 'registered');

      await line.disable();
      await waitFor('alice unbound', async () => (await kamailio.lookup('alice')).length === 0, 5_000);
      const after = await line.get();
      assert.equal(after.status, 'disabled');
    });

    it('registers over TCP and de-registers on delete', async () => {
      const line = await createLine(ts, key, { registrar, username: 'bob', password: 'bob-pw', options: { transport: 'tcp' } });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      const [binding] = await waitFor('bob bound', async () => { const b = await kamailio.lookup('bob'); return b.length ? b : null; });
      assert.match(binding!.address, new RegExp(`^sip:${contactToken(line.id)}@127\\.0\\.0\\.1:\\d+;transport=tcp$`));
      await line.remove();
      await waitFor('bob unbound', async () => (await kamailio.lookup('bob')).length === 0, 5_000);
    });

    it('reports a wrong password as rejected credentials and stops', async () => {
      const line = await createLine(ts, key, { registrar, username: 'carol', password: 'not-her-password' });
      await line.activate();
      const r = await line.waitFor('failed', (x) => x.status === 'failed');
      assert.equal(r.state, 'failed');
      assert.equal(r.error, 'credentials rejected by registrar (401 after authentication)');
      assert.deepEqual(await kamailio.lookup('carol'), []);
    });

    it('says a silent registrar did not answer, then moves to failed while it keeps trying', async () => {
      // A socket that reads and never answers: a closed port would be refused at once instead.
      const silent = createSocket('udp4');
      await new Promise<void>((resolve) => silent.bind(port + 9, '127.0.0.1', resolve));
      try {
        const line = await createLine(ts, key, { registrar: `sip:127.0.0.1:${port + 9}`, username: 'nobody', password: 'x' });
        await line.activate();
        const first = await line.waitFor('a first failure', (x) => x.error !== undefined);
        assert.equal(first.state, 'registering');
        assert.equal(first.status, 'active');
        assert.equal(first.error, `registrar 127.0.0.1 did not answer REGISTER over UDP after 1.3 s`);
        const failed = await line.waitFor('failed state', (x) => x.state === 'failed');
        assert.equal(failed.status, 'active', 'still retrying');
        await line.disable();
      } finally {
        silent.close();
      }
    });

    it('answers OPTIONS and INVITE at the contact it registered', async () => {
      const line = await createLine(ts, key, { registrar, username: 'dave', password: 'dave-pw' });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      const udpPort = ts.server.sipEdge!.sip.listening().udpPort;
      const contact = `sip:${contactToken(line.id)}@127.0.0.1:${udpPort}`;

      const options = await sendUdpRequest(udpPort, 'OPTIONS', contact);
      assert.equal(options.at(-1)!.status, 200);

      const unbound = await sendUdpRequest(udpPort, 'INVITE', contact, { sdp: true });
      assert.equal(unbound.at(-1)!.status, 480);
      assert.match(unbound.at(-1)!.text, new RegExp(`^Reason: SIP;cause=480;text="no agent is listening on line ${line.id}"`, 'm'));

      const scope = { tenantId: (await ts.server.services.registrations.findListener(line.id))!.registration.tenantId };
      const agent = await ts.server.services.agents.create(scope, { name: 'receptionist' });
      await ts.server.services.registrations.listen(scope, agent.id, { id: line.id });
      // The line's handler is the default, livekit, and this server has no LiveKit settings.
      const bound = await sendUdpRequest(udpPort, 'INVITE', contact, { sdp: true });
      assert.equal(bound.at(-1)!.status, 503);
      assert.match(bound.at(-1)!.text, /^Reason: SIP;cause=503;text="LiveKit is not configured: set LIVEKIT_URL/m);
      const calls = await ts.server.services.calls.history(scope, { agentId: agent.id, limit: 10, offset: 0 });
      assert.equal(calls.calls[0]?.status, 'failed', 'the attempt is recorded');
      assert.equal(calls.calls[0]?.lineId, line.id);

      const unknown = await sendUdpRequest(udpPort, 'INVITE', `sip:nobody@127.0.0.1:${udpPort}`, { sdp: true });
      assert.equal(unknown.at(-1)!.status, 404);
      const bye = await sendUdpRequest(udpPort, 'BYE', contact);
      assert.equal(bye.at(-1)!.status, 481);
      const notify = await sendUdpRequest(udpPort, 'NOTIFY', contact, ['Event: keep-alive']);
      assert.equal(notify.at(-1)!.status, 200);
      await line.disable();
    });

    it('restores the binding by itself after the registrar restarts and lost it', async () => {
      const line = await createLine(ts, key, { registrar, username: 'erin', password: 'erin-pw' });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      await waitFor('erin bound', async () => (await kamailio.lookup('erin')).length === 1);
      await kamailio.stop();
      await kamailio.start();
      assert.deepEqual(await kamailio.lookup('erin'), [], 'in-memory location table starts empty');
      await waitFor('erin bound again without activation', async () => (await kamailio.lookup('erin')).length === 1, 20_000, 200);
      await line.waitFor('registered', (r) => r.state === 'registered');
      await line.disable();
    });

    it('de-registers on shutdown and resumes the registration when the server starts again', async () => {
      const line = await createLine(ts, key, { registrar, username: 'frank', password: 'frank-pw' });
      await line.activate();
      await line.waitFor('registered', (r) => r.state === 'registered');
      await waitFor('frank bound', async () => (await kamailio.lookup('frank')).length === 1);
      await ts.server.close();
      assert.deepEqual(await kamailio.lookup('frank'), [], 'de-registered on close');

      restarted = await createServer(ts.config, { logger: ts.server.logger });
      await restarted.listen();
      await restarted.startSip();
      await waitFor('frank bound again after restart', async () => (await kamailio.lookup('frank')).length === 1, 10_000);
      const reg = await restarted.services.registrations.findListener(line.id);
      assert.equal(reg!.registration.state, 'registered');
    });

    it('with two instances on one database only the lease holder registers a line, and the other takes over', async () => {
      const holder = restarted!;
      const holderPort = holder.sipEdge!.sip.listening().udpPort;
      await waitFor('frank held by the running instance', async () => (await kamailio.lookup('frank')).length === 1);
      second = await createServer(ts.config, { logger: ts.server.logger });
      await second.listen();
      await second.startSip();
      await second.sipEdge!.engine.settled();
      assert.equal(second.sipEdge!.engine.stats().lines, 0, 'the second instance leaves a leased line alone');
      const bindings = await kamailio.lookup('frank');
      assert.deepEqual(bindings.map((b) => b.address.replace(/.*:(\d+)$/, '$1')), [String(holderPort)]);

      await holder.close(); // de-registers and releases its leases
      restarted = null;
      const secondPort = second.sipEdge!.sip.listening().udpPort;
      const taken = await waitFor('frank registered by the second instance', async () => {
        const b = await kamailio.lookup('frank');
        return b.length === 1 && b[0]!.address.endsWith(`:${secondPort}`) ? b : null;
      }, 10_000);
      assert.equal(taken.length, 1);
      assert.equal(second.sipEdge!.engine.stats().lines, 1);
    });
  });
});
