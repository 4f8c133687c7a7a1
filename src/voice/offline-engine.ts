/**
 * The engine with no speech service: the agent's greeting and any text it is given are spoken by
 * the built-in synthesiser (eSpeak NG); the caller's speech is not understood, and the agent says
 * so once after its greeting. Keys the caller presses still reach the conversation.
 */
import { encodeG711 } from '../media/g711.js';
import type { VoiceEngine, VoiceHost } from './engine.js';
import { synthesize } from './offline-tts.js';

export const NO_STT_NOTICE = 'I cannot understand speech on this line yet, because no speech-to-text service is configured. You can press keys, or call back later.';

/** Synthesises `text` and queues it on the host's call. */
export async function playOffline(host: VoiceHost, text: string): Promise<void> {
  const audio = await synthesize(text, host.profile.language);
  host.play(encodeG711(host.law, audio.pcm));
}

export class OfflineEngine implements VoiceEngine {
  readonly kind = 'offline' as const;
  private closed = false;
  private turns: Promise<void> = Promise.resolve();

  constructor(private readonly host: VoiceHost, private readonly agentName: string) {}

  async start(): Promise<void> {
    const greeting = this.host.profile.greeting.trim() || `Hello, you have reached ${this.agentName}.`;
    const text = `${greeting} ${NO_STT_NOTICE}`;
    await playOffline(this.host, text);
    if (!this.closed) this.host.final({ role: 'agent', text });
  }

  hear(): void {
    // Nothing understands speech here.
  }

  digit(): void {
    // The conversation stored the key as the caller's line; the brain answers it, spoken offline.
    this.turns = this.turns.then(() => this.answer()).catch(() => undefined);
  }

  private async answer(): Promise<void> {
    let text = '';
    await this.host.reply({ token: (t) => { text += t; }, done: async () => {
      if (this.closed || !text.trim()) return;
      await this.say(text);
      this.host.final({ role: 'agent', text: text.trim() });
    } });
  }

  async say(text: string): Promise<void> {
    this.host.flush();
    await playOffline(this.host, text);
  }

  contextChanged(): void {
    // No model to tell.
  }

  close(): void {
    this.closed = true;
  }
}
