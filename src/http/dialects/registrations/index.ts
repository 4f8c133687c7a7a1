import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { invalid } from '../../../domain/errors.js';
import { scopeOf, type Principal } from '../../../domain/principal.js';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { endpointId, renderEndpoint, renderProblem, renderRegistration, renderStatus } from './render.js';
import {
  AgentParams, CreateBody, ENDPOINT_TYPES, EndpointParams, EndpointReply, EndpointsReply, FIELDS_OF, IdReply, ListenBody,
  ListenerParams, ListenReply, ListQuery, StatusReply, UpdateBody, errorResponses as errors,
} from './schemas.js';

const tags = ['registrations'];

/** Refuses fields that only the other endpoint type knows, naming the first one found. */
function rejectForeignFields(body: CreateBody): void {
  for (const other of ENDPOINT_TYPES) {
    if (other === body.type) continue;
    const foreign = FIELDS_OF[other].find((f) => body[f] !== undefined);
    if (foreign) throw invalid(foreign, `${foreign} is not a field of ${body.type} endpoints`);
  }
}

export const registrationsEnvelope: Envelope = { render: renderProblem };

/** The registrations API: SIP registration endpoints and numbers under /phone-endpoints, and agent listeners. */
export async function registrationsDialect(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const services = opts.services;
  const registrations = services.registrations;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  useErrorEnvelope(app, registrationsEnvelope);
  const scope = (req: { principal: Principal | null }) => scopeOf(req.principal!);

  r.post('/phone-endpoints', { schema: { tags, summary: 'Create a line (phone-registration) or a number (e164-ddi)', body: CreateBody, response: { 201: IdReply, ...errors } } }, async (req, reply) => {
    const body = req.body;
    rejectForeignFields(body);
    const s = scope(req);
    const id = body.type === 'e164-ddi'
      ? (await registrations.addNumber(s, { number: body.number, name: body.name })).id
      : (await registrations.create(s, {
        name: body.name, handler: body.handler, outbound: body.outbound, registrar: body.registrar,
        username: body.username, password: body.password, options: body.options,
      })).id;
    return reply.status(201).send({ success: true as const, id });
  });

  r.get('/phone-endpoints', { schema: { tags, summary: 'List lines and numbers', querystring: ListQuery, response: { 200: EndpointsReply, ...errors } } }, async (req) => {
    const q = req.query;
    if (q.page_size !== undefined && q.pageSize !== undefined && q.page_size !== q.pageSize) {
      throw invalid('pageSize', 'page_size and pageSize name the same setting: send one, or the same value in both');
    }
    const page = await registrations.listEndpoints(scope(req), {
      pageSize: q.page_size ?? q.pageSize, pageToken: q.page_token, offset: q.offset,
      type: q.type === undefined ? undefined : q.type === 'e164-ddi' ? 'number' : 'registration',
    });
    return {
      success: true as const, items: page.items.map(renderEndpoint), next_page_token: page.nextPageToken,
      ...(page.nextOffset !== undefined ? { nextOffset: page.nextOffset } : {}),
    };
  });

  r.get('/phone-endpoints/:id', { schema: { tags, summary: 'Show one line or number', params: EndpointParams, response: { 200: EndpointReply, ...errors } } }, async (req) => {
    return { success: true as const, ...renderEndpoint(await registrations.getEndpoint(scope(req), req.params.id)) };
  });

  r.put('/phone-endpoints/:id', { schema: { tags, summary: 'Update a line', params: EndpointParams, body: UpdateBody, response: { 200: EndpointReply, ...errors } } }, async (req) => {
    const { type: _type, ...patch } = req.body;
    return { success: true as const, ...renderRegistration(await registrations.update(scope(req), req.params.id, patch)) };
  });

  r.delete('/phone-endpoints/:id', { schema: { tags, summary: 'Delete a line or number', params: EndpointParams, response: { 200: IdReply, ...errors } } }, async (req) => {
    return { success: true as const, id: endpointId(await registrations.delete(scope(req), req.params.id)) };
  });

  r.post('/phone-endpoints/:id/activate', { schema: { tags, summary: 'Activate a line (it starts registering)', params: EndpointParams, response: { 200: StatusReply, ...errors } } }, async (req) => {
    return renderStatus(await registrations.activate(scope(req), req.params.id));
  });

  r.post('/phone-endpoints/:id/disable', { schema: { tags, summary: 'Disable a line (it de-registers)', params: EndpointParams, response: { 200: StatusReply, ...errors } } }, async (req) => {
    return renderStatus(await registrations.disable(scope(req), req.params.id));
  });

  r.post('/agents/:agentId/listen', { schema: { tags, summary: 'Bind an agent to a line or number', params: AgentParams, body: ListenBody, response: { 200: ListenReply, ...errors } } }, async (req) => {
    const { id, number } = req.body;
    const bound = await registrations.listen(scope(req), req.params.agentId, { id, number });
    const e = bound.endpoint;
    return { success: true as const, agent_id: bound.agentId, id: endpointId(e), ...(e.kind === 'number' ? { number: e.number.number } : {}) };
  });

  // Aplisay's listener delete (llm-agent api/paths/agents/{agentId}/listen/{listenerId}.js); the
  // listener id is the endpoint id that listen answered.
  r.delete('/agents/:agentId/listen/:listenerId', { schema: { tags, summary: 'Unbind an agent from a line or number', params: ListenerParams, response: { 200: IdReply, ...errors } } }, async (req) => {
    const e = await registrations.unlisten(scope(req), req.params.agentId, req.params.listenerId);
    return { success: true as const, id: endpointId(e) };
  });
}
