import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { systemMessage } from '../../src/brain/llm.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

/**
 * Requests exactly as the original systems' clients send them, where our own document is
 * silent. Each block names the file of the original repository that defines the request.
 */

type Tenant = { id: string; key: string };
const uniq = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

let numberSeq = 0;
/** London 020 7946 xxxx numbers, which libphonenumber accepts, a new one per call. */
function newNumber(): string {
  numberSeq += 1;
  return `+4420794${String(60000 + numberSeq)}`;
}

for (const db of testDbs()) {
  describe(`clients of the original systems (${db})`, () => {
    let s: TestServer;
    before(async () => { s = await startTestServer(db); });
    after(async () => { await s.close(); });

    // sackio/phony backend/agent_api.py: AgentCreateRequest and AgentUpdateRequest carry
    // personality and greeting_message; the Agent model (backend/database.py) answers them.
    describe('Phony dashboard: /api/agents', () => {
      test('create with greeting_message and personality is 201, and both are read back', async () => {
        const t = await s.newTenant();
        const r = await s.request('POST', '/api/agents', {
          key: t.key,
          body: {
            name: 'Front desk', type: 'inbound', system_prompt: 'You are a helpful AI assistant.', voice: 'alloy',
            personality: 'warm and brief', context_data: { office: 'Leeds' }, greeting_message: 'Hello, Leeds office.',
          },
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.personality, 'warm and brief');
        assert.equal(r.body.greeting_message, 'Hello, Leeds office.');
        // Our own name for the same greeting says the same.
        assert.equal(r.body.greeting, 'Hello, Leeds office.');

        const got = await s.request('GET', `/api/agents/${r.body.id}`, { key: t.key });
        assert.equal(got.status, 200);
        assert.equal(got.body.personality, 'warm and brief');
        assert.equal(got.body.greeting_message, 'Hello, Leeds office.');
        const listed = await s.request('GET', '/api/agents', { key: t.key });
        assert.equal(listed.body.find((a: { id: string }) => a.id === r.body.id).personality, 'warm and brief');
      });

      test('an agent made without them answers null for both, as Phony does', async () => {
        const t = await s.newTenant();
        const r = await s.request('POST', '/api/agents', { key: t.key, body: { name: 'Plain', type: 'outbound' } });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.personality, null);
        assert.equal(r.body.greeting_message, null);
        assert.equal(r.body.greeting, '');
      });

      test('update sets them; null leaves a field as it was (Phony skips nulls); "" clears personality', async () => {
        const t = await s.newTenant();
        const id = (await s.request('POST', '/api/agents', { key: t.key, body: { name: 'A', type: 'inbound', personality: 'calm' } })).body.id;
        const put = (body: Record<string, unknown>) => s.request('PUT', `/api/agents/${id}`, { key: t.key, body });

        let r = await put({ greeting_message: 'Hi there', personality: 'cheerful' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.greeting, 'Hi there');
        assert.equal(r.body.personality, 'cheerful');

        r = await put({ greeting_message: null, personality: null, status: 'inactive' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.greeting_message, 'Hi there');
        assert.equal(r.body.personality, 'cheerful');
        assert.equal(r.body.status, 'inactive');

        r = await put({ personality: '' });
        assert.equal(r.body.personality, null);
        assert.equal(r.body.greeting_message, 'Hi there');
      });

      test('the personality reaches the agent\'s prompt', async () => {
        const t = await s.newTenant();
        const id = (await s.request('POST', '/api/agents', { key: t.key, body: { name: 'P', type: 'inbound', personality: 'dry humour' } })).body.id;
        const agent = await s.server.services.agents.get({ tenantId: t.id }, id);
        const prompt = systemMessage({
          systemPrompt: agent.systemPrompt, personality: agent.personality, greeting: agent.greeting,
          contextData: {}, callContext: {}, model: null, transcript: [], signal: new AbortController().signal,
        });
        assert.match(prompt, /dry humour/);
      });

      // sackio/phony frontend/src/pages/dialogs/AgentDialog.tsx sends the same body (phone_number
      // included) on create and on every later save.
      test('an inbound agent created with phone_number gets that number; saving it again is no change', async () => {
        const t = await s.newTenant();
        const number = newNumber();
        await s.server.services.numbers.create({ tenantId: t.id }, { e164: number });
        const body = {
          name: 'Reception', type: 'inbound', phone_number: number, system_prompt: 'You are a helpful AI assistant.',
          voice: 'alloy', personality: 'Friendly', greeting_message: 'Hello!', context_data: { business_hours: '9-6' },
        };
        const r = await s.request('POST', '/api/agents', { key: t.key, body });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.phone_number, number);
        const free = await s.request('GET', '/api/phone-numbers/available', { key: t.key });
        assert.equal(free.body.some((n: { phone_number: string }) => n.phone_number === number), false);

        const saved = await s.request('PUT', `/api/agents/${r.body.id}`, { key: t.key, body: { ...body, system_prompt: 'Be brief.' } });
        assert.equal(saved.status, 200, saved.text);
        assert.equal(saved.body.phone_number, number);
        assert.equal(saved.body.system_prompt, 'Be brief.');

        // Another agent cannot take it, and the refused create leaves no agent behind.
        const before = (await s.request('GET', '/api/agents', { key: t.key })).body.length;
        const taken = await s.request('POST', '/api/agents', { key: t.key, body: { ...body, name: 'Second' } });
        assert.equal(taken.status, 409, taken.text);
        assert.match(taken.body.message, /phone number/);
        assert.equal((await s.request('GET', '/api/agents', { key: t.key })).body.length, before);
      });

      test('phone_number must be one of the tenant\'s numbers', async () => {
        const t = await s.newTenant();
        const other = await s.newTenant();
        const theirs = newNumber();
        await s.server.services.numbers.create({ tenantId: other.id }, { e164: theirs });
        const cases: Array<[unknown, number]> = [[theirs, 404], [newNumber(), 404], ['not a number', 400], [15551234, 400]];
        for (const [phone_number, status] of cases) {
          const r = await s.request('POST', '/api/agents', { key: t.key, body: { name: 'x', type: 'inbound', phone_number } });
          assert.equal(r.status, status, `${String(phone_number)} → ${r.text}`);
        }
        assert.deepEqual((await s.request('GET', '/api/agents', { key: t.key })).body, []);
      });

      test('bad input is still refused: wrong types, too long, two different greetings, unknown fields', async () => {
        const t = await s.newTenant();
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ name: 'x', personality: 42 }, 'personality'],
          [{ name: 'x', greeting_message: ['hi'] }, 'greeting_message'],
          [{ name: 'x', personality: 'p'.repeat(2_001) }, 'personality'],
          [{ name: 'x', greeting_message: 'g'.repeat(2_001) }, 'greeting_message'],
          [{ name: 'x', greeting: 'Hello', greeting_message: 'Goodbye' }, 'greeting_message'],
          [{ name: 'x', mood: 'sunny' }, 'mood'],
        ];
        for (const [body, field] of cases) {
          const r = await s.request('POST', '/api/agents', { key: t.key, body });
          assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)} → ${r.text}`);
          assert.match(r.body.message, new RegExp(field));
        }
        // The same text under both names is not ambiguous.
        const same = await s.request('POST', '/api/agents', { key: t.key, body: { name: 'x', greeting: 'Hi', greeting_message: 'Hi' } });
        assert.equal(same.status, 201, same.text);
        assert.equal(same.body.greeting, 'Hi');
      });
    });

    // aplisay/llm-agent api/paths/phone-endpoints.js (GET): offset (from 0) and pageSize (1-200),
    // type filter; the answer carries nextOffset, null on the last page.
    describe('Aplisay clients: /phone-endpoints paging and /agents/{id}/listen', () => {
      let t: Tenant;
      const regIds: string[] = [];
      const numbers: string[] = [];
      before(async () => {
        t = await s.newTenant();
        for (let i = 0; i < 3; i++) {
          const r = await s.request('POST', '/phone-endpoints', {
            key: t.key, body: { type: 'phone-registration', registrar: `sip:pbx${i}.example.com`, username: uniq('u'), password: 'pw' },
          });
          assert.equal(r.status, 201, r.text);
          regIds.push(r.body.id);
        }
        for (let i = 0; i < 2; i++) {
          const number = newNumber();
          const r = await s.request('POST', '/phone-endpoints', { key: t.key, body: { type: 'e164-ddi', number } });
          assert.equal(r.status, 201, r.text);
          numbers.push(number);
        }
      });

      const list = (query: string) => s.request('GET', `/phone-endpoints?${query}`, { key: t.key });

      test('a client paging with offset/pageSize until nextOffset is null sees every endpoint once', async () => {
        const seen: string[] = [];
        let offset: number | null = 0;
        let pages = 0;
        while (offset !== null) {
          const r = await list(`offset=${offset}&pageSize=2`);
          assert.equal(r.status, 200, r.text);
          assert.ok(r.body.items.length <= 2);
          seen.push(...r.body.items.map((e: { id: string }) => e.id));
          offset = r.body.nextOffset;
          assert.ok(++pages <= 5, 'nextOffset never became null');
        }
        assert.equal(pages, 3);
        assert.equal(seen.length, 5);
        assert.equal(new Set(seen).size, 5);
        for (const id of regIds) assert.ok(seen.includes(id));
      });

      test('a first page asked with pageSize alone has nextOffset; a page that holds everything says null', async () => {
        const first = await list('pageSize=4');
        assert.equal(first.status, 200, first.text);
        assert.equal(first.body.items.length, 4);
        assert.equal(first.body.nextOffset, 4);
        const all = await list('pageSize=200');
        assert.equal(all.body.items.length, 5);
        assert.equal(all.body.nextOffset, null);
        assert.equal(all.body.next_page_token, null);
      });

      test('type filters to one kind of endpoint', async () => {
        const regs = await list('type=phone-registration&pageSize=10');
        assert.equal(regs.status, 200, regs.text);
        assert.deepEqual(regs.body.items.map((e: { id: string }) => e.id).sort(), [...regIds].sort());
        assert.ok(regs.body.items.every((e: { type: string }) => e.type === 'phone-registration'));
        const ddis = await list('type=e164-ddi');
        assert.deepEqual(ddis.body.items.map((e: { number: string }) => e.number).sort(), [...numbers].sort());
        assert.equal(ddis.body.nextOffset, null);
      });

      test('our own page_token paging is unchanged and answers no nextOffset', async () => {
        const first = await list('page_size=3');
        assert.equal(typeof first.body.next_page_token, 'string');
        const second = await list(`page_size=3&page_token=${first.body.next_page_token}`);
        assert.equal(second.status, 200, second.text);
        assert.equal(second.body.items.length, 2);
        assert.equal(second.body.next_page_token, null);
        assert.equal('nextOffset' in second.body, false);
      });

      test('bad paging input is 400 naming the parameter', async () => {
        const cases: Array<[string, string]> = [
          ['offset=-1', 'offset'],
          ['offset=abc', 'offset'],
          ['offset=10001', 'offset'],
          ['pageSize=0', 'pageSize'],
          ['pageSize=201', 'pageSize'],
          ['type=fax', 'type'],
          ['page_size=2&pageSize=3', 'pageSize'],
          ['offset=2&page_token=abc', 'offset'],
        ];
        for (const [q, field] of cases) {
          const r = await list(q);
          assert.equal(r.status, 400, `${q} → ${r.text}`);
          assert.equal(r.body.success, false);
          assert.match(r.body.error, new RegExp(field), `${q} → ${r.body.error}`);
        }
      });

      // aplisay/llm-agent api/paths/agents/{agentId}/listen.js: the body may carry options
      // { streamLog, metadata } next to number or id; the answer names the number.
      test('listen with options binds the agent and answers with the number', async () => {
        const agent = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'listener' })).id;
        const number = numbers[0];
        const r = await s.request('POST', `/agents/${agent}/listen`, {
          key: t.key, body: { number, options: { streamLog: false, metadata: { myapp: { mykey: 'mydata' } } } },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.agent_id, agent);
        assert.equal(r.body.number, number);
        const got = await s.request('GET', `/phone-endpoints/${encodeURIComponent(number)}`, { key: t.key });
        assert.equal(got.body.agent_id, agent);

        const onReg = await s.request('POST', `/agents/${agent}/listen`, { key: t.key, body: { id: regIds[0], options: {} } });
        assert.equal(onReg.status, 200, onReg.text);
        assert.equal(onReg.body.id, regIds[0]);
        assert.equal('number' in onReg.body, false);
      });

      // aplisay/llm-agent api/paths/agents/{agentId}/listen/{listenerId}.js: DELETE ends a listener.
      test('DELETE /agents/{id}/listen/{listenerId} unbinds the agent from a number or a registration', async () => {
        const agent = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'leaving' })).id;
        const number = newNumber();
        await s.request('POST', '/phone-endpoints', { key: t.key, body: { type: 'e164-ddi', number } });
        const onNumber = await s.request('POST', `/agents/${agent}/listen`, { key: t.key, body: { number } });
        assert.equal(onNumber.status, 200, onNumber.text);
        const reg = (await s.request('POST', '/phone-endpoints', {
          key: t.key, body: { type: 'phone-registration', registrar: 'sip:pbx9.example.com', username: uniq('u'), password: 'pw' },
        })).body.id;
        assert.equal((await s.request('POST', `/agents/${agent}/listen`, { key: t.key, body: { id: reg } })).status, 200);

        for (const id of [onNumber.body.id, reg]) {
          const r = await s.request('DELETE', `/agents/${agent}/listen/${id}`, { key: t.key });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.body.id, id);
          const got = await s.request('GET', `/phone-endpoints/${encodeURIComponent(id)}`, { key: t.key });
          assert.equal(got.body.agent_id, null);
          // Again: nothing to unbind.
          assert.equal((await s.request('DELETE', `/agents/${agent}/listen/${id}`, { key: t.key })).status, 404);
        }
        // The number is free for another agent now.
        const next = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'next' })).id;
        assert.equal((await s.request('POST', `/agents/${next}/listen`, { key: t.key, body: { number } })).status, 200);
      });

      test('an agent cannot unbind another agent\'s listener, nor one in another tenant', async () => {
        const owner = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'owner' })).id;
        const intruder = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'intruder' })).id;
        const number = newNumber();
        const id = (await s.request('POST', '/phone-endpoints', { key: t.key, body: { type: 'e164-ddi', number } })).body.id;
        assert.equal((await s.request('POST', `/agents/${owner}/listen`, { key: t.key, body: { id } })).status, 200);

        const wrong = await s.request('DELETE', `/agents/${intruder}/listen/${id}`, { key: t.key });
        assert.equal(wrong.status, 404, wrong.text);
        assert.equal(wrong.body.success, false);
        const other = await s.newTenant();
        assert.equal((await s.request('DELETE', `/agents/${owner}/listen/${id}`, { key: other.key })).status, 404);
        assert.equal((await s.request('DELETE', `/agents/${owner}/listen/no-such-endpoint`, { key: t.key })).status, 404);
        assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: t.key })).body.agent_id, owner);
      });

      test('listen refuses options of the wrong shape', async () => {
        const agent = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'picky' })).id;
        for (const options of ['yes', { streamLog: 'true' }, { metadata: 'x' }]) {
          const r = await s.request('POST', `/agents/${agent}/listen`, { key: t.key, body: { number: numbers[1], options } });
          assert.equal(r.status, 400, `${JSON.stringify(options)} → ${r.text}`);
          assert.match(r.body.error, /options/);
        }
      });
    });

    // voipbin/monorepo bin-api-manager/gens/openapi_redoc/openapi.json, GET /agents: status
    // (an agent status) and tag_ids (comma-separated tag ids) filter the list.
    describe('VoIPBIN clients: GET /v1.0/agents filters', () => {
      let t: Tenant;
      let sales: string;
      let support: string;
      const ids: Record<string, string> = {};
      before(async () => {
        t = await s.newTenant();
        const call = (method: string, path: string, body?: unknown) => s.request(method, `/v1.0${path}`, { key: t.key, body });
        sales = (await call('POST', '/tags', { name: 'sales' })).body.id;
        support = (await call('POST', '/tags', { name: 'support' })).body.id;
        const make = async (name: string, tagIds: string[], status?: string) => {
          const r = await call('POST', '/agents', { username: uniq('u'), password: 'secret-1', name, tag_ids: tagIds });
          assert.equal(r.status, 200, r.text);
          if (status) assert.equal((await call('PUT', `/agents/${r.body.id}/status`, { status })).status, 200);
          ids[name] = r.body.id;
        };
        await make('sales-available', [sales], 'available');
        await make('sales-offline', [sales]);
        await make('support-available', [support], 'available');
        await make('both-busy', [sales, support], 'busy');
        await make('untagged-available', [], 'available');
      });

      const names = async (query: string) => {
        const r = await s.request('GET', `/v1.0/agents?page_size=100&${query}`, { key: t.key });
        assert.equal(r.status, 200, r.text);
        const byId = new Map(Object.entries(ids).map(([n, id]) => [id, n]));
        return r.body.result.map((a: { id: string }) => byId.get(a.id)).sort();
      };

      test('status=available lists only available agents', async () => {
        assert.deepEqual(await names('status=available'), ['sales-available', 'support-available', 'untagged-available']);
      });

      test('tag_ids lists agents carrying any of the tags', async () => {
        assert.deepEqual(await names(`tag_ids=${sales}`), ['both-busy', 'sales-available', 'sales-offline']);
        assert.deepEqual(await names(`tag_ids=${sales},${support}`), ['both-busy', 'sales-available', 'sales-offline', 'support-available']);
      });

      test('both together: who can take a sales call now', async () => {
        assert.deepEqual(await names(`tag_ids=${sales}&status=available`), ['sales-available']);
      });

      test('an unknown tag matches nobody; an empty tag_ids filters nothing', async () => {
        assert.deepEqual(await names('tag_ids=00000000-0000-0000-0000-000000000000'), []);
        assert.equal((await names('tag_ids=')).length, 5);
      });

      test('a status that is not an agent status is 400', async () => {
        const r = await s.request('GET', '/v1.0/agents?status=lunch', { key: t.key });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.message, /status/);
      });

      test('another tenant\'s tag finds none of its agents', async () => {
        const other = await s.newTenant();
        const r = await s.request('GET', `/v1.0/agents?tag_ids=${sales}`, { key: other.key });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.result, []);
      });
    });

    // ShubhamX-AI/api_livekit src/api/models/api_schemas.py: CreateOutboundTrunk nests the
    // connection as trunk_config { address, numbers, username, password } (TwilioTrunkConfig).
    describe('api_livekit clients: POST /sip/create-outbound-trunk with trunk_config', () => {
      const create = (key: string, body: Record<string, unknown>) => s.request('POST', '/sip/create-outbound-trunk', { key, body });
      const config = () => ({ address: 'example.pstn.twilio.com', numbers: ['+15550104477'], username: 'AC0123456789abcdef0123456789abcdef', password: 'secret-pw' });

      test('the nested form creates the same trunk as the flat one', async () => {
        const t = await s.newTenant();
        const r = await create(t.key, { trunk_name: 'My Twilio Trunk', trunk_type: 'twilio', trunk_config: config() });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.success, true);
        const id = r.body.data.trunk_id;
        const got = await s.request('GET', `/sip/${id}`, { key: t.key });
        assert.equal(got.status, 200, got.text);
        const detail = got.body.data;
        assert.equal(detail.trunk_auth_username, 'AC0123456789abcdef0123456789abcdef');
        assert.equal(detail.trunk_address, 'example.pstn.twilio.com');
        assert.deepEqual(detail.trunk_numbers, ['+15550104477']);
        assert.equal(JSON.stringify(got.body).includes('secret-pw'), false, 'the password is never shown');
      });

      test('bad nested input is 400 naming the field; both forms at once, or neither, too', async () => {
        const t = await s.newTenant();
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ trunk_config: { ...config(), numbers: [] } }, 'numbers'],
          [{ trunk_config: { ...config(), address: '' } }, 'address'],
          [{ trunk_config: { ...config(), colour: 'red' } }, 'colour'],
          [{ trunk_config: { ...config(), numbers: ['not-a-number'] } }, 'number'],
          [{ trunk_config: 'example.pstn.twilio.com' }, 'trunk_config'],
          [{ trunk_config: config(), trunk_address: 'other.example.com' }, 'trunk_address'],
          [{}, 'trunk_address'],
          [{ trunk_address: 'example.pstn.twilio.com', trunk_numbers: ['+15550104478'], trunk_auth_username: 'u' }, 'trunk_auth_password'],
        ];
        for (const [extra, field] of cases) {
          const r = await create(t.key, { trunk_name: 'T', trunk_type: 'twilio', ...extra });
          assert.equal(r.status, 400, `${JSON.stringify(extra).slice(0, 80)} → ${r.text}`);
          assert.equal(r.body.success, false);
          assert.ok(r.body.message.includes(field), `${field} not named in "${r.body.message}"`);
        }
        assert.deepEqual((await s.request('GET', '/sip/list', { key: t.key })).body.data, []);
      });
    });
  });
}
