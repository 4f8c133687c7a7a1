/** What an INVITE must carry before it is routed at all; each failure has its own SIP status. */
import { parse as parseSdp } from 'sdp-transform';
import type { SipRequest } from '../../sip/index.js';

export interface InviteProblem {
  status: number;
  reason: string;
}

/** `loopedBack`: the Call-ID is one of our own outgoing legs (a B2BUA sees its loops this way). */
export function inviteProblem(req: SipRequest, loopedBack: boolean): InviteProblem | null {
  const mf = req.headers.get('Max-Forwards');
  if (mf !== undefined && Number(mf) <= 0) return { status: 483, reason: 'Max-Forwards reached 0' };
  if (loopedBack) return { status: 482, reason: 'this INVITE left here a moment ago' };
  if (!req.headers.get('Contact')) return { status: 400, reason: 'Missing Contact header' };
  if (!req.body.length) return { status: 488, reason: 'an INVITE without an SDP offer is not supported' };
  const type = (req.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/sdp') return { status: 415, reason: `body type ${type || 'unknown'} is not application/sdp` };
  const text = req.body.toString('utf8');
  let media = 0;
  try {
    const sdp = parseSdp(text);
    media = sdp.media?.length ?? 0;
    if (sdp.version !== 0 || !sdp.origin || !(sdp.connection || sdp.media?.every((m) => m.connection))) media = -1;
  } catch {
    media = -1;
  }
  if (!/^v=0\r?\n/.test(text) || media < 1) return { status: 400, reason: 'Malformed SDP offer' };
  return null;
}

/** The next hop's Max-Forwards (RFC 3261 §16.6 step 3, which a B2BUA keeps to stop loops). */
export function nextMaxForwards(req: SipRequest): string {
  const mf = Number(req.headers.get('Max-Forwards') ?? 70);
  return String(Math.max(0, Math.min(70, Number.isFinite(mf) ? mf : 70) - 1));
}
