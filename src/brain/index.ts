import type { Config } from '../config.js';
import { LlmBrain } from './llm.js';
import { OfflineBrain } from './offline.js';
import type { Brain } from './types.js';

export type { Brain, BrainEvent, BrainInput, TranscriptLine } from './types.js';

/** The default brain of AI agents: the configured LLM, or the offline brain when there is no key. */
export function defaultBrain(config: Config): Brain {
  if (!config.llm.apiKey) return new OfflineBrain();
  return new LlmBrain({ baseUrl: config.llm.baseUrl, apiKey: config.llm.apiKey, model: config.llm.model });
}
