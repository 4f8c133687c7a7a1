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

/** Twilio's own explanation of a refused request, when it sent one. */
export function twilioMessage(err: unknown): string {
  const e = err as { message?: string; code?: number; status?: number };
  return e?.message || 'Twilio did not answer';
}
