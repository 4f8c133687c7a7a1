import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InFlightWindow, type Answer } from '../../src/registration/window.js';
import { FakeClock, flush } from './fakes.js';

/** A job the test finishes by hand, and how many ran at most at once. */
function harness(window: InFlightWindow) {
  const open: Array<() => void> = [];
  let peak = 0;
  let live = 0;
  const start = (answer: Answer = 'prompt') => window.run(async () => {
    live++;
    peak = Math.max(peak, live);
    await new Promise<void>((r) => open.push(r));
    live--;
  }, () => answer);
  return { open, start, peak: () => peak };
}

test('never more jobs in flight than the window, and the rest run as slots free up', async () => {
  const w = new InFlightWindow(new FakeClock(), { initial: 4, min: 1, max: 4 });
  const h = harness(w);
  const all = Array.from({ length: 20 }, () => h.start());
  await flush();
  assert.equal(w.inFlight, 4);
  assert.equal(w.queued, 16);
  while (h.open.length) {
    h.open.shift()!();
    await flush();
  }
  await Promise.all(all);
  assert.equal(h.peak(), 4);
  assert.equal(w.inFlight, 0);
});

test('prompt answers grow the window by one each (slow start) up to its maximum', async () => {
  const w = new InFlightWindow(new FakeClock(), { initial: 2, min: 1, max: 10 });
  const h = harness(w);
  const all = Array.from({ length: 30 }, () => h.start());
  for (let i = 0; i < 30; i++) {
    await flush();
    h.open.shift()?.();
  }
  await Promise.all(all);
  assert.equal(w.size, 10);
  assert.ok(h.peak() > 2 && h.peak() <= 10, `peak ${h.peak()}`);
});

test('a congested answer halves the window once per burst, then growth is one per window', async () => {
  const clock = new FakeClock();
  const w = new InFlightWindow(clock, { initial: 16, min: 2, max: 64 }, 500);
  const h = harness(w);
  const burst = Array.from({ length: 3 }, () => h.start('congested'));
  await flush();
  for (const done of h.open.splice(0)) done();
  await Promise.all(burst);
  assert.equal(w.size, 8, 'three late answers of one burst cut once');
  await clock.advance(600);
  const again = h.start('congested');
  await flush();
  h.open.shift()!();
  await again;
  assert.equal(w.size, 4);
  // Congestion avoidance: a window's worth of prompt answers (here five) adds one slot, not five.
  for (let i = 0; i < 5; i++) {
    const p = h.start('prompt');
    await flush();
    h.open.shift()!();
    await p;
  }
  assert.equal(w.size, 5);
});

test('the window never shrinks below its minimum and a failing job still frees its slot', async () => {
  const clock = new FakeClock();
  const w = new InFlightWindow(clock, { initial: 4, min: 2, max: 8 }, 0);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(w.run(async () => { throw new Error('timeout'); }, () => 'congested'), /timeout/);
    await clock.advance(1);
  }
  assert.equal(w.size, 2);
  assert.equal(w.inFlight, 0);
});
