import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import type { DomainEvent, EventPayloads, EventType } from '../../src/events/catalog.js';

interface Client {
  ws: WebSocket;
  received: any[];
  /** The next message not yet taken, waiting up to `ms`. */
  next(ms?: number): Promise<any>;
  close(): Promise<void>;
}

function wsUrl(s: TestServer, query = ''): string {
  return `${s.url.replace(/^http/, 'ws')}/events/ws${query}`;
}

/** Opens the socket, or rejects with the HTTP status the upgrade was refused with. */
function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const received: any[] = [];
    const waiters: Array<(m: any) => void> = [];
    let taken = 0;
    ws.on('message', (raw) => {
      received.push(JSON.parse(String(raw)));
      waiters.shift()?.(undefined);
    });
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => resolve({
      ws, received,
      async next(ms = 2000) {
        while (received.length <= taken) {
          await new Promise<void>((res, rej) => {
            const timer = setTimeout(() => rej(new Error('no event arrived')), ms);
            waiters.push(() => { clearTimeout(timer); res(); });
          });
        }
        return received[taken++];
      },
      close: () => new Promise<void>((res) => {
        if (ws.readyState === WebSocket.CLOSED) return res();
        ws.once('close', () => res());
        ws.close();
      }),
    }));
  });
}

async function refusedWith(p: Promise<Client>): Promise<number> {
  try {
    const c = await p;
    await c.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

/**
 * An event of `type` with only the payload fields the stream is checked for: the socket must pass
 * on what it is given, so the tests may send less than a publisher would (hence the cast).
 */
function ev<T extends EventType>(type: T, tenantId: string, callSid: string | undefined, data: Partial<EventPayloads[T]> = {}): DomainEvent {
  return { type, tenantId, callSid, timestamp: new Date().toISOString(), data } as unknown as DomainEvent;
}

for (const db of testDbs()) {
  describe(`events WebSocket (${db})`, () => {
    let s: TestServer;
    let t: { id: string; key: string };
    let other: { id: string; key: string };
    before(async () => {
      s = await startTestServer(db);
      t = await s.newTenant();
      other = await s.newTenant();
    });
    after(async () => { await s.close(); });

    const publish = (e: DomainEvent) => s.server.bus.publish(e);

    test('an upgrade without a valid key is refused with 401', async () => {
      assert.equal(await refusedWith(connect(wsUrl(s))), 401);
      assert.equal(await refusedWith(connect(wsUrl(s, '?token=dtk_not_a_key'))), 401);
      assert.equal(await refusedWith(connect(wsUrl(s), { authorization: 'Bearer nope' })), 401);
    });

    test('the key is accepted as ?token=, Authorization, x-api-key or cookie', async () => {
      const clients = await Promise.all([
        connect(wsUrl(s, `?token=${t.key}`)),
        connect(wsUrl(s), { authorization: `Bearer ${t.key}` }),
        connect(wsUrl(s), { 'x-api-key': t.key }),
        connect(wsUrl(s), { cookie: `token=${t.key}` }),
      ]);
      await publish(ev('call.started', t.id, 'CAauth', { status: 'ringing' }));
      for (const c of clients) assert.equal((await c.next()).call_sid, 'CAauth');
      await Promise.all(clients.map((c) => c.close()));
    });

    test('events of my tenant arrive as {type, call_sid, timestamp, data}; other tenants\' and non-call events never do', async () => {
      const c = await connect(wsUrl(s, `?token=${t.key}`));
      await publish(ev('call.started', other.id, 'CAforeign', { status: 'ringing' }));
      await publish(ev('agent.created', t.id, undefined, { agent_id: 'x' }));
      await publish(ev('call.started', t.id, 'CAmine', { status: 'ringing' }));
      const started = await c.next();
      assert.deepEqual(Object.keys(started).sort(), ['call_sid', 'data', 'timestamp', 'type']);
      assert.equal(started.type, 'call.started');
      assert.equal(started.call_sid, 'CAmine');
      assert.deepEqual(started.data, { status: 'ringing' });
      assert.ok(!Number.isNaN(Date.parse(started.timestamp)));

      await publish(ev('transcript.partial', t.id, 'CAmine', { text: 'I need hel' }));
      await publish(ev('transcript.final', other.id, 'CAforeign', { role: 'caller', text: 'secret' }));
      await publish(ev('transcript.final', t.id, 'CAmine', { role: 'caller', text: 'I need help', interrupted: false }));
      await publish(ev('context.updated', t.id, 'CAmine', { context: { a: 1 } }));
      await publish(ev('error', t.id, 'CAmine', { message: 'LLM timed out' }));
      await publish(ev('call.updated', t.id, 'CAmine', { status: 'in-progress' }));
      await publish(ev('call.ended', t.id, 'CAmine', { status: 'completed', duration: 42 }));
      const partial = await c.next();
      assert.equal(partial.type, 'transcript.partial');
      assert.equal(partial.text, 'I need hel');
      const final = await c.next();
      assert.equal(final.type, 'transcript.final');
      assert.equal(final.text, 'I need help');
      assert.equal(final.data.role, 'caller');
      assert.equal((await c.next()).type, 'context.updated');
      assert.equal((await c.next()).data.message, 'LLM timed out');
      assert.equal((await c.next()).type, 'call.updated');
      const ended = await c.next();
      assert.equal(ended.type, 'call.ended');
      assert.equal(ended.duration, 42);
      assert.ok(c.received.every((m) => m.call_sid === 'CAmine'));
      await c.close();
    });

    test('events the services publish reach the socket', async () => {
      const c = await connect(wsUrl(s, `?token=${t.key}`));
      const calls = s.server.services.calls;
      const call = await calls.open({ tenantId: t.id }, { agentId: null, phoneNumber: null, direction: 'inbound', fromNumber: '+15559990000', toNumber: '+15551230000', status: 'ringing' });
      await calls.mergeContext({ tenantId: t.id }, call.callSid, { vip: true });
      await calls.updateStatus(call.callSid, { status: 'completed', durationSeconds: 12 });
      assert.deepEqual([await c.next(), await c.next(), await c.next()].map((m) => [m.type, m.call_sid]), [
        ['call.started', call.callSid], ['context.updated', call.callSid], ['call.ended', call.callSid],
      ]);
      assert.equal(c.received[2].duration, 12);
      await c.close();
    });

    test('a line\'s state changes arrive as registration.updated with state and error; its settings changes do not', async () => {
      const c = await connect(wsUrl(s, `?token=${t.key}`));
      const scope = { tenantId: t.id };
      const line = await s.server.services.registrations.create(scope, { registrar: 'sip:pbx-events.example.com', username: 'ev1', password: 'pw-ev1' });
      await s.server.services.registrations.activate(scope, line.id);
      await publish(ev('registration.updated', t.id, undefined, { registration_id: line.id, generation: 2 }));
      await publish(ev('registration.state', other.id, undefined, { registration_id: 'foreign', status: 'active', state: 'registered', error: null }));
      await publish(ev('registration.state', t.id, undefined, { registration_id: line.id, status: 'active', state: 'failed', error: 'registrar answered 503 Service Unavailable' }));
      const m = await c.next();
      assert.deepEqual({ type: m.type, call_sid: m.call_sid, data: m.data }, {
        type: 'registration.updated', call_sid: null,
        data: { registration_id: line.id, status: 'active', state: 'failed', error: 'registrar answered 503 Service Unavailable' },
      });
      assert.ok(!Number.isNaN(Date.parse(m.timestamp)));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.received.length, 1, `only the one state change: ${JSON.stringify(c.received)}`);
      assert.equal(JSON.stringify(c.received).includes('pw-ev1'), false);
      await c.close();
      // One call's stream carries no line events.
      const one = await connect(wsUrl(s, `?token=${t.key}&call_sid=CAline`));
      await publish(ev('registration.state', t.id, undefined, { registration_id: line.id, status: 'active', state: 'registered', error: null }));
      await publish(ev('call.started', t.id, 'CAline'));
      assert.equal((await one.next()).type, 'call.started');
      assert.equal(one.received.length, 1);
      await one.close();
    });

    test('?call_sid= narrows the stream to one call', async () => {
      const c = await connect(wsUrl(s, `?token=${t.key}&call_sid=CAone`));
      await publish(ev('call.started', t.id, 'CAtwo'));
      await publish(ev('transcript.partial', t.id, 'CAtwo', { text: 'no' }));
      await publish(ev('call.started', t.id, 'CAone'));
      const first = await c.next();
      assert.equal(first.call_sid, 'CAone');
      assert.equal(c.received.length, 1);
      await c.close();
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${t.key}&call_sid=${'C'.repeat(65)}`))), 400);
    });

    test('the platform admin watches a tenant through X-Account-ID or ?tenant_id=', async () => {
      const byHeader = await connect(wsUrl(s), { authorization: `Bearer ${s.adminKey}`, 'x-account-id': t.id });
      const byQuery = await connect(wsUrl(s, `?token=${s.adminKey}&tenant_id=${t.id}`));
      await publish(ev('call.started', other.id, 'CAother'));
      await publish(ev('call.started', t.id, 'CAadmin'));
      assert.equal((await byHeader.next()).call_sid, 'CAadmin');
      assert.equal((await byQuery.next()).call_sid, 'CAadmin');
      await Promise.all([byHeader.close(), byQuery.close()]);
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${s.adminKey}`))), 400);
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${s.adminKey}&tenant_id=nope`))), 404);
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${t.key}&tenant_id=${other.id}`))), 404);
    });

    test('at most 10 connections per key; closing one frees a slot; other keys are unaffected', async () => {
      const k = await s.newTenant();
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(wsUrl(s, `?token=${k.key}`))));
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${k.key}`))), 429);
      const { token: secondKey } = await s.server.services.keys.mintAccessKey({ tenantId: k.id }, { name: 'second', detail: '' });
      const another = await connect(wsUrl(s, `?token=${secondKey}`));
      await clients[0].close();
      // The server sees the close shortly after the client does.
      let replacement: Client | null = null;
      for (let i = 0; i < 50 && !replacement; i++) {
        replacement = await connect(wsUrl(s, `?token=${k.key}`)).catch(async () => { await new Promise((r) => setTimeout(r, 20)); return null; });
      }
      assert.ok(replacement, 'a slot frees up once a socket closes');
      await publish(ev('call.started', k.id, 'CAlimit'));
      assert.equal((await replacement.next()).call_sid, 'CAlimit');
      await Promise.all([...clients.slice(1), another, replacement].map((c) => c.close()));
    });

    test('the 10 connections are per agent: a second login of the same agent gets no more; another agent does', async () => {
      const k = await s.newTenant();
      const scope = { tenantId: k.id };
      const mgr = await s.server.services.agents.create(scope, { name: 'Watcher', username: `watch-${s.db}-${k.id}` });
      const peer = await s.server.services.agents.create(scope, { name: 'Peer', username: `peer-${s.db}-${k.id}` });
      const first = await s.server.services.keys.mintLoginToken(scope, mgr.id, 64, 'watch');
      const second = await s.server.services.keys.mintLoginToken(scope, mgr.id, 64, 'watch');
      const peerToken = await s.server.services.keys.mintLoginToken(scope, peer.id, 64, 'peer');
      const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(wsUrl(s, `?token=${i % 2 ? first : second}`))));
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${first}`))), 429);
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${second}`))), 429);
      const third = await s.server.services.keys.mintLoginToken(scope, mgr.id, 64, 'watch');
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${third}`))), 429, 'a fresh login is not 10 more sockets');
      const other = await connect(wsUrl(s, `?token=${peerToken}`));
      await Promise.all([...clients, other].map((c) => c.close()));
      const plain = await s.server.services.keys.mintLoginToken(scope, peer.id, 0, 'peer');
      assert.equal(await refusedWith(connect(wsUrl(s, `?token=${plain}`))), 403, "a plain agent may not watch the tenant's calls");
    });
  });
}

describe('events WebSocket across instances (Redis)', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const redis = (c: { redisUrl: string | null }) => { c.redisUrl = process.env.DIALTONE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'; };
    a = await startTestServer('sqlite', { config: redis });
    b = await startTestServer('sqlite', { config: redis });
  });
  after(async () => { await Promise.all([a.close(), b.close()]); });

  test('an event published on one server reaches a socket connected to another', async () => {
    const t = await b.newTenant();
    const c = await connect(wsUrl(b, `?token=${t.key}`));
    // Publishing through b's bus waits for b's Redis subscription to be in place.
    await b.server.bus.publish(ev('call.started', 'nobody', 'CAwarmup'));
    await a.server.bus.publish(ev('call.started', 'another-tenant', 'CAelsewhere'));
    await a.server.bus.publish(ev('transcript.final', t.id, 'CAfanout', { role: 'caller', text: 'hello from a' }));
    const m = await c.next(5000);
    assert.equal(m.type, 'transcript.final');
    assert.equal(m.call_sid, 'CAfanout');
    assert.equal(m.text, 'hello from a');
    assert.equal(c.received.length, 1);
    await c.close();
  });
});
