import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { frameRms } from '../../src/voice/pipeline/vad.js';
import { SpeechServiceDown, Synthesiser, Transcriber } from '../../src/voice/pipeline/speech-services.js';
import { SttStandIn, TtsStandIn } from '../helpers/speech-standins.js';

/** Zero crossings per second of 8 kHz PCM, halved: the tone's frequency. */
const frequency = (pcm: Int16Array) => {
  let crossings = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1]! < 0) !== (pcm[i]! < 0)) crossings++;
  return crossings / 2 / (pcm.length / 8000);
};

describe('pipeline speech services against OpenAI-compatible stand-ins (real HTTP)', () => {
  let stt: SttStandIn;
  let tts: TtsStandIn;
  before(async () => {
    stt = await new SttStandIn(['table for two']).start();
    tts = await new TtsStandIn({ hz: 500, ms: 400 }).start();
  });
  after(async () => {
    await stt.stop();
    await tts.stop();
  });

  test('speech comes back as 8 kHz PCM of the tone the server made, from WAV and from raw 24 kHz PCM', async () => {
    for (const format of ['wav', 'pcm'] as const) {
      const pcm = await new Synthesiser({ baseUrl: tts.baseUrl, apiKey: 'k', model: 'tts-1', format }).speak('Hello there.', 'nova');
      assert.equal(pcm.length, 400 * 8, `${format}: 400 ms at 8 kHz`);
      assert.ok(Math.abs(frequency(pcm) - 500) <= 10, `${format}: ${frequency(pcm)} Hz`);
      assert.ok(Math.abs(frameRms(pcm) - 8000 / Math.SQRT2) <= 200, `${format}: RMS ${frameRms(pcm).toFixed(0)}`);
      assert.deepEqual({ ...tts.spoken.at(-1)!, at: 0 }, { model: 'tts-1', voice: 'nova', input: 'Hello there.', format, at: 0 });
    }
  });

  test('an utterance goes up as an 8 kHz WAV with the model and language; the text comes back', async () => {
    const pcm = Int16Array.from({ length: 8000 }, (_, i) => Math.round(3000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
    const text = await new Transcriber({ baseUrl: stt.baseUrl, apiKey: 'k', model: 'whisper-1' }).transcribe(pcm, 'en-GB');
    assert.equal(text, 'table for two');
    const up = stt.uploads.at(-1)!;
    assert.deepEqual([up.sampleRate, Math.round(up.ms), up.speechMs, up.model, up.language], [8000, 1000, 1000, 'whisper-1', 'en']);
  });

  test('an HTTP error or a body that is not audio is a passing failure; a server nobody answers is a dead one', async () => {
    tts.failWith = 503;
    await assert.rejects(new Synthesiser({ baseUrl: tts.baseUrl, apiKey: 'k', model: 'm', format: 'wav' }).speak('Hi.', 'nova'),
      (err: Error) => !(err instanceof SpeechServiceDown) && /^text-to-speech failed: 503/.test(err.message));
    tts.failWith = null;
    tts.garbage = Buffer.from('<html>not audio</html>');
    await assert.rejects(new Synthesiser({ baseUrl: tts.baseUrl, apiKey: 'k', model: 'm', format: 'wav' }).speak('Hi.', 'nova'), /not a WAV file/);
    tts.garbage = null;
    stt.failWith = 400;
    await assert.rejects(new Transcriber({ baseUrl: stt.baseUrl, apiKey: 'k', model: 'm' }).transcribe(new Int16Array(1600), 'en'),
      (err: Error) => !(err instanceof SpeechServiceDown) && /^speech-to-text failed: 400/.test(err.message));
    stt.failWith = null;
    const gone = await new SttStandIn(['x']).start();
    const url = gone.baseUrl;
    await gone.stop();
    await assert.rejects(new Transcriber({ baseUrl: url, apiKey: 'k', model: 'm' }).transcribe(new Int16Array(1600), 'en'),
      (err: Error) => err instanceof SpeechServiceDown && /^speech-to-text service unreachable/.test(err.message));
  });
});
