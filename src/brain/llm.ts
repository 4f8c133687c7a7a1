import OpenAI from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Brain, BrainEvent, BrainInput } from './types.js';

export interface LlmBrainOptions {
  baseUrl: string | null;
  apiKey: string;
  model: string;
  /** A reply that has not finished by then is abandoned and the caller hears an apology. */
  timeoutMs?: number;
}

const E164 = /^\+[1-9][0-9]{6,14}$/;

/** The call-control tools every agent may use (relay and native calls alike). */
export const TOOLS: ChatCompletionFunctionTool[] = [
  {
    type: 'function',
    function: { name: 'end_call', description: 'Hang up the call once the conversation is over.', parameters: { type: 'object', properties: {} } },
  },
  {
    type: 'function',
    function: {
      name: 'transfer_call',
      description: 'Transfer the caller to a phone number.',
      parameters: { type: 'object', properties: { target: { type: 'string', description: 'E.164 number, e.g. +15551234567' } }, required: ['target'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'send_dtmf',
      description: 'Press keypad digits on the call (0-9, * and #), e.g. to navigate a phone menu.',
      parameters: { type: 'object', properties: { digits: { type: 'string' } }, required: ['digits'] },
    },
  },
];

/** The system message: the agent's prompt plus the data it may use, restated every turn. */
export function systemMessage(input: BrainInput): string {
  const parts = [input.systemPrompt || 'You are a helpful voice assistant on a phone call.'];
  if (input.personality) parts.push(`Your personality: ${input.personality}`);
  parts.push('You are speaking on the phone: answer briefly, in plain sentences without markup.');
  if (Object.keys(input.contextData).length) parts.push(`Agent data (JSON): ${JSON.stringify(input.contextData)}`);
  if (Object.keys(input.callContext).length) parts.push(`This call's context (JSON): ${JSON.stringify(input.callContext)}`);
  return parts.join('\n\n');
}

function messagesOf(input: BrainInput): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: 'system', content: systemMessage(input) }];
  for (const t of input.transcript) {
    if (t.role === 'caller') out.push({ role: 'user', content: t.text });
    else if (t.role === 'agent') out.push({ role: 'assistant', content: t.text });
    else if (t.role === 'supervisor') out.push({ role: 'assistant', content: `[said by a human supervisor] ${t.text}` });
    else out.push({ role: 'system', content: t.text });
  }
  return out;
}

/** A tool call as the action it asks for; null when its name or arguments are not ones we accept. */
export function toolEvent(name: string, rawArgs: string): BrainEvent | null {
  let args: Record<string, unknown> = {};
  try { args = rawArgs ? (JSON.parse(rawArgs) as Record<string, unknown>) : {}; } catch { return null; }
  if (name === 'end_call') return { type: 'end' };
  if (name === 'transfer_call' && typeof args.target === 'string' && E164.test(args.target)) return { type: 'transfer', target: args.target };
  if (name === 'send_dtmf' && typeof args.digits === 'string' && /^[0-9*#]{1,32}$/.test(args.digits)) return { type: 'dtmf', digits: args.digits };
  return null;
}

/** Any OpenAI-compatible chat-completions server, streamed token by token, with call-control tools. */
export class LlmBrain implements Brain {
  private readonly client: OpenAI;

  constructor(private readonly opts: LlmBrainOptions) {
    this.client = new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseUrl ?? undefined, maxRetries: 0 });
  }

  async *respond(input: BrainInput): AsyncIterable<BrainEvent> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 15_000);
    const signal = AbortSignal.any([input.signal, timeout]);
    const calls = new Map<number, { name: string; args: string }>();
    try {
      const stream = await this.client.chat.completions.create(
        { model: input.model ?? this.opts.model, messages: messagesOf(input), tools: TOOLS, stream: true },
        { signal },
      );
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta;
        if (!delta) continue;
        if (delta.content) yield { type: 'token', text: delta.content };
        for (const tc of delta.tool_calls ?? []) {
          const c = calls.get(tc.index) ?? { name: '', args: '' };
          if (tc.function?.name) c.name += tc.function.name;
          if (tc.function?.arguments) c.args += tc.function.arguments;
          calls.set(tc.index, c);
        }
      }
    } catch (err) {
      if (input.signal.aborted) return;
      if (timeout.aborted) throw new Error('the language model did not answer in time');
      throw err;
    }
    // The SDK ends an aborted stream quietly; a timeout must still count as a failure.
    if (input.signal.aborted) return;
    if (timeout.aborted) throw new Error('the language model did not answer in time');
    for (const c of [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)) {
      const e = toolEvent(c.name, c.args);
      if (e) yield e;
    }
  }
}
