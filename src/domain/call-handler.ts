import type { Config } from '../config.js';
import { requireOneOf } from './validate.js';

/**
 * Who answers a call arriving on a registration or reaching an agent: a LiveKit room, a SIP
 * peer, Dialtone's own brain, or the relay socket. The registrations API documents this set.
 */
export const CALL_HANDLERS = ['livekit', 'dialtone', 'relay', 'sip'] as const;
export type CallHandler = (typeof CALL_HANDLERS)[number];

/** An agent's own handler: null lets the call layer pick (a person's addresses ring, else the default). */
export function optionalHandler(value: unknown): CallHandler | null {
  return value === null ? null : requireOneOf('handler', value, CALL_HANDLERS);
}

/** What a registration answers with when the client does not say. */
export const DEFAULT_CALL_HANDLER: CallHandler = 'livekit';

export const LIVEKIT_MISSING = 'LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET and LIVEKIT_SIP_URI';

/** Why calls for `handler` cannot be answered on this server, or null when they can. */
export function handlerProblem(handler: CallHandler, config: Pick<Config, 'livekit'>): string | null {
  if (handler === 'livekit' && !config.livekit) return LIVEKIT_MISSING;
  return null;
}
