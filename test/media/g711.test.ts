import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeG711, encodeG711, linearToAlaw, linearToUlaw, SILENCE, transcodeG711 } from '../../src/media/g711.js';

test('G.711 encodes the reference points of both laws', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(linearToUlaw(32767), 0x80);
  assert.equal(linearToUlaw(-32768), 0x00);
  assert.equal(linearToAlaw(0), 0xd5);
  assert.equal(linearToAlaw(32767), 0xaa);
  assert.equal(linearToAlaw(-32768), 0x2a);
  assert.equal(SILENCE.PCMU, linearToUlaw(0));
  assert.equal(SILENCE.PCMA, linearToAlaw(0));
});

test('every code decodes and encodes back to itself, and the error stays within G.711 quantisation', () => {
  for (const law of ['PCMU', 'PCMA'] as const) {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const back = encodeG711(law, decodeG711(law, all));
    for (let i = 0; i < 256; i++) {
      if (law === 'PCMU' && i === 0x7f) continue; // μ-law's negative zero encodes as positive zero
      assert.equal(back[i], i, `${law} code ${i}`);
    }
    for (let s = -32768; s < 32768; s += 97) {
      const d = decodeG711(law, encodeG711(law, Int16Array.of(s)))[0]!;
      assert.ok(Math.abs(d - s) <= Math.max(16, Math.abs(s) / 16), `${law} ${s} → ${d}`);
    }
  }
});

test('μ-law and A-law convert into each other without a trip through PCM, and a 1 kHz tone survives', () => {
  const tone = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  const ulaw = encodeG711('PCMU', tone);
  const alaw = transcodeG711('PCMU', 'PCMA', ulaw);
  const rms = (x: Int16Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
  assert.ok(Math.abs(rms(decodeG711('PCMA', alaw)) - rms(tone)) / rms(tone) < 0.03);
  assert.deepEqual(transcodeG711('PCMA', 'PCMA', alaw), alaw);
});
