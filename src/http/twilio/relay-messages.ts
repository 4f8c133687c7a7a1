/**
 * The ConversationRelay messages on `/relay/ws` as JSON schemas, for /asyncapi.json only: the
 * session parses and builds them in src/relay/messages.ts, which is the authority. Twilio's
 * protocol, so field names are Twilio's.
 */
import { Type, type TSchema } from '@sinclair/typebox';

const Interruptible = Type.Union([Type.Literal('none'), Type.Literal('dtmf'), Type.Literal('speech'), Type.Literal('any'), Type.Boolean()]);

const msg = (type: string, fields: Record<string, TSchema>, example?: Record<string, unknown>) =>
  Type.Object({ type: Type.Literal(type), ...fields }, example ? { examples: [example] } : {});

/** What Twilio sends. */
export const RELAY_INCOMING: Record<string, { summary: string; schema: TSchema }> = {
  setup: {
    summary: 'The call is connected; names the call and the caller',
    schema: msg('setup', {
      sessionId: Type.String(), callSid: Type.String(), accountSid: Type.String(), from: Type.String(), to: Type.String(),
      direction: Type.String(), customParameters: Type.Optional(Type.Record(Type.String(), Type.String())),
    }, { type: 'setup', sessionId: 'VX1', callSid: 'CA0123456789abcdef0123456789abcdef', accountSid: 'AC0123456789abcdef0123456789abcdef', from: '+15550100000', to: '+15550200000', direction: 'inbound' }),
  },
  prompt: {
    summary: 'What the caller said (last: false while the turn goes on)',
    schema: msg('prompt', { voicePrompt: Type.String(), lang: Type.Optional(Type.String()), last: Type.Optional(Type.Boolean()) },
      { type: 'prompt', voicePrompt: 'I would like to renew.', lang: 'en-US', last: true }),
  },
  interrupt: {
    summary: 'The caller spoke over the agent',
    schema: msg('interrupt', { utteranceUntilInterrupt: Type.Optional(Type.String()), durationUntilInterruptMs: Type.Optional(Type.Number()) }),
  },
  dtmf: { summary: 'The caller pressed a key', schema: msg('dtmf', { digit: Type.String() }) },
  error: { summary: 'Twilio reports a problem with the session', schema: msg('error', { description: Type.Optional(Type.String()) }) },
  info: { summary: 'Informational (ignored)', schema: msg('info', { name: Type.Optional(Type.String()), value: Type.Optional(Type.Unknown()) }) },
};

/** What Dialtone sends back. */
export const RELAY_OUTGOING: Record<string, { summary: string; schema: TSchema }> = {
  text: {
    summary: 'Text for Twilio to speak, streamed in tokens',
    schema: msg('text', {
      token: Type.String(), last: Type.Boolean(), lang: Type.Optional(Type.String()),
      interruptible: Type.Optional(Interruptible), preemptible: Type.Optional(Type.Boolean()),
    }, { type: 'text', token: 'Of course, ', last: false }),
  },
  play: {
    summary: 'Audio to play from a URL',
    schema: msg('play', { source: Type.String(), loop: Type.Optional(Type.Integer()), preemptible: Type.Optional(Type.Boolean()), interruptible: Type.Optional(Interruptible) }),
  },
  sendDigits: { summary: 'DTMF to send to the caller', schema: msg('sendDigits', { digits: Type.String() }) },
  language: { summary: 'Switch the speech and transcription languages', schema: msg('language', { ttsLanguage: Type.Optional(Type.String()), transcriptionLanguage: Type.Optional(Type.String()) }) },
  end: { summary: 'End the session (handoffData says why, e.g. a transfer)', schema: msg('end', { handoffData: Type.Optional(Type.String()) }) },
};
