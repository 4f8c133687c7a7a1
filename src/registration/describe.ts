/** Turns what went wrong with a REGISTER into the `error` text a person reads in the API. */
import type { SipResponse } from '../sip/index.js';

interface ErrorLike {
  kind?: string;
  message?: string;
  code?: string;
  host?: string;
}

export function describeSipError(err: unknown, registrarHost: string, transport: string): string {
  const e = (err ?? {}) as ErrorLike;
  const proto = transport.toUpperCase();
  switch (e.kind) {
    case 'timeout': {
      const after = /after ([\d.]+) s/.exec(e.message ?? '')?.[1];
      return `registrar ${registrarHost} did not answer REGISTER over ${proto}${after ? ` after ${after} s` : ''}`;
    }
    case 'resolve':
      return `no address for ${e.host ?? registrarHost}`;
    case 'tls':
      // The stack words these "TLS: <OpenSSL reason> (<where>)"; the reason is what a person acts on.
      return (e.message ?? 'TLS: handshake failed').replace(/\s*\([^()]*\)\s*$/, '');
    case 'transport':
      return `cannot reach registrar ${registrarHost} over ${proto}: ${e.message ?? 'transport error'}`;
    case 'parse':
      return `invalid registrar address: ${e.message ?? ''}`.trim();
    default:
      return `REGISTER to ${registrarHost} failed: ${e.message ?? String(err)}`;
  }
}

export function statusLine(res: SipResponse): string {
  return `${res.status} ${res.reason}`.trim();
}

export function describeRejection(res: SipResponse, registrarHost: string): string {
  const warning = res.headers.get('Warning');
  const detail = warning ? ` (${warning.replace(/^\d{3}\s+\S+\s+/, '').replace(/^"|"$/g, '')})` : '';
  return `registrar ${registrarHost} rejected the registration: ${statusLine(res)}${detail}`;
}
