/**
 * Durability under kill -9: writes go to a Dialtone process from several clients at once, the
 * process is killed with SIGKILL mid-stream, started again on the same data, and every write it
 * had acknowledged (a 2xx received) must be there. Requests cut off by the kill count for nothing.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DialtoneProcess, freePort, plainRequest } from '../helpers/dialtone-process.js';
import { createPgDatabase, testDbs } from '../helpers/server.js';

for (const db of testDbs()) {
  describe(`acknowledged writes survive kill -9 (${db})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-kill9-'));
    let pg: Awaited<ReturnType<typeof createPgDatabase>> | null = null;
    let proc: DialtoneProcess | undefined;
    after(async () => {
      await proc?.kill('SIGKILL');
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('keeps every write it answered 2xx to', async () => {
      if (db === 'postgres') pg = await createPgDatabase();
      const adminKey = `admin-${randomBytes(12).toString('hex')}`;
      const httpPort = await freePort();
      const base = `http://127.0.0.1:${httpPort}`;
      proc = new DialtoneProcess({
        PORT: String(httpPort), HOST: '127.0.0.1', DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}),
        ADMIN_API_KEY: adminKey, MASTER_KEY: randomBytes(32).toString('base64'),
        SIP_PORT: String(await freePort()), SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_PER_HOUR: '10000000',
      });
      await proc.start();
      const api = (method: string, path: string, body?: unknown, account?: string) => plainRequest(base, adminKey, method, path, body, account);
      const tenant = await api('POST', '/tenants', { name: 'kill -9' });
      assert.equal(tenant.status, 201, tenant.text);
      const account = tenant.body.id as string;

      const acked: string[] = [];
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const r = await api('POST', '/v1.0/tags', { name: `t${w}-${i}`, detail: 'load' }, account);
            if (r.status < 300) acked.push(r.body.id);
          } catch {
            return; // the process is gone: this write was never acknowledged
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 1500));
      await proc.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);
      assert.ok(acked.length >= 20, `only ${acked.length} writes were acknowledged before the kill`);

      await proc.start();
      const missing: string[] = [];
      for (const id of acked) {
        const r = await api('GET', `/v1.0/tags/${id}`, undefined, account);
        if (r.status !== 200) missing.push(`${id}: ${r.status}`);
      }
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged writes lost`);
    });
  });
}
