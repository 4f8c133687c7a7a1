/**
 * G.711 (ITU-T G.711) μ-law and A-law, to and from 16-bit linear PCM. Table-driven decoding
 * (256 entries each) and a small segment search for encoding: both run per sample in the hot
 * path of every call, so they allocate nothing but the output buffer.
 */

const BIAS = 0x84;
const CLIP = 32635;

function ulawDecodeOne(u: number): number {
  const v = ~u & 0xff;
  const sign = v & 0x80;
  const exponent = (v >> 4) & 0x07;
  const mantissa = v & 0x0f;
  const sample = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return sign ? -sample : sample;
}

function alawDecodeOne(a: number): number {
  const v = a ^ 0x55;
  const sign = v & 0x80;
  const exponent = (v >> 4) & 0x07;
  const mantissa = v & 0x0f;
  const sample = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return sign ? sample : -sample;
}

const ULAW_TO_PCM = Int16Array.from({ length: 256 }, (_, i) => ulawDecodeOne(i));
const ALAW_TO_PCM = Int16Array.from({ length: 256 }, (_, i) => alawDecodeOne(i));

export function linearToUlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s >= 0 ? 0x80 : 0;
  if (!sign) s = -s - 1;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = exponent === 0 ? (s >> 4) & 0x0f : (s >> (exponent + 3)) & 0x0f;
  return ((sign | (exponent << 4) | mantissa) ^ 0x55) & 0xff;
}

export type G711Law = 'PCMU' | 'PCMA';

/** One byte per sample in, 16-bit samples out. */
export function decodeG711(law: G711Law, data: Uint8Array): Int16Array {
  const table = law === 'PCMU' ? ULAW_TO_PCM : ALAW_TO_PCM;
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = table[data[i]!]!;
  return out;
}

export function encodeG711(law: G711Law, pcm: Int16Array): Buffer {
  const encode = law === 'PCMU' ? linearToUlaw : linearToAlaw;
  const out = Buffer.allocUnsafe(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = encode(pcm[i]!);
  return out;
}

/** μ-law and A-law bytes of the same sound map one to one; no trip through linear PCM is needed. */
export function transcodeG711(from: G711Law, to: G711Law, data: Uint8Array): Buffer {
  if (from === to) return Buffer.from(data);
  const table = from === 'PCMU' ? ULAW_TO_ALAW : ALAW_TO_ULAW;
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = table[data[i]!]!;
  return out;
}

const ULAW_TO_ALAW = Uint8Array.from({ length: 256 }, (_, i) => linearToAlaw(ULAW_TO_PCM[i]!));
const ALAW_TO_ULAW = Uint8Array.from({ length: 256 }, (_, i) => linearToUlaw(ALAW_TO_PCM[i]!));

/** The byte that encodes silence (used to fill gaps). */
export const SILENCE: Record<G711Law, number> = { PCMU: 0xff, PCMA: 0xd5 };
