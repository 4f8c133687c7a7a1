/** A request received inside a dialog, and what a dialog adds to messages it sends. */
import type { SipRequest } from '../message.js';
import type { IncomingContext } from '../stack.js';

/** Headers and an opaque body to add to a request or response. */
export interface MessageExtras {
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Content-Type of body (default application/sdp). */
  contentType?: string;
}

export interface AnswerHooks {
  onAnswer?: (status: number, extras: MessageExtras) => void;
  /** Extra headers for a 2xx. */
  headers?: () => Record<string, string>;
}

/** A request received inside a dialog, waiting for the application's answer. */
export class IncomingDialogRequest {
  private answered = false;

  constructor(
    readonly request: SipRequest,
    private readonly ctx: IncomingContext,
    private readonly contact: string,
    private readonly hooks: AnswerHooks = {},
  ) {}

  get method(): string {
    return this.request.method;
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  respond(status: number, reason?: string, extras: MessageExtras = {}): void {
    if (this.answered && status >= 200) return;
    if (status >= 200) this.answered = true;
    const ok = status >= 200 && status < 300;
    const headers: Record<string, string | string[]> = { ...(ok ? this.hooks.headers?.() : {}), ...extras.headers };
    // Target-refresh requests carry our Contact in their 2xx (§12.2.2).
    if (ok && TARGET_REFRESH.has(this.request.method)) headers.Contact = this.contact;
    if (extras.body !== undefined) headers['Content-Type'] = extras.contentType ?? 'application/sdp';
    const extra: { headers: Record<string, string | string[]>; body?: string | Buffer } = { headers };
    if (extras.body !== undefined) extra.body = extras.body;
    this.ctx.respond(status, reason, extra);
    if (status >= 200) this.hooks.onAnswer?.(status, extras);
  }
}

export const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);
