import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type RequestOptions, type TestServer } from '../helpers/server.js';

const NEVER = '9999-01-01 00:00:00.000000';
const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}000$/;
const AGENT_FIELDS = ['addresses', 'detail', 'direct_hash', 'direct_uri', 'id', 'name', 'permission', 'ring_method',
  'status', 'tag_ids', 'tm_create', 'tm_delete', 'tm_update', 'username'];

/** Strictly increasing (so creation order is observable), can jump ahead, or stand still. */
class TestClock {
  offsetMs = 0;
  frozen: Date | null = null;
  private last = 0;
  now(): Date {
    if (this.frozen) return this.frozen;
    const t = Math.max(Date.now() + this.offsetMs, this.last + 1);
    this.last = t;
    return new Date(t);
  }
}

const uniq = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

for (const db of testDbs()) {
  describe(`agents v1.0 (${db})`, () => {
    let s: TestServer;
    const clock = new TestClock();
    before(async () => { s = await startTestServer(db, { overrides: { clock } }); });
    after(async () => { await s.close(); });

    type Tenant = { id: string; key: string };
    const as = (t: Tenant | string) => ({ key: typeof t === 'string' ? t : t.key });
    const call = (t: Tenant | string, method: string, path: string, o: RequestOptions = {}) =>
      s.request(method, `/v1.0${path}`, { ...as(t), ...o });
    const newAgent = async (t: Tenant, body: Record<string, unknown> = {}) => {
      const r = await call(t, 'POST', '/agents', { body: { username: uniq('u'), password: 'secret-1', name: 'Agent', ...body } });
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const login = async (username: string, password = 'secret-1') => {
      const r = await s.request('POST', '/auth/login', { key: null, body: { username, password } });
      assert.equal(r.status, 200, r.text);
      return r.body.token as string;
    };
    const expect400 = (r: { status: number; body: any; text: string }, field: string) => {
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, new RegExp(field.replace(/[[\].]/g, '\\$&')));
    };

    describe('agents', () => {
      test('create returns the documented shape, offline, without the password', async () => {
        const t = await s.newTenant();
        const r = await call(t, 'POST', '/agents', {
          body: { username: 'alice.smith+1@acme', password: 'pw', name: 'Alice', detail: 'front desk', ring_method: 'linear', permission: 16 },
        });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Object.keys(r.body).sort(), AGENT_FIELDS);
        assert.equal(r.body.username, 'alice.smith+1@acme');
        assert.equal(r.body.status, 'offline');
        assert.equal(r.body.ring_method, 'linear');
        assert.equal(r.body.permission, 16);
        assert.deepEqual(r.body.tag_ids, []);
        assert.deepEqual(r.body.addresses, []);
        assert.match(r.body.tm_create, STAMP);
        assert.equal(r.body.tm_update, NEVER);
        assert.equal(r.body.tm_delete, NEVER);
        assert.match(r.body.direct_hash, /^[0-9a-f]{12}$/);
        assert.equal(r.body.direct_uri, `sip:direct.${r.body.direct_hash}@${s.config.sip.domain}`);
        assert.ok(!r.text.includes('pw"'), 'no password in the response');
        // The same row the rest of the system sees.
        const shared = await s.server.services.agents.get({ tenantId: t.id }, r.body.id);
        assert.equal(shared.name, 'Alice');
        assert.equal(shared.username, 'alice.smith+1@acme');
      });

      test('create defaults: ringall, permission 0, empty detail', async () => {
        const t = await s.newTenant();
        const a = await newAgent(t);
        assert.equal(a.ring_method, 'ringall');
        assert.equal(a.permission, 0);
        assert.equal(a.detail, '');
      });

      test('create rejects bad input naming the field', async () => {
        const t = await s.newTenant();
        const base = { username: uniq('u'), password: 'pw', name: 'X' };
        expect400(await call(t, 'POST', '/agents', { body: { ...base, username: 'bad name!' } }), 'username');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, username: '' } }), 'username');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, username: 'x'.repeat(101) } }), 'username');
        expect400(await call(t, 'POST', '/agents', { body: { username: base.username, name: 'X' } }), 'password');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, password: '' } }), 'password');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, password: 'p'.repeat(129) } }), 'password');
        expect400(await call(t, 'POST', '/agents', { body: { username: base.username, password: 'pw' } }), 'name');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, ring_method: 'random' } }), 'ring_method');
        for (const permission of [8, 17, 65536, -1]) {
          expect400(await call(t, 'POST', '/agents', { body: { ...base, permission } }), 'permission');
        }
        expect400(await call(t, 'POST', '/agents', { body: { ...base, tag_ids: ['00000000-0000-0000-0000-000000000000'] } }), 'tag_ids');
        expect400(await call(t, 'POST', '/agents', { body: { ...base, addresses: [{ type: 'tel', target: '555' }] } }), 'addresses[0].target');
        // Nothing was created by the rejected attempts.
        assert.equal((await call(t, 'GET', '/agents')).body.result.length, 0);
      });

      test('every valid permission combination is accepted', async () => {
        const t = await s.newTenant();
        await newAgent(t, { permission: 65535 }); // keeps an admin around while the other one changes
        const a = await newAgent(t, { permission: 32 });
        for (const permission of [0, 16, 32, 48, 64, 80, 96, 112, 65535]) {
          const r = await call(t, 'PUT', `/agents/${a.id}/permission`, { body: { permission } });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.body.permission, permission);
        }
      });

      test('usernames are unique per tenant (409), but may repeat across tenants', async () => {
        const t1 = await s.newTenant();
        const t2 = await s.newTenant();
        const username = uniq('dup');
        await newAgent(t1, { username });
        const dup = await call(t1, 'POST', '/agents', { body: { username, password: 'x', name: 'Y' } });
        assert.equal(dup.status, 409);
        assert.match(dup.body.message, /username/);
        await newAgent(t2, { username });
      });

      test('create with tags and addresses', async () => {
        const t = await s.newTenant();
        const tag = (await call(t, 'POST', '/tags', { body: { name: 'sales' } })).body;
        const a = await newAgent(t, { tag_ids: [tag.id], addresses: [{ type: 'extension', target: '2001' }] });
        assert.deepEqual(a.tag_ids, [tag.id]);
        assert.deepEqual(a.addresses, [{ type: 'extension', target: '2001' }]);
        const taken = await call(t, 'POST', '/agents', { body: { username: uniq('u'), password: 'p', name: 'n', addresses: [{ type: 'extension', target: '2001' }] } });
        assert.equal(taken.status, 409);
        assert.match(taken.body.message, /2001/);
      });

      test('GET one agent; unknown and other tenant are 404; no key is 401', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        const r = await call(t, 'GET', `/agents/${a.id}`);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, a);
        assert.equal((await call(other, 'GET', `/agents/${a.id}`)).status, 404);
        const missing = await call(t, 'GET', '/agents/00000000-0000-0000-0000-000000000000');
        assert.equal(missing.status, 404);
        assert.equal(typeof missing.body.message, 'string');
        const anon = await s.request('GET', `/v1.0/agents/${a.id}`, { key: null });
        assert.equal(anon.status, 401);
        assert.deepEqual(Object.keys(anon.body), ['message']);
        assert.equal((await s.request('GET', `/v1.0/agents/${a.id}`, { key: 'dtk_not-a-key' })).status, 401);
      });

      test('the platform admin acts for a tenant with X-Account-ID, and needs it', async () => {
        const t = await s.newTenant();
        const a = await newAgent(t);
        const r = await s.request('GET', `/v1.0/agents/${a.id}`, { accountId: t.id });
        assert.equal(r.status, 200);
        expect400(await s.request('GET', `/v1.0/agents/${a.id}`), 'X-Account-ID');
      });

      test('PUT updates name, detail and ring_method and starts tm_update', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        const r = await call(t, 'PUT', `/agents/${a.id}`, { body: { name: 'Renamed', detail: 'night shift', ring_method: 'linear' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.name, 'Renamed');
        assert.equal(r.body.detail, 'night shift');
        assert.equal(r.body.ring_method, 'linear');
        assert.match(r.body.tm_update, STAMP);
        assert.notEqual(r.body.tm_update, NEVER);
        expect400(await call(t, 'PUT', `/agents/${a.id}`, { body: { ring_method: 'roundrobin' } }), 'ring_method');
        expect400(await call(t, 'PUT', `/agents/${a.id}`, { body: { name: '' } }), 'name');
        assert.equal((await call(other, 'PUT', `/agents/${a.id}`, { body: { name: 'x' } })).status, 404);
      });

      test('status: set, bad value 400, other tenant 404', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        for (const status of ['available', 'away', 'busy', 'ringing', 'offline']) {
          const r = await call(t, 'PUT', `/agents/${a.id}/status`, { body: { status } });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.body.status, status);
        }
        expect400(await call(t, 'PUT', `/agents/${a.id}/status`, { body: { status: 'lunch' } }), 'status');
        expect400(await call(t, 'PUT', `/agents/${a.id}/status`, { body: {} }), 'status');
        assert.equal((await call(other, 'PUT', `/agents/${a.id}/status`, { body: { status: 'away' } })).status, 404);
      });

      test('addresses replace the whole list, in order', async () => {
        const t = await s.newTenant();
        const a = await newAgent(t);
        const list = [
          { type: 'tel', target: '+15559876543' },
          { type: 'extension', target: '1001' },
          { type: 'sip', target: 'alice@pbx.example.com' },
        ];
        const r = await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: list } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.addresses, list);
        const again = await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: [list[1]] } });
        assert.deepEqual(again.body.addresses, [list[1]]);
        assert.deepEqual((await call(t, 'GET', `/agents/${a.id}`)).body.addresses, [list[1]]);
        const cleared = await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: [] } });
        assert.deepEqual(cleared.body.addresses, []);
      });

      test('addresses are validated per type', async () => {
        const t = await s.newTenant();
        const a = await newAgent(t);
        const put = (addresses: unknown) => call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses } });
        expect400(await put([{ type: 'tel', target: '15559876543' }]), 'addresses[0].target');
        expect400(await put([{ type: 'tel', target: '+1 555 987 6543' }]), 'addresses[0].target');
        expect400(await put([{ type: 'extension', target: '12a' }]), 'addresses[0].target');
        expect400(await put([{ type: 'extension', target: '1'.repeat(21) }]), 'addresses[0].target');
        expect400(await put([{ type: 'extension', target: '100' }, { type: 'sip', target: 'no-at-sign' }]), 'addresses[1].target');
        expect400(await put([{ type: 'sip', target: 'alice@' }]), 'addresses[0].target');
        expect400(await put([{ type: 'fax', target: '1' }]), 'addresses[0].type');
        expect400(await put([{ type: 'extension', target: '7' }, { type: 'extension', target: '7' }]), 'addresses');
        expect400(await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: {} }), 'addresses');
        assert.deepEqual((await call(t, 'GET', `/agents/${a.id}`)).body.addresses, []);
      });

      test('an address belongs to one agent per tenant; a conflicting replace changes nothing', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        const b = await newAgent(t);
        await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: [{ type: 'tel', target: '+15551230001' }] } });
        await call(t, 'PUT', `/agents/${b.id}/addresses`, { body: { addresses: [{ type: 'extension', target: '42' }] } });
        const r = await call(t, 'PUT', `/agents/${b.id}/addresses`, {
          body: { addresses: [{ type: 'extension', target: '43' }, { type: 'tel', target: '+15551230001' }] },
        });
        assert.equal(r.status, 409);
        assert.match(r.body.message, /\+15551230001/);
        assert.deepEqual((await call(t, 'GET', `/agents/${b.id}`)).body.addresses, [{ type: 'extension', target: '42' }]);
        // Re-putting one's own address is fine; another tenant may use the same address.
        assert.equal((await call(t, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: [{ type: 'tel', target: '+15551230001' }] } })).status, 200);
        const c = await newAgent(other);
        assert.equal((await call(other, 'PUT', `/agents/${c.id}/addresses`, { body: { addresses: [{ type: 'tel', target: '+15551230001' }] } })).status, 200);
        assert.equal((await call(other, 'PUT', `/agents/${a.id}/addresses`, { body: { addresses: [] } })).status, 404);
      });

      test('tag_ids: set, unknown or other tenant tag 400, deleting a tag removes it', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        const t1 = (await call(t, 'POST', '/tags', { body: { name: 'one' } })).body;
        const t2 = (await call(t, 'POST', '/tags', { body: { name: 'two' } })).body;
        const foreign = (await call(other, 'POST', '/tags', { body: { name: 'theirs' } })).body;
        const r = await call(t, 'PUT', `/agents/${a.id}/tag_ids`, { body: { tag_ids: [t1.id, t2.id, t1.id] } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([...r.body.tag_ids].sort(), [t1.id, t2.id].sort());
        expect400(await call(t, 'PUT', `/agents/${a.id}/tag_ids`, { body: { tag_ids: [t1.id, 'nope'] } }), 'tag_ids');
        expect400(await call(t, 'PUT', `/agents/${a.id}/tag_ids`, { body: { tag_ids: [foreign.id] } }), 'tag_ids');
        assert.equal((await call(t, 'GET', `/agents/${a.id}`)).body.tag_ids.length, 2, 'a rejected replace changes nothing');
        assert.equal((await call(t, 'DELETE', `/tags/${t1.id}`)).status, 200);
        assert.deepEqual((await call(t, 'GET', `/agents/${a.id}`)).body.tag_ids, [t2.id]);
        assert.equal((await call(other, 'PUT', `/agents/${a.id}/tag_ids`, { body: { tag_ids: [] } })).status, 404);
      });

      test('permission: set, invalid 400, other tenant 404', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        const r = await call(t, 'PUT', `/agents/${a.id}/permission`, { body: { permission: 64 } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.permission, 64);
        expect400(await call(t, 'PUT', `/agents/${a.id}/permission`, { body: { permission: 128 } }), 'permission');
        expect400(await call(t, 'PUT', `/agents/${a.id}/permission`, { body: { permission: 'admin' } }), 'permission');
        assert.equal((await call(other, 'PUT', `/agents/${a.id}/permission`, { body: { permission: 16 } })).status, 404);
      });

      test('the last admin of a tenant can be neither demoted nor deleted', async () => {
        const t = await s.newTenant();
        const admin = await newAgent(t, { permission: 32 });
        const demote = await call(t, 'PUT', `/agents/${admin.id}/permission`, { body: { permission: 64 } });
        assert.equal(demote.status, 409);
        assert.match(demote.body.message, /last agent with admin/);
        const del = await call(t, 'DELETE', `/agents/${admin.id}`);
        assert.equal(del.status, 409);
        assert.equal((await call(t, 'GET', `/agents/${admin.id}`)).body.permission, 32);
        // Keeping the admin bit is fine, and with a second admin the first may go.
        assert.equal((await call(t, 'PUT', `/agents/${admin.id}/permission`, { body: { permission: 65535 } })).status, 200);
        await newAgent(t, { permission: 96 });
        assert.equal((await call(t, 'PUT', `/agents/${admin.id}/permission`, { body: { permission: 16 } })).status, 200);
      });

      test('password: changes login and revokes the old login tokens', async () => {
        const t = await s.newTenant();
        const a = await newAgent(t, { password: 'first' });
        const oldToken = await login(a.username, 'first');
        assert.equal((await call(oldToken, 'GET', `/agents/${a.id}`)).status, 200);
        const r = await call(t, 'PUT', `/agents/${a.id}/password`, { body: { password: 'second' } });
        assert.equal(r.status, 200, r.text);
        assert.ok(!('password' in r.body));
        assert.equal((await call(oldToken, 'GET', `/agents/${a.id}`)).status, 401);
        assert.equal((await s.request('POST', '/auth/login', { key: null, body: { username: a.username, password: 'first' } })).status, 401);
        await login(a.username, 'second');
        expect400(await call(t, 'PUT', `/agents/${a.id}/password`, { body: { password: '' } }), 'password');
        expect400(await call(t, 'PUT', `/agents/${a.id}/password`, { body: {} }), 'password');
      });

      test('DELETE returns the agent with tm_delete set; it and its tokens are gone', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t, { addresses: [{ type: 'extension', target: '300' }] });
        const token = await login(a.username);
        assert.equal((await call(other, 'DELETE', `/agents/${a.id}`)).status, 404);
        const r = await call(t, 'DELETE', `/agents/${a.id}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.id, a.id);
        assert.match(r.body.tm_delete, STAMP);
        assert.notEqual(r.body.tm_delete, NEVER);
        assert.equal((await call(t, 'GET', `/agents/${a.id}`)).status, 404);
        assert.equal((await call(t, 'DELETE', `/agents/${a.id}`)).status, 404);
        assert.equal((await call(token, 'GET', `/agents/${a.id}`)).status, 401);
        // Its address is free again.
        await newAgent(t, { addresses: [{ type: 'extension', target: '300' }] });
      });

      test('direct-hash-regenerate replaces the hash; the old one stops resolving', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const a = await newAgent(t);
        assert.equal((await s.server.services.agents.findByDirectHash(a.direct_hash))?.id, a.id);
        const r = await call(t, 'POST', `/agents/${a.id}/direct-hash-regenerate`);
        assert.equal(r.status, 200, r.text);
        assert.match(r.body.direct_hash, /^[0-9a-f]{12}$/);
        assert.notEqual(r.body.direct_hash, a.direct_hash);
        assert.equal(r.body.direct_uri, `sip:direct.${r.body.direct_hash}@${s.config.sip.domain}`);
        assert.notEqual(r.body.tm_update, NEVER);
        assert.equal(await s.server.services.agents.findByDirectHash(a.direct_hash), null);
        assert.equal((await s.server.services.agents.findByDirectHash(r.body.direct_hash))?.id, a.id);
        assert.equal((await call(other, 'POST', `/agents/${a.id}/direct-hash-regenerate`)).status, 404);
      });

      test('GET /agents pages newest first across 3 pages', async () => {
        const t = await s.newTenant();
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await newAgent(t, { name: `A${i}` }));
        const seen: string[] = [];
        const p1 = await call(t, 'GET', '/agents?page_size=2');
        assert.equal(p1.status, 200);
        assert.equal(p1.body.result.length, 2);
        assert.equal(p1.body.next_page_token, p1.body.result[1].tm_create);
        const p2 = await call(t, 'GET', `/agents?page_size=2&page_token=${encodeURIComponent(p1.body.next_page_token)}`);
        assert.equal(p2.body.result.length, 2);
        const p3 = await call(t, 'GET', `/agents?page_size=2&page_token=${encodeURIComponent(p2.body.next_page_token)}`);
        assert.equal(p3.body.result.length, 1);
        assert.equal(p3.body.next_page_token, '');
        for (const p of [p1, p2, p3]) seen.push(...p.body.result.map((a: { id: string }) => a.id));
        assert.deepEqual(seen, made.map((a) => a.id).reverse());
        // Default page size is 10.
        assert.equal((await call(t, 'GET', '/agents')).body.result.length, 5);
      });

      test('paging parameters are validated', async () => {
        const t = await s.newTenant();
        expect400(await call(t, 'GET', '/agents?page_size=101'), 'page_size');
        expect400(await call(t, 'GET', '/agents?page_size=0'), 'page_size');
        expect400(await call(t, 'GET', '/agents?page_token=yesterday'), 'page_token');
      });

      test('rows created in the same millisecond are neither skipped nor repeated', async () => {
        const t = await s.newTenant();
        clock.frozen = new Date();
        try {
          for (let i = 0; i < 3; i++) await call(t, 'POST', '/tags', { body: { name: `same-${i}` } });
        } finally {
          clock.frozen = null;
        }
        await call(t, 'POST', '/tags', { body: { name: 'later' } });
        const ids: string[] = [];
        let token = '';
        for (let guard = 0; guard < 5; guard++) {
          const r = await call(t, 'GET', `/tags?page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
          ids.push(...r.body.result.map((x: { id: string }) => x.id));
          token = r.body.next_page_token;
          if (!token) break;
        }
        assert.equal(ids.length, 4);
        assert.equal(new Set(ids).size, 4);
      });

      test('a body over 1 MiB is 413 and unknown paths are 404, both with a message', async () => {
        const t = await s.newTenant();
        const big = await call(t, 'POST', '/tags', { body: { name: 'x', detail: 'y'.repeat(1024 * 1024 + 10) } });
        assert.equal(big.status, 413);
        assert.equal(typeof big.body.message, 'string');
        const nf = await call(t, 'GET', '/nothing-here');
        assert.equal(nf.status, 404);
        assert.equal(typeof nf.body.message, 'string');
      });
    });

    describe('who may do what', () => {
      let t: Tenant;
      let plain: any; let plainToken: string;
      let peer: any;
      let manager: any; let managerToken: string;
      let admin: any; let adminToken: string;
      before(async () => {
        t = await s.newTenant();
        plain = await newAgent(t, { permission: 16 });
        peer = await newAgent(t, { permission: 0 });
        manager = await newAgent(t, { permission: 64 });
        admin = await newAgent(t, { permission: 32 });
        [plainToken, managerToken, adminToken] = await Promise.all([login(plain.username), login(manager.username), login(admin.username)]);
      });

      test('a plain agent reads itself and sets its own status, nothing more', async () => {
        assert.equal((await call(plainToken, 'GET', `/agents/${plain.id}`)).status, 200);
        const st = await call(plainToken, 'PUT', `/agents/${plain.id}/status`, { body: { status: 'available' } });
        assert.equal(st.status, 200);
        assert.equal(st.body.status, 'available');
        assert.equal((await call(plainToken, 'GET', `/agents/${peer.id}`)).status, 403);
        assert.equal((await call(plainToken, 'PUT', `/agents/${peer.id}/status`, { body: { status: 'away' } })).status, 403);
        assert.equal((await call(plainToken, 'GET', '/agents')).status, 403);
        assert.equal((await call(plainToken, 'POST', '/agents', { body: { username: uniq('u'), password: 'p', name: 'n' } })).status, 403);
        assert.equal((await call(plainToken, 'PUT', `/agents/${peer.id}`, { body: { name: 'x' } })).status, 403);
        assert.equal((await call(plainToken, 'PUT', `/agents/${plain.id}/permission`, { body: { permission: 65535 } })).status, 403);
        assert.equal((await call(plainToken, 'DELETE', `/agents/${peer.id}`)).status, 403);
        assert.equal((await call(plainToken, 'POST', '/tags', { body: { name: 'x' } })).status, 403);
        assert.equal((await call(plainToken, 'GET', '/tags')).status, 200);
        const forbidden = await call(plainToken, 'POST', '/accesskeys', { body: { name: 'mine' } });
        assert.equal(forbidden.status, 403);
        assert.equal(typeof forbidden.body.message, 'string');
      });

      test("another tenant's agent is 404 even for a token that would be refused", async () => {
        const other = await s.newTenant();
        const foreign = await newAgent(other);
        assert.equal((await call(plainToken, 'GET', `/agents/${foreign.id}`)).status, 404);
        assert.equal((await call(managerToken, 'PUT', `/agents/${foreign.id}/status`, { body: { status: 'away' } })).status, 404);
      });

      test('a manager manages agents but cannot grant or touch admin', async () => {
        const r = await call(managerToken, 'PUT', `/agents/${peer.id}/addresses`, { body: { addresses: [{ type: 'extension', target: '555' }] } });
        assert.equal(r.status, 200, r.text);
        assert.equal((await call(managerToken, 'GET', '/agents')).status, 200);
        const created = await call(managerToken, 'POST', '/agents', { body: { username: uniq('m'), password: 'p', name: 'by manager', permission: 16 } });
        assert.equal(created.status, 200, created.text);
        assert.equal((await call(managerToken, 'POST', '/agents', { body: { username: uniq('m'), password: 'p', name: 'n', permission: 32 } })).status, 403);
        assert.equal((await call(managerToken, 'PUT', `/agents/${peer.id}/permission`, { body: { permission: 65535 } })).status, 403);
        assert.equal((await call(managerToken, 'PUT', `/agents/${admin.id}/password`, { body: { password: 'mine now' } })).status, 403);
        assert.equal((await call(managerToken, 'GET', `/agents/${admin.id}`)).status, 200);
        assert.equal((await call(managerToken, 'POST', '/tags', { body: { name: 'team' } })).status, 200);
        assert.equal((await call(managerToken, 'GET', '/accesskeys')).status, 403);
      });

      test('an admin agent may mint access keys for its tenant', async () => {
        const r = await call(adminToken, 'POST', '/accesskeys', { body: { name: 'from admin agent' } });
        assert.equal(r.status, 200, r.text);
        assert.equal((await call(r.body.token, 'GET', `/agents/${peer.id}`)).status, 200);
      });
    });

    describe('tags', () => {
      test('create, read, update, delete', async () => {
        const t = await s.newTenant();
        const c = await call(t, 'POST', '/tags', { body: { name: 'sales', detail: 'sales team' } });
        assert.equal(c.status, 200, c.text);
        assert.deepEqual(Object.keys(c.body).sort(), ['detail', 'id', 'name', 'tm_create', 'tm_delete', 'tm_update']);
        assert.equal(c.body.tm_update, NEVER);
        assert.deepEqual((await call(t, 'GET', `/tags/${c.body.id}`)).body, c.body);
        const u = await call(t, 'PUT', `/tags/${c.body.id}`, { body: { name: 'support' } });
        assert.equal(u.body.name, 'support');
        assert.equal(u.body.detail, 'sales team');
        assert.notEqual(u.body.tm_update, NEVER);
        const d = await call(t, 'DELETE', `/tags/${c.body.id}`);
        assert.equal(d.status, 200);
        assert.notEqual(d.body.tm_delete, NEVER);
        assert.equal((await call(t, 'GET', `/tags/${c.body.id}`)).status, 404);
      });

      test('rejections: missing name 400, other tenant and unknown 404, no key 401', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        expect400(await call(t, 'POST', '/tags', { body: { detail: 'no name' } }), 'name');
        expect400(await call(t, 'POST', '/tags', { body: { name: ' ' } }), 'name');
        expect400(await call(t, 'POST', '/tags', { body: { name: 'x'.repeat(256) } }), 'name');
        const tag = (await call(t, 'POST', '/tags', { body: { name: 'mine' } })).body;
        assert.equal((await call(other, 'GET', `/tags/${tag.id}`)).status, 404);
        assert.equal((await call(other, 'PUT', `/tags/${tag.id}`, { body: { name: 'x' } })).status, 404);
        assert.equal((await call(other, 'DELETE', `/tags/${tag.id}`)).status, 404);
        assert.equal((await call(t, 'GET', '/tags/unknown')).status, 404);
        assert.equal((await s.request('GET', '/v1.0/tags', { key: null })).status, 401);
        assert.deepEqual((await call(other, 'GET', '/tags')).body.result, []);
      });

      test('a list without page_size gives 10', async () => {
        const t = await s.newTenant();
        for (let i = 0; i < 11; i++) await call(t, 'POST', '/tags', { body: { name: `n${i}` } });
        const r = await call(t, 'GET', '/tags');
        assert.equal(r.body.result.length, 10);
        assert.equal(r.body.result[0].name, 'n10');
        const rest = await call(t, 'GET', `/tags?page_token=${encodeURIComponent(r.body.next_page_token)}`);
        assert.deepEqual(rest.body.result.map((x: { name: string }) => x.name), ['n0']);
        assert.equal(rest.body.next_page_token, '');
      });

      test('GET /tags pages across 3 pages', async () => {
        const t = await s.newTenant();
        for (let i = 0; i < 3; i++) await call(t, 'POST', '/tags', { body: { name: `t${i}` } });
        const names: string[] = [];
        let token = '';
        let pages = 0;
        do {
          const r = await call(t, 'GET', `/tags?page_size=1${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
          names.push(...r.body.result.map((x: { name: string }) => x.name));
          token = r.body.next_page_token;
          pages++;
        } while (token && pages < 10);
        assert.deepEqual(names, ['t2', 't1', 't0']);
        assert.equal(pages, 3);
      });
    });

    describe('access keys', () => {
      test('the admin mints one for a tenant; the token shows once and authenticates', async () => {
        const t = await s.newTenant();
        const r = await s.request('POST', '/v1.0/accesskeys', { accountId: t.id, body: { name: 'ops', detail: 'ops key', expire: 0 } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Object.keys(r.body).sort(), ['detail', 'id', 'name', 'tm_create', 'tm_delete', 'tm_expire', 'tm_update', 'token']);
        assert.equal(r.body.tm_expire, NEVER);
        const token = r.body.token as string;
        const got = await call(t, 'GET', `/accesskeys/${r.body.id}`);
        assert.equal(got.status, 200);
        assert.ok(!('token' in got.body));
        assert.ok(!got.text.includes(token));
        const list = await call(t, 'GET', '/accesskeys');
        assert.ok(list.body.result.some((k: { id: string }) => k.id === r.body.id));
        assert.ok(!list.text.includes(token));
        assert.equal((await call(token, 'GET', '/agents')).status, 200);
      });

      test('a key works from ?token=', async () => {
        const t = await s.newTenant();
        const { token } = (await call(t, 'POST', '/accesskeys', { body: { name: 'q' } })).body;
        const r = await s.request('GET', `/v1.0/agents?token=${encodeURIComponent(token)}`, { key: null });
        assert.equal(r.status, 200, r.text);
      });

      test('a key works from x-api-key', async () => {
        const t = await s.newTenant();
        const { token } = (await call(t, 'POST', '/accesskeys', { body: { name: 'h' } })).body;
        assert.equal((await s.request('GET', '/v1.0/agents', { key: null, headers: { 'x-api-key': token } })).status, 200);
      });

      test('a key works from the token cookie', async () => {
        const t = await s.newTenant();
        const { token } = (await call(t, 'POST', '/accesskeys', { body: { name: 'c' } })).body;
        assert.equal((await s.request('GET', '/v1.0/agents', { key: null, headers: { cookie: `token=${token}` } })).status, 200);
      });

      test('a key acts for its own tenant only', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const theirs = await newAgent(other);
        const { token } = (await call(t, 'POST', '/accesskeys', { body: { name: 'scoped' } })).body;
        assert.equal((await call(token, 'GET', `/agents/${theirs.id}`)).status, 404);
      });

      test('update, delete, and a deleted key stops working', async () => {
        const t = await s.newTenant();
        const k = (await call(t, 'POST', '/accesskeys', { body: { name: 'temp', detail: 'd' } })).body;
        const u = await call(t, 'PUT', `/accesskeys/${k.id}`, { body: { name: 'renamed' } });
        assert.equal(u.status, 200);
        assert.equal(u.body.name, 'renamed');
        assert.equal(u.body.detail, 'd');
        assert.notEqual(u.body.tm_update, NEVER);
        // Used once first, so the key is in the authentication cache when it is deleted.
        assert.equal((await call(k.token, 'GET', '/agents')).status, 200);
        const d = await call(t, 'DELETE', `/accesskeys/${k.id}`);
        assert.equal(d.status, 200);
        assert.notEqual(d.body.tm_delete, NEVER);
        assert.equal((await call(k.token, 'GET', '/agents')).status, 401);
        assert.equal((await call(t, 'GET', `/accesskeys/${k.id}`)).status, 404);
      });

      test("rejections: other tenant's key 404, bad expire 400, admin without X-Account-ID 400, no key 401", async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const k = (await call(t, 'POST', '/accesskeys', { body: { name: 'mine' } })).body;
        assert.equal((await call(other, 'GET', `/accesskeys/${k.id}`)).status, 404);
        assert.equal((await call(other, 'PUT', `/accesskeys/${k.id}`, { body: { name: 'x' } })).status, 404);
        assert.equal((await call(other, 'DELETE', `/accesskeys/${k.id}`)).status, 404);
        expect400(await call(t, 'POST', '/accesskeys', { body: { name: 'x', expire: -1 } }), 'expire');
        expect400(await call(t, 'POST', '/accesskeys', { body: { name: 'x', expire: 'soon' } }), 'expire');
        expect400(await s.request('POST', '/v1.0/accesskeys', { body: { name: 'x' } }), 'X-Account-ID');
        assert.equal((await s.request('POST', '/v1.0/accesskeys', { key: null, body: { name: 'x' } })).status, 401);
      });

      test('an expiring key stops working after its lifetime', async () => {
        const t = await s.newTenant();
        const k = (await call(t, 'POST', '/accesskeys', { body: { name: 'short', expire: 1 } })).body;
        assert.match(k.tm_expire, STAMP);
        assert.notEqual(k.tm_expire, NEVER);
        assert.equal((await call(k.token, 'GET', '/agents')).status, 200);
        clock.offsetMs += 1500;
        const r = await call(k.token, 'GET', '/agents');
        assert.equal(r.status, 401);
        assert.equal(typeof r.body.message, 'string');
      });

      test('GET /accesskeys pages across 3 pages', async () => {
        const t = await s.newTenant();
        // newTenant already made one key; add two more.
        for (let i = 0; i < 2; i++) await call(t, 'POST', '/accesskeys', { body: { name: `k${i}` } });
        const ids: string[] = [];
        let token = '';
        for (let page = 0; page < 3; page++) {
          const r = await call(t, 'GET', `/accesskeys?page_size=1${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
          assert.equal(r.body.result.length, 1);
          ids.push(r.body.result[0].id);
          token = r.body.next_page_token;
        }
        assert.equal(new Set(ids).size, 3);
        assert.equal(token, '', 'the third page is the last');
      });
    });
  });
}
