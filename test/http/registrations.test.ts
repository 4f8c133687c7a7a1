import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DomainEvent, EventType } from '../../src/events/catalog.js';
import { CALL_HANDLERS, type CallHandler } from '../../src/domain/call-handler.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { SqlRegistrationLeases } from '../../src/store/repositories/registration-leases.js';

type Tenant = { id: string; key: string };

let seq = 0;
/** A registration body unique per call, so tests never trip over each other's duplicates. */
function regBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return { type: 'phone-registration', registrar: `sip:pbx${seq}.example.com:5060`, username: `user${seq}`, password: 'pw-' + seq, ...extra };
}

/** E.164 numbers that libphonenumber accepts (London 020 794x xxxx), a new one per call. */
let numberSeq = 0;
function newNumber(): string {
  numberSeq += 1;
  return `+4420794${String(10000 + numberSeq)}`;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

for (const db of testDbs()) {
  describe(`registrations dialect (${db})`, () => {
    let s: TestServer;
    let a: Tenant;
    let b: Tenant;
    const events: DomainEvent[] = [];

    const create = async (t: Tenant, body: Record<string, unknown>) => s.request('POST', '/phone-endpoints', { key: t.key, body });
    const newReg = async (t: Tenant, extra: Record<string, unknown> = {}): Promise<string> => {
      const r = await create(t, regBody(extra));
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };
    const newAgent = async (t: Tenant, handler: CallHandler | null = null) =>
      (await s.server.services.agents.create({ tenantId: t.id }, { name: `agent ${randomBytes(3).toString('hex')}`, handler })).id;
    const eventsOf = <T extends EventType>(type: T, id: string) =>
      events.filter((e): e is Extract<DomainEvent, { type: T }> => e.type === type && 'registration_id' in e.data && e.data.registration_id === id);

    before(async () => {
      // HTTP only: this suite pins down the API and the service contract the engine relies on;
      // with the engine running, activated lines would start registering and race the assertions.
      s = await startTestServer(db);
      a = await s.newTenant();
      b = await s.newTenant();
      s.server.bus.subscribe((e) => events.push(e));
    });
    after(async () => { await s.close(); });

    test('a new registration is disabled and initial, and reads back without its password', async () => {
      const r = await create(a, {
        type: 'phone-registration', name: 'Sales line', registrar: 'SIP:PBX-Main.Example.com:5060', username: 'sales', password: 'hunter2-sales',
        options: { region: 'eu-west', expires: 600 },
      });
      assert.equal(r.status, 201);
      assert.deepEqual(Object.keys(r.body).sort(), ['id', 'success']);
      assert.equal(r.body.success, true);
      const g = await s.request('GET', `/phone-endpoints/${r.body.id}`, { key: a.key });
      assert.equal(g.status, 200);
      assert.deepEqual(g.body, {
        success: true, id: r.body.id, type: 'phone-registration', handler: 'livekit', status: 'disabled', state: 'initial',
        name: 'Sales line', registrar: 'sip:pbx-main.example.com:5060', username: 'sales', outbound: false,
        options: { region: 'eu-west', expires: 600 }, agent_id: null,
      });
      assert.ok(!g.text.includes('hunter2-sales'));
    });

    test('the platform admin acts for a tenant with X-Account-ID, and is told to name one without it', async () => {
      const r = await s.request('POST', '/phone-endpoints', { accountId: a.id, body: regBody() });
      assert.equal(r.status, 201);
      assert.equal((await s.request('GET', `/phone-endpoints/${r.body.id}`, { key: a.key })).status, 200);
      const no = await s.request('GET', '/phone-endpoints');
      assert.equal(no.status, 400);
      assert.equal(no.body.success, false);
      assert.match(no.body.error, /X-Account-ID/);
    });

    test('activate and disable return the new status and state, and tell the engine', async () => {
      const id = await newReg(a);
      const before = await s.server.services.registrations.get({ tenantId: a.id }, id);
      const act = await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      assert.equal(act.status, 200);
      assert.deepEqual(act.body, { success: true, id, status: 'active', state: 'initial' });
      const reg = await s.server.services.registrations.get({ tenantId: a.id }, id);
      assert.equal(reg.generation, before.generation + 1);
      assert.deepEqual(eventsOf('registration.activated', id).map((e) => e.data), [{ registration_id: id, generation: reg.generation }]);
      assert.equal(eventsOf('registration.activated', id)[0].tenantId, a.id);
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.status, 'active');

      const dis = await s.request('POST', `/phone-endpoints/${id}/disable`, { key: a.key });
      assert.equal(dis.status, 200);
      assert.deepEqual(dis.body, { success: true, id, status: 'disabled', state: 'initial' });
      assert.equal(eventsOf('registration.disabled', id).length, 1);
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.status, 'disabled');
    });

    test('a registered line whose handler cannot answer here says why in its error; a registrar error takes precedence', async () => {
      const regs = s.server.services.registrations;
      // An instance holds each line (as the engine would), so `registered` is shown as such.
      const leases = new SqlRegistrationLeases({ db: s.server.store.db, kind: s.server.store.kind }, 60_000, undefined, 'instance-h');
      const registered = async (extra: Record<string, unknown>) => {
        const id = await newReg(a, extra);
        await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
        assert.equal(await leases.claim(id), true);
        assert.equal(await regs.reportState(id, (await regs.get({ tenantId: a.id }, id)).generation, { state: 'registered', error: null }), true);
        return id;
      };
      const voice = await registered({ handler: 'dialtone' });
      assert.equal((await s.request('GET', `/phone-endpoints/${voice}`, { key: a.key })).body.error, undefined, 'Dialtone answers these itself');
      const person = await registered({ handler: 'sip' });
      assert.equal((await s.request('GET', `/phone-endpoints/${person}`, { key: a.key })).body.error, undefined);
      const idle = await newReg(a);
      assert.equal((await s.request('GET', `/phone-endpoints/${idle}`, { key: a.key })).body.error, undefined, 'not registered: no handler remark');
      const lk = await registered({});
      const listed = await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key });
      assert.match(listed.body.items.find((i: { id: string }) => i.id === lk).error, /^LiveKit is not configured/);
      await regs.reportState(lk, (await regs.get({ tenantId: a.id }, lk)).generation, { state: 'failed', error: '403 Forbidden' });
      assert.equal((await s.request('GET', `/phone-endpoints/${lk}`, { key: a.key })).body.error, '403 Forbidden');
    });

    test('a failed registration shows its error and can be activated again', async () => {
      const regs = s.server.services.registrations;
      const id = await newReg(a, { handler: 'sip' });
      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      const gen = (await regs.get({ tenantId: a.id }, id)).generation;
      assert.equal(await regs.reportState(id, gen, { state: 'failed', status: 'failed', error: '403 Forbidden from registrar' }), true);
      const g = await s.request('GET', `/phone-endpoints/${id}`, { key: a.key });
      assert.equal(g.body.status, 'failed');
      assert.equal(g.body.state, 'failed');
      assert.equal(g.body.error, '403 Forbidden from registrar');

      const again = await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      assert.deepEqual(again.body, { success: true, id, status: 'active', state: 'initial' });
      const after = await s.request('GET', `/phone-endpoints/${id}`, { key: a.key });
      assert.equal(after.body.error, undefined);
      assert.equal((await regs.get({ tenantId: a.id }, id)).generation, gen + 1);
    });

    test('state reports arriving together share a transaction but each is judged on its own (stale ones refused)', async () => {
      const regs = s.server.services.registrations;
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const id = await newReg(a);
        await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
        ids.push(id);
      }
      const gens = await Promise.all(ids.map(async (id) => (await regs.get({ tenantId: a.id }, id)).generation));
      // Every third report names an old generation, as a late report after a re-activation would.
      const results = await Promise.all(ids.map((id, i) => regs.reportState(id, i % 3 === 0 ? gens[i]! - 1 : gens[i]!, { state: 'failed', error: `timeout ${i}` })));
      assert.deepEqual(results, ids.map((_, i) => i % 3 !== 0));
      for (const [i, id] of ids.entries()) {
        const shown = (await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body;
        assert.equal(shown.state, i % 3 === 0 ? 'initial' : 'failed', id);
        if (i % 3 !== 0) assert.match(shown.error, new RegExp(`timeout ${i}$`));
      }
      await assert.rejects(regs.reportState(ids[1]!, gens[1]!, { state: 'sideways' as never }), /state/);
    });

    test('PUT that changes what is sent to the registrar starts over with a new generation', async () => {
      const regs = s.server.services.registrations;
      const id = await newReg(a, { handler: 'sip' });
      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      const gen = (await regs.get({ tenantId: a.id }, id)).generation;
      await regs.reportState(id, gen, { state: 'failed', error: 'timeout' });

      const named = await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body: { name: 'renamed', outbound: true } });
      assert.equal(named.status, 200);
      assert.equal(named.body.name, 'renamed');
      assert.equal(named.body.outbound, true);
      assert.equal(named.body.state, 'failed', 'a rename does not restart registering');
      assert.equal((await regs.get({ tenantId: a.id }, id)).generation, gen);

      for (const [i, change] of [{ registrar: 'sip:new-pbx.example.com' }, { username: 'someone-else' }, { password: 'brand-new-pw' }, { options: { expires: 120 } }].entries()) {
        await regs.reportState(id, gen + i, { state: 'failed', error: 'timeout' });
        const r = await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body: change });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.state, 'initial');
        assert.equal(r.body.status, 'active');
        assert.equal(r.body.error, undefined);
        assert.equal((await regs.get({ tenantId: a.id }, id)).generation, gen + i + 1);
      }
      const reg = await regs.getForEngine(id);
      assert.equal(reg?.registrar, 'sip:new-pbx.example.com');
      assert.equal(reg?.username, 'someone-else');
      assert.equal(reg?.password, 'brand-new-pw');
      assert.deepEqual(reg?.options, { expires: 120 });
      assert.deepEqual(eventsOf('registration.updated', id).map((e) => (e.data as { generation?: number }).generation), [gen + 1, gen + 2, gen + 3, gen + 4]);
    });

    test('PUT on a disabled registration does not wake the engine', async () => {
      const id = await newReg(a);
      const r = await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body: { registrar: 'sip:other.example.com' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'disabled');
      assert.equal(eventsOf('registration.updated', id).length, 0);
    });

    test('creation rejects bad input with a 400 naming the field and stores nothing', async () => {
      const before = await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key });
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...regBody(), type: 'phone' }, 'type'],
        [(() => { const { type: _t, ...rest } = regBody(); return rest; })(), 'type'],
        [(() => { const { registrar: _r, ...rest } = regBody(); return rest; })(), 'registrar'],
        [regBody({ registrar: 'http://x' }), 'registrar'],
        [regBody({ registrar: 'sip:' }), 'registrar'],
        [regBody({ registrar: 'sip:host:99999' }), 'registrar'],
        [regBody({ registrar: 'sip:host:0' }), 'registrar'],
        [regBody({ registrar: 'sip:host;transport=carrier-pigeon' }), 'registrar'],
        [regBody({ registrar: 'sips:host;transport=udp' }), 'registrar'],
        [regBody({ registrar: 'sip:user:secret@host' }), 'registrar'],
        [regBody({ registrar: 'sip:host?subject=x' }), 'registrar'],
        [regBody({ registrar: 'sip:host;maddr=10.0.0.1' }), 'registrar'],
        [regBody({ registrar: 'sip:999.1.1.1' }), 'registrar'],
        [regBody({ registrar: 'sip:[not-v6]' }), 'registrar'],
        [regBody({ registrar: 'sip:ho st' }), 'registrar'],
        [regBody({ registrar: 42 }), 'registrar'],
        [(() => { const { username: _u, ...rest } = regBody(); return rest; })(), 'username'],
        [regBody({ username: '' }), 'username'],
        [regBody({ username: '   ' }), 'username'],
        [regBody({ username: 'u'.repeat(129) }), 'username'],
        [regBody({ password: '' }), 'password'],
        [(() => { const { password: _p, ...rest } = regBody(); return rest; })(), 'password'],
        [regBody({ password: 'p'.repeat(257) }), 'password'],
        [regBody({ options: 'fast' }), 'options'],
        [regBody({ options: [1, 2] }), 'options'],
        [regBody({ options: { expires: 10 } }), 'options.expires'],
        [regBody({ options: { expires: 600.5 } }), 'options.expires'],
        [regBody({ options: { transport: 'sctp' } }), 'options.transport'],
        [regBody({ options: { auth_username: '' } }), 'options.auth_username'],
        [regBody({ options: { blob: 'x'.repeat(5000) } }), 'options'],
        [regBody({ registrar: 'sip:pbx.example.com;transport=tcp', options: { transport: 'udp' } }), 'options.transport'],
        [regBody({ handler: 'carrier-pigeon' }), 'handler'],
        [regBody({ outbound: 'maybe' }), 'outbound'],
        [regBody({ name: 'n'.repeat(201) }), 'name'],
        [regBody({ number: '+442079460000' }), 'number'],
        [regBody({ colour: 'blue' }), 'colour'],
      ];
      for (const [body, field] of cases) {
        const r = await create(a, body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 120)} → ${r.status} ${r.text}`);
        assert.equal(r.body.success, false);
        assert.match(r.body.error, new RegExp(`^${field.replace('.', '\\.')}\\b`), `${JSON.stringify(body).slice(0, 120)}: ${r.body.error}`);
      }
      const after = await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key });
      assert.deepEqual(after.body.items, before.body.items);
    });

    test('registrar URIs in all the shapes a PBX uses are accepted and normalized', async () => {
      const accepted: Array<[string, string]> = [
        ['sip:provider.example.com', 'sip:provider.example.com'],
        ['sip:1001@pbx.example.com:5080', 'sip:1001@pbx.example.com:5080'],
        ['sips:[2001:DB8::1]:5061;transport=TLS', 'sips:[2001:db8::1]:5061;transport=tls'],
        ['sip:192.0.2.10;transport=tcp;lr', 'sip:192.0.2.10;transport=tcp;lr'],
        ['SIP:Voip.Example.NET.:65535', 'sip:voip.example.net:65535'],
      ];
      for (const [input, stored] of accepted) {
        const r = await create(a, regBody({ registrar: input }));
        assert.equal(r.status, 201, `${input}: ${r.text}`);
        const g = await s.request('GET', `/phone-endpoints/${r.body.id}`, { key: a.key });
        assert.equal(g.body.registrar, stored);
      }
    });

    test('every known handler is accepted, and unknown option keys are kept', async () => {
      for (const handler of CALL_HANDLERS) {
        const id = await newReg(a, { handler, outbound: true, options: { transport: 'tcp', auth_username: 'auth-1', vendor: { x: 1 } } });
        const g = await s.request('GET', `/phone-endpoints/${id}`, { key: a.key });
        assert.equal(g.body.handler, handler);
        assert.equal(g.body.outbound, true);
        assert.deepEqual(g.body.options, { transport: 'tcp', auth_username: 'auth-1', vendor: { x: 1 } });
      }
    });

    test('the same registrar and username twice in a tenant is a conflict; another tenant may use them', async () => {
      const body = regBody();
      assert.equal((await create(a, body)).status, 201);
      const dup = await create(a, { ...body, registrar: String(body.registrar).toUpperCase().replace('SIP:', 'sip:'), password: 'other' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.success, false);
      assert.match(dup.body.error, /registrar/);
      assert.equal((await create(b, body)).status, 201);

      const other = await newReg(a);
      const clash = await s.request('PUT', `/phone-endpoints/${other}`, { key: a.key, body: { registrar: body.registrar, username: body.username } });
      assert.equal(clash.status, 409);
      const unchanged = await s.request('GET', `/phone-endpoints/${other}`, { key: a.key });
      assert.notEqual(unchanged.body.registrar, body.registrar);
    });

    test('PUT rejects bad input and leaves the registration as it was', async () => {
      const id = await newReg(a, { name: 'keep me' });
      const before = await s.request('GET', `/phone-endpoints/${id}`, { key: a.key });
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ name: 'changed', registrar: 'http://x' }, 'registrar'],
        [{ name: 'changed', username: '' }, 'username'],
        [{ name: 'changed', password: '' }, 'password'],
        [{ name: 'changed', options: 'x' }, 'options'],
        [{ name: 'changed', handler: 'nope' }, 'handler'],
        [{ name: 'changed', type: 'e164-ddi' }, 'type'],
        [{ name: 'changed', number: '+442079460000' }, 'number'],
      ];
      for (const [body, field] of cases) {
        const r = await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error, new RegExp(`^${field}\\b`));
      }
      assert.deepEqual(await s.request('GET', `/phone-endpoints/${id}`, { key: a.key }).then((r) => r.body), before.body);
    });

    test('unknown ids and other tenants\' registrations are not found', async () => {
      const mine = await newReg(a);
      const agentA = await newAgent(a);
      const agentB = await newAgent(b);
      const missing = '00000000-0000-4000-8000-000000000000';
      for (const id of [missing, mine]) {
        const key = b.key;
        const calls: Array<[string, string, unknown?]> = [
          ['GET', `/phone-endpoints/${id}`],
          ['PUT', `/phone-endpoints/${id}`, { name: 'x' }],
          ['DELETE', `/phone-endpoints/${id}`],
          ['POST', `/phone-endpoints/${id}/activate`],
          ['POST', `/phone-endpoints/${id}/disable`],
          ['POST', `/agents/${agentB}/listen`, { id }],
        ];
        for (const [method, path, body] of calls) {
          const r = await s.request(method, path, { key, body });
          assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
          assert.equal(r.body.success, false);
          assert.equal(typeof r.body.error, 'string');
        }
      }
      // B cannot bind A's agent either, and A's registration is untouched by all of the above.
      assert.equal((await s.request('POST', `/agents/${agentA}/listen`, { key: b.key, body: { id: mine } })).status, 404);
      const g = await s.request('GET', `/phone-endpoints/${mine}`, { key: a.key });
      assert.equal(g.status, 200);
      assert.equal(g.body.status, 'disabled');
      assert.equal(g.body.agent_id, null);
    });

    test('every endpoint answers 401 without a key or with a wrong one', async () => {
      const id = await newReg(a);
      const agent = await newAgent(a);
      const calls: Array<[string, string, unknown?]> = [
        ['POST', '/phone-endpoints', regBody()],
        ['GET', '/phone-endpoints'],
        ['GET', `/phone-endpoints/${id}`],
        ['PUT', `/phone-endpoints/${id}`, { name: 'x' }],
        ['DELETE', `/phone-endpoints/${id}`],
        ['POST', `/phone-endpoints/${id}/activate`],
        ['POST', `/phone-endpoints/${id}/disable`],
        ['POST', `/agents/${agent}/listen`, { id }],
      ];
      for (const [method, path, body] of calls) {
        for (const key of [null, a.key + 'x']) {
          const r = await s.request(method, path, { key, body });
          assert.equal(r.status, 401, `${method} ${path}`);
          assert.equal(r.body.success, false);
          assert.match(r.body.error, /key/);
        }
      }
      const g = await s.request('GET', `/phone-endpoints/${id}`, { key: a.key });
      assert.equal(g.body.status, 'disabled');
    });

    test('an e164-ddi endpoint adds a phone number to the tenant, found by id or by number', async () => {
      const number = newNumber();
      const r = await create(a, { type: 'e164-ddi', number, name: 'Front desk' });
      assert.equal(r.status, 201, r.text);
      const row = await s.server.store.db.selectFrom('phone_numbers').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
      assert.equal(row.tenant_id, a.id);
      assert.equal(row.e164, number);
      assert.equal(row.provider, null);
      assert.equal(row.credentials_id, null);
      assert.equal(row.inbound_enabled, 1);
      assert.equal(row.outbound_enabled, 1);
      assert.deepEqual(JSON.parse(row.capabilities), ['voice']);

      const expected = { success: true, id: r.body.id, type: 'e164-ddi', number, name: 'Front desk', agent_id: null };
      assert.deepEqual((await s.request('GET', `/phone-endpoints/${encodeURIComponent(number)}`, { key: a.key })).body, expected);
      assert.deepEqual((await s.request('GET', `/phone-endpoints/${r.body.id}`, { key: a.key })).body, expected);
      assert.equal((await s.request('GET', `/phone-endpoints/${encodeURIComponent(number)}`, { key: b.key })).status, 404);
      assert.equal((await s.request('GET', `/phone-endpoints/${encodeURIComponent(newNumber())}`, { key: a.key })).status, 404);

      const dupSame = await create(a, { type: 'e164-ddi', number });
      assert.equal(dupSame.status, 409);
      assert.match(dupSame.body.error, /number/);
      assert.equal((await create(b, { type: 'e164-ddi', number })).status, 409);

      // A registration's verbs do not apply to a number.
      assert.equal((await s.request('POST', `/phone-endpoints/${r.body.id}/activate`, { key: a.key })).status, 404);
      assert.equal((await s.request('PUT', `/phone-endpoints/${r.body.id}`, { key: a.key, body: { name: 'x' } })).status, 404);
    });

    test('an e164-ddi endpoint rejects bad numbers and registration-only fields', async () => {
      const count = async () => (await s.server.store.db.selectFrom('phone_numbers').select('id').where('tenant_id', '=', a.id).execute()).length;
      const before = await count();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ type: 'e164-ddi' }, 'number'],
        [{ type: 'e164-ddi', number: '020 7946 0000' }, 'number'],
        [{ type: 'e164-ddi', number: '+1' }, 'number'],
        [{ type: 'e164-ddi', number: newNumber(), registrar: 'sip:x.example.com' }, 'registrar'],
        [{ type: 'e164-ddi', number: newNumber(), password: 'x' }, 'password'],
        [{ type: 'e164-ddi', number: newNumber(), handler: 'livekit' }, 'handler'],
      ];
      for (const [body, field] of cases) {
        const r = await create(a, body);
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error, new RegExp(`^${field}\\b`));
      }
      assert.equal(await count(), before);
    });

    test('the list pages through registrations and numbers together', async () => {
      const t = await s.newTenant();
      const ids = new Set<string>();
      for (let i = 0; i < 3; i++) ids.add(await newReg(t));
      for (let i = 0; i < 2; i++) ids.add((await create(t, { type: 'e164-ddi', number: newNumber() })).body.id);
      ids.add(await newReg(t));

      const seen: Array<{ id: string; type: string }> = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const q: string = token ? `?page_size=4&page_token=${encodeURIComponent(token)}` : '?page_size=4';
        const r = await s.request('GET', `/phone-endpoints${q}`, { key: t.key });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.success, true);
        assert.ok(r.body.items.length <= 4);
        seen.push(...r.body.items);
        token = r.body.next_page_token;
        pages += 1;
      } while (token && pages < 10);
      assert.equal(pages, 2);
      assert.deepEqual(new Set(seen.map((i) => i.id)), ids);
      assert.equal(seen.length, ids.size);
      assert.equal(seen.filter((i) => i.type === 'e164-ddi').length, 2);
      assert.ok(seen.every((i) => !('password' in i)));

      const all = await s.request('GET', '/phone-endpoints', { key: t.key });
      assert.equal(all.body.items.length, 6);
      assert.equal(all.body.next_page_token, null);
      const other = await s.request('GET', '/phone-endpoints', { key: (await s.newTenant()).key });
      assert.deepEqual(other.body, { success: true, items: [], next_page_token: null, nextOffset: null });

      for (const q of ['page_size=0', 'page_size=201', 'page_size=abc', 'page_token=not-a-token']) {
        const r = await s.request('GET', `/phone-endpoints?${q}`, { key: t.key });
        assert.equal(r.status, 400, q);
        assert.match(r.body.error, new RegExp(`^${q.split('=')[0]}\\b`));
      }
    });

    test('an agent listens on a registration; again is fine, another agent is a conflict', async () => {
      const id = await newReg(a);
      const agent = await newAgent(a);
      const other = await newAgent(a);
      const r = await s.request('POST', `/agents/${agent}/listen`, { key: a.key, body: { id } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { success: true, agent_id: agent, id });
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.agent_id, agent);
      assert.equal((await s.request('POST', `/agents/${agent}/listen`, { key: a.key, body: { id } })).status, 200);

      const taken = await s.request('POST', `/agents/${other}/listen`, { key: a.key, body: { id } });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.success, false);
      assert.equal((await s.server.services.registrations.findListener(id))?.agentId, agent);

      // The binding outlives disabling.
      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      await s.request('POST', `/phone-endpoints/${id}/disable`, { key: a.key });
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.agent_id, agent);
    });

    test('listen refuses unknown agents and endpoints, and a handler the agent does not run', async () => {
      const id = await newReg(a, { handler: 'livekit' });
      const relayAgent = await newAgent(a, 'relay');
      const anyAgent = await newAgent(a);
      const missing = '00000000-0000-4000-8000-000000000001';
      assert.equal((await s.request('POST', `/agents/${missing}/listen`, { key: a.key, body: { id } })).status, 404);
      assert.equal((await s.request('POST', `/agents/${anyAgent}/listen`, { key: a.key, body: { id: missing } })).status, 404);
      assert.equal((await s.request('POST', `/agents/${anyAgent}/listen`, { key: a.key, body: { number: newNumber() } })).status, 404);

      const mismatch = await s.request('POST', `/agents/${relayAgent}/listen`, { key: a.key, body: { id } });
      assert.equal(mismatch.status, 412);
      assert.match(mismatch.body.error, /handler/);
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.agent_id, null);

      for (const [body, field] of [[{}, 'id'], [{ id, number: newNumber() }, 'id'], [{ number: 'abc' }, 'number'], [{ id, extra: 1 }, 'extra']] as const) {
        const r = await s.request('POST', `/agents/${anyAgent}/listen`, { key: a.key, body });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error, new RegExp(`^${field}\\b`));
      }
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).body.agent_id, null);

      // An agent without a handler takes any; then the registration cannot switch to a handler
      // a bound agent does not run.
      const relayReg = await newReg(a, { handler: 'relay' });
      assert.equal((await s.request('POST', `/agents/${relayAgent}/listen`, { key: a.key, body: { id: relayReg } })).status, 200);
      const sw = await s.request('PUT', `/phone-endpoints/${relayReg}`, { key: a.key, body: { handler: 'sip' } });
      assert.equal(sw.status, 412);
      assert.equal((await s.request('GET', `/phone-endpoints/${relayReg}`, { key: a.key })).body.handler, 'relay');
      assert.equal((await s.request('POST', `/agents/${anyAgent}/listen`, { key: a.key, body: { id } })).status, 200);
    });

    test('an agent handler outside the documented set is refused on create and update, and a stored one reads back typed', async () => {
      const agents = s.server.services.agents;
      const scope = { tenantId: a.id };
      const isInvalidHandler = (e: unknown) => e instanceof Error && 'kind' in e && e.kind === 'invalid' && 'field' in e && e.field === 'handler';
      await assert.rejects(agents.create(scope, { name: 'bad handler', handler: 'pstn' as CallHandler }), isInvalidHandler);
      const id = await newAgent(a, 'sip');
      await assert.rejects(agents.update(scope, id, { handler: '' as CallHandler }), isInvalidHandler);
      assert.equal((await agents.get(scope, id)).handler, 'sip');
      await agents.update(scope, id, { handler: null });
      assert.equal((await agents.get(scope, id)).handler, null);
    });

    test('an agent listens on a tenant number, by number or by id', async () => {
      const number = newNumber();
      const created = await create(a, { type: 'e164-ddi', number });
      const agent = await newAgent(a, 'dialtone');
      const other = await newAgent(a);
      const r = await s.request('POST', `/agents/${agent}/listen`, { key: a.key, body: { number } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { success: true, agent_id: agent, id: created.body.id, number });
      const row = await s.server.store.db.selectFrom('phone_numbers').select('agent_id').where('id', '=', created.body.id).executeTakeFirstOrThrow();
      assert.equal(row.agent_id, agent);
      const g = await s.request('GET', `/phone-endpoints/${encodeURIComponent(number)}`, { key: a.key });
      assert.equal(g.body.agent_id, agent);
      assert.equal(g.body.handler, 'dialtone');
      const moved = events.filter((e) => e.type === 'phone_number.updated' && e.data.phone_number_id === created.body.id);
      assert.deepEqual(moved.map((e) => e.data), [{ phone_number_id: created.body.id, phone_number: number, agent_id: agent, previous_agent_id: null }]);
      assert.equal((await s.request('POST', `/agents/${agent}/listen`, { key: a.key, body: { id: created.body.id } })).status, 200);
      const taken = await s.request('POST', `/agents/${other}/listen`, { key: a.key, body: { number } });
      assert.equal(taken.status, 409);
      assert.match(taken.body.error, /another agent/);
      assert.equal((await s.request('GET', `/phone-endpoints/${created.body.id}`, { key: a.key })).body.agent_id, agent);
      assert.equal((await s.request('POST', `/agents/${agent}/listen`, { key: b.key, body: { number } })).status, 404);
    });

    test('DELETE removes a registration or a number and tells the engine', async () => {
      const id = await newReg(a);
      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      const gen = (await s.server.services.registrations.get({ tenantId: a.id }, id)).generation;
      const d = await s.request('DELETE', `/phone-endpoints/${id}`, { key: a.key });
      assert.equal(d.status, 200);
      assert.deepEqual(d.body, { success: true, id });
      assert.deepEqual(eventsOf('registration.deleted', id).map((e) => e.data), [{ registration_id: id, generation: gen }]);
      assert.equal((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).status, 404);
      assert.equal((await s.request('DELETE', `/phone-endpoints/${id}`, { key: a.key })).status, 404);
      assert.equal(await s.server.services.registrations.getForEngine(id), null);

      const number = newNumber();
      const n = await create(a, { type: 'e164-ddi', number });
      assert.deepEqual((await s.request('DELETE', `/phone-endpoints/${encodeURIComponent(number)}`, { key: a.key })).body, { success: true, id: n.body.id });
      assert.equal((await s.request('GET', `/phone-endpoints/${n.body.id}`, { key: a.key })).status, 404);
    });

    test('a body over 1 MiB is refused with 413 and nothing is stored', async () => {
      const before = await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key });
      const rawBody = JSON.stringify({ ...regBody(), options: { blob: 'x'.repeat(1024 * 1024 + 10) } });
      const r = await s.request('POST', '/phone-endpoints', { key: a.key, rawBody, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 413);
      assert.equal(r.body.success, false);
      const after = await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key });
      assert.deepEqual(after.body.items, before.body.items);
    });

    test('the password is sealed at rest and appears in no response', async () => {
      const secret = `s3cret-${randomBytes(8).toString('hex')}`;
      const secret2 = `s3cret-${randomBytes(8).toString('hex')}`;
      const created = await create(a, regBody({ password: secret }));
      const id = created.body.id as string;
      const texts = [created.text];
      texts.push((await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key })).text);
      texts.push((await s.request('GET', `/phone-endpoints/${id}`, { key: a.key })).text);
      texts.push((await s.request('GET', '/phone-endpoints?page_size=200', { key: a.key })).text);
      texts.push((await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body: { password: secret2 } })).text);
      for (const t of texts) {
        assert.ok(!t.includes(secret) && !t.includes(secret2));
        assert.ok(!t.includes('sealed'));
      }
      assert.ok(!JSON.stringify(events).includes(secret));
      assert.equal((await s.server.services.registrations.getForEngine(id))?.password, secret2);

      const row = await s.server.store.db.selectFrom('registrations').select('sealed_password').where('id', '=', id).executeTakeFirstOrThrow();
      assert.ok(row.sealed_password.startsWith('v1.'));
      assert.ok(!row.sealed_password.includes(secret2));
      if (db === 'sqlite') {
        const files = filesUnder(s.dataDir);
        assert.ok(files.some((f) => f.endsWith('.sqlite')));
        for (const f of files) {
          const bytes = readFileSync(f);
          for (const sec of [secret, secret2]) assert.equal(bytes.indexOf(Buffer.from(sec)), -1, `${sec} found in ${f}`);
        }
      }
    });

    test('reportState applies only to the current generation of an active registration', async () => {
      const regs = s.server.services.registrations;
      const scope = { tenantId: a.id };
      const id = await newReg(a, { handler: 'sip' });
      assert.equal(await regs.reportState(id, 0, { state: 'registering' }), false, 'a disabled registration takes no state');

      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: a.key });
      const gen = (await regs.get(scope, id)).generation;
      assert.equal(await regs.reportState(id, gen - 1, { state: 'registered' }), false, 'an old generation is ignored');
      assert.equal((await regs.get(scope, id)).state, 'initial');

      assert.equal(await regs.reportState(id, gen, { state: 'registering' }), true);
      assert.equal(await regs.reportState(id, gen, { state: 'failed', error: '408 Request Timeout' }), true);
      let reg = await regs.get(scope, id);
      assert.equal(reg.state, 'failed');
      assert.equal(reg.status, 'active');
      assert.equal(reg.error, '408 Request Timeout');
      assert.equal(await regs.reportState(id, gen, { state: 'registered', error: null }), true);
      // Nobody holds the line's lease (no engine runs here): the report alone does not make it registered.
      reg = await regs.get(scope, id);
      assert.equal(reg.state, 'registering');
      assert.match(reg.error ?? '', /^no running instance is keeping this line registered/);
      const leases = new SqlRegistrationLeases({ db: s.server.store.db, kind: s.server.store.kind }, 60_000, undefined, 'instance-a');
      assert.equal(await leases.claim(id), true);
      reg = await regs.get(scope, id);
      assert.equal(reg.state, 'registered');
      assert.equal(reg.error, null);
      const stateEvents = events.filter((e) => e.type === 'registration.state' && e.data.registration_id === id);
      assert.deepEqual(stateEvents.map((e) => e.data), [
        { registration_id: id, status: 'active', state: 'registering', error: null },
        { registration_id: id, status: 'active', state: 'failed', error: '408 Request Timeout' },
        { registration_id: id, status: 'active', state: 'registered', error: null },
      ]);
      assert.ok(stateEvents.every((e) => e.tenantId === a.id));

      // Moving on (an edit) makes the old generation stale; giving up makes the current one stale too.
      await s.request('PUT', `/phone-endpoints/${id}`, { key: a.key, body: { username: 'moved-on' } });
      assert.equal(await regs.reportState(id, gen, { state: 'registered' }), false);
      assert.equal(await regs.reportState(id, gen + 1, { state: 'failed', status: 'failed', error: 'gave up' }), true);
      assert.equal(await regs.reportState(id, gen + 1, { state: 'registering' }), false);
      reg = await regs.get(scope, id);
      assert.equal(reg.status, 'failed');
      assert.equal(reg.state, 'failed');
      assert.equal(await regs.reportState('00000000-0000-4000-8000-000000000002', 1, { state: 'registered' }), false);
    });

    test('GET says registered only while an instance keeps the line: not after its lease lapsed or was released', async () => {
      const regs = s.server.services.registrations;
      const t = await s.newTenant();
      const id = await newReg(t, { handler: 'sip' });
      await s.request('POST', `/phone-endpoints/${id}/activate`, { key: t.key });
      const gen = (await regs.get({ tenantId: t.id }, id)).generation;
      let now = Date.now();
      const leases = new SqlRegistrationLeases({ db: s.server.store.db, kind: s.server.store.kind }, 1_000, () => new Date(now), 'instance-crashed');
      assert.equal(await leases.claim(id), true);
      assert.equal(await regs.reportState(id, gen, { state: 'registered', error: null }), true);
      const shown = async () => (await s.request('GET', `/phone-endpoints/${id}`, { key: t.key })).body;
      assert.equal((await shown()).state, 'registered');
      assert.equal((await shown()).error ?? null, null, 'no error to show');

      // The holder was killed: nothing renews the lease, and once it has run out the line is not registered.
      now -= 5_000;
      assert.deepEqual([...(await leases.renew([id]))], [id]); // renewed "5 s ago", so it ran out 4 s ago
      const stale = await shown();
      assert.equal(stale.state, 'registering');
      assert.equal(stale.status, 'active');
      assert.match(stale.error, /^not refreshed since \S+: the instance registering it \(instance-crashed\) stopped renewing its lease/);
      const listed = await s.request('GET', '/phone-endpoints', { key: t.key });
      assert.deepEqual(listed.body.items.map((x: { id: string; state: string }) => [x.id, x.state]), [[id, 'registering']], 'the list says the same');

      // A clean shutdown releases the lease: nobody keeps the line registered either.
      now = Date.now();
      await leases.claim(id);
      assert.equal((await shown()).state, 'registered');
      await leases.release([id]);
      assert.equal((await shown()).state, 'registering');
      assert.match((await shown()).error, /^no running instance is keeping this line registered/);
    });

    test('the engine sees active registrations of every tenant, with passwords and listeners', async () => {
      const regs = s.server.services.registrations;
      const ia = await newReg(a, { password: 'engine-a' });
      const ib = await newReg(b, { password: 'engine-b' });
      const idle = await newReg(a);
      await s.request('POST', `/phone-endpoints/${ia}/activate`, { key: a.key });
      await s.request('POST', `/phone-endpoints/${ib}/activate`, { key: b.key });
      const active = (await regs.listActive()).map((r) => r.id);
      assert.ok(active.includes(ia) && active.includes(ib));
      assert.ok(!active.includes(idle));
      assert.ok((await regs.listActive()).every((r) => r.status === 'active' && !('password' in r)));

      const full = await regs.getForEngine(ib);
      assert.equal(full?.password, 'engine-b');
      assert.equal(full?.tenantId, b.id);

      const agent = await newAgent(b);
      assert.deepEqual(await regs.findListener(ib).then((l) => l?.agentId), null);
      await s.request('POST', `/agents/${agent}/listen`, { key: b.key, body: { id: ib } });
      const l = await regs.findListener(ib);
      assert.equal(l?.agentId, agent);
      assert.equal(l?.registration.id, ib);
      assert.equal(await regs.findListener('00000000-0000-4000-8000-000000000003'), null);
    });
  });

  describe(`registrations with private SIP targets refused (${db})`, () => {
    let s: TestServer;
    let t: Tenant;
    before(async () => {
      s = await startTestServer(db, { config: (c) => { c.sip.allowPrivateTargets = false; } });
      t = await s.newTenant();
    });
    after(async () => { await s.close(); });

    test('a registrar on a loopback or private address is refused, naming the setting', async () => {
      for (const registrar of ['sip:127.0.0.1:5060', 'sip:10.1.2.3', 'sip:user@192.168.1.20;transport=tcp', 'sips:[::1]:5061', 'sip:pbx.localhost']) {
        const r = await s.request('POST', '/phone-endpoints', { key: t.key, body: regBody({ registrar }) });
        assert.equal(r.status, 400, registrar);
        assert.match(r.body.error, /^registrar\b/);
        assert.match(r.body.error, /ALLOW_PRIVATE_SIP_TARGETS/);
      }
      const ok = await s.request('POST', '/phone-endpoints', { key: t.key, body: regBody({ registrar: 'sip:192.0.2.44:5060' }) });
      assert.equal(ok.status, 201);
      const put = await s.request('PUT', `/phone-endpoints/${ok.body.id}`, { key: t.key, body: { registrar: 'sip:172.16.0.9' } });
      assert.equal(put.status, 400);
      assert.match(put.body.error, /ALLOW_PRIVATE_SIP_TARGETS/);
      const list = await s.request('GET', '/phone-endpoints', { key: t.key });
      assert.deepEqual(list.body.items.map((i: { registrar: string }) => i.registrar), ['sip:192.0.2.44:5060']);
    });
  });
}
