/** Picks and builds the speech engine of a call Dialtone answers itself. */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Agent } from '../domain/agents.js';
import type { VoiceEngine, VoiceEngineKind, VoiceHost } from './engine.js';
import { OfflineEngine } from './offline-engine.js';
import { PipelineEngine } from './pipeline/pipeline-engine.js';
import { Synthesiser, Transcriber } from './pipeline/speech-services.js';
import { RealtimeEngine } from './realtime/realtime-engine.js';

export interface EngineOptions {
  config: Config;
  agentName: string;
  logger: Logger;
}

/** The agent's own engine, else the server's `VOICE_ENGINE`. */
export function engineKindFor(agent: Pick<Agent, 'voiceEngine'>, config: Config): VoiceEngineKind {
  return agent.voiceEngine ?? config.voice.engine;
}

/**
 * The engine of one call. An agent set to `realtime` on a server without an API key, or to
 * `pipeline` on one with no speech-to-text service, gets the offline engine rather than a call
 * that cannot speak. The pipeline without a text-to-speech service speaks with the built-in synthesiser.
 */
export function createEngine(kind: VoiceEngineKind, host: VoiceHost, opts: EngineOptions): VoiceEngine {
  const { config } = opts;
  if (kind === 'realtime' && config.llm.apiKey) {
    const v = config.voice;
    return new RealtimeEngine(host, { baseUrl: config.llm.baseUrl, apiKey: config.llm.apiKey, model: v.realtimeModel }, {
      model: v.realtimeModel, transcribeModel: v.transcribeModel, vadThreshold: v.vadThreshold, vadSilenceMs: v.vadSilenceMs,
    }, opts.logger);
  }
  if (kind === 'pipeline' && config.voice.stt) {
    const v = config.voice;
    return new PipelineEngine(host, {
      stt: new Transcriber(v.stt!), tts: v.tts ? new Synthesiser(v.tts) : null, vadRms: v.pipelineVadRms, vadSilenceMs: v.pipelineVadSilenceMs,
    }, opts.logger);
  }
  if (kind !== 'offline') opts.logger.warn({ engine: kind }, 'speech engine not available here; the offline engine speaks instead');
  return new OfflineEngine(host, opts.agentName);
}
