/**
 * Operations as whoever runs Dialtone meets them: /readyz (and what is not ready), /metrics
 * behind its token or its own address, the numbers Prometheus reads, and the JSON log: one line
 * per request (probes at debug), one per line state change. SIP ports 19060–19069.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { freePort } from '../helpers/dialtone-process.js';
import { waitFor } from '../interop/peers.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';

const TOKEN = 'metrics-token-0123456789';

function logSink() {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

/** One sample's value from Prometheus text, by metric name and label subset. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

testDbs().forEach((db, i) => {
  describe(`operations on an HTTP-only server (${db})`, () => {
    let s: TestServer;
    const log = logSink();
    before(async () => {
      s = await startTestServer(db, { config: (c) => { c.metrics.token = TOKEN; }, overrides: { logger: log.logger } });
    });
    after(async () => { await s.close(); });

    test('/readyz says what is not ready: no SIP here is 503, the database is ok', async () => {
      const r = await s.request('GET', '/readyz', { key: null });
      assert.equal(r.status, 503);
      assert.equal(r.body.status, 'not_ready');
      assert.equal(r.body.checks.database, 'ok');
      assert.match(r.body.checks.sip, /not started/);
      // Liveness is unchanged.
      const h = await s.request('GET', '/healthz', { key: null });
      assert.equal(h.status, 200);
      assert.equal(h.body.status, 'ok');
    });

    test('/metrics refuses no token, a wrong token and an API key; answers the token', async () => {
      const none = await s.request('GET', '/metrics', { key: null });
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'unauthenticated');
      assert.equal((await s.request('GET', '/metrics', { key: 'metrics-token-0123456788' })).status, 401);
      assert.equal((await s.request('GET', '/metrics', { key: s.adminKey })).status, 401, 'the admin key is not the metrics token');
      assert.equal((await s.request('GET', '/metrics', { key: null, headers: { authorization: TOKEN } })).status, 401, 'Bearer is required');
      const ok = await s.request('GET', '/metrics', { key: TOKEN });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
      for (const name of ['nodejs_eventloop_lag_seconds', 'dialtone_db_pool_connections', 'dialtone_relay_sessions', 'dialtone_database_up']) {
        assert.notEqual(sample(ok.text, name), undefined, `${name} is exported`);
      }
      assert.equal(sample(ok.text, 'dialtone_db_pool_connections', { kind: db, state: 'total' }) !== undefined, true);
    });

    test('lines by state, live calls, and HTTP latency by route pattern', async () => {
      const t = await s.newTenant();
      const made = await s.request('POST', '/phone-endpoints', {
        key: t.key, body: { type: 'phone-registration', registrar: `sip:pbx-metrics-${i}.example.com`, username: 'm1', password: 'pw-m1' },
      });
      assert.equal(made.status, 201);
      await s.request('GET', `/phone-endpoints/${made.body.id}`, { key: t.key });
      await s.server.services.calls.open({ tenantId: t.id }, { direction: 'inbound', fromNumber: '+15550100000', toNumber: '+15550100001', status: 'ringing', handler: 'dialtone', agentId: null } as never);
      const text = (await s.request('GET', '/metrics', { key: TOKEN })).text;
      assert.ok((sample(text, 'dialtone_lines', { status: 'disabled', state: 'initial' }) ?? 0) >= 1, text.split('\n').filter((l) => l.startsWith('dialtone_lines')).join('\n'));
      assert.ok((sample(text, 'dialtone_calls_active', { direction: 'inbound', handler: 'dialtone' }) ?? 0) >= 1);
      assert.ok((sample(text, 'dialtone_calls_started_total', { direction: 'inbound', handler: 'dialtone' }) ?? 0) >= 1);
      assert.equal(sample(text, 'dialtone_http_request_duration_seconds_count', { route: '/phone-endpoints/:id', method: 'GET', status: '200' }), 1);
      assert.equal(text.includes(made.body.id), false, 'no id in any label');
      assert.equal(sample(text, 'dialtone_database_up'), 1);
    });

    test('one JSON log line per request, with route and status; probes only at debug; no key', async () => {
      const t = await s.newTenant();
      const from = log.lines.length;
      await s.request('GET', '/api/agents', { key: t.key });
      await s.request('GET', '/healthz', { key: null });
      await s.request('GET', '/readyz', { key: null });
      await new Promise((r) => setTimeout(r, 50));
      const written = log.lines.slice(from).filter((l) => l.msg === 'request');
      const agents = written.filter((l) => l.route === '/api/agents');
      assert.equal(agents.length, 1, JSON.stringify(written));
      assert.equal(agents[0].level, 30, 'info');
      assert.equal(agents[0].res.statusCode, 200);
      assert.equal(typeof agents[0].responseTime, 'number');
      for (const probe of ['/healthz', '/readyz']) {
        const p = written.filter((l) => l.route === probe);
        assert.equal(p.length, 1);
        assert.equal(p[0].level, 20, `${probe} is logged at debug`);
      }
      assert.equal(JSON.stringify(log.lines.slice(from)).includes(t.key), false);
      assert.equal(log.lines.slice(from).some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), false, "Fastify's own two lines are gone");
    });

    test('a WebSocket upgrade is one request line too (101), its ?token= redacted', async () => {
      const t = await s.newTenant();
      const from = log.lines.length;
      const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/events/ws?token=${t.key}`);
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      ws.close();
      await new Promise((r) => setTimeout(r, 100));
      const lines = log.lines.slice(from).filter((l) => l.msg === 'request' && l.route === '/events/ws');
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0].res.statusCode, 101);
      assert.match(lines[0].req.url, /token=\[redacted\]/);
      assert.equal(JSON.stringify(log.lines.slice(from)).includes(t.key), false);
    });
  });
});

describe('operations with SIP running (sqlite)', () => {
  let s: TestServer;
  const log = logSink();
  let metricsPort = 0;
  before(async () => {
    metricsPort = await freePort();
    s = await startTestServer('sqlite', {
      sip: true,
      config: (c) => { c.sip.port = 19060; c.metrics.listen = { host: '127.0.0.1', port: metricsPort }; },
      overrides: { logger: log.logger },
    });
  });
  after(async () => { await s.close(); });

  test('/readyz is 200 once SIP listens', async () => {
    const r = await s.request('GET', '/readyz', { key: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ready', checks: { database: 'ok', sip: 'ok' } });
  });

  test('METRICS_LISTEN serves /metrics on its own address, and only there', async () => {
    const there = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(there.status, 200);
    assert.match(await there.text(), /dialtone_register_outcomes_total|dialtone_lines/);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/v1.0/agents`)).status, 404, 'nothing else is served there');
    const main = await s.request('GET', '/metrics', { key: null });
    assert.equal(main.status, 404);
    assert.match(main.body.message, /METRICS_LISTEN/);
  });

  test('a REGISTER nobody answers is counted, and the line state change is one log line', async () => {
    const t = await s.newTenant();
    const made = await s.request('POST', '/phone-endpoints', {
      key: t.key, body: { type: 'phone-registration', registrar: 'sip:127.0.0.1:19061;transport=tcp', username: 'u1', password: 'pw-secret-u1' },
    });
    assert.equal(made.status, 201);
    assert.equal((await s.request('POST', `/phone-endpoints/${made.body.id}/activate`, { key: t.key })).status, 200);
    const text = await waitFor('a counted REGISTER outcome', async () => {
      const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return (sample(body, 'dialtone_register_outcomes_total', { outcome: 'no_response' }) ?? 0) >= 1 ? body : null;
    }, 15_000, 100);
    assert.ok((sample(text, 'dialtone_line_state_changes_total', { state: 'registering' }) ?? 0) >= 1);
    const changes = log.lines.filter((l) => l.msg === 'line state changed' && l.registration_id === made.body.id);
    assert.ok(changes.some((l) => l.state === 'registering'), JSON.stringify(changes));
    assert.equal(new Set(changes.map((l) => `${l.state}|${l.error}`)).size, changes.length, 'one line per change');
    assert.equal(JSON.stringify(log.lines).includes('pw-secret-u1'), false, 'the line password is never logged');
  });
});

describe('readiness when the database is gone (sqlite)', () => {
  let s: TestServer;
  before(async () => { s = await startTestServer('sqlite', { sip: true, config: (c) => { c.sip.port = 19062; } }); });
  after(async () => { await s.close().catch(() => undefined); });

  test('/readyz is 503 naming the database; /healthz still answers', async () => {
    assert.equal((await s.request('GET', '/readyz', { key: null })).status, 200);
    await s.server.store.db.destroy();
    const r = await s.request('GET', '/readyz', { key: null });
    assert.equal(r.status, 503);
    assert.equal(r.body.status, 'not_ready');
    assert.match(r.body.checks.database, /^unreachable/);
    assert.equal(r.body.checks.sip, 'ok');
    assert.equal((await s.request('GET', '/healthz', { key: null })).status, 200, 'liveness is not readiness');
  });
});
