import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { dialOut } from '../../../calls/outbound.js';
import { trunkForAgent } from '../../../calls/sip/outbound.js';
import { DomainError } from '../../../domain/errors.js';
import { scopeOf } from '../../../domain/principal.js';

const Body = Type.Object({
  to_number: Type.String({ maxLength: 32 }),
  context: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}, { additionalProperties: false, examples: [{ to_number: '+15550200000', context: { name: 'John' } }] });

/**
 * `POST /api/agents/{agent_id}/call`; registered inside the supervisor plugin (auth and envelope
 * from there). An agent whose number belongs to one of the tenant's SIP trunks calls through that
 * trunk; otherwise through Twilio with the number's credentials.
 */
export async function outboundRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services, config, logger } = opts;
  app.withTypeProvider<TypeBoxTypeProvider>().post('/api/agents/:agent_id/call', {
    schema: {
      tags: ['calls'], summary: 'Place an outbound call from an agent (through its SIP trunk, else Twilio)',
      params: Type.Object({ agent_id: Type.String({ maxLength: 64 }) }),
      body: Body,
      response: { 200: Type.Object({ call_sid: Type.String(), status: Type.String(), message: Type.String() }), ...errors },
    },
  }, async (req) => {
    const scope = scopeOf(req.principal!);
    const trunkId = await trunkForAgent(services, scope, req.params.agent_id);
    if (trunkId) {
      const calls = opts.sipCalls?.();
      if (!calls) throw new DomainError('unavailable', 'SIP is not running on this instance, so it cannot call through the agent\'s trunk');
      const call = await calls.outbound.place(scope, { agentId: req.params.agent_id, trunkId, toNumber: req.body.to_number, metadata: req.body.context });
      return { call_sid: call.callSid, status: call.status, message: 'Call initiated through the SIP trunk' };
    }
    const call = await dialOut(services, config, logger, scopeOf(req.principal!), req.params.agent_id, {
      toNumber: req.body.to_number, context: req.body.context,
    });
    return { call_sid: call.callSid, status: call.status, message: 'Call initiated successfully' };
  });
}
