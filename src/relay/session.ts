import type { Logger } from 'pino';
import type { CallRuntime } from '../calls/runtime.js';
import { Conversation, type SpeechEdge } from '../conversation/conversation.js';
import { isLive } from '../domain/calls.js';
import type { Services } from '../domain/services.js';
import { outgoing, parseIncoming, type IncomingMessage, type OutgoingMessage, type PromptMessage, type SetupMessage } from './messages.js';

/** The part of a WebSocket a session needs; `ws` sockets fit, and so do test doubles. */
export interface RelaySocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

const OPEN = 1;

export interface RelaySessionDeps {
  services: Services;
  runtime: CallRuntime;
  logger: Logger;
  /** The tenants whose carrier credential signed the handshake; the call must be one of theirs. */
  tenantIds: string[];
}

/**
 * One ConversationRelay connection: Twilio's speech edge of a conversation. Twilio sends what the
 * caller says, the agent's brain answers token by token, and supervisors act on the call through
 * the conversation (registered as the call's `LiveCallControl`).
 */
export class RelaySession implements SpeechEdge {
  private conversation: Conversation | null = null;
  /** Incoming messages are handled one at a time, in arrival order. */
  private inbox: Promise<void> = Promise.resolve();
  private unregister: (() => void) | null = null;
  private stopEarlyWatch: (() => void) | null = null;
  /** When the caller's last final prompt arrived (hrtime ns), until its reply's first token goes out. */
  private promptAt: bigint | null = null;
  /** `end` went to Twilio. */
  private endSent = false;
  private closed = false;

  constructor(private readonly socket: RelaySocket, private readonly deps: RelaySessionDeps) {}

  get callSid(): string | null {
    return this.conversation?.callSid ?? null;
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
    const conv = this.conversation;
    if (!conv) return; // nothing but setup makes sense before setup
    switch (msg.type) {
      case 'prompt': return this.onPrompt(conv, msg);
      case 'dtmf':
        conv.callerPressed(msg.digit);
        return;
      case 'error':
        this.deps.logger.warn({ callSid: conv.callSid, description: msg.description }, 'relay: Twilio reported an error');
        await this.deps.services.calls.publishError(conv.callSid, `ConversationRelay: ${msg.description}`);
        return;
      default:
        return; // info: nothing to do
    }
  }

  private async onSetup(msg: SetupMessage): Promise<void> {
    if (this.conversation || this.stopEarlyWatch) return;
    const { services, tenantIds, runtime } = this.deps;
    // Context updates arrive as events, so each turn sees the latest without reading the call
    // again. Watching starts before the read so an update in between is not lost.
    const watch = Conversation.watchEarly(runtime, msg.callSid);
    this.stopEarlyWatch = watch.stop;
    const call = await services.calls.findBySid(msg.callSid);
    if (!call || !tenantIds.includes(call.tenantId) || !call.agentId || !isLive(call.status)) {
      this.deps.logger.warn({ callSid: msg.callSid }, 'relay: setup for a call that is unknown, finished or not ours');
      watch.stop();
      this.socket.close(1008, 'unknown call');
      return;
    }
    // The handshake's signature names only the account, so a captured one can be replayed: the
    // call's first session is its only one, and a second never touches the call.
    if (!(await services.calls.claimRelaySession(call.callSid))) {
      this.deps.logger.warn({ callSid: msg.callSid }, 'relay: refused a second session for a call');
      watch.stop();
      this.socket.close(1008, 'relay session already open for this call');
      return;
    }
    const agent = await services.agents.get({ tenantId: call.tenantId }, call.agentId);
    if (this.closed) return;
    const current = call.status === 'in-progress' ? call : await services.calls.updateStatus(call.callSid, { status: 'in-progress' });
    const conv = new Conversation(call.callSid, agent, current.context, { services, runtime, logger: this.deps.logger }, watch);
    conv.attach(this);
    this.conversation = conv;
    this.unregister = runtime.sessions.register(call.callSid, conv);
    // Twilio speaks the welcome greeting from the TwiML; it belongs in the transcript all the same.
    // An inbound call without the agent's own greeting got the default (calls/inbound.ts).
    const greeting = agent.greeting || (call.direction === 'inbound' ? runtime.defaultGreeting : '');
    if (greeting) conv.remember({ role: 'agent', text: greeting });
  }

  private async onPrompt(conv: Conversation, msg: PromptMessage): Promise<void> {
    if (!msg.last) {
      await this.deps.services.calls.publishPartial(conv.callSid, msg.voicePrompt);
      return;
    }
    if (conv.endReason) return;
    // The caller spoke over a reply without an interrupt: keep what was sent, marked as cut short.
    conv.cutReply();
    conv.remember({ role: 'caller', text: msg.voicePrompt });
    void conv.respond(
      { token: (text) => this.send(outgoing.text(text, false)), done: () => { this.send(outgoing.text('', true)); } },
      () => {
        if (this.promptAt === null) return;
        this.deps.runtime.observeFirstToken(Number(process.hrtime.bigint() - this.promptAt) / 1e6);
        this.promptAt = null;
      },
    ).catch((err) => this.deps.logger.error({ err, callSid: conv.callSid }, 'relay: reply failed'));
  }

  private onInterrupt(heard: string): void {
    const conv = this.conversation;
    if (!conv) return;
    // When the reply was fully sent but Twilio was still speaking it, the brain only learns what was heard.
    if (conv.replying) conv.cutReply(heard);
    else conv.heardOnly(heard);
  }

  private send(msg: OutgoingMessage): boolean {
    if (this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  // SpeechEdge: what the conversation asks of Twilio.

  async sayNow(text: string): Promise<void> {
    this.send(outgoing.text(text, true));
  }

  async sendDigits(digits: string): Promise<void> {
    this.send(outgoing.sendDigits(digits));
  }

  async transfer(target: string): Promise<void> {
    this.conversation?.ending(`transferred to ${target}`);
    await this.sendEnd({ reason: 'transfer', target });
  }

  async hangUp(): Promise<void> {
    await this.sendEnd();
  }

  /**
   * Sends `end`; Twilio then closes the socket and asks the relay action what to do next. The
   * reason (and a transfer's handoff) is on the call record before `end` goes out, so it is there
   * whichever comes first afterwards: our socket close or Twilio's status callback.
   */
  private async sendEnd(handoff?: Record<string, unknown>): Promise<void> {
    const conv = this.conversation;
    if (this.endSent || !conv) return;
    this.endSent = true;
    try {
      await this.deps.services.calls.updateStatus(conv.callSid, { status: 'in-progress', endReason: conv.endReason ?? 'ended', ...(handoff ? { handoff } : {}) });
    } catch (err) {
      this.deps.logger.error({ err, callSid: this.callSid }, 'relay: could not record why the call ends');
    }
    this.send(outgoing.end(handoff ?? { reason: 'end' }));
    await conv.settled();
  }

  /** The socket closed, by Twilio or the network: the session is over and the call record says why. */
  async onClose(code: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregister?.();
    const conv = this.conversation;
    if (!conv) {
      this.stopEarlyWatch?.();
      return;
    }
    conv.cutReply();
    await this.inbox;
    await conv.close();
    const endReason = conv.endReason ?? `relay socket closed: ${code}`;
    try {
      await this.deps.services.calls.updateStatus(conv.callSid, { status: 'completed', endReason });
    } catch (err) {
      this.deps.logger.error({ err, callSid: conv.callSid }, 'relay: could not record the end of the call');
    }
  }
}
