/**
 * The `realtime` engine: an OpenAI-Realtime-compatible model hears the caller and speaks, over one
 * WebSocket per call. G.711 goes both ways untouched, in 20 ms appends in and at whatever pace the
 * model likes out: the host's pacer sends it at real time. Barge-in: when the service's VAD hears
 * the caller start (`input_audio_buffer.speech_started`), our queue is flushed at once and the
 * model is told how much of its item was really played (`conversation.item.truncate`), so its
 * memory and our transcript hold what the caller heard.
 */
import type { Logger } from 'pino';
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { toolEvent } from '../../brain/llm.js';
import type { VoiceEngine, VoiceHost } from '../engine.js';
import { playOffline } from '../offline-engine.js';
import { openRealtime, type RealtimeEndpoint } from './connect.js';
import { sessionConfig, type RealtimeSettings } from './session-config.js';

/** How long the service has to confirm our session settings. */
const SETUP_TIMEOUT_MS = 10_000;

/** One item of the model's audio as it goes out. */
interface Playback {
  itemId: string;
  contentIndex: number;
  /** Where on the host's played-audio clock its first frame goes out, ms. */
  startMs: number;
  /** Audio received for it so far, ms (8 bytes of G.711 a millisecond). */
  audioMs: number;
  transcript: string;
  /** Cut off by the caller (or a supervisor): later audio for it is dropped. */
  cut: boolean;
  /** Its transcript is stored (whole, or as far as heard). */
  recorded: boolean;
  /** Stores the whole transcript once the last frame has been played. */
  timer: NodeJS.Timeout | null;
}

/** What the caller heard of `text` when `fraction` of its audio was played: whole words, by length. */
export function heardPart(text: string, fraction: number): string {
  if (fraction >= 1) return text;
  if (fraction <= 0) return '';
  const cut = Math.round(text.length * fraction);
  const end = text.lastIndexOf(' ', cut);
  return (end > 0 ? text.slice(0, end) : text.slice(0, cut)).trim();
}

export class RealtimeEngine implements VoiceEngine {
  readonly kind = 'realtime' as const;
  private rt: OpenAIRealtimeWS | null = null;
  private ready = false;
  private closing = false;
  private playback: Playback | null = null;
  private readonly callerText = new Map<string, string>();
  /** Responses we cancelled: their late audio is dropped. */
  private readonly cancelled = new Set<string>();
  private activeResponse: string | null = null;

