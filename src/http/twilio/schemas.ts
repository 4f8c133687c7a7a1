import { Type } from '@fastify/type-provider-typebox';

/** Twilio posts form fields; every one is a string. Unknown fields are allowed: Twilio adds new ones. */
export const TwilioForm = Type.Record(Type.String(), Type.Unknown());

export const RelayQuery = Type.Object({ account_sid: Type.Optional(Type.String({ maxLength: 64 })) });

/** Webhooks answer TwiML; the string is sent as it is, never through the JSON serializer. */
export const TwimlReply = { content: { 'text/xml': { schema: Type.String({ description: 'TwiML' }) } } };

export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });
/** A bad or missing signature is 403; the rest are a domain error's statuses (no rate limit here). */
export const errors = Object.fromEntries([400, 403, 404, 409, 413, 415, 502, 503].map((s) => [s, ErrorReply])) as
  Record<400 | 403 | 404 | 409 | 413 | 415 | 502 | 503, typeof ErrorReply>;
