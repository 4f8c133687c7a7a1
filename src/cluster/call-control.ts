import type { LiveCallControl, SessionRegistry } from '../calls/sessions.js';
import type { ClusterLink } from './link.js';

const METHOD = 'call.control';

type Op = 'speak' | 'sendDigits' | 'transfer' | 'end';
interface ControlRequest { callSid: string; op: Op; arg?: string }

function isRequest(p: unknown): p is ControlRequest {
  const r = p as Partial<ControlRequest> | null;
  return typeof r?.callSid === 'string' && ['speak', 'sendDigits', 'transfer', 'end'].includes(r.op as string)
    && (r.arg === undefined || typeof r.arg === 'string');
}

/**
 * Answers supervisor controls other instances were sent for calls whose session lives here. The
 * asking instance has already checked the caller's tenant against the shared calls table.
 */
export function serveCallControl(link: ClusterLink, sessions: SessionRegistry): void {
  link.answer(METHOD, async (payload) => {
    if (!isRequest(payload)) return null;
    const control = sessions.get(payload.callSid);
    if (!control) return null;
    const arg = payload.arg ?? '';
    if (payload.op === 'speak') await control.speak(arg);
    else if (payload.op === 'sendDigits') await control.sendDigits(arg);
    else if (payload.op === 'transfer') await control.transfer(arg);
    else await control.end(payload.arg);
    return { done: true };
  });
}

/**
 * Controls for a call whose session is not in this process: each is asked of the other instances,
 * and `missing()` is thrown when none holds the call (it ended, or its instance is gone).
 */
export function remoteCallControl(link: ClusterLink, callSid: string, timeoutMs: number, missing: () => Error): LiveCallControl {
  const send = async (op: Op, arg?: string) => {
    const answer = await link.ask(METHOD, { callSid, op, ...(arg === undefined ? {} : { arg }) }, timeoutMs);
    if (answer === null) throw missing();
  };
  return {
    speak: (text) => send('speak', text),
    sendDigits: (digits) => send('sendDigits', digits),
    transfer: (target) => send('transfer', target),
    end: (reason) => send('end', reason),
  };
}
