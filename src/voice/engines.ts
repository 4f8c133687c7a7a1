/** Picks and builds the speech engine of a call Dialtone answers itself. */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Agent } from '../domain/agents.js';
import type { VoiceEngine, VoiceEngineKind, VoiceHost } from './engine.js';
import { OfflineEngine } from './offline-engine.js';

export interface EngineOptions {
  config: Config;
  agentName: string;
  logger: Logger;
}

/** The agent's own engine, else the server's `VOICE_ENGINE`. */
export function engineKindFor(agent: Pick<Agent, 'voiceEngine'>, config: Config): VoiceEngineKind {
  return agent.voiceEngine ?? config.voice.engine;
}

export function createEngine(kind: VoiceEngineKind, host: VoiceHost, opts: EngineOptions): VoiceEngine {
  switch (kind) {
    default:
      return new OfflineEngine(host, opts.agentName);
  }
}
