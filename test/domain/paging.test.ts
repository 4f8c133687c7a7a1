import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/domain/errors.js';
import { atCreation, compareKeysets, decodePageToken, encodePageToken, keysetPage, offsetOf, pageByCreation, pageSizeOf } from '../../src/domain/paging.js';

const rejects = (fn: () => unknown, field: string) =>
  assert.throws(fn, (e: unknown) => e instanceof DomainError && e.kind === 'invalid' && e.field === field);

test('a page token round-trips and stays opaque base64url', () => {
  const token = encodePageToken({ createdAt: '2026-01-01T00:00:00.000Z', id: 'r1' });
  assert.match(token, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodePageToken(token), { createdAt: '2026-01-01T00:00:00.000Z', id: 'r1' });
});

test('tokens this API did not hand out are refused as invalid page_token', () => {
  for (const bad of ['not-base64-json', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["a"]').toString('base64url'), Buffer.from('{}').toString('base64url')]) {
    rejects(() => decodePageToken(bad), 'page_token');
  }
});

test('page sizes default, and out-of-range or fractional sizes are refused', () => {
  const limits = { default: 50, max: 200 };
  assert.equal(pageSizeOf(undefined, limits), 50);
  assert.equal(pageSizeOf(200, limits), 200);
  for (const bad of [0, -1, 201, 1.5, Number.NaN]) rejects(() => pageSizeOf(bad, limits), 'page_size');
});

test('keysetPage says another page follows only when a row past the page was fetched', () => {
  const rows = [{ createdAt: 'a', id: '1' }, { createdAt: 'a', id: '2' }, { createdAt: 'b', id: '1' }];
  const full = keysetPage(rows, 2, (r) => r);
  assert.deepEqual(full.items, rows.slice(0, 2));
  assert.deepEqual(decodePageToken(full.nextPageToken!), { createdAt: 'a', id: '2' });
  assert.equal(keysetPage(rows, 3, (r) => r).nextPageToken, null);
});

test('keysets order by creation time, then id; atCreation sorts before every id of that instant', () => {
  assert.ok(compareKeysets({ createdAt: 'a', id: 'z' }, { createdAt: 'b', id: 'a' }) < 0);
  assert.ok(compareKeysets({ createdAt: 'a', id: 'b' }, { createdAt: 'a', id: 'a' }) > 0);
  assert.ok(compareKeysets(atCreation('a'), { createdAt: 'a', id: '0' }) < 0);
});

test('pageByCreation keeps rows sharing the boundary instant on one page', async () => {
  const rows = [{ createdAt: 'c' }, { createdAt: 'b' }, { createdAt: 'b' }, { createdAt: 'a' }];
  const page = await pageByCreation(2, async (limit) => rows.slice(0, limit));
  assert.equal(page.items.length, 3);
  assert.equal(page.next, 'b');
  assert.equal((await pageByCreation(4, async (limit) => rows.slice(0, limit))).next, null);
});

test('an offset is a whole number of rows to skip; negative or fractional ones are refused', () => {
  assert.equal(offsetOf(0), 0);
  assert.equal(offsetOf(25), 25);
  for (const bad of [-1, 0.5, Number.NaN]) rejects(() => offsetOf(bad), 'offset');
  rejects(() => pageSizeOf(1001, { default: 100, max: 1000 }, 'limit'), 'limit');
});
