import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ADDRESS_TYPES } from '../../../domain/agent-directory.js';
import { PRESENCES, RING_METHODS } from '../../../domain/agents.js';
import { PLAIN_AGENT_ROUTE, type AppOptions } from '../../context.js';
import { pageTokenToIso, renderAgent, renderPage } from './render.js';
import { AgentView, IdParams, PageQuery, actor, pageOf, replies, schema, stringEnum } from './schemas.js';

/** Bits of 16, 32 and 64, or 65535 for all (the service says which sums are allowed). */
const Permission = Type.Integer({ minimum: 0, maximum: 65535 });

const Address = Type.Object({
  type: stringEnum(ADDRESS_TYPES),
  target: Type.String({ maxLength: 255 }),
});
const Addresses = Type.Array(Address, { maxItems: 50 });
const TagIds = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 });

const NewAgentBody = Type.Object({
  username: Type.String({ maxLength: 100 }),
  password: Type.String({ maxLength: 128 }),
  name: Type.String({ maxLength: 255 }),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
  ring_method: Type.Optional(stringEnum(RING_METHODS)),
  permission: Type.Optional(Permission),
  tag_ids: Type.Optional(TagIds),
  addresses: Type.Optional(Addresses),
}, { examples: [{ username: 'dana', password: 's3cret', name: 'Dana', permission: 64 }] });

const AgentReply = replies(AgentView);

// VoIPBIN's list filters (bin-api-manager openapi, GET /agents): tag_ids is one comma-separated string.
const ListQuery = Type.Composite([PageQuery, Type.Object({
  status: Type.Optional(stringEnum(PRESENCES)),
  tag_ids: Type.Optional(Type.String({ maxLength: 6_600 })),
})]);

/** An empty `tag_ids` (or only commas) filters nothing, as if it were not sent. */
function tagIdsOf(raw: string | undefined): string[] | undefined {
  const ids = raw?.split(',').map((t) => t.trim()).filter((t) => t !== '') ?? [];
  return ids.length > 0 ? ids : undefined;
}

const AgentPatchBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 255 })),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
  ring_method: Type.Optional(stringEnum(RING_METHODS)),
});

/** `/v1.0/agents…`: call-center agents. */
export async function agentRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const dir = opts.services.directory;

  r.get('/agents', { schema: schema({ summary: 'List agents', querystring: ListQuery, response: replies(pageOf(AgentView)) }) }, async (req) =>
    renderPage(await dir.list(actor(req), {
      pageSize: req.query.page_size, before: pageTokenToIso(req.query.page_token), status: req.query.status, tagIds: tagIdsOf(req.query.tag_ids),
    }), renderAgent));

  r.post('/agents', { schema: schema({ summary: 'Create an agent', body: NewAgentBody, response: AgentReply }) }, async (req) => {
    const b = req.body;
    return renderAgent(await dir.create(actor(req), {
      username: b.username, password: b.password, name: b.name, detail: b.detail,
      ringMethod: b.ring_method, permission: b.permission, tagIds: b.tag_ids, addresses: b.addresses,
    }));
  });

  r.get('/agents/:id', { config: PLAIN_AGENT_ROUTE, schema: schema({ summary: 'Show one agent', params: IdParams, response: AgentReply }) }, async (req) =>
    renderAgent(await dir.get(actor(req), req.params.id)));

  r.put('/agents/:id', { schema: schema({ summary: 'Update an agent', params: IdParams, body: AgentPatchBody, response: AgentReply }) }, async (req) =>
    renderAgent(await dir.update(actor(req), req.params.id, { name: req.body.name, detail: req.body.detail, ringMethod: req.body.ring_method })));

  r.delete('/agents/:id', { schema: schema({ summary: 'Delete an agent', params: IdParams, response: AgentReply }) }, async (req) =>
    renderAgent(await dir.delete(actor(req), req.params.id)));

  r.put('/agents/:id/status', { config: PLAIN_AGENT_ROUTE, schema: schema({ summary: "Set an agent's presence", params: IdParams, body: Type.Object({ status: stringEnum(PRESENCES) }), response: AgentReply }) }, async (req) =>
    renderAgent(await dir.setStatus(actor(req), req.params.id, req.body.status)));

  r.put('/agents/:id/addresses', { schema: schema({ summary: "Replace an agent's SIP and phone addresses", params: IdParams, body: Type.Object({ addresses: Addresses }), response: AgentReply }) }, async (req) =>
    renderAgent(await dir.setAddresses(actor(req), req.params.id, req.body.addresses)));

  r.put('/agents/:id/tag_ids', { schema: schema({ summary: "Replace an agent's tags", params: IdParams, body: Type.Object({ tag_ids: TagIds }), response: AgentReply }) }, async (req) =>
    renderAgent(await dir.setTagIds(actor(req), req.params.id, req.body.tag_ids)));

  r.put('/agents/:id/permission', { schema: schema({ summary: "Set an agent's permission", params: IdParams, body: Type.Object({ permission: Permission }), response: AgentReply }) }, async (req) =>
    renderAgent(await dir.setPermission(actor(req), req.params.id, req.body.permission)));

  r.put('/agents/:id/password', { schema: schema({ summary: "Set an agent's password", params: IdParams, body: Type.Object({ password: Type.String({ maxLength: 128 }) }), response: AgentReply }) }, async (req) =>
    renderAgent(await dir.setPassword(actor(req), req.params.id, req.body.password)));

  r.post('/agents/:id/direct-hash-regenerate', { schema: schema({ summary: "Regenerate an agent's direct-call hash", params: IdParams, response: AgentReply }) }, async (req) =>
    renderAgent(await dir.regenerateDirectHash(actor(req), req.params.id)));
}
