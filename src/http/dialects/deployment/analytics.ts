import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { PERIODS, type AgentStats, type Summary } from '../../../domain/analytics.js';
import { scopeOf } from '../../../domain/principal.js';

const SummaryQuery = Type.Object({
  // A plain enum (not a union of literals), so a wrong value is answered with the list of allowed ones.
  period: Type.Optional(Type.Unsafe<(typeof PERIODS)[number]>({ type: 'string', enum: [...PERIODS], description: 'calls started in the last day, week, month (30 days, the default) or year' })),
  tenant_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'platform admin only' })),
});

const DayTrendView = Type.Object({ date: Type.String({ format: 'date' }), calls: Type.Integer(), minutes: Type.Number() });

const SummaryView = Type.Object({
  total_agents: Type.Integer(),
  total_calls: Type.Integer(),
  total_minutes: Type.Number(),
  average_call_duration: Type.Integer({ description: 'seconds, over completed calls' }),
  success_rate: Type.Number({ description: 'completed / finished calls' }),
  busiest_hour: Type.Union([Type.Integer({ minimum: 0, maximum: 23 }), Type.Null()], { description: 'UTC hour of day' }),
  hourly_distribution: Type.Record(Type.String(), Type.Integer(), { description: 'calls per UTC hour of day over the period; hours without calls left out' }),
  top_agents: Type.Array(Type.Object({ agent_id: Type.String(), name: Type.String(), calls: Type.Integer(), minutes: Type.Number() })),
  daily_trend: Type.Array(DayTrendView, { description: 'the last 30 UTC days (today included) whatever the period; days without calls as zeros' }),
});

const AgentView = Type.Object({
  agent_id: Type.String(),
  name: Type.String(),
  total_calls: Type.Integer(),
  total_minutes: Type.Number(),
  average_call_duration: Type.Integer(),
  success_rate: Type.Number(),
  hourly_distribution: Type.Record(Type.String(), Type.Integer(), { description: 'calls per UTC hour of day' }),
  daily_trend: Type.Array(DayTrendView),
});

const AgentParams = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 100 }) });

function summaryView(s: Summary): Static<typeof SummaryView> {
  return {
    total_agents: s.totalAgents, total_calls: s.totalCalls, total_minutes: s.totalMinutes,
    average_call_duration: s.averageCallDuration, success_rate: s.successRate, busiest_hour: s.busiestHour,
    hourly_distribution: s.hourlyDistribution,
    top_agents: s.topAgents.map((a) => ({ agent_id: a.agentId, name: a.name, calls: a.calls, minutes: a.minutes })),
    daily_trend: s.dailyTrend,
  };
}

function agentView(a: AgentStats): Static<typeof AgentView> {
  return {
    agent_id: a.agentId, name: a.name, total_calls: a.totalCalls, total_minutes: a.totalMinutes,
    average_call_duration: a.averageCallDuration, success_rate: a.successRate,
    hourly_distribution: a.hourlyDistribution, daily_trend: a.dailyTrend,
  };
}

/** Analytics of the deployment API. Registered inside `callRoutes`, whose auth hook it inherits. */
export async function analyticsRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['analytics'];

  r.get('/api/analytics/summary', {
    schema: { tags, summary: 'Call totals, success rate, busiest hour and top agents', querystring: SummaryQuery, response: { 200: SummaryView, ...errors } },
  }, async (req) => summaryView(await services.analytics.summaryFor(req.principal!, { period: req.query.period, tenantId: req.query.tenant_id })));

  r.get('/api/analytics/agents/:agent_id', {
    schema: { tags, summary: 'One agent\'s calls by hour of day and by day (last 30 days)', params: AgentParams, response: { 200: AgentView, ...errors } },
  }, async (req) => agentView(await services.analytics.agent(scopeOf(req.principal!), req.params.agent_id)));
}
