/**
 * Answers what registrars and callers send to the Contact we registered. Call routing does not
 * exist yet, so an INVITE for a line gets a clean 480 with a Reason rather than ringing forever.
 */
import type { IncomingContext, SipRequest } from '../sip/index.js';
import type { EngineLogger } from './engine.js';
import type { RegistrationStore } from './store.js';

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY';

export interface IncomingDeps {
  /** The registration our Contact user maps to, or null. */
  registrationFor(contactUser: string | undefined): string | null;
  store: Pick<RegistrationStore, 'findListener'>;
  logger: EngineLogger;
}

function hasToTag(req: SipRequest): boolean {
  try {
    return req.to.params.has('tag');
  } catch {
    return false;
  }
}

export function createIncomingHandler(deps: IncomingDeps): (req: SipRequest, ctx: IncomingContext) => void {
  return (req, ctx) => {
    switch (req.method) {
      case 'ACK':
        return; // ACK for our non-2xx final responses is absorbed by the transaction layer
      case 'OPTIONS':
        // Registrars and proxies probe the contact (qualify); answering keeps the line marked reachable.
        ctx.respond(200, undefined, { headers: { Allow: ALLOW, Accept: 'application/sdp' } });
        return;
      case 'BYE':
        ctx.respond(481); // we hold no dialogs yet
        return;
      case 'NOTIFY': {
        if (hasToTag(req)) return ctx.respond(481); // in-dialog: we have no subscriptions
        // Out-of-dialog NOTIFYs to a registered contact are unsolicited keep-alives / MWI from the
        // provider; 200 keeps it from treating the line as broken.
        const id = deps.registrationFor(req.uri.user);
        ctx.respond(id ? 200 : 404);
        return;
      }
      case 'INVITE':
        void answerInvite(deps, req, ctx);
        return;
      default:
        ctx.respond(405, undefined, { headers: { Allow: ALLOW } });
    }
  };
}

async function answerInvite(deps: IncomingDeps, req: SipRequest, ctx: IncomingContext): Promise<void> {
  if (hasToTag(req)) return ctx.respond(481); // re-INVITE for a dialog we do not have
  const id = deps.registrationFor(req.uri.user);
  if (!id) return ctx.respond(404);
  let found: Awaited<ReturnType<IncomingDeps['store']['findListener']>>;
  try {
    found = await deps.store.findListener(id);
  } catch (err) {
    deps.logger.warn({ registration: id, err: (err as Error).message }, 'listener lookup failed');
    return ctx.respond(500);
  }
  if (ctx.cancelled) return;
  if (!found) return ctx.respond(404);
  const text = found.agentId ? 'call routing not available yet' : 'no agent bound to this line';
  deps.logger.info(
    { registration: id, agent: found.agentId, from: req.headers.get('From'), callId: req.callId },
    `incoming call on registration answered 480: ${text}`,
  );
  ctx.respond(480, undefined, { headers: { Reason: `SIP;cause=480;text="${text}"` } });
}
