/**
 * The speech engine of a call Dialtone answers itself: what turns the caller's audio into the
 * agent's audio. The call (src/calls/sip/voice-call.ts) owns the RTP session and the
 * conversation; an engine sees only the small `VoiceHost` below, and the call sees only
 * `VoiceEngine`. A new engine implements `VoiceEngine` and is added to `createEngine` in
 * engines.ts; the same engines serve calls we answer and calls an agent places.
 *
 * Audio is G.711 in the call's law in both directions, 20 ms frames in, any length out: an engine
 * whose service speaks G.711 passes it through untouched, one that does not transcodes itself
 * (src/media/g711.ts, resample.ts).
 */
import type { BrainEvent, BrainInput, TranscriptLine } from '../brain/index.js';
import type { ReplySink } from '../conversation/conversation.js';
import type { G711Law } from '../media/g711.js';

import type { VoiceEngineKind } from '../domain/voice-engine.js';

export type { VoiceEngineKind } from '../domain/voice-engine.js';

/** Who the agent is, for an engine: the voice and language it speaks with, what it says first. */
export interface VoiceProfile {
  /** The agent's voice name (`alloy`, `nova`, …); an engine maps it to what its service has. */
  voice: string;
  /** BCP 47, e.g. `en-US`. */
  language: string;
  /** What the agent says when the call is answered ('' for nothing). */
  greeting: string;
}

/** What an engine may do on its call. */
export interface VoiceHost {
  readonly law: G711Law;
  readonly profile: VoiceProfile;
  /** Queues agent audio (in `law`) to be sent at real time by the shared pacer. */
  play(audio: Buffer): void;
  /** Barge-in: drops every queued frame at once. */
  flush(): void;
  /** Milliseconds of agent audio sent to the caller so far in this call (a running clock). */
  readonly playedMs: number;
  /** `playedMs` plus what is still queued: where audio queued now will start. */
  readonly queuedToMs: number;
  /** The brain's view of the turn (prompt, agent data, the call's context as it is now, transcript). */
  brainInput(): BrainInput;
  /**
   * Runs the agent's brain for a reply (its text into `sink`, its actions once `sink.done()`
   * settles; a failing brain is apologised for in the text). The engine stores the agent's line
   * itself (`final`), as far as it was heard.
   */
  reply(sink: ReplySink): Promise<void>;
  /** Stops the brain's reply in flight, if any (barge-in); nothing of it is stored. */
  cutReply(): void;
  /** Someone is speaking (`transcript.partial`). */
  partial(text: string): void;
  /** A final transcript line; `interrupted` when the caller cut the agent off. */
  final(line: TranscriptLine, interrupted?: boolean): void;
  /** The agent decided to act on the call (end, transfer, digits). */
  act(action: BrainEvent): Promise<void>;
  /** A passing failure: the caller hears an apology, the event stream gets `error`, the call goes on. */
  trouble(message: string): void;
  /** The speech service is gone: the call ends with this reason. */
  dead(reason: string): void;
}

export interface VoiceEngine {
  readonly kind: VoiceEngineKind;
  /** Connects to its service (if any) and starts the conversation: the greeting, for one. Throws when it cannot. */
  start(): Promise<void>;
  /** One 20 ms frame of the caller's audio, in the call's law. */
  hear(frame: Buffer): void;
  /** The caller pressed a key (RFC 4733). */
  digit(digit: string): void;
  /** Says `text` now over whatever the agent was saying (supervisor text, apologies). */
  say(text: string): Promise<void>;
  /** The call's context changed: it counts from the agent's next turn. */
  contextChanged(): void;
  /** The call is over; releases the service connection. */
  close(): void;
}
