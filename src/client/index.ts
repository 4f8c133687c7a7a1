/**
 * A typed Dialtone client: openapi-fetch over the types openapi-typescript generates from
 * /openapi.json (`npm run gen:client`, also run by `npm install`). No Node-only imports, so a
 * browser bundle (Vite) can use it as it is:
 *
 *   const api = createDialtoneClient({ baseUrl: 'http://localhost:8080', apiKey });
 *   const { data, error, response } = await api.GET('/phone-endpoints/{id}', { params: { path: { id } } });
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { paths, components, operations } from './schema.js';
export type DialtoneClient = Client<paths>;

export interface DialtoneClientOptions {
  /** Where Dialtone listens, e.g. `http://localhost:8080` (no trailing path). */
  baseUrl: string;
  /** An API key or a login token, sent as `Authorization: Bearer`. */
  apiKey?: string | null;
  /** The platform admin acting for one tenant (`X-Account-ID`). */
  accountId?: string | null;
  fetch?: (input: Request) => Promise<Response>;
}

export function createDialtoneClient(opts: DialtoneClientOptions): DialtoneClient {
  const headers: Record<string, string> = {};
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  if (opts.accountId) headers['x-account-id'] = opts.accountId;
  return createClient<paths>({ baseUrl: opts.baseUrl.replace(/\/+$/, ''), headers, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
}

/**
 * The reason in any of the APIs' error envelopes: `{success: false, error}` (registrations),
 * `{error, message}` (deployment, the rate limiter), `{message}` (agents v1.0),
 * `{success, message, data}` (trunks), plain text (telephony).
 */
export function errorMessage(error: unknown, fallback = 'request failed'): string {
  if (typeof error === 'string') return error || fallback;
  if (error && typeof error === 'object') {
    const e = error as { message?: unknown; error?: unknown };
    if (typeof e.message === 'string' && e.message) return e.message;
    if (typeof e.error === 'string' && e.error) return e.error;
  }
  return fallback;
}

/** One message of `/events/ws` (all shapes: /asyncapi.json). */
export type StreamEvent =
  | { type: 'registration.updated'; call_sid: null; timestamp: string; data: RegistrationState }
  | { type: CallEventType; call_sid: string | null; timestamp: string; data: Record<string, unknown>; text?: string; duration?: number | null };

export type CallEventType = 'call.started' | 'call.updated' | 'call.ended' | 'transcript.partial' | 'transcript.final' | 'context.updated' | 'error';

export interface RegistrationState {
  /** The line's id under /phone-endpoints. */
  registration_id: string;
  status: 'active' | 'failed' | 'disabled';
  state: 'initial' | 'registering' | 'registered' | 'failed';
  error: string | null;
}

/**
 * The URL of the events socket. The key goes in the query: browsers cannot set headers on a
 * WebSocket (Node clients may send `Authorization` instead and leave `token` out).
 */
export function eventsSocketUrl(baseUrl: string, opts: { token?: string | null; callSid?: string; tenantId?: string } = {}): string {
  const url = new URL('/events/ws', baseUrl.replace(/^http/i, 'ws'));
  if (opts.token) url.searchParams.set('token', opts.token);
  if (opts.callSid) url.searchParams.set('call_sid', opts.callSid);
  if (opts.tenantId) url.searchParams.set('tenant_id', opts.tenantId);
  return url.toString();
}
