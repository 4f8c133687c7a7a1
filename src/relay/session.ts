import type { Logger } from 'pino';
import type { Brain, BrainEvent, TranscriptLine } from '../brain/index.js';
import type { CallRuntime } from '../calls/runtime.js';
import type { LiveCallControl } from '../calls/sessions.js';
import type { Agent } from '../domain/agents.js';
import { isLive, type Call } from '../domain/calls.js';
import type { Services } from '../domain/services.js';
import { outgoing, parseIncoming, type IncomingMessage, type OutgoingMessage, type PromptMessage, type SetupMessage } from './messages.js';

/** The part of a WebSocket a session needs; `ws` sockets fit, and so do test doubles. */
export interface RelaySocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

const OPEN = 1;
const APOLOGY = "I'm sorry, I'm having trouble answering right now. Could you say that again?";

/** One agent reply being streamed; aborted when the caller interrupts or speaks again. */
interface Turn {
  abort: AbortController;
  spoken: string;
}

export interface RelaySessionDeps {
  services: Services;
  runtime: CallRuntime;
  logger: Logger;
  /** The tenants whose carrier credential signed the handshake; the call must be one of theirs. */
  tenantIds: string[];
}

/**
 * One ConversationRelay connection: Twilio sends what the caller says, the agent's brain answers
 * token by token, and supervisors act on the call through the registered `LiveCallControl`.
 */
export class RelaySession implements LiveCallControl {
  private call: Call | null = null;
  private agent: Agent | null = null;
  private brain: Brain | null = null;
  private readonly transcript: TranscriptLine[] = [];
  private turn: Turn | null = null;
  /** Transcript writes in order: each waits for the previous one. */
  private writes: Promise<void> = Promise.resolve();
  /** Incoming messages are handled one at a time, in arrival order. */
  private inbox: Promise<void> = Promise.resolve();
  private unregister: (() => void) | null = null;
  private unwatch: (() => void) | null = null;
  /** When the caller's last final prompt arrived (hrtime ns), until its reply's first token goes out. */
  private promptAt: bigint | null = null;
  /** Why we ended the session, when we did (end message sent). */
  private endedBecause: string | null = null;
  private closed = false;

  constructor(private readonly socket: RelaySocket, private readonly deps: RelaySessionDeps) {}

  get callSid(): string | null {
    return this.call?.callSid ?? null;
  }

  /** A frame from Twilio. */
  receive(raw: string): void {
    const msg = parseIncoming(raw);
    if (!msg) {
      this.deps.logger.warn({ callSid: this.callSid }, 'relay: ignored a malformed or unknown message');
      return;
    }
    if (msg.type === 'prompt' && msg.last) this.promptAt = process.hrtime.bigint();
    // Interrupts act at once: they must stop a reply that is still streaming.
    if (msg.type === 'interrupt') {
      this.onInterrupt(msg.utteranceUntilInterrupt);
      return;
    }
    this.inbox = this.inbox.then(() => this.handle(msg)).catch((err) => {
      this.deps.logger.error({ err, callSid: this.callSid }, 'relay: message handling failed');
    });
  }

  private async handle(msg: IncomingMessage): Promise<void> {
    if (msg.type === 'setup') return this.onSetup(msg);
    if (!this.call) return; // nothing but setup makes sense before setup
    const sid = this.call.callSid;
    switch (msg.type) {
      case 'prompt': return this.onPrompt(msg);
      case 'dtmf':
        this.remember({ role: 'system', text: `caller pressed ${msg.digit}` });
        return;
      case 'error':
        this.deps.logger.warn({ callSid: sid, description: msg.description }, 'relay: Twilio reported an error');
        await this.deps.services.calls.publishError(sid, `ConversationRelay: ${msg.description}`);
        return;
      default:
        return; // info: nothing to do
    }
  }

