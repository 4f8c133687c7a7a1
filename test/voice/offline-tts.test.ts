import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeG711 } from '../../src/media/g711.js';
import { resample } from '../../src/media/resample.js';
import { espeakVoice, synthesize } from '../../src/voice/offline-tts.js';

const rms = (x: Int16Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / Math.max(1, x.length));

test('the offline synthesiser speaks a greeting: 8 kHz speech of a plausible length and loudness', async () => {
  const short = await synthesize('Hello.');
  const long = await synthesize('Hello, thanks for calling Acme. How can I help you today?');
  assert.equal(long.sampleRate, 8000);
  const seconds = long.pcm.length / 8000;
  assert.ok(seconds > 2 && seconds < 8, `greeting lasts ${seconds.toFixed(2)} s`);
  assert.ok(long.pcm.length > short.pcm.length * 2, 'more words take longer');
  assert.ok(rms(long.pcm) > 500, `speech RMS ${rms(long.pcm).toFixed(0)}`);
  // Speech has pauses: some 20 ms frames are near silent, most are not.
  const frames = Array.from({ length: Math.floor(long.pcm.length / 160) }, (_, i) => rms(long.pcm.subarray(i * 160, i * 160 + 160)));
  const loud = frames.filter((f) => f > 300).length / frames.length;
  assert.ok(loud > 0.4 && loud < 0.98, `${(loud * 100).toFixed(0)} % of frames carry speech`);
  assert.equal(encodeG711('PCMU', long.pcm).length, long.pcm.length, 'one G.711 byte per sample');
});

test('text that looks like options is spoken, not obeyed; unknown languages fall back to en-us', async () => {
  const audio = await synthesize('-w /tmp/evil.wav --help');
  assert.ok(audio.pcm.length > 4000);
  assert.equal(espeakVoice('en-US'), 'en-us');
  assert.equal(espeakVoice('de'), 'de');
  assert.equal(espeakVoice('x; rm -rf /'), 'en-us');
});

test('resampling keeps a tone\'s level and removes what the lower rate cannot carry', () => {
  const at = (hz: number) => Int16Array.from({ length: 22050 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 22050)));
  const kept = resample(at(1000), 22050, 8000);
  assert.equal(kept.length, 8000);
  assert.ok(Math.abs(rms(kept) - rms(at(1000))) / rms(at(1000)) < 0.05);
  const removed = resample(at(6000), 22050, 8000); // above 4 kHz: would alias without the low-pass
  assert.ok(rms(removed) < rms(at(6000)) * 0.2, `6 kHz leaked through at RMS ${rms(removed).toFixed(0)}`);
});
