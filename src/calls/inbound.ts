import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { DomainError } from '../domain/errors.js';
import type { Services } from '../domain/services.js';
import { isLive } from '../domain/calls.js';
import { connectTwiml, rejectTwiml } from './twiml.js';

export interface InboundCall {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
  /** The tenants whose credential for the account signed the webhook (one account may serve several). */
  tenantIds: string[];
}

/**
 * Answers Twilio's voice webhook: connect the call to its agent's relay session, or refuse it as
 * busy (no agent, inactive agent, suspended tenant, concurrency limit) and record the attempt.
 */
export async function answerInbound(services: Services, config: Config, logger: Logger, c: InboundCall): Promise<string> {
  // The called number (or the recorded call) says which of the signing tenants the call is for.
  let scope = { tenantId: c.tenantIds[0] };
  const reject = async (reason: string, agentId: string | null, phoneNumber: string | null): Promise<string> => {
    logger.info({ callSid: c.callSid, to: c.to, reason }, 'inbound call rejected');
    try {
      await services.calls.recordRejected(scope, {
        callSid: c.callSid, agentId, phoneNumber, direction: 'inbound', fromNumber: c.from, toNumber: c.to, status: 'busy', endReason: reason,
      });
    } catch (err) {
      // A retried webhook for an attempt already recorded: the answer is the same.
      if (!(err instanceof DomainError && err.kind === 'conflict')) throw err;
    }
    return rejectTwiml();
  };
  const connect = (agent: { id: string; greeting: string; voice: string; language: string }) => connectTwiml({
    publicUrl: config.publicUrl, accountSid: c.accountSid, greeting: agent.greeting || config.defaultGreeting, voice: agent.voice, language: agent.language,
    parameters: { call_sid: c.callSid, agent_id: agent.id, tenant_id: scope.tenantId },
  });

  // Twilio retries a webhook it did not get an answer to; the call may already be recorded.
  const existing = await services.calls.findBySid(c.callSid);
  if (existing) {
    if (!c.tenantIds.includes(existing.tenantId) || !existing.agentId || !isLive(existing.status)) return rejectTwiml();
    scope = { tenantId: existing.tenantId };
    return connect(await services.agents.get(scope, existing.agentId));
  }

  const number = await services.numbers.findByE164(c.to);
  if (!number || !c.tenantIds.includes(number.tenantId)) return reject(`no number ${c.to} on this account`, null, null);
  scope = { tenantId: number.tenantId };
  if (!number.inboundEnabled) return reject(`number ${c.to} does not take inbound calls`, number.agentId, number.e164);
  if (!number.agentId) return reject(`number ${c.to} has no agent`, null, number.e164);
  const agent = await services.agents.get(scope, number.agentId);
  if (agent.deployStatus !== 'active') return reject(`agent ${agent.id} is inactive`, agent.id, number.e164);
  const tenant = await services.tenants.get(scope.tenantId);
  if (tenant.status === 'suspended') return reject('account suspended', agent.id, number.e164);
  try {
    await services.calls.open(scope, {
      callSid: c.callSid, agentId: agent.id, phoneNumber: number.e164, direction: 'inbound',
      fromNumber: c.from, toNumber: c.to, status: 'ringing',
    });
  } catch (err) {
    if (err instanceof DomainError && err.kind === 'limit') return reject(`busy: ${err.message}`, agent.id, number.e164);
    throw err;
  }
  return connect(agent);
}
