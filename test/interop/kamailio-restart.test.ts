/**
 * A Dialtone process killed with SIGKILL (no de-registration, leases left held) and started again
 * on the same host and SIP port gets its lines back at Kamailio at once, TCP ones included
 * (Kamailio drops a TCP binding with its connection), and its API never calls a line
 * `registered` on the strength of a REGISTER the dead process sent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { contactToken } from '../../src/registration/target.js';
import { createPgDatabase, testDbs } from '../helpers/server.js';
import { DialtoneProcess, freePort, plainRequest } from '../helpers/dialtone-process.js';
import { Kamailio, waitFor, type Binding } from './peers.js';

const KAMAILIO_PORT = 15360; // clear of the other interop files (15060–15290, 15460–16320, 16600–16650)
const USERS = { tcpline: 'tcp-pw', udpline: 'udp-pw' };

testDbs().forEach((db, i) => {
  describe(`a Dialtone process killed with SIGKILL and restarted (${db})`, () => {
    const kamailioPort = KAMAILIO_PORT + i * 10;
    const registrar = `sip:127.0.0.1:${kamailioPort}`;
    const kamailio = new Kamailio({ port: kamailioPort, users: USERS, minExpires: 5, maxExpires: 10 });
    const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-restart-'));
    const adminKey = `admin-${randomBytes(12).toString('hex')}`;
    let pg: Awaited<ReturnType<typeof createPgDatabase>> | null = null;
    let dialtone: DialtoneProcess;
    let http = '';

    const api = (method: string, path: string, body?: unknown, accountId?: string) => plainRequest(http, adminKey, method, path, body, accountId);

    before(async () => {
      await kamailio.start();
      if (db === 'postgres') pg = await createPgDatabase();
      const [httpPort, sipPort] = [await freePort(), await freePort()];
      http = `http://127.0.0.1:${httpPort}`;
      dialtone = new DialtoneProcess({
        PORT: String(httpPort), HOST: '127.0.0.1', DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}),
        ADMIN_API_KEY: adminKey, MASTER_KEY: randomBytes(32).toString('base64'),
        SIP_PORT: String(sipPort), SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1', ALLOW_PRIVATE_SIP_TARGETS: '1',
        SIP_T1_MS: '20', REGISTER_BACKOFF_BASE_MS: '200', REGISTER_BACKOFF_MAX_MS: '1000',
        LOG_LEVEL: process.env.DIALTONE_TEST_LOG ?? 'warn', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
      });
      await dialtone.start();
    });
    after(async () => {
      await dialtone?.kill('SIGKILL');
      await kamailio.destroy();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('registers its TCP and UDP lines again at once, and GET says registered only for a fresh binding', async () => {
      const tenant = await api('POST', '/tenants', { name: 'restart test' });
      assert.equal(tenant.status, 201, tenant.text);
      const lines: Record<string, string> = {};
      for (const [username, transport] of [['tcpline', 'tcp'], ['udpline', 'udp']] as const) {
        const r = await api('POST', '/phone-endpoints', {
          type: 'phone-registration', registrar, username, password: USERS[username], options: { transport },
        }, tenant.body.id);
        assert.equal(r.status, 201, r.text);
        lines[username] = r.body.id;
        assert.equal((await api('POST', `/phone-endpoints/${r.body.id}/activate`, undefined, tenant.body.id)).status, 200);
      }
      const get = async (username: string) => (await api('GET', `/phone-endpoints/${lines[username]}`, undefined, tenant.body.id)).body;
      const bound = async (username: string): Promise<Binding | null> => {
        const [b] = await kamailio.lookup(username);
        return b && b.address.startsWith(`sip:${contactToken(lines[username]!)}@`) ? b : null;
      };
      const before: Record<string, Binding> = {};
      for (const u of ['tcpline', 'udpline']) {
        const first = await waitFor(`${u} bound`, () => bound(u), 15_000);
        await waitFor(`${u} registered in the API`, async () => (await get(u)).state === 'registered');
        // At least one refresh, so the registrar holds a CSeq above what a fresh process starts with.
        before[u] = await waitFor(`${u} refreshed`, async () => { const b = await bound(u); return b && b.cseq > first.cseq ? b : null; }, 15_000);
      }

      await dialtone.kill('SIGKILL');
      // Kamailio notices the dead TCP connection and drops that binding (usrloc handle_lost_tcp).
      await waitFor('the TCP binding to go with its connection', async () => !(await bound('tcpline')), 10_000, 100);
      assert.ok(await bound('udpline'), 'the UDP binding outlives the process until it expires');

      await dialtone.start();
      const restartedAt = Date.now();
      // Until a REGISTER of the new process succeeded, the API must not call the line registered.
      const seen: Array<{ u: string; state: string; fresh: boolean }> = [];
      const fresh = async (u: string) => {
        const b = await bound(u);
        return !!b && b.callId !== before[u]!.callId;
      };
      const back = await waitFor('both lines bound again by the new process', async () => {
        for (const u of ['tcpline', 'udpline']) {
          const { state } = await get(u);
          seen.push({ u, state, fresh: await fresh(u) });
        }
        return (await fresh('tcpline')) && (await fresh('udpline')) ? Date.now() - restartedAt : null;
      }, 10_000, 20);
      assert.ok(back < 2_000, `the lines were back ${back} ms after the restart`);
      for (const s of seen) {
        if (s.state === 'registered') assert.ok(s.fresh, `${s.u} was shown registered before the new process re-registered it`);
      }
      const tcp = (await bound('tcpline'))!;
      assert.match(tcp.address, /;transport=tcp$/);
      assert.equal((await get('tcpline')).state, 'registered');
      assert.equal((await get('udpline')).state, 'registered');
      assert.equal((await kamailio.lookup('udpline')).length, 1, 'the new REGISTER replaced the binding instead of adding one');
    });
  });
});
