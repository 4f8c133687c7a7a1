import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { useErrorEnvelope } from '../../errors.js';
import { scopeOf } from '../../../domain/principal.js';

const tags = ['Phone numbers'];

const NumberParams = Type.Object({ phone_number: Type.String({ maxLength: 32, description: 'E.164; encode + as %2B or send it literally' }) });
type NumberParams = Static<typeof NumberParams>;
const AssignBody = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
type AssignBody = Static<typeof AssignBody>;

const AvailableNumber = Type.Object({
  phone_number: Type.String(),
  twilio_sid: Type.Union([Type.String(), Type.Null()]),
  friendly_name: Type.Union([Type.String(), Type.Null()]),
  capabilities: Type.Array(Type.String()),
  status: Type.Literal('available'),
});
const AssignReply = Type.Object({ message: Type.String(), agent_id: Type.String(), phone_number: Type.String() });
const ReleaseReply = Type.Object({ message: Type.String() });

/**
 * Deployment API phone numbers. They are the telephony API's numbers: assign/release move the
 * same agent link as telephony pin/unpin.
 */
export async function phoneNumberRoutes(root: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { numbers } = opts.services;
  useErrorEnvelope(app, { render: (p) => ({ error: p.code, message: p.message }) });

  app.get('/api/phone-numbers/available', {
    schema: { tags, summary: 'Numbers not assigned to any agent', response: { 200: Type.Array(AvailableNumber), ...errors } },
  }, async (req) => {
    const free = await numbers.listUnassigned(scopeOf(req.principal!));
    return free.map((n) => ({
      phone_number: n.e164,
      twilio_sid: n.carrierSid,
      friendly_name: n.friendlyName,
      capabilities: n.capabilities,
      status: 'available' as const,
    }));
  });

  app.post('/api/phone-numbers/:phone_number/assign', {
    schema: { tags, summary: 'Assign a number to an agent', params: NumberParams, body: AssignBody, response: { 200: AssignReply, ...errors } },
  }, async (req) => {
    const n = await numbers.assign(scopeOf(req.principal!), req.params.phone_number, req.body.agent_id);
    return { message: 'Phone number assigned successfully', agent_id: n.agentId!, phone_number: n.e164 };
  });

  app.post('/api/phone-numbers/:phone_number/release', {
    schema: { tags, summary: 'Release a number from its agent (a free number stays free: 200)', params: NumberParams, response: { 200: ReleaseReply, ...errors } },
  }, async (req) => {
    await numbers.release(scopeOf(req.principal!), req.params.phone_number);
    return { message: 'Phone number released successfully' };
  });
}
