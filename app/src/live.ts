/**
 * Live data: one WebSocket to /events/ws per signed-in session, shared by every page, reopened
 * with a growing delay when it drops. Pages subscribe to the messages they care about.
 */
import { useEffect, useState } from 'react';
import { eventsUrl, type Session, type StreamEvent } from './api';

export type LiveEvent = StreamEvent;

type Listener = (e: LiveEvent) => void;
export type LinkState = 'connecting' | 'open' | 'closed';

const listeners = new Set<Listener>();
const stateListeners = new Set<(s: LinkState) => void>();
let socket: WebSocket | null = null;
let state: LinkState = 'closed';
let wanted: Session | null = null;
let retryTimer: ReturnType<typeof setTimeout> | null = null;
let retryMs = 500;

function setState(s: LinkState): void {
  state = s;
  for (const l of stateListeners) l(s);
}

function open(): void {
  if (!wanted) return;
  const ws = new WebSocket(eventsUrl(wanted));
  socket = ws;
  setState('connecting');
  ws.onopen = () => { retryMs = 500; setState('open'); };
  ws.onmessage = (m) => {
    let e: LiveEvent;
    try { e = JSON.parse(String(m.data)) as LiveEvent; } catch { return; }
    for (const l of listeners) l(e);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    setState('closed');
    if (!wanted) return;
    retryTimer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, 30_000);
  };
}

/** Connects for this session (or disconnects, given null); a new tenant or credential reconnects. */
export function connectEvents(session: Session | null): void {
  const same = wanted && session && wanted.token === session.token && wanted.tenantId === session.tenantId;
  if (same) return;
  wanted = session;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  const old = socket;
  socket = null;
  old?.close();
  if (session?.manager && (!session.admin || session.tenantId)) open();
  else setState('closed');
}

/** Calls `fn` for each live event while the component is mounted. */
export function useLiveEvents(fn: Listener, deps: unknown[]): void {
  useEffect(() => {
    listeners.add(fn);
    return () => { listeners.delete(fn); };
  }, deps);
}

export function useLinkState(): LinkState {
  const [s, set] = useState<LinkState>(state);
  useEffect(() => {
    stateListeners.add(set);
    set(state);
    return () => { stateListeners.delete(set); };
  }, []);
  return s;
}
