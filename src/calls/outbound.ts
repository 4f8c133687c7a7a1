import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Call } from '../domain/calls.js';
import type { TwilioCredentials } from '../domain/credentials.js';
import { DomainError } from '../domain/errors.js';
import type { Scope } from '../domain/principal.js';
import type { Services } from '../domain/services.js';
import { requireE164, requireObject } from '../domain/validate.js';
import { connectTwiml, publicUrls } from './twiml.js';
import { twilioAnswered, twilioClient, twilioMessage } from './twilio-rest.js';

export interface OutboundRequest {
  toNumber: unknown;
  context?: unknown;
}

/**
 * Places an outbound call for an agent through Twilio's REST API. The call is recorded under
 * Twilio's call SID once Twilio accepted it; a refusal is recorded as a failed attempt.
 */
export async function dialOut(services: Services, config: Config, logger: Logger, scope: Scope, agentId: string, req: OutboundRequest): Promise<Call> {
  const to = requireE164('to_number', req.toNumber);
  const context = req.context === undefined || req.context === null ? {} : requireObject('context', req.context);
  const agent = await services.agents.get(scope, agentId);
  if (agent.deployStatus !== 'active') throw new DomainError('conflict', `agent ${agent.id} is inactive; activate it before it places calls`, 'status');
  const numbers = await services.numbers.forAgent(scope, agent.id);
  const number = numbers.find((n) => n.provider === 'twilio' && n.credentialsId && n.outboundEnabled);
  if (!number) {
    throw new DomainError('precondition', `agent ${agent.id} has no phone number with Twilio credentials to call from; assign one first`, 'agent_id');
  }
  const creds = (await services.credentials.open(scope, number.credentialsId!)) as TwilioCredentials;

  // Checked before dialling so a full account does not ring anyone; open() checks again atomically.
  const tenant = await services.tenants.get(scope.tenantId);
  const active = await services.calls.listActive(scope);
  if (active.length >= tenant.limits.maxConcurrentCalls) {
    throw new DomainError('limit', `tenant concurrent call limit reached (max_concurrent_calls ${tenant.limits.maxConcurrentCalls})`, 'max_concurrent_calls');
  }

  const client = twilioClient(creds.account_sid, creds.auth_token, config.twilioApiBaseUrl);
  const twiml = connectTwiml({
    publicUrl: config.publicUrl, accountSid: creds.account_sid, greeting: agent.greeting, voice: agent.voice, language: agent.language,
    parameters: { agent_id: agent.id, tenant_id: scope.tenantId, direction: 'outbound' },
  });
  let sid: string;
  try {
    const created = await client.calls.create({
      to, from: number.e164, twiml, statusCallback: publicUrls(config.publicUrl, creds.account_sid).status,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'], statusCallbackMethod: 'POST',
    });
    sid = created.sid;
  } catch (err) {
    const message = twilioMessage(err);
    const refused = twilioAnswered(err);
    logger.warn({ agentId: agent.id, to, message }, refused ? 'Twilio refused an outbound call' : 'could not reach Twilio for an outbound call');
    await services.calls.recordRejected(scope, {
      agentId: agent.id, phoneNumber: number.e164, direction: 'outbound', fromNumber: number.e164, toNumber: to, status: 'failed',
      endReason: `Twilio: ${message}`,
    });
    throw new DomainError(refused ? 'upstream' : 'unavailable', refused ? `Twilio refused the call: ${message}` : `the call was not placed: ${message}`);
  }
  try {
    return await services.calls.open(scope, {
      callSid: sid, agentId: agent.id, phoneNumber: number.e164, direction: 'outbound', fromNumber: number.e164, toNumber: to, status: 'queued', context,
    });
  } catch (err) {
    // Another call took the last slot meanwhile: take this one back before it rings.
    await client.calls(sid).update({ status: 'canceled' }).catch(() => undefined);
    throw err;
  }
}
