import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, redactUrl } from '../src/log.js';

test('credentials in the query string are redacted, other parameters kept', () => {
  assert.equal(redactUrl('/v1.0/agents?token=abc&page_size=5'), '/v1.0/agents?token=[redacted]&page_size=5');
  assert.equal(redactUrl('/x?a=1&accesskey=k3y'), '/x?a=1&accesskey=[redacted]');
  assert.equal(redactUrl('/x?tokens=keep'), '/x?tokens=keep');
});

test('a logged request never carries the token, header or query', () => {
  let out = '';
  const sink = new Writable({ write(chunk, _enc, done) { out += chunk.toString(); done(); } });
  const log = createLogger('info', sink);
  log.info({ req: { method: 'GET', url: '/events/ws?token=s3cr3t-token', host: 'h', ip: '127.0.0.1', headers: { authorization: 'Bearer s3cr3t-token' } } }, 'incoming request');
  assert.match(out, /token=\[redacted\]/);
  assert.doesNotMatch(out, /s3cr3t-token/);
});
