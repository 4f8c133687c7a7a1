/**
 * A loopback stand-in for an OpenAI-Realtime-compatible service, speaking its WebSocket protocol
 * for real (the `ws` package): it checks `session.update`, takes `input_audio_buffer.append`,
 * detects the caller's speech by energy (as a server VAD would, announcing
 * `input_audio_buffer.speech_started`/`stopped`), and answers each turn (and `response.create`)
 * with `response.output_audio.delta` of a known tone, sent much faster than real time. It records
 * what it received, so tests can measure what the model heard.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeG711, encodeG711, type G711Law } from '../../src/media/g711.js';

export interface StandInOptions {
  /** The reply: a sine of this frequency and length. */
  toneHz?: number;
  toneMs?: number;
  /** Level of the tone (peak, 16-bit). */
  toneAmplitude?: number;
  /** How many times faster than real time the reply is streamed. */
  speedup?: number;
  /** RMS (16-bit) above which a 20 ms frame counts as speech. */
  speechRms?: number;
  /** Silence that ends the caller's turn, ms. */
  silenceMs?: number;
  /** The reply's transcript. */
  replyText?: string;
  /** What the caller said, as the transcription reports it. */
  callerText?: string;
}

export interface ReceivedAudio {
  /** Audio appended, ms (20 ms a frame of G.711). */
  ms: number;
  /** Of which frames louder than the speech threshold, ms. */
  speechMs: number;
  /** RMS over the speech frames. */
  speechRms: number;
}

export interface StandInSession {
  url: string;
  authorization: string | undefined;
  sessionUpdates: Array<Record<string, any>>;
  /** Every client event type, in order. */
  events: string[];
  truncates: Array<{ item_id: string; content_index: number; audio_end_ms: number; at: number }>;
  functionOutputs: Array<{ call_id: string; output: string }>;
  items: Array<Record<string, any>>;
  speechStartedAt: number[];
  /** hrtime ms of each append (for the in → model latency). */
  appendTimes: number[];
  audio(): ReceivedAudio;
  closed: boolean;
  /** Sends a server event (tests: errors, tool calls). */
  send(event: Record<string, unknown>): void;
  /** Drops the connection, as a dying service would. */
  kill(): void;
  /** Starts a reply now, as after the caller's turn. */
  reply(opts?: { tool?: { name: string; arguments: string } }): void;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export function tone(law: G711Law, hz: number, ms: number, amplitude: number): Buffer {
  const n = Math.round((ms / 1000) * 8000);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / 8000));
  return encodeG711(law, pcm);
}

/** Problems with a `session.update` as a Realtime service would see them ('' when it is fine). */
function problemsOf(session: any, first: boolean): string {
  if (!session || typeof session !== 'object') return 'session must be an object';
  if (session.type !== 'realtime') return 'session.type must be realtime';
  if (!first) return typeof session.instructions === 'string' || session.instructions === undefined ? '' : 'instructions must be a string';
  const inFmt = session.audio?.input?.format?.type;
  const outFmt = session.audio?.output?.format?.type;
  if (!['audio/pcmu', 'audio/pcma'].includes(inFmt)) return `audio.input.format.type ${inFmt} is not G.711`;
  if (outFmt !== inFmt) return 'audio.output.format must match the input format';
  if (session.audio?.input?.turn_detection?.type !== 'server_vad') return 'turn_detection must be server_vad';
  if (typeof session.instructions !== 'string' || !session.instructions.trim()) return 'instructions missing';
  if (typeof session.audio?.output?.voice !== 'string') return 'voice missing';
  const tools = (session.tools ?? []).map((t: any) => t.name);
  for (const t of ['end_call', 'transfer_call', 'send_dtmf']) if (!tools.includes(t)) return `tool ${t} missing`;
  return '';
}

export class RealtimeStandIn {
  readonly sessions: StandInSession[] = [];
  private wss!: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  port = 0;
  /** Refuse connections (HTTP 503), as a service that is down. */
  refuse = false;

  constructor(readonly opts: StandInOptions = {}) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Connections open now. */
  get open(): number {
    return this.sockets.size;
  }

