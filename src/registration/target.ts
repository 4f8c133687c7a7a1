/** Where a registration's REGISTERs go and what they say about us. */
import { createHash } from 'node:crypto';
import { formatUri, parseUri, type SipUri } from '../sip/index.js';

export type LineTransport = 'udp' | 'tcp' | 'tls';

export interface RegisterTarget {
  /** Request-URI: the registrar without a user part. */
  requestUri: string;
  /** Host for the To/From address of record. */
  domain: string;
  transport: LineTransport;
}

function isTransport(v: unknown): v is LineTransport {
  return v === 'udp' || v === 'tcp' || v === 'tls';
}

/** Accepts `sip:host[:port][;params]`, `sips:…` or a bare `host[:port]`. */
export function registerTarget(registrar: string, options: Record<string, unknown>): RegisterTarget {
  const text = /^sips?:/i.test(registrar.trim()) ? registrar.trim() : `sip:${registrar.trim()}`;
  const uri: SipUri = parseUri(text);
  const wanted = typeof options.transport === 'string' ? options.transport.toLowerCase() : undefined;
  const fromUri = uri.scheme === 'sips' ? 'tls' : (uri.params.get('transport') ?? 'udp').toLowerCase();
  const transport: LineTransport = isTransport(wanted) ? wanted : isTransport(fromUri) ? fromUri : 'udp';
  const params = new Map(uri.params);
  if (transport === 'udp') params.delete('transport');
  else params.set('transport', transport);
  // sips: demands TLS end to end; keep it only when TLS is what we use.
  const scheme = uri.scheme === 'sips' && transport === 'tls' ? 'sips' : 'sip';
  if (scheme === 'sips') params.delete('transport');
  const requestUri = formatUri({ scheme, host: uri.host, ...(uri.port ? { port: uri.port } : {}), params, headers: new Map() });
  return { requestUri, domain: uri.host, transport };
}

/** The Request-URI after a 3xx: the redirect Contact without user part, keeping our transport. */
export function redirectTarget(contactUri: SipUri, current: RegisterTarget): RegisterTarget {
  const params = new Map(contactUri.params);
  const t = (params.get('transport') ?? '').toLowerCase();
  const transport: LineTransport = contactUri.scheme === 'sips' ? 'tls' : isTransport(t) ? t : current.transport;
  if (transport === 'udp') params.delete('transport');
  else params.set('transport', transport);
  const requestUri = formatUri({ scheme: 'sip', host: contactUri.host, ...(contactUri.port ? { port: contactUri.port } : {}), params, headers: new Map() });
  return { requestUri, domain: current.domain, transport };
}

/**
 * The user part of our Contact for one registration: derived from its id so it stays the same
 * across restarts (the registrar replaces the old binding rather than adding one) and so a
 * request arriving at the contact maps back to its registration without exposing the id.
 */
export function contactToken(registrationId: string): string {
  return `dt${createHash('sha256').update(registrationId).digest('hex').slice(0, 20)}`;
}

export function addressOfRecord(username: string, domain: string): string {
  return formatUri({ scheme: 'sip', user: username, host: domain, params: new Map(), headers: new Map() });
}
