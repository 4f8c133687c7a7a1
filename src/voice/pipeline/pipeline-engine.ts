/**
 * The `pipeline` engine: an energy VAD cuts the caller's audio into utterances, an
 * OpenAI-compatible transcription server turns each into text, the agent's own brain answers,
 * and the answer is spoken sentence by sentence by an OpenAI-compatible speech server (or the
 * built-in synthesiser when none is configured), resampled to 8 kHz and encoded to the call's
 * G.711. Barge-in: the caller starting to speak while the agent talks flushes our queue at once,
 * stops the brain, and stores only what the caller heard of the agent's line.
 *
 * Failures: a transcription, synthesis or brain error is a passing trouble (apology, `error`
 * event, the call goes on); a service that cannot be reached at all ends the call with the reason.
 */
import type { Logger } from 'pino';
import { decodeG711, encodeG711 } from '../../media/g711.js';
import type { VoiceEngine, VoiceHost } from '../engine.js';
import { synthesize } from '../offline-tts.js';
import { heardPart } from '../realtime/realtime-engine.js';
import { SpeechServiceDown, type Synthesiser, type Transcriber } from './speech-services.js';
import { EnergyVad } from './vad.js';

/** Shorter bursts than this are noise, not a turn (a click that passed the onset test). */
const MIN_SPEECH_MS = 200;
/** Where a reply is cut into pieces for synthesis: the first sentence plays while the rest is made. */
const SENTENCE_END = /[.!?;:]\s+/;

export interface PipelineSettings {
  stt: Transcriber;
  /** null: the built-in synthesiser speaks. */
  tts: Synthesiser | null;
  vadRms: number;
  vadSilenceMs: number;
}

/** A piece of an agent line as queued: where on the host's played clock it starts, and how long. */
interface Piece {
  text: string;
  startMs: number;
  ms: number;
}

/** One thing the agent says (the greeting, or a reply), from its first text to its last frame. */
interface Line {
  pieces: Piece[];
  /** Synthesis of the pieces, one after another. */
  chain: Promise<void>;
  /** Text of the reply not yet cut into a piece. */
  pending: string;
  abort: AbortController;
  /** Cut off (barge-in, a supervisor, a failure): nothing more of it plays. */
  cut: boolean;
  stored: boolean;
  timer: NodeJS.Timeout | null;
}

