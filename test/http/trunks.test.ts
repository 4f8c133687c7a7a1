import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const secret = () => `pw-${randomBytes(12).toString('hex')}`;

function trunkBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    trunk_name: 'Twilio Production',
    trunk_address: 'example.pstn.twilio.com',
    trunk_numbers: ['+15550100000', '+15550100001'],
    trunk_auth_username: 'AC0123456789abcdef0123456789abcdef',
    trunk_auth_password: secret(),
    trunk_type: 'twilio',
    ...overrides,
  };
}

for (const db of testDbs()) {
  describe(`SIP trunks (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
    });
    after(async () => { await s.close(); });

    test('creating a trunk answers the envelope with an ST_ id', async () => {
      const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody() });
      assert.equal(r.status, 200);
      assert.equal(r.body.success, true);
      assert.equal(typeof r.body.message, 'string');
      assert.match(r.body.data.trunk_id, /^ST_[0-9a-f]{24}$/);
      assert.deepEqual(Object.keys(r.body.data), ['trunk_id']);
    });

    test('the list shows the tenant\'s trunks newest first, with microsecond timestamps and no credentials', async () => {
      const own = await s.newTenant();
      const password = secret();
      const first = await s.request('POST', '/sip/create-outbound-trunk', { key: own.key, body: trunkBody({ trunk_name: 'first', trunk_auth_password: password }) });
      await new Promise((r) => setTimeout(r, 5));
      const second = await s.request('POST', '/sip/create-outbound-trunk', {
        key: own.key,
        body: trunkBody({ trunk_name: 'Exotel India', trunk_address: 'sip.exotel.com', trunk_numbers: ['+911234567890'], trunk_auth_username: 'exo_sid', trunk_type: 'exotel' }),
      });
      const r = await s.request('GET', '/sip/list', { key: own.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.success, true);
      assert.deepEqual(r.body.data.map((x: any) => x.trunk_id), [second.body.data.trunk_id, first.body.data.trunk_id]);
      const exo = r.body.data[0];
      assert.deepEqual(exo, {
        trunk_id: second.body.data.trunk_id,
        trunk_name: 'Exotel India',
        trunk_address: 'sip.exotel.com',
        trunk_numbers: ['+911234567890'],
        trunk_type: 'exotel',
        trunk_created_at: exo.trunk_created_at,
      });
      assert.match(exo.trunk_created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
      assert.ok(Math.abs(Date.parse(exo.trunk_created_at.slice(0, 23) + 'Z') - Date.now()) < 60_000);
      assert.ok(!r.text.includes(password));
      assert.ok(!r.text.includes('trunk_auth'));
      assert.ok(!r.text.includes('exo_sid'));
    });

    test('the trunk detail shows the username but never the password', async () => {
      const password = secret();
      const c = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_auth_password: password, trunk_auth_username: 'user-42' }) });
      const id = c.body.data.trunk_id;
      const r = await s.request('GET', `/sip/${id}`, { key: t.key });
      assert.equal(r.status, 200);
      assert.equal(r.body.success, true);
      assert.equal(r.body.data.trunk_id, id);
      assert.equal(r.body.data.trunk_auth_username, 'user-42');
      assert.deepEqual(r.body.data.trunk_numbers, ['+15550100000', '+15550100001']);
      assert.equal(r.body.data.trunk_address, 'example.pstn.twilio.com');
      assert.equal(r.body.data.trunk_auth_password, undefined);
      assert.ok(!r.text.includes(password));
      assert.ok(!c.text.includes(password));
    });

    test('the outbound runtime can unseal the credentials through the service', async () => {
      const password = secret();
      const c = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_auth_password: password, trunk_auth_username: 'dialer' }) });
      const creds = await s.server.services.trunks.getCredentials({ tenantId: t.id }, c.body.data.trunk_id);
      assert.deepEqual(creds, { username: 'dialer', password });
      const other = await s.newTenant();
      await assert.rejects(s.server.services.trunks.getCredentials({ tenantId: other.id }, c.body.data.trunk_id), /not found/);
    });

    test('trunk addresses may carry a port, a sip: scheme or be IP literals', async () => {
      for (const address of ['sip:example.pstn.twilio.com', 'sip:sip.exotel.com:5061', 'trunk.example.com:5080', '203.0.113.10', '203.0.113.10:5060', '[2001:db8::1]:5060']) {
        const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_address: address }) });
        assert.equal(r.status, 200, `${address}: ${r.text}`);
        const d = await s.request('GET', `/sip/${r.body.data.trunk_id}`, { key: t.key });
        assert.equal(d.body.data.trunk_address, address);
      }
    });

    test('each bad field is refused with 400 naming it, in the envelope', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ trunk_name: undefined }, 'trunk_name'],
        [{ trunk_name: '' }, 'trunk_name'],
        [{ trunk_name: 'x'.repeat(101) }, 'trunk_name'],
        [{ trunk_address: undefined }, 'trunk_address'],
        [{ trunk_address: 'not a host!' }, 'trunk_address'],
        [{ trunk_address: 'sip:' }, 'trunk_address'],
        [{ trunk_address: 'example.com:70000' }, 'trunk_address'],
        [{ trunk_address: '300.1.2.3' }, 'trunk_address'],
        [{ trunk_address: 'https://example.com/sip' }, 'trunk_address'],
        [{ trunk_numbers: undefined }, 'trunk_numbers'],
        [{ trunk_numbers: [] }, 'trunk_numbers'],
        [{ trunk_numbers: Array.from({ length: 101 }, (_, i) => `+1555010${String(i).padStart(4, '0')}`) }, 'trunk_numbers'],
        [{ trunk_numbers: ['+15550100000', '5550100'] }, 'trunk_numbers[1]'],
        [{ trunk_numbers: ['+15550100000', '+15550100000'] }, 'trunk_numbers[1]'],
        [{ trunk_auth_username: undefined }, 'trunk_auth_username'],
        [{ trunk_auth_username: '' }, 'trunk_auth_username'],
        [{ trunk_auth_username: 'u'.repeat(257) }, 'trunk_auth_username'],
        [{ trunk_auth_password: undefined }, 'trunk_auth_password'],
        [{ trunk_auth_password: '' }, 'trunk_auth_password'],
        [{ trunk_auth_password: 'p'.repeat(257) }, 'trunk_auth_password'],
        [{ trunk_type: undefined }, 'trunk_type'],
        [{ trunk_type: 'plivo' }, 'trunk_type'],
        [{ trunk_colour: 'red' }, 'trunk_colour'],
      ];
      for (const [patch, field] of cases) {
        const body = trunkBody(patch);
        for (const k of Object.keys(patch)) if (patch[k] === undefined) delete body[k];
        const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body });
        assert.equal(r.status, 400, `${JSON.stringify(patch).slice(0, 80)} → ${r.status} ${r.text}`);
        assert.equal(r.body.success, false);
        assert.equal(r.body.data, null);
        assert.ok(r.body.message.includes(field), `${field} not named in "${r.body.message}"`);
      }
      const list = await s.request('GET', '/sip/list', { key: t.key });
      assert.ok(!list.text.includes('trunk_colour'));
    });

    test('a body over 1 MiB is refused with 413 in the envelope', async () => {
      const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_name: 'x'.repeat(1024 * 1024 + 10) }) });
      assert.equal(r.status, 413);
      assert.equal(r.body.success, false);
      assert.equal(r.body.data, null);
    });

    test('missing or invalid API keys get 401 in the envelope', async () => {
      for (const key of [null, 'not-a-key']) {
        for (const [method, path] of [['GET', '/sip/list'], ['POST', '/sip/create-outbound-trunk'], ['GET', '/sip/ST_000000000000000000000000'], ['DELETE', '/sip/ST_000000000000000000000000']]) {
          const r = await s.request(method, path, { key, body: method === 'POST' ? trunkBody() : undefined });
          assert.equal(r.status, 401, `${method} ${path}`);
          assert.equal(r.body.success, false);
          assert.equal(r.body.data, null);
          assert.ok(r.body.message.length > 0);
        }
      }
    });

    test('the platform admin acts for a tenant with X-Account-ID and must name one', async () => {
      const own = await s.newTenant();
      const missing = await s.request('GET', '/sip/list');
      assert.equal(missing.status, 400);
      assert.equal(missing.body.success, false);
      assert.match(missing.body.message, /X-Account-ID/);
      const c = await s.request('POST', '/sip/create-outbound-trunk', { accountId: own.id, body: trunkBody() });
      assert.equal(c.status, 200);
      const list = await s.request('GET', '/sip/list', { key: own.key });
      assert.deepEqual(list.body.data.map((x: any) => x.trunk_id), [c.body.data.trunk_id]);
    });

    test('unknown trunks and other tenants\' trunks are 404', async () => {
      const c = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody() });
      const id = c.body.data.trunk_id;
      const other = await s.newTenant();
      for (const [key, path] of [[t.key, '/sip/ST_000000000000000000000000'], [t.key, '/sip/nonsense'], [other.key, `/sip/${id}`]]) {
        for (const method of ['GET', 'DELETE']) {
          const r = await s.request(method, path, { key });
          assert.equal(r.status, 404, `${method} ${path}`);
          assert.equal(r.body.success, false);
          assert.equal(r.body.data, null);
          assert.match(r.body.message, /trunk/);
        }
      }
      const otherList = await s.request('GET', '/sip/list', { key: other.key });
      assert.deepEqual(otherList.body.data, []);
      assert.equal((await s.request('GET', `/sip/${id}`, { key: t.key })).status, 200);
    });

    test('deleting a trunk removes it from the detail and the list', async () => {
      const c = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody() });
      const id = c.body.data.trunk_id;
      const d = await s.request('DELETE', `/sip/${id}`, { key: t.key });
      assert.equal(d.status, 200);
      assert.equal(d.body.success, true);
      assert.equal(d.body.data.trunk_id, id);
      assert.equal((await s.request('GET', `/sip/${id}`, { key: t.key })).status, 404);
      assert.equal((await s.request('DELETE', `/sip/${id}`, { key: t.key })).status, 404);
      const list = await s.request('GET', '/sip/list', { key: t.key });
      assert.ok(!list.body.data.some((x: any) => x.trunk_id === id));
    });

    test('the trunk password is sealed at rest', async () => {
      const password = secret();
      const c = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_auth_password: password }) });
      const row = await s.server.store.db.selectFrom('trunks').selectAll().where('id', '=', c.body.data.trunk_id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes(password));
      assert.match(row.sealed_password, /^v1\./);
      if (db === 'sqlite') {
        const needle = Buffer.from(password);
        const files = filesUnder(s.dataDir);
        assert.ok(files.some((f) => f.endsWith('.sqlite')));
        for (const f of files) assert.equal(readFileSync(f).indexOf(needle), -1, `${f} holds the password`);
      }
    });
  });

  describe(`SIP trunks refuse private targets (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db, { config: (c) => { c.sip.allowPrivateTargets = false; } });
      t = await s.newTenant();
    });
    after(async () => { await s.close(); });

    test('loopback, private and link-local trunk addresses are 400 naming the setting', async () => {
      for (const address of ['127.0.0.1', 'sip:10.1.2.3:5060', '192.168.1.10', 'localhost:5060', '169.254.0.9', '[::1]', 'pbx.localhost']) {
        const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_address: address }) });
        assert.equal(r.status, 400, address);
        assert.equal(r.body.success, false);
        assert.match(r.body.message, /trunk_address/);
        assert.match(r.body.message, /ALLOW_PRIVATE_SIP_TARGETS/);
      }
      const list = await s.request('GET', '/sip/list', { key: t.key });
      assert.deepEqual(list.body.data, []);
    });

    test('a public address is still accepted', async () => {
      const r = await s.request('POST', '/sip/create-outbound-trunk', { key: t.key, body: trunkBody({ trunk_address: 'sip:203.0.113.10:5060' }) });
      assert.equal(r.status, 200, r.text);
    });
  });
}
