/** Turns Node socket / OpenSSL errors into SipTransportError with a message a person can act on. */
import { SipTransportError } from '../errors.js';
import type { Destination } from './types.js';

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

export function describeDestination(d: Destination): string {
  const host = d.hostname && d.hostname !== d.address ? `${d.hostname} (${d.address})` : d.address;
  return `${host}:${d.port} over ${d.transport.toUpperCase()}`;
}

export function isTlsError(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /\b(SSL|TLS)\b/.test(err.message);
}

export function toTransportError(err: unknown, dest: Destination): SipTransportError {
  if (err instanceof SipTransportError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const where = describeDestination(dest);
  if (dest.transport === 'tls' && e && isTlsError(e)) {
    return new SipTransportError('tls', `TLS: ${e.message} (${where})`, code, err);
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new SipTransportError('transport', `connection refused by ${where}`, code, err);
    case 'ETIMEDOUT':
      return new SipTransportError('transport', `connection to ${where} timed out`, code, err);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SipTransportError('transport', `${where} is unreachable`, code, err);
    case 'ECONNRESET':
    case 'EPIPE':
      return new SipTransportError('transport', `connection to ${where} was reset`, code, err);
    default:
      return new SipTransportError('transport', `cannot send to ${where}: ${e?.message ?? String(err)}`, code, err);
  }
}