  private async onSetup(msg: SetupMessage): Promise<void> {
    if (this.call || this.unwatch) return;
    const { services, tenantIds, runtime } = this.deps;
    // Context updates arrive as events, so each turn sees the latest without reading the call
    // again. Watching starts before the read so an update in between is not lost.
    let updated: Record<string, unknown> | null = null;
    this.unwatch = runtime.watchContext(msg.callSid, (context) => {
      if (this.call) this.call = { ...this.call, context };
      else updated = context;
    });
    const call = await services.calls.findBySid(msg.callSid);
    if (!call || !tenantIds.includes(call.tenantId) || !call.agentId || !isLive(call.status)) {
      this.deps.logger.warn({ callSid: msg.callSid }, 'relay: setup for a call that is unknown, finished or not ours');
      this.unwatch();
      this.socket.close(1008, 'unknown call');
      return;
    }
    // The handshake's signature names only the account, so a captured one can be replayed: the
    // call's first session is its only one, and a second never touches the call.
    if (!(await services.calls.claimRelaySession(call.callSid))) {
      this.deps.logger.warn({ callSid: msg.callSid }, 'relay: refused a second session for a call');
      this.unwatch();
      this.socket.close(1008, 'relay session already open for this call');
      return;
    }
    const agent = await services.agents.get({ tenantId: call.tenantId }, call.agentId);
    if (this.closed) return;
    this.agent = agent;
    this.brain = runtime.brainFor(agent);
    const current = call.status === 'in-progress' ? call : await services.calls.updateStatus(call.callSid, { status: 'in-progress' });
    this.call = updated ? { ...current, context: updated } : current;
    this.unregister = runtime.sessions.register(call.callSid, this);
    // Twilio speaks the welcome greeting from the TwiML; it belongs in the transcript all the same.
    // An inbound call without the agent's own greeting got the default (calls/inbound.ts).
    const greeting = agent.greeting || (call.direction === 'inbound' ? runtime.defaultGreeting : '');
    if (greeting) this.remember({ role: 'agent', text: greeting });
  }

  private async onPrompt(msg: PromptMessage): Promise<void> {
    const sid = this.call!.callSid;
    if (!msg.last) {
      await this.deps.services.calls.publishPartial(sid, msg.voicePrompt);
      return;
    }
    if (this.endedBecause) return;
    // The caller spoke over a reply without an interrupt: keep what was sent, marked as cut short.
    if (this.turn) this.cutTurn(this.turn.spoken, true);
    this.remember({ role: 'caller', text: msg.voicePrompt });
    void this.reply();
  }

  private onInterrupt(heard: string): void {
    if (this.turn) {
      this.cutTurn(heard, true);
      return;
    }
    // The reply was fully sent but Twilio was still speaking it: the brain only learns what was heard.
    const last = this.transcript[this.transcript.length - 1];
    if (last?.role === 'agent') last.text = heard;
  }

  /** Stops the reply in flight and records only `heard` of it. */
  private cutTurn(heard: string, interrupted: boolean): void {
    const turn = this.turn!;
    this.turn = null;
    turn.abort.abort();
    if (heard) this.remember({ role: 'agent', text: heard }, interrupted);
  }

