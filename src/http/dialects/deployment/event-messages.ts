/**
 * The messages `/events/ws` sends, as JSON schemas for /asyncapi.json, and the one function that
 * writes them. Every message is `{type, call_sid, timestamp, data}`; the types are the call
 * events the deployment document promises, plus `registration.updated` for line state.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { DomainEvent } from '../../../events/catalog.js';

const CALL_EVENT_TYPES = ['call.started', 'call.updated', 'call.ended', 'transcript.partial', 'transcript.final', 'context.updated', 'error'] as const;
type CallEventType = typeof CALL_EVENT_TYPES[number];
const CALL_EVENTS: ReadonlySet<string> = new Set(CALL_EVENT_TYPES);

/** What goes out: the call events, and a line's state under the name a client watches for. */
export type StreamedEvent = DomainEvent<CallEventType | 'registration.state'>;

export function isStreamed(e: DomainEvent): e is StreamedEvent {
  return CALL_EVENTS.has(e.type) || e.type === 'registration.state';
}

/**
 * The wire shape, plus the two fields the deployment document's example reads at the top. The
 * engine's `registration.state` goes out as `registration.updated`: the name the dashboard and
 * CLI watch, and the domain's own `registration.updated` (settings changed) stays internal.
 */
export function renderEvent(e: StreamedEvent): Record<string, unknown> {
  const type = e.type === 'registration.state' ? 'registration.updated' : e.type;
  const out: Record<string, unknown> = { type, call_sid: e.callSid ?? null, timestamp: e.timestamp, data: e.data };
  if (e.type === 'transcript.partial' || e.type === 'transcript.final') out.text = e.data.text;
  if (e.type === 'call.ended') out.duration = e.data.duration;
  return out;
}

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

function message(type: string, data: TSchema, extra: Record<string, TSchema> = {}, example?: Record<string, unknown>) {
  return Type.Object({
    type: Type.Literal(type),
    call_sid: type === 'registration.updated' ? Type.Null() : NullableString,
    timestamp: Type.String({ format: 'date-time' }),
    data,
    ...extra,
  }, example ? { examples: [example] } : {});
}

const T = '2026-12-04T10:00:00.000Z';
const SID = 'CA0123456789abcdef0123456789abcdef';

/** One schema per message type, by type. */
export const EVENT_MESSAGES: Record<string, { summary: string; schema: TSchema }> = {
  'call.started': {
    summary: 'A call began (inbound or outbound)',
    schema: message('call.started', Type.Object({
      agent_id: NullableString, direction: Type.String(), from_number: Type.String(), to_number: Type.String(), status: Type.String(),
      handler: Type.Optional(Type.Union([Type.String({ description: 'who answers a SIP call: livekit, sip, dialtone, relay' }), Type.Null()])),
    }), {}, { type: 'call.started', call_sid: SID, timestamp: T, data: { agent_id: 'ag_1', direction: 'inbound', from_number: '+15550100000', to_number: '+15550200000', status: 'in-progress', handler: 'dialtone' } }),
  },
  'call.updated': {
    summary: "A call's status changed",
    schema: message('call.updated', Type.Object({
      agent_id: NullableString, status: Type.String(), duration: Type.Optional(NullableNumber), cost: Type.Optional(NullableNumber),
    })),
  },
  'call.ended': {
    summary: 'A call ended',
    schema: message('call.ended', Type.Object({
      agent_id: NullableString, status: Type.String(), duration: NullableNumber, end_reason: NullableString, cost: NullableNumber,
    }), { duration: NullableNumber }),
  },
  'transcript.partial': {
    summary: 'Words heard so far in a turn (not kept)',
    schema: message('transcript.partial', Type.Object({ text: Type.String() }), { text: Type.String() }),
  },
  'transcript.final': {
    summary: 'A finished turn of the transcript',
    schema: message('transcript.final', Type.Object({ role: Type.String({ description: 'caller or agent' }), text: Type.String(), interrupted: Type.Boolean() }), { text: Type.String() },
      { type: 'transcript.final', call_sid: SID, timestamp: T, data: { role: 'caller', text: 'I would like to renew.', interrupted: false }, text: 'I would like to renew.' }),
  },
  'context.updated': {
    summary: "The call's context was replaced",
    schema: message('context.updated', Type.Object({ context: Type.Record(Type.String(), Type.Unknown()) })),
  },
  error: {
    summary: 'Something went wrong on a live call (not kept)',
    schema: message('error', Type.Object({ message: Type.String() })),
  },
  'registration.updated': {
    summary: "A line's registration state changed (call_sid is null)",
    schema: message('registration.updated', Type.Object({
      registration_id: Type.String({ description: 'the id under /phone-endpoints' }),
      status: Type.Union([Type.Literal('active'), Type.Literal('failed'), Type.Literal('disabled')]),
      state: Type.Union([Type.Literal('initial'), Type.Literal('registering'), Type.Literal('registered'), Type.Literal('failed')]),
      error: Type.Union([Type.String({ description: 'why the registrar refused, while it does' }), Type.Null()]),
    }), {}, { type: 'registration.updated', call_sid: null, timestamp: T, data: { registration_id: 'reg_1', status: 'active', state: 'registered', error: null } }),
  },
};
