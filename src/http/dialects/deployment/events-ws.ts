import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { WebSocket } from 'ws';
import type { AppOptions } from '../../context.js';
import { ErrorReply, errors } from './schemas.js';
import { SwitchingProtocols, UPGRADE_REQUIRED } from '../../websocket-docs.js';
import { isStreamed, renderEvent } from './event-messages.js';
import { logUpgrade } from '../../ops.js';
import { holderOf, type Scope } from '../../../domain/principal.js';
import { LocalSlots } from '../../../cluster/socket-slots.js';

/** Per agent across all its logins (a new login is not 10 more), else per API key. */
export const MAX_SOCKETS_PER_HOLDER = 10;
/** A client that stops reading is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const EventsQuery = Type.Object({
  call_sid: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only this call\'s events' })),
  tenant_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'platform admin without X-Account-ID: the tenant to watch' })),
  token: Type.Optional(Type.String({ maxLength: 512 })),
});

function tooMany(): Error {
  return Object.assign(new Error(`at most ${MAX_SOCKETS_PER_HOLDER} event connections per agent or API key`), { statusCode: 429 });
}

/** `WS /events/ws`: a tenant's live call and line events, optionally one call's only. */
export async function eventsSocket(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { services, events } = opts;
  // Shared through Redis in cluster mode, so the ten hold across instances.
  const slots = opts.socketSlots ?? new LocalSlots();
  const scopes = new WeakMap<FastifyRequest, Scope>();
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // Authentication and this hook run before the upgrade, so a refused credential or tenant is an ordinary HTTP answer.
  r.addHook('preHandler', async (req) => {
    const query = req.query as { tenant_id?: string };
    scopes.set(req, await services.tenants.scopeFor(req.principal!, query.tenant_id));
    if (await slots.taken(holderOf(req.principal!)) >= MAX_SOCKETS_PER_HOLDER) throw tooMany();
  });

  r.route({
    method: 'GET',
    url: '/events/ws',
    // The error statuses are answers to the upgrade request, before any socket exists.
    schema: {
      tags: ['events'], summary: 'Live call and line events (WebSocket)', querystring: EventsQuery,
      description: 'Upgrade to a WebSocket; each message is one JSON event (see /asyncapi.json). A plain GET is answered 426.',
      response: { 101: SwitchingProtocols, 426: ErrorReply, ...errors },
    },
    wsHandler: async (socket: WebSocket, req) => {
      logUpgrade(req, opts.metrics);
      const holder = holderOf(req.principal!);
      const scope = scopes.get(req)!;
      const callSid = req.query.call_sid;
      // A close while the slot is being taken must still give it back.
      let closedEarly = false;
      socket.once('close', () => { closedEarly = true; });
      // Two upgrades may pass the pre-check together; the slot taken here is the one that holds.
      const slot = await slots.take(holder, MAX_SOCKETS_PER_HOLDER);
      if (!slot) {
        socket.close(1008, tooMany().message);
        return;
      }
      if (closedEarly) { slot.release(); return; }

      const unsubscribe = events.subscribe((e) => {
        if (e.tenantId !== scope.tenantId || !isStreamed(e)) return;
        // Asked for one call: line events are not that call's.
        if (callSid && e.callSid !== callSid) return;
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(1013, 'client is not reading events fast enough');
          return;
        }
        socket.send(JSON.stringify(renderEvent(e)));
      });
      socket.on('close', () => {
        unsubscribe();
        slot.release();
      });
      socket.on('error', () => socket.terminate());
    },
    handler: async (_req, reply) => reply.status(426).header('upgrade', 'websocket').send(UPGRADE_REQUIRED),
  });
}
