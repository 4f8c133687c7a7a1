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

  test('pipeline services: STT_*/TTS_* name their own servers (no key needed), else OPENAI_API_KEY serves both; none at all means offline speech', () => {
    const none = loadConfig({});
    assert.equal(none.voice.stt, null);
    assert.equal(none.voice.tts, null);
    const own = loadConfig({ STT_BASE_URL: 'http://whisper:8080/v1', TTS_BASE_URL: 'http://speaches:8000/v1', TTS_MODEL: 'kokoro', TTS_FORMAT: 'pcm' });
    assert.deepEqual(own.voice.stt, { baseUrl: 'http://whisper:8080/v1', apiKey: 'none', model: 'whisper-1' });
    assert.deepEqual(own.voice.tts, { baseUrl: 'http://speaches:8000/v1', apiKey: 'none', model: 'kokoro', format: 'pcm' });
    const openai = loadConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://llm/v1' });
    assert.deepEqual(openai.voice.stt, { baseUrl: 'http://llm/v1', apiKey: 'sk-test', model: 'whisper-1' });
    assert.deepEqual(openai.voice.tts, { baseUrl: 'http://llm/v1', apiKey: 'sk-test', model: 'gpt-4o-mini-tts', format: 'wav' });
    assert.equal(openai.voice.pipelineVadRms, 500);
    assert.equal(openai.voice.pipelineVadSilenceMs, 600);
    assert.throws(() => loadConfig({ TTS_FORMAT: 'mp3' }), /TTS_FORMAT must be wav or pcm/);
    assert.throws(() => loadConfig({ PIPELINE_VAD_RMS: 'loud' }), /PIPELINE_VAD_RMS/);
    assert.throws(() => loadConfig({ PIPELINE_VAD_SILENCE_MS: '-5' }), /PIPELINE_VAD_SILENCE_MS/);
  });
});
