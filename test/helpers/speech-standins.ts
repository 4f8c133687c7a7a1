/**
 * Loopback stand-ins for OpenAI-compatible speech servers, real HTTP speaking the audio API:
 * `/v1/audio/transcriptions` takes the multipart WAV upload, measures it (sample rate, length,
 * how much of it is speech, how loud) and answers a configured text; `/v1/audio/speech` answers
 * a known tone as WAV (24 kHz, so the caller's side must resample) or raw 24 kHz PCM. Either can
 * be told to fail with an HTTP status, or stopped, as a dead service would be.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readWav } from '../../src/voice/offline-tts.js';

export interface Upload {
  model: string;
  language: string | null;
  sampleRate: number;
  ms: number;
  /** 20 ms frames louder than `speechRms`, ms. */
  speechMs: number;
  /** RMS over those frames. */
  speechRms: number;
  at: number;
}

export interface SpeechRequest {
  model: string;
  voice: string;
  input: string;
  format: string;
  at: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

abstract class HttpStandIn {
  private server: Server | null = null;
  /** Answer the next requests with this status (an error body as OpenAI sends it). */
  failWith: number | null = null;
  requests = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.requests++;
      void this.handle(req, res).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `stand-in: ${err.message}` } }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  protected failed(res: ServerResponse): boolean {
    if (this.failWith === null) return false;
    res.writeHead(this.failWith, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'the stand-in was told to fail', type: 'server_error' } }));
    return true;
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export class SttStandIn extends HttpStandIn {
  readonly uploads: Upload[] = [];
  /** What each upload is transcribed as, in turn (the last one repeats); tests may change it. */
  constructor(public texts: string[], private readonly speechRms = 500) {
    super();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/audio/transcriptions') {
      res.writeHead(404).end();
      return;
    }
    const form = await new Request('http://stand-in/', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: new Uint8Array(await body(req)) }).formData();
    const file = form.get('file');
    if (!(file instanceof Blob)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'no file' } }));
      return;
    }
    const wav = readWav(new Uint8Array(await file.arrayBuffer()));
    const frame = wav.sampleRate / 50;
    let loud = 0;
    let sq = 0;
    for (let i = 0; i + frame <= wav.pcm.length; i += frame) {
      let f = 0;
      for (let j = i; j < i + frame; j++) f += wav.pcm[j]! * wav.pcm[j]!;
      if (Math.sqrt(f / frame) > this.speechRms) {
        loud++;
        sq += f;
      }
    }
    this.uploads.push({
      model: String(form.get('model')), language: form.get('language') as string | null, sampleRate: wav.sampleRate,
      ms: (wav.pcm.length / wav.sampleRate) * 1000, speechMs: loud * 20, speechRms: loud ? Math.sqrt(sq / (loud * frame)) : 0, at: now(),
    });
    if (this.failed(res)) return;
    const text = this.texts[Math.min(this.uploads.length - 1, this.texts.length - 1)] ?? '';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text }));
  }
}

export interface ToneOptions {
  hz: number;
  ms: number;
  amplitude?: number;
  /** How long the server takes to answer, ms. */
  delayMs?: number;
}

/** A sine at 24 kHz, 16-bit. */
export function tonePcm(o: ToneOptions, rate = 24_000): Buffer {
  const n = Math.round((o.ms / 1000) * rate);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round((o.amplitude ?? 8000) * Math.sin((2 * Math.PI * o.hz * i) / rate)), i * 2);
  return out;
}

function wavOf(pcm: Buffer, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

export class TtsStandIn extends HttpStandIn {
  readonly spoken: SpeechRequest[] = [];
  /** Answer 200 with this body instead of audio (a misconfigured server). */
  garbage: Buffer | null = null;

  constructor(public tone: ToneOptions) {
    super();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/audio/speech') {
      res.writeHead(404).end();
      return;
    }
    const b = JSON.parse((await body(req)).toString('utf8')) as Record<string, string>;
    if (typeof b.input !== 'string' || !b.input || typeof b.voice !== 'string' || typeof b.model !== 'string') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'input, voice and model are required' } }));
      return;
    }
    this.spoken.push({ model: b.model, voice: b.voice, input: b.input, format: b.response_format ?? 'mp3', at: now() });
    if (this.failed(res)) return;
    if (this.garbage) {
      res.writeHead(200, { 'content-type': 'audio/wav' }).end(this.garbage);
      return;
    }
    if (this.tone.delayMs) await new Promise((r) => setTimeout(r, this.tone.delayMs));
    const pcm = tonePcm(this.tone);
    if (b.response_format === 'pcm') res.writeHead(200, { 'content-type': 'audio/pcm' }).end(pcm);
    else if (b.response_format === 'wav') res.writeHead(200, { 'content-type': 'audio/wav' }).end(wavOf(pcm, 24_000));
    else res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `the stand-in speaks wav and pcm, not ${b.response_format}` } }));
  }
}
