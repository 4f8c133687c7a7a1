import type { FastifyRequest } from 'fastify';
import twilio from 'twilio';
import { DomainError } from '../../domain/errors.js';
import type { Services } from '../../domain/services.js';
import type { TwilioCredentials } from '../../domain/credentials.js';

/** The account a verified Twilio request came from, and the tenants whose credential for it signed. */
export interface TwilioOrigin {
  accountSid: string;
  tenantIds: string[];
}

const refused = () => new DomainError('forbidden', 'missing or invalid X-Twilio-Signature');

/**
 * Checks X-Twilio-Signature against the auth token of the Twilio credential registered for the
 * account. Twilio signs the URL it called — PUBLIC_URL plus the path and query — and, for form
 * posts, the sorted parameters.
 */
export async function verifyTwilio(
  services: Services,
  req: FastifyRequest,
  signedUrl: string,
  accountSid: unknown,
  params: Record<string, unknown>,
): Promise<TwilioOrigin> {
  const signature = req.headers['x-twilio-signature'];
  if (typeof signature !== 'string' || !signature || typeof accountSid !== 'string' || !accountSid) throw refused();
  const found = await services.credentials.findByAccountRef('twilio', accountSid);
  const tenantIds = found
    .filter((f) => twilio.validateRequest((f.credentials as TwilioCredentials).auth_token, signature, signedUrl, params))
    .map((f) => f.tenantId);
  if (tenantIds.length === 0) throw refused();
  return { accountSid, tenantIds };
}
