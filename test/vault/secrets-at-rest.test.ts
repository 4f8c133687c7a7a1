/**
 * Secrets planted through the APIs (line and trunk passwords, an agent's password, access and
 * login tokens) are searched for, in plain text, everywhere they could rest or leak: every byte
 * of the data folder (SQLite file, WAL), every text column of every table (PostgreSQL too), the
 * log at trace level, and every answer the APIs gave after the one that showed a token once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createLogger } from '../../src/log.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

for (const db of testDbs()) {
  describe(`planted secrets rest nowhere in plain text (${db})`, () => {
    let s: TestServer;
    let log = '';
    const secrets: Record<string, string> = {};
    const answers: string[] = [];
    before(async () => {
      const sink = new Writable({ write(chunk, _enc, done) { log += chunk.toString(); done(); } });
      s = await startTestServer(db, { overrides: { logger: createLogger('trace', sink) } });
    });
    after(async () => { await s.close(); });

    test('lines, trunks, agents and keys keep their secrets sealed or hashed', async () => {
      const { key } = await s.newTenant();
      secrets.tenantKey = key;
      const plant = (name: string) => (secrets[name] = `${name}-${randomBytes(9).toString('hex')}`);
      const ok = (r: { status: number; text: string }) => { assert.ok(r.status < 300, r.text); answers.push(r.text); return r; };
      ok(await s.request('POST', '/phone-endpoints', {
        key, body: { type: 'phone-registration', registrar: 'sip:127.0.0.1:5097', username: 'ext1', password: plant('linePassword') },
      }));
      ok(await s.request('POST', '/sip/create-outbound-trunk', {
        key, body: { trunk_name: 'c', trunk_address: '127.0.0.1:5096', trunk_numbers: ['+15550144001'], trunk_auth_username: 'u', trunk_auth_password: plant('trunkPassword'), trunk_type: 'twilio' },
      }));
      const agentPassword = plant('agentPassword');
      ok(await s.request('POST', '/v1.0/agents', { key, body: { username: 'vault-agent', password: agentPassword, name: 'V', permission: 64 } }));
      const login = await s.request('POST', '/auth/login', { key: null, body: { username: 'vault-agent', password: agentPassword } });
      assert.equal(login.status, 200, login.text);
      secrets.loginToken = login.body.token;
      const made = await s.request('POST', '/v1.0/accesskeys', { key, body: { name: 'k', detail: 'k', expire: 3600 } });
      assert.equal(made.status, 200, made.text);
      secrets.accessKey = made.body.token;
      // Everything read back afterwards: lists and details of what holds a secret.
      for (const path of ['/phone-endpoints', '/sip/list', '/v1.0/agents', '/v1.0/accesskeys', '/api/agents']) {
        ok(await s.request('GET', path, { key }));
      }

      const found: string[] = [];
      const look = (where: string, text: string) => {
        for (const [name, value] of Object.entries(secrets)) if (text.includes(value)) found.push(`${name} in ${where}`);
      };
      answers.forEach((a, i) => look(`answer ${i}`, a));
      look('the log', log);
      for (const f of filesUnder(s.dataDir)) look(f, readFileSync(f).toString('latin1'));
      // Every text column of every table, whatever the database keeps on disk.
      const tables = await s.server.store.db.introspection.getTables();
      for (const t of tables) {
        const rows = await sql<Record<string, unknown>>`select * from ${sql.table(t.name)}`.execute(s.server.store.db);
        look(`table ${t.name}`, JSON.stringify(rows.rows));
      }
      assert.deepEqual(found, []);
      assert.ok(Object.keys(secrets).length >= 6);
    });
  });
}
