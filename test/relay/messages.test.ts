import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MalformedMessage, outgoing, parseIncoming } from '../../src/relay/messages.js';

describe('ConversationRelay messages', () => {
  test('incoming frames parse into typed messages', () => {
    assert.deepEqual(parseIncoming('{"type":"prompt","voicePrompt":"hi","lang":"en-US","last":false}'), { type: 'prompt', voicePrompt: 'hi', lang: 'en-US', last: false });
    assert.deepEqual(parseIncoming('{"type":"interrupt","utteranceUntilInterrupt":"Hel","durationUntilInterruptMs":300}'), { type: 'interrupt', utteranceUntilInterrupt: 'Hel', durationUntilInterruptMs: 300 });
    assert.deepEqual(parseIncoming('{"type":"dtmf","digit":"#"}'), { type: 'dtmf', digit: '#' });
    assert.deepEqual(parseIncoming('{"type":"error","description":"bad"}'), { type: 'error', description: 'bad' });
    const setup = parseIncoming('{"type":"setup","callSid":"CA1","customParameters":{"agent_id":"a"}}');
    assert.equal(setup?.type === 'setup' && setup.customParameters.agent_id, 'a');
  });

  test('malformed or unknown frames are null', () => {
    for (const raw of ['', 'null', '[]', '{"type":"setup"}', '{"type":"prompt"}', '{"type":"dtmf","digit":1}', '{"type":"hello"}', '{']) {
      assert.equal(parseIncoming(raw), null, raw);
    }
  });

  test('outgoing builders make exactly the schema and refuse bad fields', () => {
    assert.deepEqual(outgoing.text('Hi', false), { type: 'text', token: 'Hi', last: false });
    assert.deepEqual(outgoing.text('Hi', true, { lang: 'es-ES', interruptible: 'speech', preemptible: true }), { type: 'text', token: 'Hi', last: true, lang: 'es-ES', interruptible: 'speech', preemptible: true });
    assert.deepEqual(outgoing.play('https://x.test/a.mp3', { loop: 2 }), { type: 'play', source: 'https://x.test/a.mp3', loop: 2 });
    assert.deepEqual(outgoing.sendDigits('12w#'), { type: 'sendDigits', digits: '12w#' });
    assert.deepEqual(outgoing.language('fr-FR'), { type: 'language', ttsLanguage: 'fr-FR' });
    assert.deepEqual(outgoing.end({ reason: 'transfer', target: '+15551234567' }), { type: 'end', handoffData: '{"reason":"transfer","target":"+15551234567"}' });
    assert.deepEqual(outgoing.end(), { type: 'end' });
    assert.throws(() => outgoing.sendDigits('12A'), MalformedMessage);
    assert.throws(() => outgoing.sendDigits(''), MalformedMessage);
    assert.throws(() => outgoing.play('file:///etc/passwd'), MalformedMessage);
    assert.throws(() => outgoing.text('x', true, { interruptible: 'sometimes' as never }), MalformedMessage);
    assert.throws(() => outgoing.language(), MalformedMessage);
  });
});
