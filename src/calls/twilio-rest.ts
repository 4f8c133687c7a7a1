import twilio from 'twilio';
import type { RequestOptions } from 'twilio/lib/base/RequestClient.js';

const TWILIO_API = /^https:\/\/api\.twilio\.com/;

/**
 * Sends the SDK's requests to TWILIO_API_BASE_URL instead of api.twilio.com (a regional edge, a
 * proxy, or a local stand-in in tests). The SDK builds absolute URLs, so the prefix is swapped.
 */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(private readonly base: string) {
    super();
  }

  override request<TData>(opts: RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: opts.uri.replace(TWILIO_API, this.base) });
  }
}

export type TwilioClient = ReturnType<typeof twilio>;

export function twilioClient(accountSid: string, authToken: string, apiBaseUrl: string): TwilioClient {
  const base = apiBaseUrl.replace(/\/+$/, '');
  const httpClient = base === 'https://api.twilio.com' ? undefined : new RebasedRequestClient(base);
  return twilio(accountSid, authToken, { httpClient, accountSid });
}

/**
 * Twilio answered with an error status: it saw the request and refused it. Anything else (DNS,
 * connection refused, TLS, timeout) failed before Twilio was reached.
 */
export function twilioAnswered(err: unknown): boolean {
  return typeof (err as { status?: unknown })?.status === 'number';
}

/** Twilio's own explanation of a refused request, when it sent one. */
export function twilioMessage(err: unknown): string {
  const e = err as { message?: string; code?: number | string; status?: number };
  if (!twilioAnswered(err)) return `could not reach Twilio (${[e?.code, e?.message].filter(Boolean).join(': ') || 'no answer'})`;
  return e?.message || 'Twilio did not answer';
}
