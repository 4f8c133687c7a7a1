import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { createPgDatabase, startTestServer, type TestServer } from '../helpers/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, newCallSid, postTwilio, RelayClient, ringAgent, twilioAccount, twimlAttrs, twimlParameters, type TwilioAccount } from '../helpers/twilio.js';
import { DialtoneProcess, freePort } from '../helpers/dialtone-process.js';
import { dropRedisPrefix, REDIS_URL } from '../helpers/redis.js';

/** Short, so a dead instance's calls end within the test's patience. */
const LEASE_MS = 1_000;
/** The default per-credential burst limit, which the instances must count together. */
const PER_MINUTE = 50;
/** SIP port of the spawned instance: inside this suite's assigned range (19200–19499). */
const SPAWNED_SIP_PORT = 19480;

/** Deletes every Redis key under the prefix (rate-limit counters); channels leave nothing behind. */
describe('two instances on one PostgreSQL database and Redis', () => {
  const prefix = `dialtone-test-${randomBytes(4).toString('hex')}:`;
  const masterKey = randomBytes(32).toString('base64');
  let pg: Awaited<ReturnType<typeof createPgDatabase>>;
  let a: TestServer;
  let b: TestServer;
  let acct: TwilioAccount;
  before(async () => {
    pg = await createPgDatabase();
    const cluster = (id: string) => (c: TestServer['config']) => {
      c.redisUrl = REDIS_URL;
      c.redisPrefix = prefix;
      c.instanceId = id;
      c.masterKey = masterKey;
      c.clusterAskTimeoutMs = 1_000;
      c.instanceLeaseMs = LEASE_MS;
      c.rateLimit = { perMinute: PER_MINUTE, perHour: 1_000_000 };
    };
    // One after the other: both would run the migrations on the same database.
    a = await startTestServer('postgres', { databaseUrl: pg.url, config: cluster('a') });
    b = await startTestServer('postgres', { databaseUrl: pg.url, config: cluster('b') });
    acct = await twilioAccount(a);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await pg?.drop();
    await dropRedisPrefix(prefix);
  });

  const postTo = (s: TestServer, path: string, body: unknown) => s.request('POST', path, { key: acct.key, body });

  test('supervisor text, DTMF and end sent to the other instance reach the call held here', async () => {
    const { callSid, client } = await ringAgent(a, acct);
    assert.ok(a.server.runtime.sessions.get(callSid), 'the session lives on a');
    assert.equal(b.server.runtime.sessions.get(callSid), undefined, 'and not on b');

    const text = await postTo(b, '/api/override/text', { call_sid: callSid, text: 'Relayed through b.' });
    assert.equal(text.status, 200, text.text);
    await client.waitFor((f) => f.type === 'text' && f.token === 'Relayed through b.');
    const dtmf = await postTo(b, '/api/override/dtmf', { call_sid: callSid, digit: '42#' });
    assert.equal(dtmf.status, 200, dtmf.text);
    const d = await client.waitFor((f) => f.type === 'sendDigits');
    assert.equal(client.received[d].digits, '42#');

    // Context goes through the shared table and the bus: the session on a follows it.
    const ctx = await b.request('PUT', `/api/calls/${callSid}/context`, { key: acct.key, body: { context: { order: 'A-17' } } });
    assert.equal(ctx.status, 200, ctx.text);
    const call = await eventually(() => a.server.services.calls.findBySid(callSid), (c) => (c?.context as Record<string, unknown>)?.order === 'A-17');
    assert.equal((call?.context as Record<string, unknown>).order, 'A-17');

    const end = await postTo(b, '/api/override/end', { call_sid: callSid });
    assert.equal(end.status, 200, end.text);
    await client.waitFor((f) => f.type === 'end');
    await client.close();
    const ended = await eventually(() => b.server.services.calls.findBySid(callSid), (c) => c?.status === 'completed');
    assert.equal(ended?.endReason, 'ended by supervisor');
    const again = await postTo(b, '/api/override/text', { call_sid: callSid, text: 'anyone?' });
    assert.equal(again.status, 404);
  });

  test('a live call no instance holds is 404 on either, without waiting out the timeout', async () => {
    // Ringing: the call row is live, but no relay socket was opened anywhere.
    const ringing = newCallSid();
    await postTwilio(a, '/twilio/voice', { AccountSid: acct.accountSid, CallSid: ringing, From: '+15550003333', To: acct.number }, acct.authToken);
    const started = Date.now();
    const r = await postTo(b, '/api/override/end', { call_sid: ringing });
    assert.equal(r.status, 404, r.text);
    assert.ok(Date.now() - started < 900, `answered in ${Date.now() - started} ms: every instance declined`);
    assert.equal((await postTo(b, '/api/override/text', { call_sid: newCallSid(), text: 'hi' })).status, 404);
  });

  test("another tenant's live call is 404 through the other instance and nothing reaches its caller", async () => {
    const other = await twilioAccount(a);
    const { callSid, client } = await ringAgent(a, other);
    const r = await postTo(b, '/api/override/text', { call_sid: callSid, text: 'not yours' });
    assert.equal(r.status, 404);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(client.received.length, 0);
    await client.close();
  });

  test('a key deleted on one instance is refused on the other within 1 s', async () => {
    const t = await a.newTenant();
    const scope = { tenantId: t.id };
    const { key, token } = await a.server.services.keys.mintAccessKey(scope, { name: 'doomed', detail: 'deleted on a' });
    // b has resolved the key, so it sits in b's cache.
    assert.equal((await b.request('GET', '/api/calls/active', { key: token })).status, 200);
    await a.server.services.keys.deleteAccessKey(scope, key.id);
    const deleted = Date.now();
    let status = 200;
    while (Date.now() - deleted < 1_000) {
      status = (await b.request('GET', '/api/calls/active', { key: token })).status;
      if (status === 401) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(status, 401, 'b still accepted the deleted key after 1 s');
  });

  test('kill -9 of the instance holding a relay call: the others end it as instance_lost within the lease', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-cluster-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const c = new DialtoneProcess({
      DATABASE_URL: pg.url, REDIS_URL, REDIS_PREFIX: prefix, INSTANCE_ID: 'c', MASTER_KEY: masterKey,
      ADMIN_API_KEY: `admin-${randomBytes(12).toString('hex')}`, HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: base,
      SIP_HOST: '127.0.0.1', SIP_PUBLIC_HOST: '127.0.0.1', SIP_PORT: String(SPAWNED_SIP_PORT), RTP_PORT_MIN: '48900', RTP_PORT_MAX: '48999',
      INSTANCE_LEASE_MS: String(LEASE_MS), DATA_DIR: dataDir, LOG_LEVEL: 'warn',
    });
    try {
      await c.start();
      // The webhook reaches a; the relay socket reaches c, which then holds the call.
      const callSid = newCallSid();
      const voice = await postTwilio(a, '/twilio/voice', { AccountSid: acct.accountSid, CallSid: callSid, From: '+15550001111', To: acct.number, CallStatus: 'ringing', Direction: 'inbound' }, acct.authToken);
      assert.equal(voice.status, 200, voice.text);
      const relayUrl = new URL(twimlAttrs(voice.text, 'ConversationRelay')!.url);
      const onC = `ws://127.0.0.1:${port}${relayUrl.pathname}${relayUrl.search}`;
      const client = await RelayClient.connect(onC, acct.authToken);
      client.setup(callSid, { accountSid: acct.accountSid, from: '+15550001111', to: acct.number, customParameters: twimlParameters(voice.text) });
      const row = () => a.server.store.db.selectFrom('calls').select(['owner_instance', 'status']).where('call_sid', '=', callSid).executeTakeFirst();
      const held = await eventually(row, (r) => r?.owner_instance === 'c' && r.status === 'in-progress', 5_000);
      assert.equal(held?.owner_instance, 'c', 'the call is recorded as held by c');
      // c registers the session right after marking the call in progress.
      await new Promise((r) => setTimeout(r, 100));

      const text = await postTo(b, '/api/override/text', { call_sid: callSid, text: 'From b to c.' });
      assert.equal(text.status, 200, text.text);
      await client.waitFor((f) => f.type === 'text' && f.token === 'From b to c.');

      await c.kill('SIGKILL');
      const killed = Date.now();
      const ended = await eventually(() => a.server.services.calls.findBySid(callSid), (x) => x?.status !== 'in-progress' && x?.status !== 'ringing', LEASE_MS * 3);
      const took = Date.now() - killed;
      assert.equal(ended?.endReason, 'instance_lost', `after ${took} ms the call is ${ended?.status}`);
      assert.equal(ended?.status, 'completed', 'it had been answered');
      assert.ok(took <= LEASE_MS * 1.5 + 500, `ended ${took} ms after the kill`);
      const end = await postTo(a, '/api/override/end', { call_sid: callSid });
      assert.equal(end.status, 404, 'nobody holds it any more');
      await client.close();
    } finally {
      await c.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('the per-minute limit of a key is counted across instances', async () => {
    const t = await a.newTenant();
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE; i++) statuses.push((await (i % 2 ? b : a).request('GET', '/api/calls/active', { key: t.key })).status);
    assert.deepEqual([...new Set(statuses)], [200], 'the first 50, half on each, pass');
    const onA = await a.request('GET', '/api/calls/active', { key: t.key });
    const onB = await b.request('GET', '/api/calls/active', { key: t.key });
    assert.equal(onA.status, 429);
    assert.equal(onB.status, 429);
    assert.match(onB.body.message, /50 requests per minute/);
  });

  test('the 10 event sockets of a key are counted across instances, and a closed one frees its place on the other', async () => {
    const t = await a.newTenant();
    const open = (s: TestServer) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/events/ws?token=${t.key}`);
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
    const status = (p: Promise<WebSocket>) => p.then((ws) => { ws.close(); return 101; }, (err: { status?: number }) => err.status ?? -1);
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 10; i++) sockets.push(await open(i < 5 ? a : b));
    assert.equal(await status(open(a)), 429, 'an eleventh on a');
    assert.equal(await status(open(b)), 429, 'an eleventh on b');
    const closed = new Promise((r) => sockets[0].once('close', r));
    sockets[0].close();
    await closed;
    const again = await eventually(() => status(open(b)), (s) => s === 101, 2_000);
    assert.equal(again, 101, 'the place a closed socket on a held is free on b');
    for (const ws of sockets.slice(1)) ws.close();
  });
});
