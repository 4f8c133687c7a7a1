import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { scopeOf } from '../../../domain/principal.js';
import type { Trunk } from '../../../domain/trunks.js';
import { DomainError, invalid } from '../../../domain/errors.js';
import { CreateTrunkBody, CreatedReply, DeletedReply, DetailReply, ErrorReply, ListReply, OutboundCallBody, OutboundCallReply, TrunkParams, tags } from './schemas.js';
import { Type } from '@sinclair/typebox';
import { linkNextPage, ListWindowQuery, windowOf } from '../../list-window.js';

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

// Every status a domain error can take here.
const errorResponses = Object.fromEntries([400, 401, 403, 404, 409, 412, 413, 415, 429, 502, 503].map((s) => [s, ErrorReply])) as
  Record<400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 429 | 502 | 503, typeof ErrorReply>;

export const trunksEnvelope: Envelope = { render: (p) => ({ success: false, message: p.message, data: null }), overrides: { limit: 429 } };


const FLAT = ['trunk_address', 'trunk_numbers', 'trunk_auth_username', 'trunk_auth_password'] as const;

/** The trunk's connection from either form of the body; both at once is ambiguous. */
function connectionOf(b: CreateTrunkBody): { address: string; numbers: string[]; authUsername: string; authPassword: string } {
  const c = b.trunk_config;
  if (c) {
    const both = FLAT.find((f) => b[f] !== undefined);
    if (both) throw invalid(both, `${both} and trunk_config both describe the trunk: send one of the two forms`);
    return { address: c.address, numbers: c.numbers, authUsername: c.username, authPassword: c.password };
  }
  const missing = FLAT.find((f) => b[f] === undefined);
  if (missing) throw invalid(missing, `${missing} is required (or send trunk_config with address, numbers, username and password)`);
  return { address: b.trunk_address!, numbers: b.trunk_numbers!, authUsername: b.trunk_auth_username!, authPassword: b.trunk_auth_password! };
}

/** The SIP trunks API: outbound trunks with sealed credentials, under /sip. */
export async function trunksDialect(root: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { trunks } = opts.services;
  useErrorEnvelope(app, trunksEnvelope);

  app.post('/sip/create-outbound-trunk', {
    schema: { tags, summary: 'Create an outbound SIP trunk', body: CreateTrunkBody, response: { 200: CreatedReply, ...errorResponses } },
  }, async (req) => {
    const b = req.body;
    const trunk = await trunks.create(scopeOf(req.principal!), { name: b.trunk_name, type: b.trunk_type, ...connectionOf(b) });
    return { success: true, message: 'Outbound trunk created; keep the trunk id to place calls through it', data: { trunk_id: trunk.id } };
  });

  app.get('/sip/list', {
    schema: { tags, summary: 'List SIP trunks (no credentials)', querystring: Type.Object(ListWindowQuery), response: { 200: ListReply, ...errorResponses } },
  }, async (req, reply) => {
    const page = await trunks.page(scopeOf(req.principal!), windowOf(req.query));
    linkNextPage(req, reply, page.nextOffset);
    return { success: true, message: 'SIP trunks retrieved', data: page.items.map(summary) };
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

  app.post('/call/outbound', {
    schema: {
      tags, summary: 'Place a call from an assistant through a SIP trunk',
      body: OutboundCallBody, response: { 200: OutboundCallReply, 202: OutboundCallReply, ...errorResponses },
    },
  }, async (req, reply) => {
    const b = req.body;
    const scope = scopeOf(req.principal!);
    const trunk = await trunks.get(scope, b.trunk_id);
    if (trunk.type !== b.call_service) {
      throw invalid('call_service', `call_service ${b.call_service} does not match trunk ${trunk.id}, which is a ${trunk.type} trunk`);
    }
    const calls = opts.sipCalls?.();
    if (!calls) throw new DomainError('unavailable', 'SIP is not running on this instance, so it cannot place trunk calls');
    const call = await calls.outbound.place(scope, { agentId: b.assistant_id, trunkId: trunk.id, toNumber: b.to_number, metadata: b.metadata });
    // Exotel calls are accepted for asynchronous setup (202), as the document says; Twilio ones are triggered (200).
    reply.code(trunk.type === 'exotel' ? 202 : 200);
    return {
      success: true,
      message: trunk.type === 'exotel' ? 'Outbound call accepted; its outcome arrives on the call record' : 'Outbound call triggered successfully',
      data: { call_sid: call.callSid, status: call.status, trunk_id: trunk.id, to_number: call.toNumber, room_name: null },
    };
  });
}
