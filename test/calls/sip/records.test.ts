import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Call, StatusChange } from '../../../src/domain/calls.js';
import { CallRecords, type StatusWriter } from '../../../src/calls/sip/records.js';

/** A writer that remembers each batch and answers as the service would (a call per change, or an error). */
function writer(fail?: (sid: string) => Error | undefined): StatusWriter & { batches: string[][] } {
  const batches: string[][] = [];
  return {
    batches,
    async updateStatuses(changes: { callSid: string; change: StatusChange }[]) {
      batches.push(changes.map((c) => `${c.callSid}:${c.change.status}`));
      return changes.map((c) => fail?.(c.callSid) ?? ({ callSid: c.callSid, status: c.change.status } as unknown as Call));
    },
  };
}

describe('CallRecords (batched SIP call status writes)', () => {
  it('writes the changes asked for within the window in one batch, in order, each answered with its own row', async () => {
    const w = writer();
    const records = new CallRecords(w, 20);
    const a = records.update('CA1', { status: 'in-progress' });
    const b = records.update('CA2', { status: 'in-progress' });
    const c = records.update('CA1', { status: 'completed' });
    assert.equal(w.batches.length, 0, 'nothing is written before the window closes');
    assert.equal((await c).status, 'completed');
    assert.equal((await a).status, 'in-progress');
    assert.equal((await b).callSid, 'CA2');
    assert.deepEqual(w.batches, [['CA1:in-progress', 'CA2:in-progress', 'CA1:completed']]);
  });

  it('a failed change rejects only its own caller; a failed batch rejects all of its callers', async () => {
    const w = writer((sid) => (sid === 'CAbad' ? new Error('call not found') : undefined));
    const records = new CallRecords(w, 5);
    const good = records.update('CAgood', { status: 'completed' });
    const bad = records.update('CAbad', { status: 'completed' });
    await assert.rejects(bad, /call not found/);
    assert.equal((await good).status, 'completed');

    const broken = new CallRecords({ updateStatuses: async () => { throw new Error('database is gone'); } }, 5);
    await assert.rejects(broken.update('CA1', { status: 'completed' }), /database is gone/);
  });

  it('flush writes at once and waits for earlier batches, so shutdown finds every end recorded', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const order: string[] = [];
    const slow: StatusWriter = {
      async updateStatuses(changes) {
        if (changes[0]!.callSid === 'CA1') await gate;
        order.push(changes.map((c) => c.callSid).join());
        return changes.map((c) => ({ callSid: c.callSid } as unknown as Call));
      },
    };
    const records = new CallRecords(slow, 60_000);
    const first = records.update('CA1', { status: 'completed' });
    void records.flush();
    const second = records.update('CA2', { status: 'completed' });
    const flushed = records.flush();
    setTimeout(release, 20);
    await flushed;
    assert.deepEqual(order, ['CA1', 'CA2'], 'a later batch never commits before an earlier one');
    await Promise.all([first, second]);
  });
});
