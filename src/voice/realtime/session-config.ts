/**
 * The `session.update` a call sends its Realtime service: G.711 in the call's own law both ways
 * (no transcoding), server VAD, the agent's prompt with its data and the call's context, its
 * voice, the caller's speech transcribed, and the same call-control tools relay calls have.
 */
import type { RealtimeSessionCreateRequest } from 'openai/resources/realtime/realtime';
import { systemMessage, TOOLS } from '../../brain/llm.js';
import type { BrainInput } from '../../brain/index.js';
import type { G711Law } from '../../media/g711.js';

export interface RealtimeSettings {
  model: string;
  /** '' = the caller's speech is not transcribed. */
  transcribeModel: string;
  vadThreshold: number;
  vadSilenceMs: number;
}

/** Voices of OpenAI's speech endpoint that its Realtime models do not have. */
const NOT_REALTIME_VOICES = new Set(['nova', 'onyx', 'fable']);
const DEFAULT_VOICE = 'marin';

/** The agent's voice, or the default when it is one only OpenAI's text-to-speech has. */
export function realtimeVoice(voice: string): string {
  const v = voice.trim().toLowerCase();
  return !v || NOT_REALTIME_VOICES.has(v) ? DEFAULT_VOICE : v;
}

export const formatOf = (law: G711Law) => (law === 'PCMU' ? { type: 'audio/pcmu' as const } : { type: 'audio/pcma' as const });

export function sessionConfig(law: G711Law, voice: string, input: BrainInput, s: RealtimeSettings): RealtimeSessionCreateRequest {
  return {
    type: 'realtime',
    model: s.model,
    instructions: systemMessage(input),
    output_modalities: ['audio'],
    audio: {
      input: {
        format: formatOf(law),
        turn_detection: { type: 'server_vad', threshold: s.vadThreshold, silence_duration_ms: s.vadSilenceMs, create_response: true, interrupt_response: true },
        ...(s.transcribeModel ? { transcription: { model: s.transcribeModel } } : {}),
      },
      output: { format: formatOf(law), voice: realtimeVoice(voice) },
    },
    tools: TOOLS.map((t) => ({ type: 'function' as const, name: t.function.name, description: t.function.description, parameters: t.function.parameters })),
    tool_choice: 'auto',
  };
}
