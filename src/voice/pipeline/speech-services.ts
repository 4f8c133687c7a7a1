/**
 * The pipeline's speech services: any OpenAI-compatible `/v1/audio/transcriptions` and
 * `/v1/audio/speech` server, through the `openai` package. Audio goes up as an 8 kHz WAV (what
 * the call carries; servers resample themselves) and comes back as WAV or raw PCM (OpenAI's `pcm`
 * is 24 kHz), brought to 8 kHz here.
 */
import OpenAI, { APIConnectionError, toFile } from 'openai';
import type { SpeechService } from '../../config.js';
import { resample } from '../../media/resample.js';
import { readWav } from '../offline-tts.js';
import { wavFile } from './vad.js';

/** A transcription or synthesis request gets this long before it counts as failed. */
const REQUEST_TIMEOUT_MS = 15_000;
/** OpenAI's `pcm` response: 16-bit little-endian mono at this rate. */
const PCM_RATE = 24_000;

/** The service could not be reached at all (refused, reset, timed out): the call cannot go on. */
export class SpeechServiceDown extends Error {}

function client(s: SpeechService): OpenAI {
  return new OpenAI({ apiKey: s.apiKey, baseURL: s.baseUrl ?? undefined, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS });
}

function rethrow(what: string, err: unknown): never {
  if (err instanceof APIConnectionError) throw new SpeechServiceDown(`${what} service unreachable: ${err.message}`);
  throw new Error(`${what} failed: ${(err as Error).message}`);
}

export class Transcriber {
  private readonly api: OpenAI;

  constructor(private readonly service: SpeechService) {
    this.api = client(service);
  }

  /** The text of one utterance (8 kHz PCM); '' when the service heard no words. */
  async transcribe(pcm: Int16Array, language: string, signal?: AbortSignal): Promise<string> {
    try {
      const file = await toFile(wavFile(pcm, 8000), 'speech.wav', { type: 'audio/wav' });
      const r = await this.api.audio.transcriptions.create({ file, model: this.service.model, language: language.slice(0, 2).toLowerCase() }, { signal });
      return (r.text ?? '').trim();
    } catch (err) {
      rethrow('speech-to-text', err);
    }
  }
}

export class Synthesiser {
  private readonly api: OpenAI;

  constructor(private readonly service: SpeechService & { format: 'wav' | 'pcm' }) {
    this.api = client(service);
  }

  /** `text` spoken in `voice`, as 8 kHz PCM. */
  async speak(text: string, voice: string, signal?: AbortSignal): Promise<Int16Array> {
    let body: Buffer;
    try {
      const r = await this.api.audio.speech.create({ model: this.service.model, voice, input: text, response_format: this.service.format }, { signal });
      body = Buffer.from(await r.arrayBuffer());
    } catch (err) {
      rethrow('text-to-speech', err);
    }
    if (this.service.format === 'pcm') {
      const even = body.subarray(0, body.length - (body.length % 2));
      const pcm = new Int16Array(even.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = even.readInt16LE(i * 2);
      return resample(pcm, PCM_RATE, 8000);
    }
    try {
      const wav = readWav(body);
      return resample(wav.pcm, wav.sampleRate, 8000);
    } catch (err) {
      throw new Error(`text-to-speech failed: the answer is not a WAV file (${(err as Error).message})`);
    }
  }
}
