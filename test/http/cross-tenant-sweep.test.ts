/**
 * Tenancy over every operation the server documents, generated from its own /openapi.json:
 * tenant A owns one of each resource, tenant B's key calls every operation with each of A's ids
 * in every path parameter, and every list. B must never get a 2xx for A's resource, and no answer
 * to B may carry anything of A's (names, numbers, usernames are unique markers).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

type Operation = { parameters?: Array<{ name: string; in: string }>; requestBody?: unknown };

for (const db of testDbs()) {
  describe(`cross-tenant sweep (${db})`, () => {
    let s: TestServer;
    let a: { id: string; key: string };
    let b: { id: string; key: string };
    const ids: string[] = [];
    const markers: string[] = [];
    const mark = (what: string) => {
      const m = `${what}${randomBytes(5).toString('hex')}`;
      markers.push(m);
      return m;
    };
    let operations: Array<[string, string, Operation]> = [];

    before(async () => {
      s = await startTestServer(db);
      a = await s.newTenant();
      b = await s.newTenant();
      const ok = (r: { status: number; text: string }, what: string) => assert.ok(r.status < 300, `${what}: ${r.status} ${r.text}`);
      const agent = await s.request('POST', '/api/agents', { key: a.key, body: { name: mark('agentname'), type: 'inbound', system_prompt: mark('prompt') } });
      ok(agent, 'deployment agent');
      ids.push(agent.body.id ?? agent.body.agent_id);
      const person = await s.request('POST', '/v1.0/agents', { key: a.key, body: { username: mark('user'), password: 'secret-pass', name: mark('person') } });
      ok(person, 'directory agent');
      ids.push(person.body.id);
      const tag = await s.request('POST', '/v1.0/tags', { key: a.key, body: { name: mark('tag'), detail: 'x' } });
      ok(tag, 'tag');
      ids.push(tag.body.id);
      const key = await s.request('POST', '/v1.0/accesskeys', { key: a.key, body: { name: mark('key'), detail: 'x', expire: 3600 } });
      ok(key, 'access key');
      ids.push(key.body.id);
      const line = await s.request('POST', '/phone-endpoints', {
        key: a.key, body: { type: 'phone-registration', name: mark('line'), registrar: 'sip:127.0.0.1:5099', username: mark('ext'), password: 'line-pass' },
      });
      ok(line, 'registration');
      ids.push(line.body.id);
      const number = `+1555${String(Date.now()).slice(-7)}`;
      markers.push(number);
      const ddi = await s.request('POST', '/phone-endpoints', { key: a.key, body: { type: 'e164-ddi', number } });
      ok(ddi, 'number');
      ids.push(ddi.body.id, encodeURIComponent(number));
      const trunk = await s.request('POST', '/sip/create-outbound-trunk', {
        key: a.key,
        body: { trunk_name: mark('trunk'), trunk_address: '127.0.0.1:5098', trunk_numbers: ['+15550133001'], trunk_auth_username: mark('tuser'), trunk_auth_password: 'p', trunk_type: 'twilio' },
      });
      ok(trunk, 'trunk');
      ids.push(trunk.body.data.trunk_id);
      const call = await s.server.services.calls.open({ tenantId: a.id }, {
        agentId: ids[0]!, phoneNumber: null, direction: 'inbound', fromNumber: '+15550133002', toNumber: '+15550133003', status: 'in-progress',
        context: { secret: mark('context') },
      });
      ids.push(call.callSid);
      const doc = (await s.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
      operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => [m.toUpperCase(), path, op] as [string, string, Operation]));
    });
    after(async () => { await s.close(); });

    test('B reaches none of A\'s resources on any operation, and no answer to B carries A\'s data', async () => {
      const leaks: string[] = [];
      let sent = 0;
      for (const [method, path, op] of operations) {
        const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        if (path.startsWith('/tenants') || path.startsWith('/twilio') || path === '/auth/login') continue; // platform-admin, carrier and public routes
        const targets = params.length ? ids : [null];
        for (const id of targets) {
          const url = params.reduce((u, name) => u.replace(`{${name}}`, id!), path);
          const r = await s.request(method, url, { key: b.key, ...(op.requestBody ? { body: {} } : {}) });
          sent++;
          const at = `${method} ${url} → ${r.status} ${r.text.slice(0, 200)}`;
          if (params.length && r.status < 300) leaks.push(`2xx on A's resource: ${at}`);
          // A 404 may echo the id B sent; anything else of A's is a leak.
          const found = markers.filter((m) => r.text.includes(m) && !decodeURIComponent(url).includes(m));
          if (found.length) leaks.push(`A's ${found.join(', ')} in: ${at}`);
          // /readyz answering 503 on this HTTP-only server (no SIP) is its report, not a failure.
          if (r.status >= 500 && !(path === '/readyz' && r.status === 503)) leaks.push(`5xx: ${at}`);
        }
      }
      assert.ok(sent > 300, `only ${sent} requests sent`);
      assert.deepEqual(leaks, [], `${leaks.length} of ${sent} answers leaked:\n${leaks.join('\n')}`);
      // The resources are still A's, untouched by B's deletes and updates.
      const still = await s.request('GET', `/api/agents/${ids[0]}`, { key: a.key });
      assert.equal(still.status, 200, still.text);
      assert.equal((await s.request('GET', `/sip/${ids[7]}`, { key: a.key })).status, 200);
    });
  });
}
