import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { DomainError } from '../../../domain/errors.js';
import { scopeOf } from '../../../domain/principal.js';
import type { PhoneNumber } from '../../../domain/numbers.js';
import type { ProviderCredential } from '../../../domain/credentials.js';
import { linkNextPage, windowOf } from '../../list-window.js';
import {
  CreateNumberBody, CreateProviderBody, IdParams, NumbersQuery, NumbersReply, PhoneNumberReply, ProviderReply,
  ProvidersReply, TextError, UpdateNumberBody, numberTags, providerTags,
} from './schemas.js';

function renderNumber(n: PhoneNumber) {
  return {
    id: n.id,
    e164: n.e164,
    provider: n.provider,
    credentials_id: n.credentialsId,
    agent_id: n.agentId,
    inbound_enabled: n.inboundEnabled,
    outbound_enabled: n.outboundEnabled,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
  };
}

function renderProvider(c: ProviderCredential) {
  return { id: c.id, provider: c.provider, label: c.label, created_at: c.createdAt, updated_at: c.updatedAt };
}

// Every status a domain error can take here; 429 is the rate limiter's own JSON body, shared by all dialects.
const PlainTextError = { content: { 'text/plain': { schema: TextError } } };
const errors = Object.fromEntries([400, 401, 403, 404, 409, 412, 413, 415, 502, 503].map((s) => [s, PlainTextError])) as
  Record<400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 502 | 503, typeof PlainTextError>;

/** Plain text: the message alone. */
export const telephonyEnvelope: Envelope = { render: (p) => p.message };

/** The telephony API: carrier credentials and phone numbers, under /api/v1/telephony; errors are plain text. */
export async function telephonyDialect(root: FastifyInstance, opts: AppOptions): Promise<void> {
  await root.register(telephonyRoutes, { ...opts, prefix: '/api/v1/telephony' });
}

async function telephonyRoutes(root: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { numbers, credentials } = opts.services;
  useErrorEnvelope(app, telephonyEnvelope);

  app.get('/numbers', {
    schema: { tags: numberTags, summary: 'List phone numbers', querystring: NumbersQuery, response: { 200: NumbersReply, ...errors } },
  }, async (req, reply) => {
    const q = req.query;
    const page = await numbers.page(scopeOf(req.principal!), { agentId: q.agent_id }, windowOf(q));
    linkNextPage(req, reply, page.nextOffset);
    return { numbers: page.items.map(renderNumber) };
  });

  app.post('/numbers', {
    schema: { tags: numberTags, summary: 'Register a phone number', body: CreateNumberBody, response: { 201: PhoneNumberReply, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const n = await numbers.create(scopeOf(req.principal!), {
      e164: b.e164,
      provider: b.provider,
      credentialsId: b.credentials_id,
      agentId: b.agent_id,
      inboundEnabled: b.inbound_enabled,
      outboundEnabled: b.outbound_enabled,
    }).catch((err: unknown) => {
      // This document answers a number that exists already with 400, not 409.
      if (err instanceof DomainError && err.kind === 'conflict') throw new DomainError('invalid', err.message, err.field);
      throw err;
    });
    return reply.status(201).send(renderNumber(n));
  });

  app.patch('/numbers/:id', {
    schema: { tags: numberTags, summary: "Pin or unpin a phone number, move it to another credential, switch inbound/outbound", params: IdParams, body: UpdateNumberBody, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    if (b.agent_id === undefined && b.credentials_id === undefined && b.inbound_enabled === undefined && b.outbound_enabled === undefined) {
      throw new DomainError('invalid', 'give at least one of agent_id, credentials_id, inbound_enabled, outbound_enabled', 'body');
    }
    await numbers.update(scopeOf(req.principal!), req.params.id, {
      agentId: b.agent_id, credentialsId: b.credentials_id, inboundEnabled: b.inbound_enabled, outboundEnabled: b.outbound_enabled,
    });
    return reply.status(204).send();
  });

  app.delete('/numbers/:id', {
    schema: { tags: numberTags, summary: 'Delete a phone number', params: IdParams, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    await numbers.delete(scopeOf(req.principal!), req.params.id);
    return reply.status(204).send();
  });

  app.get('/providers', {
    schema: { tags: providerTags, summary: 'List carrier credentials (metadata only)', response: { 200: ProvidersReply, ...errors } },
  }, async (req) => {
    const list = await credentials.list(scopeOf(req.principal!));
    return { providers: list.map(renderProvider) };
  });

  app.post('/providers', {
    schema: { tags: providerTags, summary: 'Add a carrier credential (sealed at rest)', body: CreateProviderBody, response: { 201: ProviderReply, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const c = await credentials.create(scopeOf(req.principal!), { provider: b.provider, label: b.label, credentials: b.credentials });
    return reply.status(201).send(renderProvider(c));
  });

  app.delete('/providers/:id', {
    schema: { tags: providerTags, summary: 'Delete a carrier credential no phone number uses', params: IdParams, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    await credentials.delete(scopeOf(req.principal!), req.params.id);
    return reply.status(204).send();
  });
}
