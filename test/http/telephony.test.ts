import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const BASE = '/api/v1/telephony';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

let serial = 0;
/** A fresh, valid US number per call so tests sharing a server never collide. */
const nextE164 = () => `+1202555${String(1000 + serial++).padStart(4, '0')}`;
const twilioSid = () => `AC${randomBytes(16).toString('hex')}`;
const token = () => `tok-${randomBytes(12).toString('hex')}`;

for (const db of testDbs()) {
  describe(`telephony API (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    let agentId: string;
    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
      agentId = (await s.server.services.agents.create({ tenantId: t.id }, { name: 'Support' })).id;
    });
    after(async () => { await s.close(); });

    const addTwilio = async (key: string, creds = { account_sid: twilioSid(), auth_token: token() }) => {
      const r = await s.request('POST', `${BASE}/providers`, { key, body: { provider: 'twilio', label: 'Production Twilio', credentials: creds } });
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };

    describe('providers', () => {
      test('adding a Twilio credential answers 201 with metadata only', async () => {
        const creds = { account_sid: twilioSid(), auth_token: token() };
        const r = await s.request('POST', `${BASE}/providers`, { key: t.key, body: { provider: 'twilio', label: 'Production Twilio', credentials: creds } });
        assert.equal(r.status, 201);
        assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'id', 'label', 'provider', 'updated_at']);
        assert.equal(r.body.provider, 'twilio');
        assert.equal(r.body.label, 'Production Twilio');
        assert.match(r.body.id, /^[0-9a-f-]{36}$/);
        assert.ok(!r.text.includes(creds.auth_token));
        assert.ok(!r.text.includes(creds.account_sid));
      });

      test('the list shows metadata of this tenant\'s credentials, never secrets or account ids', async () => {
        const own = await s.newTenant();
        const plivo = { auth_id: `MA${randomBytes(9).toString('hex').toUpperCase()}`, auth_token: token() };
        const vobiz = { auth_id: `VB${randomBytes(6).toString('hex')}`, auth_token: token() };
        const p = await s.request('POST', `${BASE}/providers`, { key: own.key, body: { provider: 'plivo', label: 'Plivo', credentials: plivo } });
        const v = await s.request('POST', `${BASE}/providers`, { key: own.key, body: { provider: 'vobiz', label: 'Vobiz', credentials: vobiz } });
        assert.equal(p.status, 201, p.text);
        assert.equal(v.status, 201, v.text);
        const r = await s.request('GET', `${BASE}/providers`, { key: own.key });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.providers.map((x: any) => x.id).sort(), [p.body.id, v.body.id].sort());
        for (const x of r.body.providers) assert.deepEqual(Object.keys(x).sort(), ['created_at', 'id', 'label', 'provider', 'updated_at']);
        for (const secret of [plivo.auth_id, plivo.auth_token, vobiz.auth_id, vobiz.auth_token]) assert.ok(!r.text.includes(secret));
        const other = await s.newTenant();
        assert.deepEqual((await s.request('GET', `${BASE}/providers`, { key: other.key })).body, { providers: [] });
      });

      test('credentials are checked per provider; bad fields are 400 naming them, as plain text', async () => {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ provider: undefined }, 'provider'],
          [{ provider: 'telnyx' }, 'provider'],
          [{ label: undefined }, 'label'],
          [{ label: '' }, 'label'],
          [{ label: 'l'.repeat(201) }, 'label'],
          [{ credentials: undefined }, 'credentials'],
          [{ credentials: { account_sid: twilioSid() } }, 'credentials.auth_token'],
          [{ credentials: { auth_token: token() } }, 'credentials.account_sid'],
          [{ credentials: { account_sid: 'AC123', auth_token: token() } }, 'credentials.account_sid'],
          [{ credentials: { account_sid: twilioSid(), auth_token: '' } }, 'credentials.auth_token'],
          [{ credentials: { account_sid: twilioSid(), auth_token: token(), region: 'ie1' } }, 'credentials.region'],
          [{ provider: 'plivo', credentials: { account_sid: twilioSid(), auth_token: token() } }, 'credentials.account_sid'],
          [{ provider: 'vobiz', credentials: { auth_id: 'x' } }, 'credentials.auth_token'],
          [{ colour: 'red' }, 'colour'],
        ];
        for (const [patch, field] of cases) {
          const body: Record<string, unknown> = { provider: 'twilio', label: 'L', credentials: { account_sid: twilioSid(), auth_token: token() }, ...patch };
          for (const k of Object.keys(patch)) if (patch[k] === undefined) delete body[k];
          const r = await s.request('POST', `${BASE}/providers`, { key: t.key, body });
          assert.equal(r.status, 400, `${JSON.stringify(patch)} → ${r.status} ${r.text}`);
          assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
          assert.ok(r.text.includes(field), `${field} not named in "${r.text}"`);
        }
      });

      test('server-set fields in the body are ignored', async () => {
        const r = await s.request('POST', `${BASE}/providers`, {
          key: t.key,
          body: { id: 'mine', created_at: 'yesterday', provider: 'twilio', label: 'L', credentials: { account_sid: twilioSid(), auth_token: token() } },
        });
        assert.equal(r.status, 201, r.text);
        assert.notEqual(r.body.id, 'mine');
        assert.notEqual(r.body.created_at, 'yesterday');
      });

      test('credentials are sealed at rest and unsealed only for the runtime', async () => {
        const creds = { account_sid: twilioSid(), auth_token: token() };
        const id = await addTwilio(t.key, creds);
        const row = await s.server.store.db.selectFrom('provider_credentials').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        assert.ok(!row.sealed_credentials.includes(creds.auth_token));
        assert.match(row.sealed_credentials, /^v1\./);
        assert.equal(row.account_ref, creds.account_sid);
        if (db === 'sqlite') {
          const needle = Buffer.from(creds.auth_token);
          for (const f of filesUnder(s.dataDir)) assert.equal(readFileSync(f).indexOf(needle), -1, `${f} holds the auth token`);
        }
        const found = await s.server.services.credentials.findByAccountRef('twilio', creds.account_sid);
        assert.deepEqual(found, [{ id, tenantId: t.id, credentials: creds }]);
        assert.deepEqual(await s.server.services.credentials.findByAccountRef('plivo', creds.account_sid), []);
        assert.deepEqual(await s.server.services.credentials.open({ tenantId: t.id }, id), creds);
        const other = await s.newTenant();
        await assert.rejects(s.server.services.credentials.open({ tenantId: other.id }, id), /not found/);
      });

      test('deleting a credential: 204, then 404; another tenant\'s is 404', async () => {
        const id = await addTwilio(t.key);
        const other = await s.newTenant();
        const foreign = await s.request('DELETE', `${BASE}/providers/${id}`, { key: other.key });
        assert.equal(foreign.status, 404);
        assert.match(foreign.text, /not found/);
        assert.equal((await s.request('DELETE', `${BASE}/providers/${id}`, { key: t.key })).status, 204);
        assert.equal((await s.request('DELETE', `${BASE}/providers/${id}`, { key: t.key })).status, 404);
        assert.equal((await s.request('DELETE', `${BASE}/providers/00000000-0000-0000-0000-000000000000`, { key: t.key })).status, 404);
        const list = await s.request('GET', `${BASE}/providers`, { key: t.key });
        assert.ok(!list.body.providers.some((p: any) => p.id === id));
      });

      test('a credential used by a phone number cannot be deleted (409) until the number is gone', async () => {
        const id = await addTwilio(t.key);
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), credentials_id: id } });
        assert.equal(n.status, 201, n.text);
        const r = await s.request('DELETE', `${BASE}/providers/${id}`, { key: t.key });
        assert.equal(r.status, 409);
        assert.match(r.text, /phone number/);
        assert.equal((await s.request('DELETE', `${BASE}/numbers/${n.body.id}`, { key: t.key })).status, 204);
        assert.equal((await s.request('DELETE', `${BASE}/providers/${id}`, { key: t.key })).status, 204);
      });
    });

    describe('numbers', () => {
      test('registering a number answers 201 with the number; inbound and outbound default on', async () => {
        const cred = await addTwilio(t.key);
        const e164 = nextE164();
        const r = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164, provider: 'twilio', credentials_id: cred, agent_id: agentId } });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(Object.keys(r.body).sort(), ['agent_id', 'created_at', 'credentials_id', 'e164', 'id', 'inbound_enabled', 'outbound_enabled', 'provider', 'updated_at']);
        assert.equal(r.body.e164, e164);
        assert.equal(r.body.provider, 'twilio');
        assert.equal(r.body.credentials_id, cred);
        assert.equal(r.body.agent_id, agentId);
        assert.equal(r.body.inbound_enabled, true);
        assert.equal(r.body.outbound_enabled, true);
        const off = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), inbound_enabled: false, outbound_enabled: false } });
        assert.equal(off.status, 201);
        assert.equal(off.body.inbound_enabled, false);
        assert.equal(off.body.outbound_enabled, false);
        assert.equal(off.body.provider, null);
        assert.equal(off.body.agent_id, null);
      });

      test('the provider is taken from the credential when not given', async () => {
        const cred = await addTwilio(t.key);
        const r = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), credentials_id: cred } });
        assert.equal(r.status, 201);
        assert.equal(r.body.provider, 'twilio');
      });

      test('the list is wrapped as {numbers} and filters by agent_id', async () => {
        const own = await s.newTenant();
        const agent = await s.server.services.agents.create({ tenantId: own.id }, { name: 'A' });
        const pinned = await s.request('POST', `${BASE}/numbers`, { key: own.key, body: { e164: nextE164(), agent_id: agent.id } });
        const free = await s.request('POST', `${BASE}/numbers`, { key: own.key, body: { e164: nextE164() } });
        const all = await s.request('GET', `${BASE}/numbers`, { key: own.key });
        assert.equal(all.status, 200);
        assert.deepEqual(all.body.numbers.map((n: any) => n.id).sort(), [pinned.body.id, free.body.id].sort());
        const byAgent = await s.request('GET', `${BASE}/numbers?agent_id=${agent.id}`, { key: own.key });
        assert.deepEqual(byAgent.body, { numbers: [pinned.body] });
        const none = await s.request('GET', `${BASE}/numbers?agent_id=nobody`, { key: own.key });
        assert.deepEqual(none.body, { numbers: [] });
        const other = await s.newTenant();
        assert.deepEqual((await s.request('GET', `${BASE}/numbers`, { key: other.key })).body, { numbers: [] });
        const forAgent = await s.server.services.numbers.forAgent({ tenantId: own.id }, agent.id);
        assert.deepEqual(forAgent.map((n) => n.e164), [pinned.body.e164]);
        const found = await s.server.services.numbers.findByE164(pinned.body.e164);
        assert.equal(found?.tenantId, own.id);
        assert.equal(found?.agentId, agent.id);
        assert.equal(await s.server.services.numbers.findByE164('+12025559999'), null);
      });

      test('bad number bodies are 400 naming the field', async () => {
        const twilio = await addTwilio(t.key);
        const plivo = await s.request('POST', `${BASE}/providers`, { key: t.key, body: { provider: 'plivo', label: 'P', credentials: { auth_id: 'MAXXXX', auth_token: token() } } });
        const other = await s.newTenant();
        const foreignCred = await addTwilio(other.key);
        const otherAgent = await s.server.services.agents.create({ tenantId: other.id }, { name: 'B' });
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ e164: undefined }, 'e164'],
          [{ e164: '2025550123' }, 'e164'],
          [{ e164: '+1 202 555 0123' }, 'e164'],
          [{ provider: 'telnyx' }, 'provider'],
          [{ credentials_id: '00000000-0000-0000-0000-000000000000' }, 'credentials_id'],
          [{ credentials_id: foreignCred }, 'credentials_id'],
          [{ provider: 'twilio', credentials_id: plivo.body.id }, 'credentials_id'],
          [{ provider: 'plivo', credentials_id: twilio }, 'credentials_id'],
          [{ agent_id: 'nobody' }, 'agent_id'],
          [{ agent_id: otherAgent.id }, 'agent_id'],
          [{ inbound_enabled: 'sometimes' }, 'inbound_enabled'],
          [{ colour: 'red' }, 'colour'],
        ];
        for (const [patch, field] of cases) {
          const body: Record<string, unknown> = { e164: nextE164(), ...patch };
          for (const k of Object.keys(patch)) if (patch[k] === undefined) delete body[k];
          const r = await s.request('POST', `${BASE}/numbers`, { key: t.key, body });
          assert.equal(r.status, 400, `${JSON.stringify(patch)} → ${r.status} ${r.text}`);
          assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
          assert.ok(r.text.includes(field), `${field} not named in "${r.text}"`);
        }
        const mismatch = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), provider: 'plivo', credentials_id: twilio } });
        assert.match(mismatch.text, /twilio/);
        assert.match(mismatch.text, /plivo/);
      });

      test('a number already registered, in any tenant, is 400', async () => {
        const e164 = nextE164();
        assert.equal((await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164 } })).status, 201);
        const again = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164 } });
        assert.equal(again.status, 400);
        assert.match(again.text, /e164/);
        assert.match(again.text, /already registered/);
        const other = await s.newTenant();
        assert.equal((await s.request('POST', `${BASE}/numbers`, { key: other.key, body: { e164 } })).status, 400);
      });

      test('PATCH pins with an agent id and unpins with null (204)', async () => {
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164() } });
        const pin = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { agent_id: agentId } });
        assert.equal(pin.status, 204);
        assert.equal(pin.text, '');
        let list = await s.request('GET', `${BASE}/numbers?agent_id=${agentId}`, { key: t.key });
        assert.ok(list.body.numbers.some((x: any) => x.id === n.body.id && x.agent_id === agentId));
        const second = await s.server.services.agents.create({ tenantId: t.id }, { name: 'Second' });
        assert.equal((await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { agent_id: second.id } })).status, 204);
        list = await s.request('GET', `${BASE}/numbers?agent_id=${second.id}`, { key: t.key });
        assert.deepEqual(list.body.numbers.map((x: any) => x.id), [n.body.id]);
        const unpin = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { agent_id: null } });
        assert.equal(unpin.status, 204);
        list = await s.request('GET', `${BASE}/numbers`, { key: t.key });
        assert.equal(list.body.numbers.find((x: any) => x.id === n.body.id).agent_id, null);
      });

      test('PATCH: unknown number or agent is 404 saying which; another tenant\'s number is 404; a body without agent_id is 400', async () => {
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164() } });
        const unknownNumber = await s.request('PATCH', `${BASE}/numbers/00000000-0000-0000-0000-000000000000`, { key: t.key, body: { agent_id: agentId } });
        assert.equal(unknownNumber.status, 404);
        assert.match(unknownNumber.text, /phone number not found/);
        const unknownAgent = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { agent_id: 'agent_nobody' } });
        assert.equal(unknownAgent.status, 404);
        assert.match(unknownAgent.text, /agent agent_nobody not found/);
        const other = await s.newTenant();
        const otherAgent = await s.server.services.agents.create({ tenantId: other.id }, { name: 'B' });
        assert.equal((await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: other.key, body: { agent_id: otherAgent.id } })).status, 404);
        assert.equal((await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { agent_id: otherAgent.id } })).status, 404);
        const empty = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: {} });
        assert.equal(empty.status, 400);
        assert.match(empty.text, /agent_id/);
        const list = await s.request('GET', `${BASE}/numbers`, { key: t.key });
        assert.equal(list.body.numbers.find((x: any) => x.id === n.body.id).agent_id, null);
      });

      test('PATCH moves a number to another credential so the old one can be deleted, and switches inbound/outbound', async () => {
        const oldCred = await addTwilio(t.key);
        const newCred = await addTwilio(t.key);
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), credentials_id: oldCred, agent_id: agentId } });
        assert.equal(n.status, 201, n.text);
        const refused = await s.request('DELETE', `${BASE}/providers/${oldCred}`, { key: t.key });
        assert.equal(refused.status, 409);
        assert.match(refused.text, /move them to another credential/);
        const move = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { credentials_id: newCred } });
        assert.equal(move.status, 204, move.text);
        assert.equal((await s.request('DELETE', `${BASE}/providers/${oldCred}`, { key: t.key })).status, 204);
        const flags = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { inbound_enabled: false, outbound_enabled: false } });
        assert.equal(flags.status, 204, flags.text);
        const shown = (await s.request('GET', `${BASE}/numbers`, { key: t.key })).body.numbers.find((x: any) => x.id === n.body.id);
        // Fields left out keep their value: the agent stays pinned through both changes.
        assert.deepEqual(
          { credentials_id: shown.credentials_id, provider: shown.provider, agent_id: shown.agent_id, inbound_enabled: shown.inbound_enabled, outbound_enabled: shown.outbound_enabled },
          { credentials_id: newCred, provider: 'twilio', agent_id: agentId, inbound_enabled: false, outbound_enabled: false },
        );
        assert.equal((await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body: { inbound_enabled: true } })).status, 204);
        const again = (await s.request('GET', `${BASE}/numbers`, { key: t.key })).body.numbers.find((x: any) => x.id === n.body.id);
        assert.equal(again.inbound_enabled, true);
        assert.equal(again.outbound_enabled, false);
      });

      test("PATCH refuses another tenant's credential, another carrier's, and non-boolean flags (400), changing nothing", async () => {
        const cred = await addTwilio(t.key);
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164(), credentials_id: cred } });
        const other = await s.newTenant();
        const foreign = await addTwilio(other.key);
        const plivo = await s.request('POST', `${BASE}/providers`, { key: t.key, body: { provider: 'plivo', label: 'P', credentials: { auth_id: `MA${randomBytes(9).toString('hex').toUpperCase()}`, auth_token: token() } } });
        for (const [body, pattern] of [
          [{ credentials_id: foreign }, /credentials_id .* is not a credential of this account/],
          [{ credentials_id: 'no-such-credential' }, /credentials_id/],
          [{ credentials_id: plivo.body.id }, /plivo credential but the number is a twilio number/],
          [{ inbound_enabled: 'no' }, /inbound_enabled/],
          [{ outbound_enabled: 0 }, /outbound_enabled/],
          [{ credentials_id: 42 }, /credentials_id/],
        ] as const) {
          const r = await s.request('PATCH', `${BASE}/numbers/${n.body.id}`, { key: t.key, body });
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.match(r.text, pattern);
        }
        const shown = (await s.request('GET', `${BASE}/numbers`, { key: t.key })).body.numbers.find((x: any) => x.id === n.body.id);
        assert.equal(shown.credentials_id, cred);
        assert.equal(shown.inbound_enabled, true);
        assert.equal(shown.outbound_enabled, true);
      });

      test('DELETE removes the number (204), then 404; another tenant\'s is 404', async () => {
        const n = await s.request('POST', `${BASE}/numbers`, { key: t.key, body: { e164: nextE164() } });
        const other = await s.newTenant();
        assert.equal((await s.request('DELETE', `${BASE}/numbers/${n.body.id}`, { key: other.key })).status, 404);
        const d = await s.request('DELETE', `${BASE}/numbers/${n.body.id}`, { key: t.key });
        assert.equal(d.status, 204);
        assert.equal(d.text, '');
        const again = await s.request('DELETE', `${BASE}/numbers/${n.body.id}`, { key: t.key });
        assert.equal(again.status, 404);
        assert.match(again.text, /phone number not found/);
        const list = await s.request('GET', `${BASE}/numbers`, { key: t.key });
        assert.ok(!list.body.numbers.some((x: any) => x.id === n.body.id));
      });
    });

    describe('credentials and scope', () => {
      test('missing or invalid keys are 401 as plain text on every route', async () => {
        const routes: Array<[string, string, unknown?]> = [
          ['GET', '/numbers'], ['POST', '/numbers', { e164: nextE164() }], ['PATCH', '/numbers/x', { agent_id: null }], ['DELETE', '/numbers/x'],
          ['GET', '/providers'], ['POST', '/providers', { provider: 'twilio', label: 'L', credentials: {} }], ['DELETE', '/providers/x'],
        ];
        for (const key of [null, 'wrong-key']) {
          for (const [method, path, body] of routes) {
            const r = await s.request(method, BASE + path, { key, body });
            assert.equal(r.status, 401, `${method} ${path}`);
            assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
            assert.match(r.text, /API key/);
          }
        }
      });

      test('a body over 1 MiB is 413 as plain text', async () => {
        const r = await s.request('POST', `${BASE}/providers`, { key: t.key, body: { provider: 'twilio', label: 'x'.repeat(1024 * 1024 + 10), credentials: {} } });
        assert.equal(r.status, 413);
        assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
        assert.match(r.text, /1 MiB/);
      });

      test('the platform admin must send X-Account-ID (400), and with it acts for that tenant', async () => {
        const r = await s.request('GET', `${BASE}/providers`);
        assert.equal(r.status, 400);
        assert.match(r.text, /X-Account-ID header is required/);
        const own = await s.newTenant();
        const c = await s.request('POST', `${BASE}/providers`, { accountId: own.id, body: { provider: 'twilio', label: 'L', credentials: { account_sid: twilioSid(), auth_token: token() } } });
        assert.equal(c.status, 201);
        const list = await s.request('GET', `${BASE}/providers`, { key: own.key });
        assert.deepEqual(list.body.providers.map((p: any) => p.id), [c.body.id]);
      });
    });
  });
}
