/**
 * Who answers a call arriving on a registration or reaching an agent: a LiveKit room, a SIP
 * peer, Dialtone's own brain, or the relay socket. The registrations API documents this set.
 */
export const CALL_HANDLERS = ['livekit', 'dialtone', 'relay', 'sip'] as const;
export type CallHandler = (typeof CALL_HANDLERS)[number];

/** What a registration answers with when the client does not say. */
export const DEFAULT_CALL_HANDLER: CallHandler = 'livekit';
