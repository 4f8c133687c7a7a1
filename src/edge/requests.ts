/**
 * Requests outside any dialog other than INVITE: what registrars and proxies send to the Contact
 * we registered (OPTIONS qualify, unsolicited NOTIFY), and a 405 with Allow for the rest.
 */
import { ALLOW, type IncomingContext, type SipRequest } from '../sip/index.js';

export interface OutOfDialogDeps {
  /** The registration our Contact user maps to, or null. */
  registrationFor(contactUser: string | undefined): string | null;
}

export function answerOutOfDialog(deps: OutOfDialogDeps): (req: SipRequest, ctx: IncomingContext) => void {
  return (req, ctx) => {
    switch (req.method) {
      case 'OPTIONS':
        // Registrars and proxies probe the contact (qualify); answering keeps the line marked reachable.
        ctx.respond(200, undefined, { headers: { Allow: ALLOW, Accept: 'application/sdp' } });
        return;
      case 'NOTIFY':
        // Out-of-dialog NOTIFYs to a registered contact are keep-alives or MWI from the provider;
        // 200 keeps it from treating the line as broken.
        ctx.respond(deps.registrationFor(req.uri.user) ? 200 : 404);
        return;
      case 'BYE':
      case 'CANCEL':
        ctx.respond(481);
        return;
      default:
        ctx.respond(405, undefined, { headers: { Allow: ALLOW } });
    }
  };
}
