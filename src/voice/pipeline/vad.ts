/**
 * An energy voice-activity detector over 20 ms frames of 16-bit PCM, with hangover. Measured on
 * telephone audio (espeak-ng speech through G.711, docs/decisions.md 2026-12-04): speech frames
 * sit at RMS 1000–8000, line noise and comfort silence below 100, so speech starts when
 * `onsetFrames` frames in a row reach `startRms` (500 ≈ −36 dBFS by default) and ends after
 * `hangoverMs` of frames below half of it — long enough to bridge the pauses between words and
 * after commas (≈ 150–350 ms), short enough that the agent answers promptly.
 */

export interface VadOptions {
  startRms: number;
  hangoverMs: number;
  /** Consecutive loud frames before speech is believed (a click or a cough is one or two). */
  onsetFrames?: number;
  /** Audio kept from before the onset, so the first syllable reaches the transcriber, ms. */
  prerollMs?: number;
}

export type VadEvent =
  | { type: 'start' }
  | { type: 'end'; pcm: Int16Array; speechMs: number }
  | null;

const FRAME_MS = 20;

export function frameRms(pcm: Int16Array): number {
  let sq = 0;
  for (let i = 0; i < pcm.length; i++) sq += pcm[i]! * pcm[i]!;
  return pcm.length ? Math.sqrt(sq / pcm.length) : 0;
}

export class EnergyVad {
  private speaking = false;
  private loudRun = 0;
  private quietMs = 0;
  private speechMs = 0;
  private lastSpeechMs = 0;
  private frames: Int16Array[] = [];
  private readonly onset: number;
  private readonly preroll: number;

  constructor(private readonly opts: VadOptions) {
    this.onset = opts.onsetFrames ?? 3;
    this.preroll = Math.ceil((opts.prerollMs ?? 200) / FRAME_MS) + this.onset;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** One 20 ms frame; says when speech starts and, at its end, hands over the whole utterance. */
  push(pcm: Int16Array): VadEvent {
    const rms = frameRms(pcm);
    this.frames.push(pcm);
    if (!this.speaking) {
      this.loudRun = rms >= this.opts.startRms ? this.loudRun + 1 : 0;
      if (this.frames.length > this.preroll) this.frames.shift();
      if (this.loudRun < this.onset) return null;
      this.speaking = true;
      this.quietMs = 0;
      this.speechMs = this.loudRun * FRAME_MS;
      return { type: 'start' };
    }
    if (rms >= this.opts.startRms / 2) {
      this.quietMs = 0;
      this.speechMs += FRAME_MS;
      return null;
    }
    this.quietMs += FRAME_MS;
    if (this.quietMs < this.opts.hangoverMs) return null;
    const frames = this.frames;
    this.reset();
    const pcmAll = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      pcmAll.set(f, at);
      at += f.length;
    }
    return { type: 'end', pcm: pcmAll, speechMs: this.lastSpeechMs };
  }

  private reset(): void {
    this.lastSpeechMs = this.speechMs;
    this.speaking = false;
    this.loudRun = 0;
    this.quietMs = 0;
    this.speechMs = 0;
    this.frames = [];
  }
}

/** A canonical 16-bit mono RIFF/WAVE file of `pcm` (what transcription servers take). */
export function wavFile(pcm: Int16Array, sampleRate: number): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}
