import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PLAIN_AGENT_ROUTE, type AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { VOICE_ENGINES } from '../../../domain/voice-engine.js';
import { AGENT_KINDS, DEPLOY_STATUSES, type Agent, type AgentPatch } from '../../../domain/agents.js';
import { invalid } from '../../../domain/errors.js';
import { scopeOf } from '../../../domain/principal.js';
import type { Tx } from '../../../domain/unit-of-work.js';
import { offsetPage } from '../../../domain/paging.js';
import { linkNextPage, ListWindowQuery, windowOf } from '../../list-window.js';

/** A plain JSON-schema enum (not anyOf of constants), so a bad value is reported as "must be one of …". */
const oneOf = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });
const Kind = oneOf(AGENT_KINDS);
const Status = oneOf(DEPLOY_STATUSES);
const ContextData = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form facts the agent may use; replaced as a whole on update' });

/** Writable fields; POST requires `name`, PUT takes any subset. */
const editable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  type: Kind,
  system_prompt: Type.String({ maxLength: 20_000 }),
  voice: Type.String({ minLength: 1, maxLength: 100 }),
  context_data: ContextData,
  greeting: Type.String({ maxLength: 2_000 }),
  language: Type.String({ minLength: 2, maxLength: 35 }),
  llm_model: Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 200 }),
  status: Status,
  // Phony's own names (sackio/phony backend/agent_api.py, AgentCreateRequest / AgentUpdateRequest).
  personality: Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 2_000, description: 'how the agent comes across; added to its prompt (null changes nothing, "" clears)' }),
  greeting_message: Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 2_000, description: 'Phony\'s name for greeting (null leaves it as it is)' }),
  phone_number: Type.String({ minLength: 1, maxLength: 32, description: 'one of the tenant\'s numbers, assigned to the agent (as POST /api/phone-numbers/{n}/assign)' }),
  // Dialtone's own: the speech engine of SIP calls Dialtone answers for this agent.
  voice_engine: Type.Unsafe<(typeof VOICE_ENGINES)[number] | null>({ type: ['string', 'null'], enum: [...VOICE_ENGINES, null], description: 'speech engine of SIP calls Dialtone answers for the agent: realtime, pipeline or offline; null follows the server\'s VOICE_ENGINE' }),
};

const CreateBody = Type.Object({
  ...editable,
  type: Type.Optional(editable.type),
  system_prompt: Type.Optional(editable.system_prompt),
  voice: Type.Optional(editable.voice),
  context_data: Type.Optional(editable.context_data),
  greeting: Type.Optional(editable.greeting),
  language: Type.Optional(editable.language),
  llm_model: Type.Optional(editable.llm_model),
  status: Type.Optional(editable.status),
  personality: Type.Optional(editable.personality),
  greeting_message: Type.Optional(editable.greeting_message),
  phone_number: Type.Optional(editable.phone_number),
  voice_engine: Type.Optional(editable.voice_engine),
  tenant_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'platform admin only: the tenant to create the agent in' })),
}, {
  additionalProperties: false,
  examples: [{ name: 'Renewals', type: 'outbound', system_prompt: 'You call about renewals.', voice: 'nova', context_data: { team: 'billing' } }],
});
type CreateBody = Static<typeof CreateBody>;

const UpdateBody = Type.Partial(Type.Object(editable), { additionalProperties: false });
type UpdateBody = Static<typeof UpdateBody>;

const ListQuery = Type.Object({
  tenant_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  status: Type.Optional(Status),
  type: Type.Optional(Kind),
  ...ListWindowQuery,
});

const AgentParams = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 100 }) });

const AgentView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Kind,
  phone_number: Type.Union([Type.String(), Type.Null()]),
  system_prompt: Type.String(),
  voice: Type.String(),
  status: Status,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  total_calls: Type.Integer(),
  total_minutes: Type.Number(),
  tenant_id: Type.String(),
  greeting: Type.String(),
  language: Type.String(),
  llm_model: Type.Union([Type.String(), Type.Null()]),
  context_data: ContextData,
  personality: Type.Union([Type.String(), Type.Null()]),
  greeting_message: Type.Union([Type.String(), Type.Null()]),
  voice_engine: Type.Union([oneOf(VOICE_ENGINES), Type.Null()]),
});

const Deleted = Type.Object({ message: Type.String() });

function view(a: Agent, phoneNumber: string | null): Static<typeof AgentView> {
  return {
    id: a.id,
    name: a.name,
    type: a.kind,
    phone_number: phoneNumber,
    system_prompt: a.systemPrompt,
    voice: a.voice,
    status: a.deployStatus,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    total_calls: a.totalCalls,
    // Kept in fractions of a minute so totals stay exact; shown to the hundredth like analytics.
    total_minutes: Math.round(a.totalMinutes * 100) / 100,
    tenant_id: a.tenantId,
    greeting: a.greeting,
    language: a.language,
    llm_model: a.llmModel,
    context_data: a.contextData,
    // Phony answers null for a field never set.
    personality: a.personality === '' ? null : a.personality,
    greeting_message: a.greeting === '' ? null : a.greeting,
    voice_engine: a.voiceEngine,
  };
}

