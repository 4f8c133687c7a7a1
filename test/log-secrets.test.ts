import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';
import { startTestServer, testDbs, type TestServer } from './helpers/server.js';

for (const db of testDbs()) {
  describe(`credentials never reach the log, at any level (${db})`, () => {
    let s: TestServer;
    let log = '';
    let key = '';
    before(async () => {
      const sink = new Writable({ write(chunk, _enc, done) { log += chunk.toString(); done(); } });
      s = await startTestServer(db, { overrides: { logger: createLogger('trace', sink) } });
      key = (await s.newTenant()).key;
    });
    after(async () => { await s.close(); });

    const ways: Array<[string, (k: string) => { path: string; headers: Record<string, string> }]> = [
      ['Authorization header', (k) => ({ path: '/api/agents', headers: { authorization: `Bearer ${k}` } })],
      ['x-api-key header', (k) => ({ path: '/api/agents', headers: { 'x-api-key': k } })],
      ['?token=', (k) => ({ path: `/api/agents?token=${k}`, headers: {} })],
      ['?accesskey=', (k) => ({ path: `/api/agents?page=1&accesskey=${k}`, headers: {} })],
      ['?%74oken= (name percent-encoded)', (k) => ({ path: `/api/agents?%74oken=${k}`, headers: {} })],
      ['?%61ccess%6Bey= (name percent-encoded)', (k) => ({ path: `/api/agents?%61ccess%6Bey=${k}`, headers: {} })],
      ['?token= with the value percent-encoded', (k) => ({ path: `/api/agents?token=${[...k].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`, headers: {} })],
      ['cookie token', (k) => ({ path: '/api/agents', headers: { cookie: `token=${k}` } })],
      ['cookie accesskey', (k) => ({ path: '/api/agents', headers: { cookie: `theme=dark; accesskey=${k}` } })],
    ];
    for (const [how, make] of ways) {
      test(`passed as ${how}: authenticates, and is not logged`, async () => {
        const before = log.length;
        const { path, headers } = make(key);
        const r = await s.request('GET', path, { key: null, headers });
        assert.equal(r.status, 200, `${how} authenticates`);
        // Also a refused request, which logs an error path.
        await s.request('GET', path.replace('/api/agents', '/api/agents/nope'), { key: null, headers });
        const written = log.slice(before);
        assert.ok(written.length > 0, 'the request was logged');
        assert.equal(written.includes(key), false, `the key appears in the log:\n${written.split('\n').filter((l) => l.includes(key)).join('\n')}`);
        // Nor in an encoded form that decodes back to it.
        const decoded = written.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
        assert.equal(decoded.includes(key), false, 'the key appears percent-encoded in the log');
      });
    }
  });
}
