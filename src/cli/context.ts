import WebSocket from 'ws';
import { errorMessage, eventsSocketUrl, type DialtoneClient, type StreamEvent } from '../client/index.js';
import { UsageError, type Parsed } from './args.js';
import type { Output } from './output.js';
import type { Settings } from './settings.js';

/** The server refused (exit code 1); the message is its own, from whichever API's envelope. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export interface Ctx {
  api: DialtoneClient;
  settings: Settings;
  args: Parsed;
  out: Output;
  /** Makes a client for other credentials (bootstrap acts for the tenant it made). */
  client(opts: { apiKey?: string | null; accountId?: string | null }): DialtoneClient;
}

export interface Command {
  words: string[];
  usage: string;
  summary: string;
  /** Flags this command takes besides the global ones. */
  flags?: string[];
  switches?: string[];
  run(ctx: Ctx): Promise<void>;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful answer, or an ApiError with the server's own reason. */
export async function ok<T>(p: Promise<Answer<T>>): Promise<T> {
  const r = await p;
  if (r.error !== undefined || !r.response.ok) throw new ApiError(r.response.status, errorMessage(r.error, `HTTP ${r.response.status}`));
  return r.data as T;
}

export function requireKey(ctx: Ctx): string {
  if (!ctx.settings.apiKey) throw new UsageError('no API key: pass --api-key, set DIALTONE_API_KEY, or save a profile (dialtone profile save)');
  return ctx.settings.apiKey;
}

/**
 * Follows `/events/ws`, handing each event to `onEvent` until it (or `onOpen`) returns true, the
 * socket closes, or `timeoutMs` passes (then the promise rejects with a TimeoutError). The key goes in the Authorization header,
 * not the URL, so it never lands in a proxy's access log.
 */
export function followEvents(ctx: Ctx, opts: { callSid?: string; timeoutMs?: number; onOpen?: () => Promise<boolean | void> },
  onEvent: (e: StreamEvent) => boolean | void): Promise<void> {
  const key = requireKey(ctx);
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (ctx.settings.accountId) headers['x-account-id'] = ctx.settings.accountId;
  const ws = new WebSocket(eventsSocketUrl(ctx.settings.url, { callSid: opts.callSid }), { headers });
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners('close');
      ws.close();
      if (err) reject(err); else resolve();
    };
    const timer = opts.timeoutMs ? setTimeout(() => finish(new TimeoutError(`nothing matching arrived within ${opts.timeoutMs! / 1000} s`)), opts.timeoutMs) : undefined;
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => {
        let parsed: unknown = body;
        try { parsed = JSON.parse(body); } catch { /* text */ }
        finish(new ApiError(res.statusCode ?? 0, errorMessage(parsed, `the events socket was refused (HTTP ${res.statusCode})`)));
      });
    });
    // Once open, nothing is missed: what `onOpen` reads now, the stream updates from here on.
    ws.on('open', () => { void Promise.resolve(opts.onOpen?.()).then((done) => { if (done === true) finish(); }, (err: Error) => finish(err)); });
    ws.on('message', (raw) => {
      let e: StreamEvent;
      try { e = JSON.parse(String(raw)) as StreamEvent; } catch { return; }
      try {
        if (onEvent(e) === true) finish();
      } catch (err) {
        finish(err as Error);
      }
    });
    ws.on('error', (err) => finish(err));
    ws.on('close', (code, reason) => finish(code === 1000 ? undefined : new ApiError(0, `the events socket closed (${code}${reason.length ? `: ${reason}` : ''})`)));
  });
}

/** A watch that ran out of time (exit code 4): distinct from a refusal, for scripts that wait. */
export class TimeoutError extends Error {}