/**
 * `greeting_message` is Phony's name for `greeting`; sending both with different texts is
 * ambiguous. Phony skips null fields, so a null personality or greeting_message changes nothing.
 */
function greetingOf(b: { greeting?: string; greeting_message?: string | null }): string | undefined {
  const alias = b.greeting_message ?? undefined;
  if (alias !== undefined && b.greeting !== undefined && alias !== b.greeting) {
    throw invalid('greeting_message', 'greeting and greeting_message name the same field: send one, or the same text in both');
  }
  return b.greeting ?? alias;
}

function toPatch(b: UpdateBody): AgentPatch {
  return {
    name: b.name, kind: b.type, systemPrompt: b.system_prompt, voice: b.voice, contextData: b.context_data,
    personality: b.personality ?? undefined, greeting: greetingOf(b), language: b.language, llmModel: b.llm_model, deployStatus: b.status,
    voiceEngine: b.voice_engine,
  };
}

const tags = ['deployment: agents'];

/** `/api/agents`: AI agents as the deployment API shows them (the same rows agents v1.0 shows). */
export async function agentRoutes(plain: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { services } = opts;

  app.get('/api/agents', {
    schema: { tags, summary: 'List agents', querystring: ListQuery, response: { 200: Type.Array(AgentView), ...errors } },
  }, async (req, reply) => {
    const q = req.query;
    const window = windowOf(q);
    const rows = await services.agents.listFor(req.principal!, q.tenant_id, { deployStatus: q.status, kind: q.type, pageSize: window.limit + 1, offset: window.offset });
    const page = offsetPage(rows, window);
    linkNextPage(req, reply, page.nextOffset);
    const numbers = await services.agents.primaryNumbers(page.items);
    return page.items.map((a) => view(a, numbers.get(a.id) ?? null));
  });

  app.post('/api/agents', {
    schema: { tags, summary: 'Create an agent', body: CreateBody, response: { 201: AgentView, ...errors } },
  }, async (req, reply) => {
    const p = req.principal!;
    const b: CreateBody = req.body;
    const scope = await services.tenants.scopeFor(p, b.tenant_id);
    const number = b.phone_number === undefined ? null : await services.numbers.getByE164(scope, b.phone_number);
    const within = number ? (tx: Tx, a: Agent) => services.numbers.assignWithin(tx, scope, number, a.id) : undefined;
    const agent = await services.agents.create(scope, {
      name: b.name, kind: b.type, systemPrompt: b.system_prompt, voice: b.voice, contextData: b.context_data,
      personality: b.personality ?? undefined, greeting: greetingOf(b), language: b.language, llmModel: b.llm_model, deployStatus: b.status,
      voiceEngine: b.voice_engine,
    }, within);
    return reply.status(201).send(view(agent, number?.e164 ?? null));
  });

  app.get('/api/agents/:agent_id', {
    config: PLAIN_AGENT_ROUTE,
    schema: { tags, summary: 'Get an agent', params: AgentParams, response: { 200: AgentView, ...errors } },
  }, async (req) => {
    const scope = scopeOf(req.principal!);
    const agent = await services.agents.getFor(req.principal!, req.params.agent_id);
    return view(agent, await services.agents.primaryNumber(scope, agent.id));
  });

  app.put('/api/agents/:agent_id', {
    schema: { tags, summary: 'Update an agent (only the fields sent)', params: AgentParams, body: UpdateBody, response: { 200: AgentView, ...errors } },
  }, async (req) => {
    const p = req.principal!;
    const scope = scopeOf(p);
    const b = req.body;
    // Phony's dashboard sends the agent's number with every save; its own number again is no change.
    if (b.phone_number !== undefined) {
      await services.agents.get(scope, req.params.agent_id);
      const current = await services.numbers.forAgent(scope, req.params.agent_id);
      if (!current.some((n) => n.e164 === b.phone_number)) await services.numbers.assign(scope, b.phone_number, req.params.agent_id);
    }
    const agent = await services.agents.update(scope, req.params.agent_id, toPatch(b));
    return view(agent, await services.agents.primaryNumber(scope, agent.id));
  });

  app.delete('/api/agents/:agent_id', {
    schema: { tags, summary: 'Delete an agent', params: AgentParams, response: { 200: Deleted, ...errors } },
  }, async (req) => {
    const p = req.principal!;
    await services.agents.delete(scopeOf(p), req.params.agent_id);
    return { message: 'Agent deleted successfully' };
  });
}
