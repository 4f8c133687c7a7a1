import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { engineKindFor } from '../../src/voice/engines.js';

describe('choosing a speech engine', () => {
  test('the server default is offline; VOICE_ENGINE names another, an agent\'s own voice_engine wins', () => {
    const plain = loadConfig({});
    assert.equal(plain.voice.engine, 'offline');
    assert.equal(engineKindFor({ voiceEngine: null }, plain), 'offline');
    const rt = loadConfig({ VOICE_ENGINE: 'realtime', OPENAI_API_KEY: 'sk-test', OPENAI_REALTIME_MODEL: 'my-realtime' });
    assert.equal(rt.voice.engine, 'realtime');
    assert.equal(rt.voice.realtimeModel, 'my-realtime');
    assert.equal(engineKindFor({ voiceEngine: null }, rt), 'realtime');
    assert.equal(engineKindFor({ voiceEngine: 'offline' }, rt), 'offline');
    assert.equal(engineKindFor({ voiceEngine: 'realtime' }, plain), 'realtime');
  });

  test('bad settings stop the server at start, naming the variable', () => {
    assert.throws(() => loadConfig({ VOICE_ENGINE: 'whisper' }), /VOICE_ENGINE must be one of realtime, pipeline, offline/);
    assert.throws(() => loadConfig({ VOICE_ENGINE: 'realtime' }), /VOICE_ENGINE=realtime needs OPENAI_API_KEY/);
    assert.throws(() => loadConfig({ REALTIME_VAD_THRESHOLD: '2' }), /REALTIME_VAD_THRESHOLD/);
    assert.throws(() => loadConfig({ REALTIME_VAD_SILENCE_MS: '-1' }), /REALTIME_VAD_SILENCE_MS/);
  });
});
