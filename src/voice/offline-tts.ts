/**
 * The built-in offline synthesiser: eSpeak NG compiled to WebAssembly (the npm `espeak-ng`), so
 * an AI agent can speak with no speech service configured. It writes 22.05 kHz WAV into its
 * in-memory file system; we read the samples and bring them to 8 kHz for G.711.
 */
import ESpeakNg from 'espeak-ng';
import { resample } from '../media/resample.js';

export interface SpeechAudio {
  /** 16-bit mono PCM. */
  pcm: Int16Array;
  sampleRate: number;
}

/** Reads the PCM of a canonical RIFF/WAVE file (16-bit mono, as eSpeak writes it). */
export function readWav(wav: Uint8Array): SpeechAudio {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  if (String.fromCharCode(...wav.subarray(0, 4)) !== 'RIFF' || String.fromCharCode(...wav.subarray(8, 12)) !== 'WAVE') throw new Error('not a WAVE file');
  let offset = 12;
  let sampleRate = 0;
  while (offset + 8 <= wav.length) {
    const id = String.fromCharCode(...wav.subarray(offset, offset + 4));
    let size = view.getUint32(offset + 4, true);
    if (id === 'fmt ') sampleRate = view.getUint32(offset + 12, true);
    if (id === 'data') {
      size = Math.min(size, wav.length - offset - 8); // streamed WAVs may leave the size unset
      const bytes = wav.slice(offset + 8, offset + 8 + size - (size % 2));
      return { pcm: new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2), sampleRate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error('WAVE file without data');
}

/** Voice names eSpeak knows for the languages agents are set to (`en-US` → `en-us`). */
export function espeakVoice(language: string): string {
  const l = language.toLowerCase();
  return /^[a-z]{2,3}(-[a-z0-9]{2,8})?$/.test(l) ? l : 'en-us';
}

/** Speaks `text` and returns 8 kHz PCM. */
export async function synthesize(text: string, language = 'en-US'): Promise<SpeechAudio> {
  // eSpeak reads its arguments as a command line: the text is one argument, never parsed as options.
  const clean = text.replace(/[\u0000-\u001f]+/g, ' ').trim().slice(0, 2000) || ' ';
  const es = await ESpeakNg({ arguments: ['-w', 'out.wav', '-v', espeakVoice(language), '--', clean] });
  const wav = readWav(es.FS.readFile('out.wav') as Uint8Array);
  return { pcm: resample(wav.pcm, wav.sampleRate, 8000), sampleRate: 8000 };
}
