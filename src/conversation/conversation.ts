/**
 * One conversation on one call, whichever side does the speech: Twilio's (ConversationRelay) or
 * ours (a SIP call Dialtone answers, with a speech engine). Both kinds keep the same transcript
 * (stored in order, `transcript.final` per line and `transcript.partial` while someone speaks),
 * follow the call's context (`context.updated` reaches the brain from the next turn on), run the
 * agent's brain for a reply, and take the supervisor's controls through the same methods.
 */
import type { Logger } from 'pino';
import type { Brain, BrainEvent, BrainInput, TranscriptLine } from '../brain/index.js';
import type { CallRuntime } from '../calls/runtime.js';
import type { LiveCallControl } from '../calls/sessions.js';
import type { Agent } from '../domain/agents.js';
import type { Services } from '../domain/services.js';

export const AGENT_ENDED = 'agent ended the call';
export const APOLOGY = "I'm sorry, I'm having trouble answering right now. Could you say that again?";

/** What the speech side of a call does when the conversation (or a supervisor) asks. */
export interface SpeechEdge {
  /** Says `text` to the caller now, over anything the agent was saying. */
  sayNow(text: string): Promise<void>;
  /** Plays keypad digits to the far end. */
  sendDigits(digits: string): Promise<void>;
  /** Hands the caller over to `target`; throws when that cannot be done. */
  transfer(target: string): Promise<void>;
  /** Ends the call; the conversation has already taken note of `reason` (`AGENT_ENDED`: let the goodbye be heard). */
  hangUp(reason: string): Promise<void>;
}

/** Where a reply's text goes as the brain produces it. */
export interface ReplySink {
  token(text: string): void;
  /** The reply is complete (not called when it was cut short); its actions wait for this to settle. */
  done(): void | Promise<void>;
}

export interface ConversationDeps {
  services: Services;
  runtime: CallRuntime;
  logger: Logger;
}

/** One agent reply being produced; aborted when the caller interrupts or someone else speaks. */
interface Reply {
  abort: AbortController;
  spoken: string;
}

export class Conversation implements LiveCallControl {
  readonly brain: Brain;
  /** What the brain sees: every line so far, the agent's ones as far as the caller heard them. */
  readonly transcript: TranscriptLine[] = [];
  private context: Record<string, unknown>;
  private reply: Reply | null = null;
  /** Transcript writes in order: each waits for the previous one. */
  private writes: Promise<void> = Promise.resolve();
  private edge: SpeechEdge | null = null;
  private unwatch: (() => void) | null;
  /** Why the call ends, once someone decided it does. */
  endReason: string | null = null;
  /** Called after the call's context changed (a speech engine tells its model). */
  onContextChange: (() => void) | null = null;

  constructor(
    readonly callSid: string,
    readonly agent: Agent,
    context: Record<string, unknown>,
    private readonly deps: ConversationDeps,
    /** A watch already running (started before the call was read, so no update is missed). */
    watch?: { current: Record<string, unknown> | null; stop: () => void; follow: (onChange: (c: Record<string, unknown>) => void) => void },
  ) {
    this.brain = deps.runtime.brainFor(agent);
    this.context = watch?.current ?? context;
    const follow = (c: Record<string, unknown>) => {
      this.context = c;
      this.onContextChange?.();
    };
    if (watch) {
      watch.follow(follow);
      this.unwatch = watch.stop;
    } else {
      this.unwatch = deps.runtime.watchContext(callSid, follow);
    }
  }

  /**
   * Starts following a call's context before it is read; `Conversation` takes the watch over.
   * Updates that arrive in between are kept and win over what the read returns.
   */
  static watchEarly(runtime: CallRuntime, callSid: string): { current: Record<string, unknown> | null; stop: () => void; follow: (onChange: (c: Record<string, unknown>) => void) => void } {
    let follower: ((c: Record<string, unknown>) => void) | null = null;
    const watch = {
      current: null as Record<string, unknown> | null,
      stop: runtime.watchContext(callSid, (c) => {
        if (follower) follower(c);
        else watch.current = c;
      }),
      follow(onChange: (c: Record<string, unknown>) => void) { follower = onChange; },
    };
    return watch;
  }

  /** The call's context as it is now. */
  get callContext(): Record<string, unknown> {
    return this.context;
  }

  /** Binds the speech side; every control goes through it from then on. */
  attach(edge: SpeechEdge): void {
    this.edge = edge;
  }

  /** Everything a brain (or a model's instructions) needs for the next turn. */
  brainInput(signal: AbortSignal): BrainInput {
    const a = this.agent;
    return {
      systemPrompt: a.systemPrompt, personality: a.personality, greeting: a.greeting, contextData: a.contextData,
      callContext: this.context, model: a.llmModel, transcript: this.transcript.slice(), signal,
    };
  }