  /** Runs the brain for one reply, streaming its tokens to Twilio as they come. */
  private async reply(): Promise<void> {
    const { services } = this.deps;
    const sid = this.call!.callSid;
    const turn: Turn = { abort: new AbortController(), spoken: '' };
    this.turn = turn;
    const actions: BrainEvent[] = [];
    try {
      const agent = this.agent!;
      const events = this.brain!.respond({
        systemPrompt: agent.systemPrompt, personality: agent.personality, greeting: agent.greeting, contextData: agent.contextData,
        callContext: this.call!.context, model: agent.llmModel, transcript: this.transcript.slice(), signal: turn.abort.signal,
      });
      for await (const ev of events) {
        if (turn.abort.signal.aborted) break;
        if (ev.type === 'token') {
          if (!ev.text) continue;
          turn.spoken += ev.text;
          this.send(outgoing.text(ev.text, false));
          if (this.promptAt !== null) {
            this.deps.runtime.observeFirstToken(Number(process.hrtime.bigint() - this.promptAt) / 1e6);
            this.promptAt = null;
          }
        } else {
          actions.push(ev);
        }
      }
    } catch (err) {
      if (turn.abort.signal.aborted) return;
      this.deps.logger.warn({ err, callSid: sid }, 'relay: brain failed');
      // Whatever was already said stays said; then the apology.
      const apology = (turn.spoken ? ' ' : '') + APOLOGY;
      turn.spoken += apology;
      this.send(outgoing.text(apology, false));
      void services.calls.publishError(sid, `agent brain failed: ${(err as Error).message}`).catch(() => undefined);
    }
    if (turn.abort.signal.aborted || this.turn !== turn) return;
    this.turn = null;
    this.send(outgoing.text('', true));
    if (turn.spoken) this.remember({ role: 'agent', text: turn.spoken });
    for (const action of actions) {
      if (action.type === 'dtmf') await this.sendDigits(action.digits);
      else if (action.type === 'transfer') await this.transfer(action.target);
      else if (action.type === 'end') await this.finish('agent ended the call');
    }
  }

  /** Adds a line to the brain's view and, in order, to the stored transcript. */
  private remember(line: TranscriptLine, interrupted = false): void {
    this.transcript.push(line);
    const sid = this.call!.callSid;
    this.writes = this.writes
      // After pending socket I/O: a reply's first token matters more than storing a line a moment sooner.
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.deps.services.calls.addTurn(sid, { role: line.role, text: line.text, interrupted }))
      .catch((err) => this.deps.logger.error({ err, callSid: sid }, 'relay: could not store a transcript turn'));
  }

  private send(msg: OutgoingMessage): boolean {
    if (this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  // LiveCallControl: what supervisors do.

  async speak(text: string): Promise<void> {
    if (this.turn) this.cutTurn(this.turn.spoken, true);
    this.send(outgoing.text(text, true));
    this.remember({ role: 'supervisor', text });
    await this.writes;
  }

  async sendDigits(digits: string): Promise<void> {
    this.send(outgoing.sendDigits(digits));
    this.remember({ role: 'system', text: `sent digits ${digits}` });
    await this.writes;
  }

  async transfer(target: string): Promise<void> {
    await this.finish(`transferred to ${target}`, { reason: 'transfer', target });
  }

  async end(reason = 'ended by supervisor'): Promise<void> {
    await this.finish(reason);
  }

  /**
   * Sends `end`; Twilio then closes the socket and asks the relay action what to do next. The
   * reason (and a transfer's handoff) is on the call record before `end` goes out, so it is there
   * whichever comes first afterwards: our socket close or Twilio's status callback.
   */
  private async finish(reason: string, handoff?: Record<string, unknown>): Promise<void> {
    if (this.endedBecause) return;
    this.endedBecause = reason;
    if (this.turn) this.cutTurn(this.turn.spoken, true);
    try {
      await this.deps.services.calls.updateStatus(this.call!.callSid, { status: 'in-progress', endReason: reason, ...(handoff ? { handoff } : {}) });
    } catch (err) {
      this.deps.logger.error({ err, callSid: this.callSid }, 'relay: could not record why the call ends');
    }
    this.send(outgoing.end(handoff ?? { reason: 'end' }));
    await this.writes;
  }

  /** The socket closed, by Twilio or the network: the session is over and the call record says why. */
  async onClose(code: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.turn) this.cutTurn(this.turn.spoken, true);
    this.unregister?.();
    this.unwatch?.();
    if (!this.call) return;
    await this.inbox;
    await this.writes;
    const endReason = this.endedBecause ?? `relay socket closed: ${code}`;
    try {
      await this.deps.services.calls.updateStatus(this.call.callSid, { status: 'completed', endReason });
    } catch (err) {
      this.deps.logger.error({ err, callSid: this.call.callSid }, 'relay: could not record the end of the call');
    }
  }
}
