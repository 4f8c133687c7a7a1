import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedWindowStore } from '../../src/http/bounded-window-store.js';

const MINUTE = 60_000;

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

test('52,000 distinct credentials do not push out a throttled one, and memory stays at the bound', () => {
  const c = clock();
  const store = new BoundedWindowStore(50_000, c.now);
  for (let i = 0; i < 6; i++) store.hit('victim-of-its-own-flood', MINUTE, 5);
  assert.ok(store.hit('victim-of-its-own-flood', MINUTE, 5).count > 5);
  for (let i = 0; i < 52_000; i++) store.hit(`k${i}`, MINUTE, 5);
  assert.ok(store.size <= 50_000, `holds ${store.size}`);
  const after = store.hit('victim-of-its-own-flood', MINUTE, 5);
  assert.equal(after.count, 8, 'still counted in the same window, so still over 5');
  assert.ok(after.ttlMs > 0 && after.ttlMs <= MINUTE);
});

test('a throttled identity is released when its window ends, not before', () => {
  const c = clock();
  const store = new BoundedWindowStore(3, c.now);
  for (let i = 0; i < 3; i++) store.hit('a', MINUTE, 2);
  c.advance(MINUTE - 1);
  assert.equal(store.hit('a', MINUTE, 2).count, 4);
  c.advance(1);
  assert.equal(store.hit('a', MINUTE, 2).count, 1);
});

test('when every slot is throttled, newcomers share one counter and are limited together', () => {
  const c = clock();
  const store = new BoundedWindowStore(2, c.now);
  for (const k of ['a', 'b']) for (let i = 0; i < 3; i++) store.hit(k, MINUTE, 2);
  const counts = ['x', 'y', 'z'].map((k) => store.hit(k, MINUTE, 2).count);
  assert.deepEqual(counts, [1, 2, 3]);
  assert.equal(store.size, 2);
  assert.equal(store.hit('a', MINUTE, 2).count, 4, 'the throttled ones are untouched');
  // Once a throttled window ends its slot is reused.
  c.advance(MINUTE);
  assert.equal(store.hit('x', MINUTE, 2).count, 1);
});

test('the least recently seen identity below its limit is the one forgotten', () => {
  const c = clock();
  const store = new BoundedWindowStore(2, c.now);
  store.hit('old', MINUTE, 10);
  store.hit('recent', MINUTE, 10);
  store.hit('old', MINUTE, 10);
  store.hit('new', MINUTE, 10);
  assert.equal(store.hit('old', MINUTE, 10).count, 3);
  assert.equal(store.hit('recent', MINUTE, 10).count, 1, 'recent was least recently seen and started over');
});

test('a capacity that is not a positive integer is refused', () => {
  assert.throws(() => new BoundedWindowStore(0), /positive integer/);
});