  /** Adds a line to the brain's view and, in order, to the stored transcript (`transcript.final`). */
  remember(line: TranscriptLine, interrupted = false): void {
    this.transcript.push(line);
    this.writes = this.writes
      // After pending socket I/O: a reply's first sound matters more than storing a line a moment sooner.
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.deps.services.calls.addTurn(this.callSid, { role: line.role, text: line.text, interrupted }))
      .catch((err) => this.deps.logger.error({ err, callSid: this.callSid }, 'conversation: could not store a transcript turn'));
  }

  /** What someone is saying, before it is final (`transcript.partial`). */
  partial(text: string): void {
    void this.deps.services.calls.publishPartial(this.callSid, text)
      .catch((err: Error) => this.deps.logger.warn({ callSid: this.callSid, err: err.message }, 'conversation: could not publish a partial transcript'));
  }

  /** A passing failure (the call goes on): on the event stream as `error`. */
  error(message: string): void {
    void this.deps.services.calls.publishError(this.callSid, message)
      .catch((err: Error) => this.deps.logger.warn({ callSid: this.callSid, err: err.message }, 'conversation: could not publish an error'));
  }

  /** The caller pressed a key. */
  callerPressed(digit: string): void {
    this.remember({ role: 'caller', text: `pressed ${digit}` });
  }

  /** The caller heard only `heard` of the agent's last line (barge-in after it was complete). */
  heardOnly(heard: string): void {
    const last = this.transcript[this.transcript.length - 1];
    if (last?.role === 'agent') last.text = heard;
  }

  /** Notes why the call ends; false when that was already decided. */
  ending(reason: string): boolean {
    if (this.endReason) return false;
    this.endReason = reason;
    return true;
  }

  get replying(): boolean {
    return this.reply !== null;
  }

  /** Stops the reply in flight and records only `heard` of it (all that was produced when not given). */
  cutReply(heard?: string): void {
    const reply = this.reply;
    if (!reply) return;
    this.reply = null;
    reply.abort.abort();
    const kept = heard ?? reply.spoken;
    if (kept) this.remember({ role: 'agent', text: kept }, true);
  }

  /**
   * Runs the brain for one reply, its text going to `sink` as it comes; when the brain fails the
   * caller hears an apology, the event stream gets `error`, and the call goes on. The reply's
   * actions (end, transfer, digits) are carried out once it is complete. `record: false` leaves
   * storing the agent's line to the speech edge, for an edge that knows how much was heard.
   */
  async respond(sink: ReplySink, onFirstToken?: () => void, opts: { record?: boolean } = {}): Promise<void> {
    const reply: Reply = { abort: new AbortController(), spoken: '' };
    this.reply = reply;
    const actions: BrainEvent[] = [];
    try {
      for await (const ev of this.brain.respond(this.brainInput(reply.abort.signal))) {
        if (reply.abort.signal.aborted) break;
        if (ev.type === 'token') {
          if (!ev.text) continue;
          reply.spoken += ev.text;
          sink.token(ev.text);
          onFirstToken?.();
          onFirstToken = undefined;
        } else {
          actions.push(ev);
        }
      }
    } catch (err) {
      if (reply.abort.signal.aborted) return;
      this.deps.logger.warn({ err, callSid: this.callSid }, 'conversation: brain failed');
      // Whatever was already said stays said; then the apology.
      const apology = (reply.spoken ? ' ' : '') + APOLOGY;
      reply.spoken += apology;
      sink.token(apology);
      this.error(`agent brain failed: ${(err as Error).message}`);
    }
    if (reply.abort.signal.aborted || this.reply !== reply) return;
    this.reply = null;
    await sink.done();
    if (reply.spoken && opts.record !== false) this.remember({ role: 'agent', text: reply.spoken });
    for (const action of actions) await this.act(action);
  }

  /** Carries out what the agent decided (a brain's or a model's tool call). */
  async act(action: BrainEvent): Promise<void> {
    if (action.type === 'dtmf') await this.sendDigits(action.digits);
    else if (action.type === 'transfer') await this.transfer(action.target);
    else if (action.type === 'end') await this.end(AGENT_ENDED);
  }

  /** Waits until every transcript line so far is stored. */
  async settled(): Promise<void> {
    await this.writes;
  }

  /** The call is over: stop following its context, let the last lines be stored. */
  async close(): Promise<void> {
    this.cutReply();
    this.unwatch?.();
    this.unwatch = null;
    await this.writes;
  }

  private need(): SpeechEdge {
    if (!this.edge) throw new Error('conversation has no speech edge yet');
    return this.edge;
  }

  // LiveCallControl: what supervisors (and the agent's own tools) do.

  async speak(text: string): Promise<void> {
    this.cutReply();
    await this.need().sayNow(text);
    this.remember({ role: 'supervisor', text });
    await this.writes;
  }

  async sendDigits(digits: string): Promise<void> {
    await this.need().sendDigits(digits);
    this.remember({ role: 'system', text: `sent digits ${digits}` });
    await this.writes;
  }

  async transfer(target: string): Promise<void> {
    this.cutReply();
    await this.need().transfer(target);
  }

  async end(reason = 'ended by supervisor'): Promise<void> {
    this.cutReply();
    this.ending(reason);
    await this.need().hangUp(this.endReason ?? reason);
  }
}
