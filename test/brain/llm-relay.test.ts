import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { FakeLlm, eventually, ringAgent, twilioAccount, type TwilioAccount } from '../helpers/twilio.js';
import type { DomainEvent } from '../../src/events/bus.js';

for (const db of testDbs()) {
  describe(`relay calls answered by an OpenAI-compatible LLM (${db})`, () => {
    let s: TestServer;
    let llm: FakeLlm;
    let a: TwilioAccount;
    const events: DomainEvent[] = [];
    before(async () => {
      llm = await FakeLlm.start();
      s = await startTestServer(db, { config: (c) => { c.llm = { baseUrl: llm.baseUrl, apiKey: 'sk-test-123', model: 'house-model' }; } });
      s.server.bus.subscribe((e) => events.push(e));
      a = await twilioAccount(s, { agent: { systemPrompt: 'You are Ava of Acme Dental.', contextData: { clinic_hours: '9-5' } } });
    });
    after(async () => {
      await s.close();
      await llm.close();
    });

    test('replies stream token by token; the prompt carries the agent, its data, the call context and the transcript', async () => {
      const { callSid, client } = await ringAgent(s, a);
      await s.server.services.calls.mergeContext({ tenantId: a.tenantId }, callSid, { customer: 'Jane' });
      llm.when('When do you open?', { tokens: ['We ', 'open ', 'at ', 'nine.'] });
      client.prompt('When do you open?');
      const r = await client.reply(0);
      assert.deepEqual(r.tokens, ['We ', 'open ', 'at ', 'nine.']);
      const req = llm.requests.at(-1)!;
      assert.equal(req.authorization, 'Bearer sk-test-123');
      assert.equal(req.model, 'house-model');
      assert.equal(req.stream, true);
      const system = req.messages[0];
      assert.equal(system.role, 'system');
      assert.match(system.content, /You are Ava of Acme Dental\./);
      assert.match(system.content, /"clinic_hours":"9-5"/);
      assert.match(system.content, /"customer":"Jane"/);
      assert.deepEqual(req.messages.slice(1), [
        { role: 'assistant', content: 'Hello, this is Ava.' },
        { role: 'user', content: 'When do you open?' },
      ]);
      assert.deepEqual(req.tools.map((t: any) => t.function.name).sort(), ['end_call', 'send_dtmf', 'transfer_call']);

      // A context update during the call is seen from the next turn.
      await s.server.services.calls.mergeContext({ tenantId: a.tenantId }, callSid, { customer: 'Jane Roe', tier: 'gold' });
      llm.when('Thanks.', { tokens: ['Sure.'] });
      client.prompt('Thanks.');
      await client.reply(r.next);
      const next = llm.requests.at(-1)!;
      assert.match(next.messages[0].content, /"customer":"Jane Roe","tier":"gold"/);
      assert.deepEqual(next.messages.at(-2), { role: 'assistant', content: 'We open at nine.' });
      await client.close();
    });

    test("an agent's own model overrides the configured one", async () => {
      const b = await twilioAccount(s, { agent: { llmModel: 'special-model' } });
      const { client } = await ringAgent(s, b);
      client.prompt('Hi');
      await client.reply(0);
      assert.equal(llm.requests.at(-1)!.model, 'special-model');
      await client.close();
    });

    test('an interrupt stops the stream and the transcript keeps only what the caller heard', async () => {
      const { callSid, client } = await ringAgent(s, a);
      const words = Array.from({ length: 40 }, (_, i) => `word${i} `);
      llm.when('Tell me everything.', { tokens: words, delayMs: 25 });
      client.prompt('Tell me everything.');
      await client.waitFor((f) => f.type === 'text' && f.token === 'word2 ');
      client.send({ type: 'interrupt', utteranceUntilInterrupt: 'word0 word1', durationUntilInterruptMs: 800 });
      // Tokens already in flight may still arrive; after that, silence while the model had 30 more to go.
      await new Promise((r) => setTimeout(r, 150));
      const sentAtInterrupt = client.received.length;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(client.received.length, sentAtInterrupt, 'the stream stopped');
      assert.ok(sentAtInterrupt < 20);
      assert.ok(!client.received.some((f) => f.type === 'text' && f.last === true), 'no last token after an interrupt');
      const turns = await eventually(() => s.server.services.calls.transcript(callSid), (t) => t.length >= 3);
      const agentTurn = turns.at(-1)!;
      assert.equal(agentTurn.role, 'agent');
      assert.equal(agentTurn.text, 'word0 word1');
      assert.equal(agentTurn.interrupted, true);

      // The next turn goes on normally, and the model sees only the heard part.
      llm.when('Stop, just tell me the price.', { tokens: ['Okay.'] });
      client.prompt('Stop, just tell me the price.');
      const r = await client.reply(sentAtInterrupt);
      assert.equal(r.text, 'Okay.');
      assert.deepEqual(llm.requests.at(-1)!.messages.slice(-2), [
        { role: 'assistant', content: 'word0 word1' },
        { role: 'user', content: 'Stop, just tell me the price.' },
      ]);
      await client.close();
    });

    test('tool calls press digits, transfer and end the call', async () => {
      const one = await ringAgent(s, a);
      llm.when('Press one for me.', { tokens: ['Pressing one.'], toolCalls: [{ name: 'send_dtmf', args: { digits: '1' } }] });
      one.client.prompt('Press one for me.');
      const d = await one.client.waitFor((f) => f.type === 'sendDigits');
      assert.equal(one.client.received[d].digits, '1');
      llm.when('Get me a human.', { tokens: ['Connecting you.'], toolCalls: [{ name: 'transfer_call', args: { target: '+15553334444' } }] });
      one.client.prompt('Get me a human.');
      const t = await one.client.waitFor((f) => f.type === 'end');
      assert.deepEqual(JSON.parse(String(one.client.received[t].handoffData)), { reason: 'transfer', target: '+15553334444' });
      await one.client.close();

      const two = await ringAgent(s, a);
      llm.when("That's all.", { tokens: ['Bye!'], toolCalls: [{ name: 'end_call', args: {} }] });
      two.client.prompt("That's all.");
      await two.client.waitFor((f) => f.type === 'end');
      await two.client.close();
      const call = await eventually(() => s.server.services.calls.findBySid(two.callSid), (c) => c?.status === 'completed');
      assert.equal(call?.endReason, 'agent ended the call');
    });

    test('an LLM failure: the caller hears an apology, the event stream gets an error, the call goes on', async () => {
      const { callSid, client } = await ringAgent(s, a);
      llm.when('Hello?', { status: 500, message: 'model exploded' });
      client.prompt('Hello?');
      const r = await client.reply(0);
      assert.match(r.text, /sorry/i);
      const err = await eventually(async () => events.find((e): e is DomainEvent<'error'> => e.callSid === callSid && e.type === 'error'), (e) => e !== undefined);
      assert.ok(err, 'an error event was published');
      assert.match(String(err.data.message), /brain/);
      llm.when('Hello again?', { tokens: ['Back again.'] });
      client.prompt('Hello again?');
      const again = await client.reply(r.next);
      assert.equal(again.text, 'Back again.');
      assert.equal(s.server.runtime.sessions.get(callSid) !== undefined, true);
      await client.close();
    });
  });
}
