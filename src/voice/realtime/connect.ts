/**
 * Opens a Realtime WebSocket with the `openai` package's client. The client always asks for
 * `wss:`; a base URL that is plain `http://` (a Realtime-compatible server on the local network,
 * or a stand-in) gets its TCP connection made without TLS, everything else as the client does it.
 */
import { connect } from 'node:net';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

export interface RealtimeEndpoint {
  /** OPENAI_BASE_URL, e.g. `https://api.openai.com/v1`; null for OpenAI's. */
  baseUrl: string | null;
  apiKey: string;
  model: string;
}

export function openRealtime(ep: RealtimeEndpoint): OpenAIRealtimeWS {
  const client = new OpenAI({ apiKey: ep.apiKey, baseURL: ep.baseUrl ?? undefined, maxRetries: 0 });
  const plain = /^(http|ws):\/\//i.test(ep.baseUrl ?? '');
  const createConnection = (o: { host?: string; hostname?: string; port?: number | string }) =>
    connect({ host: o.hostname || o.host || 'localhost', port: Number(o.port) });
  return new OpenAIRealtimeWS({
    model: ep.model,
    options: { handshakeTimeout: 10_000, ...(plain ? { createConnection: createConnection as never } : {}) },
  }, client);
}
