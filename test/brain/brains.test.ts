import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { OfflineBrain } from '../../src/brain/offline.js';
import { LlmBrain } from '../../src/brain/llm.js';
import type { BrainEvent, BrainInput, TranscriptLine } from '../../src/brain/types.js';
import { FakeLlm } from '../helpers/twilio.js';

const input = (transcript: TranscriptLine[], signal = new AbortController().signal): BrainInput => ({
  systemPrompt: 'Be nice.', greeting: 'Hi', contextData: {}, callContext: {}, model: null, transcript, signal,
});

async function collect(it: AsyncIterable<BrainEvent>): Promise<BrainEvent[]> {
  const out: BrainEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}
const spoken = (events: BrainEvent[]) => events.filter((e) => e.type === 'token').map((e) => (e as { text: string }).text).join('');

describe('offline brain', () => {
  const brain = new OfflineBrain();

  test('says it is offline and repeats what it heard', async () => {
    const ev = await collect(brain.respond(input([{ role: 'caller', text: 'I need a refill' }])));
    assert.match(spoken(ev), /offline assistant/);
    assert.match(spoken(ev), /I need a refill/);
    assert.ok(ev.every((e) => e.type === 'token'));
  });

  test('ends the call on goodbye and transfers when asked', async () => {
    const bye = await collect(brain.respond(input([{ role: 'caller', text: 'OK bye then' }])));
    assert.deepEqual(bye.at(-1), { type: 'end' });
    const tr = await collect(brain.respond(input([{ role: 'caller', text: 'transfer me to +1 555 123 4567 please' }])));
    assert.deepEqual(tr.at(-1), { type: 'transfer', target: '+15551234567' });
    const plain = await collect(brain.respond(input([{ role: 'caller', text: 'the bypass road' }])));
    assert.ok(plain.every((e) => e.type === 'token'), '"bypass" is not a goodbye');
  });

  test('stops when aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    assert.deepEqual(await collect(brain.respond(input([{ role: 'caller', text: 'hello' }], ctl.signal))), []);
  });
});

describe('LLM brain', () => {
  let llm: FakeLlm;
  before(async () => { llm = await FakeLlm.start(); });
  after(async () => { await llm.close(); });

  test('a model that does not finish in time is an error', async () => {
    const brain = new LlmBrain({ baseUrl: llm.baseUrl, apiKey: 'k', model: 'm', timeoutMs: 100 });
    llm.when('take your time', { tokens: ['slow', 'er'], delayMs: 400 });
    await assert.rejects(collect(brain.respond(input([{ role: 'caller', text: 'take your time' }]))), /did not answer in time/);
  });

  test('malformed tool calls are dropped, not acted on', async () => {
    const brain = new LlmBrain({ baseUrl: llm.baseUrl, apiKey: 'k', model: 'm' });
    llm.when('do odd things', { tokens: ['Hm.'], toolCalls: [{ name: 'transfer_call', args: { target: 'the manager' } }, { name: 'send_dtmf', args: { digits: 'abc' } }, { name: 'rm_rf', args: {} }] });
    const ev = await collect(brain.respond(input([{ role: 'caller', text: 'do odd things' }])));
    assert.deepEqual(ev, [{ type: 'token', text: 'Hm.' }]);
  });
});
