import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EnergyVad, wavFile } from '../../src/voice/pipeline/vad.js';
import { readWav } from '../../src/voice/offline-tts.js';

const frame = (amplitude: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 400 * i) / 8000)));

function feed(vad: EnergyVad, frames: Int16Array[]) {
  return frames.map((f) => vad.push(f)).map((e, i) => (e ? { i, ...e } : null)).filter((e) => e !== null);
}

describe('energy VAD', () => {
  const opts = { startRms: 500, hangoverMs: 600 };

  test('speech starts after three loud frames and ends after the hangover, handing over the utterance with its preroll', () => {
    const vad = new EnergyVad(opts);
    const quiet = Array.from({ length: 20 }, () => frame(50));
    const words = [...Array.from({ length: 25 }, () => frame(3000)), ...Array.from({ length: 10 }, () => frame(50)), ...Array.from({ length: 25 }, () => frame(3000))];
    const events = feed(vad, [...quiet, ...words, ...Array.from({ length: 40 }, () => frame(50))]);
    assert.equal(events.length, 2, 'a 200 ms pause between words does not end the turn');
    assert.deepEqual({ i: events[0]!.i, type: events[0]!.type }, { i: 22, type: 'start' });
    const end = events[1]!;
    assert.equal(end.type, 'end');
    assert.equal(end.i, 20 + 60 + 29, 'the end comes 600 ms after the last loud frame');
    if (end.type === 'end') {
      assert.equal(end.speechMs, 50 * 20 + 0, 'the loud frames count as speech');
      // 10 frames of preroll before the three onset frames, the words, the hangover.
      assert.equal(end.pcm.length, (10 + 60 + 30) * 160);
    }
  });

  test('clicks and noise are not speech', () => {
    const vad = new EnergyVad(opts);
    const frames = Array.from({ length: 100 }, (_, i) => frame(i % 10 < 2 ? 6000 : 200));
    assert.deepEqual(feed(vad, frames), []);
    assert.equal(vad.inSpeech, false);
  });

  test('an utterance goes up as a WAV the reader takes back whole', () => {
    const pcm = Int16Array.from({ length: 800 }, (_, i) => (i * 37) % 30000 - 15000);
    const back = readWav(wavFile(pcm, 8000));
    assert.equal(back.sampleRate, 8000);
    assert.deepEqual([...back.pcm], [...pcm]);
  });
});
