import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { scopeOf } from '../../../domain/principal.js';
import type { Trunk } from '../../../domain/trunks.js';
import { CreateTrunkBody, CreatedReply, DeletedReply, DetailReply, ErrorReply, ListReply, TrunkParams, tags } from './schemas.js';

/** `2024-01-15T10:00:00.000000`: the document's timestamps carry microseconds and no zone (UTC). */
export function microsecondTimestamp(iso: string): string {
  return iso.replace(/(\.\d{3})Z$/, '$1000').replace(/Z$/, '.000000');
}

function summary(t: Trunk) {
  return {
    trunk_id: t.id,
    trunk_name: t.name,
    trunk_address: t.address,
    trunk_numbers: t.numbers,
    trunk_type: t.type,
    trunk_created_at: microsecondTimestamp(t.createdAt),
  };
}

// Every status a domain error can take here; 429 is the rate limiter's own body, shared by all dialects.
const errorResponses = Object.fromEntries([400, 401, 403, 404, 409, 412, 413, 415, 502, 503].map((s) => [s, ErrorReply])) as
  Record<400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 502 | 503, typeof ErrorReply>;

export const trunksEnvelope: Envelope = { render: (p) => ({ success: false, message: p.message, data: null }) };

/** The SIP trunks API: outbound trunks with sealed credentials, under /sip. */
export async function trunksDialect(root: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { trunks } = opts.services;
  useErrorEnvelope(app, trunksEnvelope);

  app.post('/sip/create-outbound-trunk', {
    schema: { tags, summary: 'Create an outbound SIP trunk', body: CreateTrunkBody, response: { 200: CreatedReply, ...errorResponses } },
  }, async (req) => {
    const b = req.body;
    const trunk = await trunks.create(scopeOf(req.principal!), {
      name: b.trunk_name,
      address: b.trunk_address,
      numbers: b.trunk_numbers,
      authUsername: b.trunk_auth_username,
      authPassword: b.trunk_auth_password,
      type: b.trunk_type,
    });
    return { success: true, message: 'Outbound trunk created; keep the trunk id to place calls through it', data: { trunk_id: trunk.id } };
  });

  app.get('/sip/list', {
    schema: { tags, summary: 'List SIP trunks (no credentials)', response: { 200: ListReply, ...errorResponses } },
  }, async (req) => {
    const list = await trunks.list(scopeOf(req.principal!));
    return { success: true, message: 'SIP trunks retrieved', data: list.map(summary) };
  });

  app.get('/sip/:trunk_id', {
    schema: { tags, summary: 'Show one SIP trunk (username, never the password)', params: TrunkParams, response: { 200: DetailReply, ...errorResponses } },
  }, async (req) => {
    const t = await trunks.get(scopeOf(req.principal!), req.params.trunk_id);
    return { success: true, message: 'SIP trunk retrieved', data: { ...summary(t), trunk_auth_username: t.authUsername } };
  });

  app.delete('/sip/:trunk_id', {
    schema: { tags, summary: 'Delete a SIP trunk', params: TrunkParams, response: { 200: DeletedReply, ...errorResponses } },
  }, async (req) => {
    await trunks.delete(scopeOf(req.principal!), req.params.trunk_id);
    return { success: true, message: 'SIP trunk deleted', data: { trunk_id: req.params.trunk_id } };
  });
}