export class PipelineEngine implements VoiceEngine {
  readonly kind = 'pipeline' as const;
  private readonly vad: EnergyVad;
  private line: Line | null = null;
  /** Turns one after another: an utterance waits until the previous one is transcribed and answered. */
  private turns: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly host: VoiceHost, private readonly settings: PipelineSettings, private readonly logger: Logger) {
    this.vad = new EnergyVad({ startRms: settings.vadRms, hangoverMs: settings.vadSilenceMs });
  }

  async start(): Promise<void> {
    const greeting = this.host.profile.greeting.trim();
    if (!greeting) return;
    const line = this.newLine();
    let pcm: Int16Array;
    try {
      pcm = await this.synth(greeting, line.abort.signal);
    } catch (err) {
      line.stored = true;
      return this.failed(err);
    }
    if (line.cut || this.closed) return;
    this.queue(line, greeting, pcm);
    this.finish(line);
  }

  hear(frame: Buffer): void {
    if (this.closed) return;
    const ev = this.vad.push(decodeG711(this.host.law, frame));
    if (ev?.type === 'start') this.bargeIn();
    else if (ev?.type === 'end' && ev.speechMs >= MIN_SPEECH_MS) {
      const pcm = ev.pcm;
      this.next(() => this.turn(pcm));
    }
  }

  /** Queues a turn; one that fails (an action the call refused) is trouble, not the end of the queue. */
  private next(work: () => Promise<void>): void {
    this.turns = this.turns.then(work).catch((err: Error) => {
      if (!this.closed) this.host.trouble(err.message);
    });
  }

  digit(): void {
    // The conversation stored the key as the caller's line; the brain answers it like speech.
    this.next(() => this.answer());
  }

  async say(text: string): Promise<void> {
    this.cut();
    const line = this.newLine();
    this.host.flush();
    try {
      this.queue(line, text, await this.synth(text, line.abort.signal));
    } finally {
      line.stored = true; // the conversation stores a supervisor's words itself
      if (this.line === line) this.line = null;
    }
  }

  contextChanged(): void {
    // The brain reads the context afresh every turn.
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const line = this.line;
    if (line && !line.stored) this.store(line, this.heard(line));
    this.host.cutReply();
  }

  /** One utterance: transcribed, stored as the caller's line, answered. */
  private async turn(pcm: Int16Array): Promise<void> {
    if (this.closed) return;
    let text: string;
    try {
      text = await this.settings.stt.transcribe(pcm, this.host.profile.language);
    } catch (err) {
      return this.failed(err);
    }
    if (this.closed || !text) return;
    this.host.final({ role: 'caller', text });
    await this.answer();
  }

  /** The brain's reply to the transcript as it is, spoken as it streams. */
  private async answer(): Promise<void> {
    if (this.closed) return;
    this.cut();
    const line = this.newLine();
    await this.host.reply({
      token: (t) => {
        if (line.cut) return;
        line.pending += t;
        let m: RegExpExecArray | null;
        while ((m = SENTENCE_END.exec(line.pending))) {
          const piece = line.pending.slice(0, m.index + m[0].length).trim();
          line.pending = line.pending.slice(m.index + m[0].length);
          this.add(line, piece);
        }
      },
      done: async () => {
        const rest = line.pending.trim();
        line.pending = '';
        if (rest) this.add(line, rest);
        // Actions (end, transfer) wait until the reply is queued: the goodbye is heard before the BYE.
        await line.chain;
        this.finish(line);
      },
    });
  }

  private newLine(): Line {
    const line: Line = { pieces: [], chain: Promise.resolve(), pending: '', abort: new AbortController(), cut: false, stored: false, timer: null };
    this.line = line;
    return line;
  }

  /** Synthesises `text` after the line's earlier pieces and queues it. */
  private add(line: Line, text: string): void {
    line.chain = line.chain.then(async () => {
      if (line.cut || this.closed) return;
      try {
        const pcm = await this.synth(text, line.abort.signal);
        if (!line.cut && !this.closed) this.queue(line, text, pcm);
      } catch (err) {
        if (line.cut || this.closed) return;
        line.cut = true;
        line.stored = true;
        this.host.cutReply();
        this.failed(err);
      }
    });
  }

  private queue(line: Line, text: string, pcm: Int16Array): void {
    line.pieces.push({ text, startMs: this.host.queuedToMs, ms: pcm.length / 8 });
    this.host.play(encodeG711(this.host.law, pcm));
  }

  private synth(text: string, signal: AbortSignal): Promise<Int16Array> {
    if (this.settings.tts) return this.settings.tts.speak(text, this.host.profile.voice, signal);
    return synthesize(text, this.host.profile.language).then((a) => a.pcm);
  }

  /** Stores the line whole once its last frame has been played (unless it is cut before). */
  private finish(line: Line): void {
    if (line.cut || line.stored) return;
    const last = line.pieces.at(-1);
    if (!last) {
      line.stored = true;
      return;
    }
    const left = Math.max(0, last.startMs + last.ms - this.host.playedMs);
    line.timer = setTimeout(() => {
      line.timer = null;
      if (!line.cut && !line.stored) this.store(line, this.heard(line));
      if (this.line === line) this.line = null;
    }, left + 40);
  }

  /** What the caller has heard of the line so far: whole pieces, then whole words of the one playing. */
  private heard(line: Line): { text: string; whole: boolean } {
    const played = this.host.playedMs;
    const parts: string[] = [];
    for (const p of line.pieces) {
      const fraction = (played - p.startMs) / p.ms;
      if (fraction >= 1) {
        parts.push(p.text);
        continue;
      }
      const part = heardPart(p.text, fraction);
      if (part) parts.push(part);
      return { text: parts.join(' '), whole: false };
    }
    return { text: parts.join(' '), whole: !line.pending && line.pieces.length > 0 };
  }

  private store(line: Line, heard: { text: string; whole: boolean }): void {
    line.stored = true;
    if (line.timer) clearTimeout(line.timer);
    if (heard.text) this.host.final({ role: 'agent', text: heard.text }, !heard.whole);
  }

  /** The caller began to speak: whatever the agent is saying stops now. */
  private bargeIn(): void {
    const line = this.line;
    if (!line || line.stored) return;
    const playing = this.host.queuedToMs > this.host.playedMs;
    this.cut();
    this.logger.debug({ playing, playedMs: this.host.playedMs }, 'pipeline: barge-in');
  }

  /** Flushes the queue, stops the brain and the synthesis, stores what was heard of the line. */
  private cut(): void {
    const line = this.line;
    if (!line) return;
    this.line = null;
    this.host.flush();
    if (line.cut) return;
    line.cut = true;
    line.abort.abort();
    this.host.cutReply();
    if (!line.stored) this.store(line, this.heard(line));
  }

  private failed(err: unknown): void {
    if (this.closed) return;
    if (err instanceof SpeechServiceDown) this.host.dead(err.message);
    else this.host.trouble((err as Error).message);
  }
}
