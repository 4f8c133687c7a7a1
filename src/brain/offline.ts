import type { Brain, BrainEvent, BrainInput } from './types.js';

const GOODBYE = /\b(good\s*-?\s*bye|bye)\b/i;
const TRANSFER = /\btransfer\b.*?(\+[1-9][0-9 ]{6,18}[0-9])/i;

/** Splits a sentence into word tokens (each keeps its following space) so it streams like an LLM. */
export function wordTokens(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

/**
 * The brain used when no LLM is configured. It says plainly that it is an offline assistant,
 * repeats what it heard, ends the call on goodbye and transfers when asked to, so a whole call
 * runs with no outside service.
 */
export class OfflineBrain implements Brain {
  async *respond(input: BrainInput): AsyncIterable<BrainEvent> {
    const heard = [...input.transcript].reverse().find((t) => t.role === 'caller')?.text.trim() ?? '';
    const transfer = TRANSFER.exec(heard);
    let reply: string;
    let action: BrainEvent | null = null;
    if (transfer) {
      const target = transfer[1].replace(/ /g, '');
      reply = `Transferring you to ${target} now.`;
      action = { type: 'transfer', target };
    } else if (GOODBYE.test(heard)) {
      reply = 'Thank you for calling. Goodbye!';
      action = { type: 'end' };
    } else if (!heard) {
      reply = "I'm an offline assistant and I didn't catch that. Could you say it again?";
    } else {
      reply = `I'm an offline assistant without a language model, so I can only repeat what I heard. You said: ${heard}`;
    }
    for (const token of wordTokens(reply)) {
      if (input.signal.aborted) return;
      yield { type: 'token', text: token };
    }
    if (action && !input.signal.aborted) yield action;
  }
}
