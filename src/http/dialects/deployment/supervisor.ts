import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { useErrorEnvelope } from '../../errors.js';
import { invalid, notFound } from '../../../domain/errors.js';
import { isLive } from '../../../domain/calls.js';
import { scopeOf } from '../../../domain/principal.js';
import type { LiveCallControl } from '../../../calls/sessions.js';
import { outboundRoutes } from './outbound.js';
import { remoteCallControl } from '../../../cluster/call-control.js';

const Sid = Type.String({ minLength: 1, maxLength: 64 });
/** The reference implementation took `callSid` too; either names the call. */
const CallRef = { call_sid: Type.Optional(Sid), callSid: Type.Optional(Sid) };
const TextBody = Type.Object({ ...CallRef, text: Type.String({ minLength: 1, maxLength: 4000 }) }, {
  additionalProperties: false, examples: [{ call_sid: 'CA0123456789abcdef0123456789abcdef', text: 'A colleague will call you back today.' }],
});
const DtmfBody = Type.Object({ ...CallRef, digit: Type.String({ maxLength: 64 }) }, {
  additionalProperties: false, examples: [{ call_sid: 'CA0123456789abcdef0123456789abcdef', digit: '1' }],
});
const TransferBody = Type.Object({ ...CallRef, target: Type.String({ maxLength: 32 }) }, { additionalProperties: false });
const EndBody = Type.Object({ ...CallRef }, { additionalProperties: false });
const Done = Type.Object({ message: Type.String(), call_sid: Type.String() });

const DIGITS = /^[0-9*#]{1,32}$/;
const E164 = /^\+[1-9][0-9]{6,14}$/;

/** Supervisor controls on live calls, plus outbound dialling; the deployment document's shapes. */
export async function supervisorRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services, runtime } = opts;
  // Same rows as the rest of the deployment dialect (no 412 or 502 there); a call limit here is 429.
  useErrorEnvelope(app, { render: (p) => ({ error: p.code, message: p.message }), overrides: { precondition: 409, upstream: 503, limit: 429 } });
  await app.register(outboundRoutes, opts);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  /** The live session of one of the caller's tenant's calls, or 404. */
  async function liveSession(req: FastifyRequest, body: { call_sid?: string; callSid?: string }): Promise<{ sid: string; control: LiveCallControl }> {
    const sid = body.call_sid ?? body.callSid;
    if (!sid) throw invalid('call_sid', 'call_sid is required');
    const call = await services.calls.get(scopeOf(req.principal!), sid);
    const missing = () => notFound(`live call ${sid}`);
    if (!isLive(call.status)) throw missing();
    // Not here: in cluster mode the instance holding the session answers (LocalLink finds none).
    const control = runtime?.sessions.get(sid) ?? (opts.cluster ? remoteCallControl(opts.cluster, sid, opts.config.clusterAskTimeoutMs, missing) : undefined);
    if (!control) throw missing();
    return { sid, control };
  }

  for (const prefix of ['/api', '']) {
    const hide = prefix === '';
    const schema = <B extends TSchema>(summary: string, body: B) => ({ tags: ['supervisor'], summary, hide, body, response: { 200: Done, ...errors } });

    r.post(`${prefix}/override/text`, { schema: schema('Speak text to the caller now', TextBody) }, async (req) => {
      const { sid, control } = await liveSession(req, req.body);
      await control.speak(req.body.text);
      return { message: 'Text sent to caller', call_sid: sid };
    });

    r.post(`${prefix}/override/dtmf`, { schema: schema('Play DTMF digits on the call', DtmfBody) }, async (req) => {
      if (!DIGITS.test(req.body.digit)) throw invalid('digit', 'digit must be 1 to 32 of 0-9, * and #');
      const { sid, control } = await liveSession(req, req.body);
      await control.sendDigits(req.body.digit);
      return { message: 'DTMF sent', call_sid: sid };
    });

    r.post(`${prefix}/override/transfer`, { schema: schema('Transfer the call to a number', TransferBody) }, async (req) => {
      if (!E164.test(req.body.target)) throw invalid('target', 'target must be an E.164 phone number like +15551234567');
      const { sid, control } = await liveSession(req, req.body);
      await control.transfer(req.body.target);
      return { message: `Call transferred to ${req.body.target}`, call_sid: sid };
    });

    r.post(`${prefix}/override/end`, { schema: schema('End the call', EndBody) }, async (req) => {
      const { sid, control } = await liveSession(req, req.body);
      await control.end('ended by supervisor');
      return { message: 'Call ended', call_sid: sid };
    });
  }
}
