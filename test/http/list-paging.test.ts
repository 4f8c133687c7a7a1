import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

/** The three lists that once answered every row: each pages by limit/offset with a Link to the next page. */
interface PagedList {
  name: string;
  path: string;
  create: (s: TestServer, key: string, i: number) => Promise<void>;
  ids: (body: any) => string[];
}

let serial = 0;
const lists: PagedList[] = [
  {
    name: 'deployment agents',
    path: '/api/agents',
    async create(s, key, i) {
      const r = await s.request('POST', '/api/agents', { key, body: { name: `agent ${i}` } });
      assert.equal(r.status, 201, r.text);
    },
    ids: (body) => (body as Array<{ id: string }>).map((a) => a.id),
  },
  {
    name: 'telephony numbers',
    path: '/api/v1/telephony/numbers',
    async create(s, key) {
      const r = await s.request('POST', '/api/v1/telephony/numbers', { key, body: { e164: `+1303555${String(1000 + serial++).padStart(4, '0')}` } });
      assert.equal(r.status, 201, r.text);
    },
    ids: (body) => (body.numbers as Array<{ id: string }>).map((n) => n.id),
  },
  {
    name: 'SIP trunks',
    path: '/sip/list',
    async create(s, key, i) {
      const r = await s.request('POST', '/sip/create-outbound-trunk', {
        key,
        body: {
          trunk_name: `trunk ${i}`, trunk_address: 'example.pstn.twilio.com', trunk_numbers: ['+15550100000'],
          trunk_auth_username: 'user', trunk_auth_password: `pw-${randomBytes(8).toString('hex')}`, trunk_type: 'twilio',
        },
      });
      assert.equal(r.status, 200, r.text);
    },
    ids: (body) => (body.data as Array<{ trunk_id: string }>).map((t) => t.trunk_id),
  },
];

/** The target of a `Link: <…>; rel="next"` header, or null. */
function nextLink(headers: Headers): string | null {
  const m = /^<([^>]+)>; rel="next"$/.exec(headers.get('link') ?? '');
  return m ? m[1] : null;
}

for (const db of testDbs()) {
  describe(`paged lists (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    for (const list of lists) {
      describe(list.name, () => {
        let key: string;
        before(async () => {
          key = (await s.newTenant({ maxAgents: 500 })).key;
          for (let i = 0; i < 105; i++) await list.create(s, key, i);
        });

        test('without paging parameters the first 100 rows come, with a Link to the rest', async () => {
          const r = await s.request('GET', list.path, { key });
          assert.equal(r.status, 200, r.text);
          assert.equal(list.ids(r.body).length, 100);
          assert.equal(nextLink(r.headers), `${list.path}?offset=100`);
        });

        test('following Link through limit=20 pages visits every row once, and the last page has no Link', async () => {
          const seen: string[] = [];
          let path: string | null = `${list.path}?limit=20`;
          let pages = 0;
          while (path) {
            const r: { status: number; body: unknown; text: string; headers: Headers } = await s.request('GET', path, { key });
            assert.equal(r.status, 200, r.text);
            seen.push(...list.ids(r.body));
            path = nextLink(r.headers);
            pages++;
          }
          assert.equal(pages, 6);
          assert.equal(seen.length, 105);
          assert.equal(new Set(seen).size, 105);
        });

        test('an offset past the end is an empty page', async () => {
          const r = await s.request('GET', `${list.path}?offset=500`, { key });
          assert.equal(r.status, 200);
          assert.deepEqual(list.ids(r.body), []);
          assert.equal(r.headers.get('link'), null);
        });

        test('limits outside 1..1000 and bad offsets are 400 naming the field', async () => {
          for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'offset=-1', 'offset=1e309']) {
            const r = await s.request('GET', `${list.path}?${q}`, { key });
            assert.equal(r.status, 400, `${q} → ${r.status} ${r.text}`);
            assert.match(r.text, new RegExp(q.split('=')[0]), q);
          }
        });

        test('another tenant pages through none of these rows', async () => {
          const other = await s.newTenant();
          const r = await s.request('GET', `${list.path}?limit=1000`, { key: other.key });
          assert.equal(r.status, 200);
          assert.deepEqual(list.ids(r.body), []);
        });
      });
    }
  });
}
