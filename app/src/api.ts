/**
 * The dashboard's one way to the server: the typed client generated from /openapi.json
 * (src/client, `npm run gen:client`), bound to the signed-in credential. The credential (an API
 * key or a login token) and the tenant the platform admin picked live in sessionStorage, so a
 * reload keeps the session and closing the tab ends it.
 */
import { createDialtoneClient, errorMessage, eventsSocketUrl, type DialtoneClient } from '../../src/client/index';

export type { StreamEvent } from '../../src/client/index';

export interface Session {
  token: string;
  /** Platform admin only: the tenant acted for (sent as X-Account-ID). */
  tenantId: string | null;
  admin: boolean;
  /** False for a plain agent's login: it may only read itself, so the tenant's pages stay closed. */
  manager: boolean;
  /** How the person signed in, shown in the header. */
  label: string;
}

const STORE_KEY = 'dialtone.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORE_KEY);
}

/** An answer other than 2xx, with the reason from the answering API's own envelope. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const origin = () => location.origin;
const clientFor = (s: Session | null): DialtoneClient => createDialtoneClient({
  baseUrl: origin(), apiKey: s?.token, accountId: s?.admin ? s.tenantId : null,
});

let current: Session | null = loadSession();
let bound: DialtoneClient = clientFor(current);
let onUnauthorized: () => void = () => {};

/** Called by the shell on every render: the client follows the session. */
export function useSessionStore(s: Session | null, unauthorized: () => void): void {
  if (s !== current) bound = clientFor(s);
  current = s;
  onUnauthorized = unauthorized;
}

/** The generated client with the signed-in credential. */
export function api(): DialtoneClient {
  return bound;
}

interface Answer<T> { data?: T; error?: unknown; response: Response }

function check<T>(r: Answer<T>, session: Session | null): T {
  if (r.response.ok) return r.data as T;
  if (r.response.status === 401 && session) onUnauthorized();
  throw new ApiError(r.response.status, errorMessage(r.error, `request failed (${r.response.status})`));
}

/** The body of a 2xx answer; anything else throws an ApiError with the API's reason. */
export async function data<T>(request: Promise<Answer<T>>): Promise<T> {
  return check(await request, current);
}

/** The same, also answering whether a `Link: rel="next"` header names a further page. */
export async function page<T>(request: Promise<Answer<T>>): Promise<{ body: T; hasNext: boolean }> {
  const r = await request;
  return { body: check(r, current), hasNext: /rel="next"/.test(r.response.headers.get('link') ?? '') };
}

/** VoIPBIN's permission bits a login token carries (src/domain/principal.ts). */
const ADMIN = 32;
const MANAGER = 64;

/**
 * Signs in with an API key or an agent's username and password, and asks the server what the
 * credential is (`GET /auth/me`): the platform admin's, a tenant's, or a plain agent's.
 */
export async function signIn(input: { key: string } | { username: string; password: string }): Promise<Session> {
  let token: string;
  let label: string;
  if ('key' in input) {
    token = input.key.trim();
    label = 'API key';
  } else {
    const r = check(await clientFor(null).POST('/auth/login', { body: input }), null);
    token = r.token;
    label = r.username;
  }
  const me = await clientFor({ token, tenantId: null, admin: false, manager: true, label }).GET('/auth/me');
  if (me.response.status === 401) throw new ApiError(401, 'that key or login is not valid');
  const who = check(me, null);
  const admin = who.kind === 'platform_admin';
  // A login token without the manager or admin bit may only read itself (README, permissions).
  const manager = who.kind !== 'login' || (who.permission & (MANAGER | ADMIN)) !== 0;
  return { token, tenantId: null, admin, manager, label: admin ? 'platform admin' : label };
}

/** The events WebSocket URL for this session (a browser cannot set headers on a WebSocket). */
export function eventsUrl(session: Session, callSid?: string): string {
  return eventsSocketUrl(origin(), { token: session.token, callSid, tenantId: session.admin && session.tenantId ? session.tenantId : undefined });
}
