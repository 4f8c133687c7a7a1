/** What the call layer reads off SIP answers: the body they carry, and the call status a failure means. */
import type { CallStatus } from '../../domain/calls.js';
import type { MessageExtras, SipResponse } from '../../sip/index.js';

/** The answer's body (an SDP offer or answer) to pass on; empty when it has none. */
export function bodyOf(res: SipResponse): MessageExtras {
  return res.body.length ? { body: res.body, contentType: res.headers.get('Content-Type') ?? 'application/sdp' } : {};
}

/** The final status of a call nobody answered, from the SIP status that ended it. */
export function unansweredStatus(status: number, cancelled = false): CallStatus {
  if (cancelled) return 'canceled';
  if (status === 486 || status === 600 || status === 603) return 'busy';
  if (status === 408 || status === 480 || status === 487) return 'no-answer';
  return 'failed';
}
