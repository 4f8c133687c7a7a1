import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { CALL_STATUSES, type Call, type CallTurn } from '../../../domain/calls.js';
import { scopeOf } from '../../../domain/principal.js';
import { analyticsRoutes } from './analytics.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Context = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form facts about this call the agent sees from its next turn' });
const Status = Type.Union(CALL_STATUSES.map((s) => Type.Literal(s)));
const Direction = Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]);

const ActiveCall = Type.Object({
  id: Type.String(),
  call_sid: Type.String(),
  agent_id: Nullable(Type.String()),
  from_number: Type.String(),
  to_number: Type.String(),
  direction: Direction,
  status: Type.Literal('active'),
  call_status: Status,
  started_at: Type.String({ format: 'date-time' }),
  duration_seconds: Type.Integer({ description: 'seconds since the call was answered (or started, before an answer)' }),
  context: Context,
});

const HistoryCall = Type.Object({
  id: Type.String(),
  call_sid: Type.String(),
  agent_id: Nullable(Type.String()),
  direction: Direction,
  from_number: Type.String(),
  to_number: Type.String(),
  duration_seconds: Nullable(Type.Integer()),
  status: Status,
  started_at: Type.String({ format: 'date-time' }),
  ended_at: Nullable(Type.String({ format: 'date-time' })),
  cost: Nullable(Type.Number()),
  end_reason: Nullable(Type.String()),
  handler: Nullable(Type.String({ description: 'SIP calls: livekit, sip, dialtone or relay; null for Twilio calls' })),
  line_id: Nullable(Type.String({ description: 'SIP calls: the registration (phone endpoint) the call came in on' })),
  trunk_id: Nullable(Type.String({ description: 'SIP calls: the trunk the call went out through' })),
  sip_status: Nullable(Type.Integer({ description: 'SIP calls: the SIP status that ended the call' })),
});

const Turn = Type.Object({
  role: Type.String(),
  text: Type.String(),
  interrupted: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

const CallDetail = Type.Object({
  ...HistoryCall.properties,
  phone_number: Nullable(Type.String()),
  answered_at: Nullable(Type.String({ format: 'date-time' })),
  context: Context,
  transcript: Type.Array(Turn),
});

const HistoryQuery = Type.Object({
  agent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  start_date: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601; calls started at or after' })),
  end_date: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601; calls started at or before (a bare date includes that whole day)' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
});
type HistoryQuery = Static<typeof HistoryQuery>;

const SidParams = Type.Object({ call_sid: Type.String({ minLength: 1, maxLength: 64 }) });
const AliasSidParams = Type.Object({ callSid: Type.String({ minLength: 1, maxLength: 64 }) });
const ContextBody = Type.Object({ context: Context }, { additionalProperties: false });
const ContextUpdated = Type.Object({ message: Type.String(), call_sid: Type.String() });

function activeView(c: Call): Static<typeof ActiveCall> {
  return {
    id: c.id, call_sid: c.callSid, agent_id: c.agentId, from_number: c.fromNumber, to_number: c.toNumber,
    direction: c.direction, status: 'active', call_status: c.status, started_at: c.startedAt,
    duration_seconds: c.durationSeconds ?? 0, context: c.context,
  };
}

function historyView(c: Call): Static<typeof HistoryCall> {
  return {
    id: c.id, call_sid: c.callSid, agent_id: c.agentId, direction: c.direction, from_number: c.fromNumber,
    to_number: c.toNumber, duration_seconds: c.durationSeconds, status: c.status, started_at: c.startedAt,
    ended_at: c.endedAt, cost: c.cost, end_reason: c.endReason,
    handler: c.handler, line_id: c.lineId, trunk_id: c.trunkId, sip_status: c.sipStatus,
  };
}

function detailView(c: Call, turns: CallTurn[]): Static<typeof CallDetail> {
  return {
    ...historyView(c), phone_number: c.phoneNumber, answered_at: c.answeredAt, context: c.context,
    transcript: turns.map((t) => ({ role: t.role, text: t.text, interrupted: t.interrupted, created_at: t.createdAt })),
  };
}

/** Calls of the deployment API: live calls, history, one call with its transcript, and live context. */
export async function callRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['calls'];

  r.get('/api/calls/active', {
    schema: { tags, summary: 'Calls in progress (queued, ringing or answered)', response: { 200: Type.Array(ActiveCall), ...errors } },
  }, async (req) => {
    return (await services.calls.listActive(scopeOf(req.principal!))).map(activeView);
  });

  r.get('/api/calls/history', {
    schema: {
      tags, summary: 'Calls, newest first', querystring: HistoryQuery,
      response: { 200: Type.Object({ calls: Type.Array(HistoryCall), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }), ...errors },
    },
  }, async (req) => {
    const q: HistoryQuery = req.query;
    const { calls, total } = await services.calls.history(scopeOf(req.principal!), {
      agentId: q.agent_id, startDate: q.start_date, endDate: q.end_date, limit: q.limit, offset: q.offset,
    });
    return { calls: calls.map(historyView), total, limit: q.limit, offset: q.offset };
  });

  r.get('/api/calls/:call_sid', {
    schema: { tags, summary: 'One call with its transcript', params: SidParams, response: { 200: CallDetail, ...errors } },
  }, async (req) => {
    const call = await services.calls.get(scopeOf(req.principal!), req.params.call_sid);
    return detailView(call, await services.calls.transcript(call.callSid));
  });

  const updateContext = async (scope: ReturnType<typeof scopeOf>, callSid: string, context: Record<string, unknown>) => {
    const call = await services.calls.mergeContext(scope, callSid, context);
    return { message: 'Context updated successfully', call_sid: call.callSid };
  };

  r.put('/api/calls/:call_sid/context', {
    schema: { tags, summary: 'Merge keys into a live call\'s context', params: SidParams, body: ContextBody, response: { 200: ContextUpdated, ...errors } },
  }, async (req) => updateContext(scopeOf(req.principal!), req.params.call_sid, req.body.context));

  // Path the reference implementation served; kept for existing clients.
  r.put('/calls/:callSid/context', {
    schema: { tags, summary: 'Alias of PUT /api/calls/{call_sid}/context', params: AliasSidParams, body: ContextBody, response: { 200: ContextUpdated, ...errors } },
  }, async (req) => updateContext(scopeOf(req.principal!), req.params.callSid, req.body.context));

  await app.register(analyticsRoutes, opts);
}