  constructor(
    private readonly host: VoiceHost,
    private readonly endpoint: RealtimeEndpoint,
    private readonly settings: RealtimeSettings,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const rt = openRealtime(this.endpoint);
    this.rt = rt;
    let setupFailed: ((err: Error) => void) | null = null;
    // One listener for the socket's whole life: the client rejects a promise nobody awaits when it has none.
    rt.on('error', (err) => {
      if (setupFailed) return setupFailed(err);
      if (this.closing) return;
      // Cancelling a response that just finished is a race, not trouble.
      if (/cancel.*not.*active|no active response/i.test(err.message)) return;
      this.host.trouble(`speech service error: ${err.error?.message ?? err.message}`);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('no answer to session.update')), SETUP_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        setupFailed = null;
        rt.off('session.updated', ok);
        reject(err);
      };
      const ok = () => {
        clearTimeout(timer);
        setupFailed = null;
        resolve();
      };
      setupFailed = fail;
      rt.once('session.updated', ok);
      rt.socket.once('open', () => rt.send({ type: 'session.update', session: this.session() }));
      rt.socket.once('close', (code) => { if (setupFailed) fail(new Error(`closed during setup (${code})`)); });
    });
    if (this.closing) return;
    this.ready = true;
    rt.on('event', (e) => this.onEvent(e));
    rt.socket.on('close', (code) => {
      this.ready = false;
      if (!this.closing) this.host.dead(`speech service closed the connection (${code})`);
    });
    const greeting = this.host.profile.greeting.trim();
    if (greeting) {
      rt.send({ type: 'response.create', response: { instructions: `Greet the caller by saying exactly this, then wait for them: "${greeting.replace(/"/g, "'")}"` } });
    }
  }

  private session() {
    return sessionConfig(this.host.law, this.host.profile.voice, this.host.brainInput(), this.settings);
  }

  hear(frame: Buffer): void {
    if (this.ready) this.rt!.send({ type: 'input_audio_buffer.append', audio: frame.toString('base64') });
  }

  digit(digit: string): void {
    if (!this.ready) return;
    // The model hears nothing of RFC 4733; it learns of the key as a line of the conversation.
    this.rt!.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: `[the caller pressed ${digit}]` }] } });
  }

  async say(text: string): Promise<void> {
    this.stopTalking();
    await playOffline(this.host, text);
    if (this.ready) {
      this.rt!.send({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `[said by a human supervisor] ${text}` }] } });
    }
  }

  contextChanged(): void {
    if (this.ready) this.rt!.send({ type: 'session.update', session: { type: 'realtime', instructions: this.session().instructions } });
  }

  close(): void {
    this.closing = true;
    this.ready = false;
    if (this.playback?.timer) clearTimeout(this.playback.timer);
    this.rt?.close({ code: 1000, reason: 'call ended' });
  }

  private onEvent(e: RealtimeServerEvent): void {
    switch (e.type) {
      case 'response.created':
        this.activeResponse = e.response.id ?? null;
        return;
      case 'response.output_audio.delta':
        return this.onAudio(e.response_id, e.item_id, e.content_index, e.delta);
      case 'response.output_audio_transcript.delta': {
        const p = this.playback;
        if (p && p.itemId === e.item_id && !p.cut) {
          p.transcript += e.delta;
          this.host.partial(p.transcript);
        }
        return;
      }
      case 'response.output_audio_transcript.done': {
        const p = this.playback;
        if (p && p.itemId === e.item_id && !p.cut) {
          p.transcript = e.transcript || p.transcript;
          this.recordWhenPlayed(p);
        }
        return;
      }
      case 'input_audio_buffer.speech_started':
        return this.bargeIn();
      case 'conversation.item.input_audio_transcription.delta': {
        const text = (this.callerText.get(e.item_id) ?? '') + (e.delta ?? '');
        this.callerText.set(e.item_id, text);
        this.host.partial(text);
        return;
      }
      case 'conversation.item.input_audio_transcription.completed':
        this.callerText.delete(e.item_id);
        if (e.transcript.trim()) this.host.final({ role: 'caller', text: e.transcript.trim() });
        return;
      case 'conversation.item.input_audio_transcription.failed':
        this.callerText.delete(e.item_id);
        return;
      case 'response.function_call_arguments.done':
        return this.onTool(e.call_id, e.name, e.arguments);
      case 'response.done': {
        if (this.activeResponse === e.response.id) this.activeResponse = null;
        const status = e.response.status;
        if (status === 'failed') {
          const why = (e.response.status_details as { error?: { message?: string } } | undefined)?.error?.message ?? 'the response failed';
          this.host.trouble(`speech model failed: ${why}`);
        }
        return;
      }
      default:
        return;
    }
  }

  private onAudio(responseId: string, itemId: string, contentIndex: number, delta: string): void {
    if (this.cancelled.has(responseId)) return;
    let p = this.playback;
    if (!p || p.itemId !== itemId) {
      if (p && !p.recorded && !p.cut) this.recordWhenPlayed(p);
      p = { itemId, contentIndex, startMs: this.host.queuedToMs, audioMs: 0, transcript: '', cut: false, recorded: false, timer: null };
      this.playback = p;
    }
    if (p.cut) return;
    const audio = Buffer.from(delta, 'base64');
    p.audioMs += audio.length / 8;
    this.host.play(audio);
    if (p.timer) this.recordWhenPlayed(p); // more audio after the transcript was done: wait longer
  }

  /** Stores the item's whole transcript once its last frame has gone out (unless cut off before). */
  private recordWhenPlayed(p: Playback): void {
    if (p.timer) clearTimeout(p.timer);
    const left = Math.max(0, p.startMs + p.audioMs - this.host.playedMs);
    p.timer = setTimeout(() => {
      p.timer = null;
      if (p.cut || p.recorded) return;
      p.recorded = true;
      if (p.transcript.trim()) this.host.final({ role: 'agent', text: p.transcript.trim() });
    }, left + 40);
  }

  /** Cuts off the model's current item where the caller is: flush, truncate, keep what was heard. */
  private cut(): { itemId: string; playedMs: number } | null {
    this.host.flush();
    const p = this.playback;
    if (!p || p.cut || p.recorded) return null;
    const playedMs = Math.round(Math.min(p.audioMs, Math.max(0, this.host.playedMs - p.startMs)));
    if (playedMs >= p.audioMs && p.timer) return null; // all of it was heard; it is recorded whole
    p.cut = true;
    if (p.timer) clearTimeout(p.timer);
    p.recorded = true;
    const heard = heardPart(p.transcript.trim(), p.audioMs ? playedMs / p.audioMs : 0);
    if (heard) this.host.final({ role: 'agent', text: heard }, true);
    if (this.ready) this.rt!.send({ type: 'conversation.item.truncate', item_id: p.itemId, content_index: p.contentIndex, audio_end_ms: playedMs });
    return { itemId: p.itemId, playedMs };
  }

  private bargeIn(): void {
    const cut = this.cut();
    if (cut) this.logger.debug({ itemId: cut.itemId, playedMs: cut.playedMs }, 'realtime: barge-in');
  }

  /** Someone else speaks now (a supervisor): the model stops, what it was saying is cut. */
  private stopTalking(): void {
    this.cut();
    if (this.activeResponse && this.ready) {
      this.cancelled.add(this.activeResponse);
      this.rt!.send({ type: 'response.cancel' });
    }
  }

  private onTool(callId: string, name: string, args: string): void {
    const action = toolEvent(name, args);
    if (this.ready) {
      this.rt!.send({
        type: 'conversation.item.create',
        item: { type: 'function_call_output', call_id: callId, output: JSON.stringify(action ? { ok: true } : { ok: false, error: `unknown tool or bad arguments for ${name}` }) },
      });
      // After digits the conversation goes on; the model says what comes next.
      if (action?.type === 'dtmf' || !action) this.rt!.send({ type: 'response.create' });
    }
    if (action) void this.host.act(action);
  }
}
