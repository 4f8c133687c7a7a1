import { requireOneOf } from './validate.js';

/**
 * How an AI agent's calls that Dialtone answers itself get their speech: `realtime` (an
 * OpenAI-Realtime-compatible model hears and speaks), `pipeline` (speech-to-text, the agent's
 * brain, text-to-speech) or `offline` (the built-in synthesiser, no speech understood).
 */
export const VOICE_ENGINES = ['realtime', 'pipeline', 'offline'] as const;
export type VoiceEngineKind = (typeof VOICE_ENGINES)[number];

/** An agent's own engine: null follows the server's `VOICE_ENGINE`. */
export function voiceEngineOf(value: string | null): VoiceEngineKind | null {
  return value === null ? null : requireOneOf('voice_engine', value, VOICE_ENGINES);
}
