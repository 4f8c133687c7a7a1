/**
 * Sample-rate conversion of 16-bit mono PCM for speech: a windowed-sinc low-pass at the lower of
 * the two Nyquist rates, evaluated at each output instant. Quality enough for telephone audio
 * (8 kHz), done only where a speech engine does not speak G.711 itself.
 */

const TAPS = 16; // each side of the centre

function sinc(x: number): number {
  return x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
}

export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return Int16Array.from(input);
  const ratio = toRate / fromRate;
  const cutoff = Math.min(1, ratio); // relative to the input's Nyquist
  const out = new Int16Array(Math.floor(input.length * ratio));
  for (let n = 0; n < out.length; n++) {
    const t = n / ratio; // position in input samples
    const centre = Math.floor(t);
    let acc = 0;
    let norm = 0;
    for (let k = centre - TAPS + 1; k <= centre + TAPS; k++) {
      if (k < 0 || k >= input.length) continue;
      const x = t - k;
      const window = 0.5 + 0.5 * Math.cos((Math.PI * x) / TAPS); // Hann
      const w = cutoff * sinc(cutoff * x) * window;
      acc += input[k]! * w;
      norm += w;
    }
    out[n] = Math.max(-32768, Math.min(32767, Math.round(norm ? acc / norm : 0)));
  }
  return out;
}
