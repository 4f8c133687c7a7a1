/** What a brain may do during one reply: speak a piece of text, or act on the call. */
export type BrainEvent =
  | { type: 'token'; text: string }
  | { type: 'end' }
  | { type: 'transfer'; target: string }
  | { type: 'dtmf'; digits: string };

export interface TranscriptLine { role: 'caller' | 'agent' | 'supervisor' | 'system'; text: string }

/** Everything a brain sees for one turn; rebuilt every turn so context changes show up. */
export interface BrainInput {
  systemPrompt: string;
  /** How the agent should come across (Phony's `personality`); '' for none. */
  personality?: string;
  greeting: string;
  /** The agent's standing data (deployment `context_data`). */
  contextData: Record<string, unknown>;
  /** The call's context as it is now (`PUT /api/calls/{sid}/context` merges into it). */
  callContext: Record<string, unknown>;
  /** Model override of the agent, if any. */
  model: string | null;
  transcript: TranscriptLine[];
  signal: AbortSignal;
}

export interface Brain {
  respond(input: BrainInput): AsyncIterable<BrainEvent>;
}
