import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PUBLIC_ROUTE, type AppOptions } from '../context.js';
import { useErrorEnvelope, type Envelope } from '../errors.js';
import { answerInbound } from '../../calls/inbound.js';
import { dialTwiml, emptyTwiml, hangupTwiml } from '../../calls/twiml.js';
import type { CallStatus } from '../../domain/calls.js';
import { RelaySession } from '../../relay/session.js';
import { verifyTwilio, type TwilioOrigin } from './signature.js';
import { ErrorReply, RelayQuery, TwilioForm, TwimlReply, errors } from './schemas.js';
import { SwitchingProtocols, UPGRADE_REQUIRED } from '../websocket-docs.js';
import { logUpgrade } from '../ops.js';

type Form = Record<string, unknown>;

const TWILIO_STATUSES: Record<string, CallStatus> = {
  queued: 'queued', initiated: 'queued', ringing: 'ringing', 'in-progress': 'in-progress', answered: 'in-progress',
  completed: 'completed', busy: 'busy', 'no-answer': 'no-answer', failed: 'failed', canceled: 'canceled',
};

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export const twilioEnvelope: Envelope = { render: (p) => ({ error: p.code, message: p.message }) };

/** Twilio's side of calls: voice/status webhooks, relay action, and the ConversationRelay socket. */
export async function twilioEdge(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services, config, logger } = opts;
  const runtime = opts.runtime;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  useErrorEnvelope(app, twilioEnvelope);
  // Twilio posts form fields; every other dialect takes JSON only.
  await app.register(formbody);
  const schema = { tags: ['twilio'], body: TwilioForm, response: { 200: TwimlReply, ...errors } };
  // Twilio carries no API key: every route here checks Twilio's request signature instead.
  const unkeyed = PUBLIC_ROUTE;

  /** The URL Twilio called, as PUBLIC_URL makes it (read per request: it may be set after start). */
  const signedUrl = (req: FastifyRequest) => config.publicUrl + req.url;
  const signed = (req: FastifyRequest) => verifyTwilio(services, req, signedUrl(req), (req.body as Form).AccountSid, req.body as Form);
  const xml = <T>(reply: { type(t: string): T }) => reply.type('text/xml; charset=utf-8');

  r.post('/twilio/voice', { config: unkeyed, schema: { ...schema, summary: "A Twilio number's voice webhook" } }, async (req, reply) => {
    const origin = await signed(req);
    const b = req.body as Form;
    const callSid = str(b.CallSid);
    if (!/^CA[0-9a-fA-F]{32}$/.test(callSid)) return reply.status(400).send({ error: 'invalid', message: 'CallSid is required' });
    const twiml = await answerInbound(services, config, logger, {
      callSid, accountSid: origin.accountSid, tenantIds: origin.tenantIds, from: str(b.From), to: str(b.To),
    });
    return xml(reply).send(twiml);
  });

  r.post('/twilio/status', { config: unkeyed, schema: { ...schema, summary: 'Twilio call status callbacks' } }, async (req, reply) => {
    const origin = await signed(req);
    const b = req.body as Form;
    const status = TWILIO_STATUSES[str(b.CallStatus)];
    const call = await services.calls.findBySid(str(b.CallSid));
    if (!call || !origin.tenantIds.includes(call.tenantId)) return reply.status(404).send({ error: 'not_found', message: 'call not found' });
    if (!status) return reply.status(400).send({ error: 'invalid', message: `CallStatus ${str(b.CallStatus)} is not a Twilio call status` });
    // The signature covers SequenceNumber, so a replayed capture carries one already applied.
    const sequence = str(b.SequenceNumber);
    if (sequence !== '') {
      if (!/^\d{1,15}$/.test(sequence)) return reply.status(400).send({ error: 'invalid', message: 'SequenceNumber must be a non-negative integer' });
      if (!(await services.calls.acceptCarrierSequence(call.callSid, Number(sequence)))) {
        return reply.status(409).send({ error: 'replayed', message: `status callback ${sequence} for this call was already applied or overtaken` });
      }
    }
    const duration = Number(str(b.CallDuration));
    const price = Number(str(b.Price));
    await services.calls.updateStatus(call.callSid, {
      status,
      ...(str(b.CallDuration) !== '' && Number.isFinite(duration) && duration >= 0 ? { durationSeconds: duration } : {}),
      // Twilio reports what the call cost the account as a negative amount.
      ...(str(b.Price) !== '' && Number.isFinite(price) ? { cost: Math.abs(price) } : {}),
      ...(status === 'failed' || status === 'busy' || status === 'no-answer' || status === 'canceled' ? { endReason: `Twilio: ${status}` } : {}),
    });
    return xml(reply).send(emptyTwiml());
  });

  r.post('/twilio/relay-action', { config: unkeyed, schema: { ...schema, summary: 'Where Twilio goes when a relay session ends' } }, async (req, reply) => {
    const origin = await signed(req);
    const b = req.body as Form;
    const call = await services.calls.findBySid(str(b.CallSid));
    if (call && !origin.tenantIds.includes(call.tenantId)) return reply.status(404).send({ error: 'not_found', message: 'call not found' });
    const target = transferTarget(str(b.HandoffData)) ?? transferTarget(call?.handoff ?? null);
    return xml(reply).send(target ? dialTwiml(target) : hangupTwiml());
  });

  if (!runtime) {
    logger.warn('no call runtime: the ConversationRelay socket is not served');
    return;
  }
  const origins = new WeakMap<FastifyRequest, TwilioOrigin>();
  const wsUrl = (req: FastifyRequest) => config.publicUrl.replace(/^http(s?):/i, (_m, s: string) => `ws${s}:`) + req.url;

  r.route({
    method: 'GET',
    url: '/relay/ws',
    config: unkeyed,
    schema: {
      tags: ['twilio'], summary: 'ConversationRelay WebSocket', querystring: RelayQuery,
      description: 'Twilio connects here for a ConversationRelay session (messages in /asyncapi.json). A plain GET is answered 426.',
      response: { 101: SwitchingProtocols, 426: ErrorReply, ...errors },
    },
    // Refused before the upgrade: an unsigned handshake never becomes a session. After validation,
    // as on the webhooks, so a malformed query is a 400 naming the field.
    preHandler: async (req) => {
      const q = req.query as { account_sid?: string };
      origins.set(req, await verifyTwilio(services, req, wsUrl(req), q.account_sid, {}));
    },
    wsHandler: (socket, req) => {
      logUpgrade(req, opts.metrics);
      const origin = origins.get(req)!;
      const session = new RelaySession(socket, { services, runtime, logger: req.log as never, tenantIds: origin.tenantIds });
      let closing: Promise<void> | null = null;
      const close = (code: number) => (closing ??= session.onClose(code).finally(() => untrack()));
      const untrack = runtime.track(async () => {
        socket.close(1001, 'server shutting down');
        await close(1001);
      });
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) session.receive(data.toString('utf8'));
      });
      socket.on('close', (code: number) => { void close(code); });
    },
    handler: async (_req, reply) => reply.status(426).header('upgrade', 'websocket').send(UPGRADE_REQUIRED),
  });
}

/** The transfer target in a relay handoff, if the session ended with one. */
function transferTarget(handoff: string | Record<string, unknown> | null): string | null {
  let data: unknown = handoff;
  if (typeof handoff === 'string') {
    if (!handoff) return null;
    try { data = JSON.parse(handoff); } catch { return null; }
  }
  const d = data as { reason?: unknown; target?: unknown } | null;
  return d?.reason === 'transfer' && typeof d.target === 'string' && /^\+[1-9][0-9]{6,14}$/.test(d.target) ? d.target : null;
}