  async start(port = 0): Promise<this> {
    this.wss = new WebSocketServer({
      host: '127.0.0.1', port,
      verifyClient: (_info, cb) => (this.refuse ? cb(false, 503, 'down') : cb(true)),
    });
    await new Promise<void>((resolve) => this.wss.once('listening', () => resolve()));
    this.port = (this.wss.address() as { port: number }).port;
    this.wss.on('connection', (ws, req) => this.serve(ws, req.url ?? '', req.headers.authorization));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private serve(ws: WebSocket, url: string, authorization: string | undefined): void {
    this.sockets.add(ws);
    const o = { toneHz: 1000, toneMs: 1500, toneAmplitude: 8000, speedup: 10, speechRms: 500, silenceMs: 400, replyText: 'This is the tone reply.', callerText: 'hello', ...this.opts };
    let law: G711Law | null = null;
    let configured = false;
    let ms = 0;
    let speechMs = 0;
    let speechSq = 0;
    let speechSamples = 0;
    let speaking = false;
    let quietMs = 0;
    let seq = 0;
    let streaming: { id: string; timer: NodeJS.Timeout | null } | null = null;
    const id = (p: string) => `${p}_${++seq}`;
    const send = (e: Record<string, unknown>) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event_id: id('evt'), ...e })); };

    const stopStreaming = (status: 'cancelled' | 'completed') => {
      if (!streaming) return;
      if (streaming.timer) clearTimeout(streaming.timer);
      send({ type: 'response.done', response: { id: streaming.id, object: 'realtime.response', status, output: [] } });
      streaming = null;
    };

    const reply = (opts: { tool?: { name: string; arguments: string } } = {}) => {
      if (!law) return;
      stopStreaming('cancelled');
      const responseId = id('resp');
      const itemId = id('item');
      streaming = { id: responseId, timer: null };
      send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
      send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { id: itemId, type: 'message', role: 'assistant' } });
      const audio = tone(law, o.toneHz, o.toneMs, o.toneAmplitude);
      const chunk = 800; // 100 ms
      const words = o.replyText.split(/(?<= )/);
      let offset = 0;
      let w = 0;
      const step = () => {
        if (!streaming || streaming.id !== responseId) return;
        if (offset < audio.length) {
          send({ type: 'response.output_audio.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: audio.subarray(offset, offset + chunk).toString('base64') });
          if (w < words.length) send({ type: 'response.output_audio_transcript.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: words[w++] });
          offset += chunk;
          streaming.timer = setTimeout(step, 100 / o.speedup);
          return;
        }
        while (w < words.length) send({ type: 'response.output_audio_transcript.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: words[w++] });
        send({ type: 'response.output_audio_transcript.done', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, transcript: o.replyText });
        send({ type: 'response.output_audio.done', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 });
        if (opts.tool) {
          send({ type: 'response.function_call_arguments.done', response_id: responseId, item_id: id('item'), output_index: 1, call_id: id('call'), name: opts.tool.name, arguments: opts.tool.arguments });
        }
        stopStreaming('completed');
      };
      step();
    };

    const session: StandInSession = {
      url, authorization, sessionUpdates: [], events: [], truncates: [], functionOutputs: [], items: [], speechStartedAt: [], appendTimes: [], closed: false,
      audio: () => ({ ms, speechMs, speechRms: speechSamples ? Math.sqrt(speechSq / speechSamples) : 0 }),
      send, kill: () => ws.terminate(), reply,
    };
    this.sessions.push(session);
    send({ type: 'session.created', session: { type: 'realtime', id: id('sess') } });

    ws.on('message', (raw) => {
      let e: any;
      try { e = JSON.parse(raw.toString()); } catch { return send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_json', message: 'not JSON' } }); }
      session.events.push(String(e.type));
      switch (e.type) {
        case 'session.update': {
          const problem = problemsOf(e.session, !configured);
          if (problem) return send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_value', message: problem, event_id: e.event_id ?? null } });
          session.sessionUpdates.push(e.session);
          if (!configured) law = e.session.audio.input.format.type === 'audio/pcmu' ? 'PCMU' : 'PCMA';
          configured = true;
          return send({ type: 'session.updated', session: e.session });
        }
        case 'input_audio_buffer.append': {
          if (!law) return send({ type: 'error', error: { type: 'invalid_request_error', code: 'session_not_configured', message: 'append before session.update' } });
          session.appendTimes.push(nowMs());
          const pcm = decodeG711(law, Buffer.from(String(e.audio), 'base64'));
          for (let i = 0; i + 160 <= pcm.length; i += 160) {
            let sq = 0;
            for (let j = i; j < i + 160; j++) sq += pcm[j]! * pcm[j]!;
            const rms = Math.sqrt(sq / 160);
            ms += 20;
            if (rms > o.speechRms) {
              speechMs += 20;
              speechSq += sq;
              speechSamples += 160;
              quietMs = 0;
              if (!speaking) {
                speaking = true;
                session.speechStartedAt.push(nowMs());
                send({ type: 'input_audio_buffer.speech_started', audio_start_ms: ms - 20, item_id: id('item') });
                stopStreaming('cancelled'); // server VAD interrupts the reply
              }
            } else if (speaking) {
              quietMs += 20;
              if (quietMs >= o.silenceMs) {
                speaking = false;
                const item = id('item');
                send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: ms, item_id: item });
                send({ type: 'input_audio_buffer.committed', item_id: item, previous_item_id: null });
                send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item, content_index: 0, transcript: o.callerText });
                reply();
              }
            }
          }
          return;
        }
        case 'response.create':
          return reply();
        case 'response.cancel':
          return stopStreaming('cancelled');
        case 'conversation.item.truncate':
          session.truncates.push({ item_id: e.item_id, content_index: e.content_index, audio_end_ms: e.audio_end_ms, at: nowMs() });
          return send({ type: 'conversation.item.truncated', item_id: e.item_id, content_index: e.content_index, audio_end_ms: e.audio_end_ms });
        case 'conversation.item.create':
          session.items.push(e.item);
          if (e.item?.type === 'function_call_output') session.functionOutputs.push({ call_id: e.item.call_id, output: e.item.output });
          return;
        default:
          return send({ type: 'error', error: { type: 'invalid_request_error', code: 'unknown_event', message: `unknown event ${e.type}` } });
      }
    });
    ws.on('close', () => {
      session.closed = true;
      if (streaming?.timer) clearTimeout(streaming.timer);
      this.sockets.delete(ws);
    });
  }
}
