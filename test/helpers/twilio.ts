import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { TestServer } from './server.js';

/** X-Twilio-Signature as Twilio computes it: HMAC-SHA1 over the URL and the sorted name+value pairs. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  const data = Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

export const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
export const newCallSid = () => `CA${randomHex(16)}`;
export const randomE164 = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

export interface TwilioAccount {
  tenantId: string;
  key: string;
  accountSid: string;
  authToken: string;
  credentialId: string;
  agentId: string;
  number: string;
}

/** A tenant with a Twilio credential, an active agent and a number of that agent on that credential. */
export async function twilioAccount(
  s: TestServer,
  opts: { tenant?: Record<string, unknown>; agent?: Record<string, unknown> } = {},
): Promise<TwilioAccount> {
  const t = await s.newTenant(opts.tenant);
  const scope = { tenantId: t.id };
  const svc = s.server.services;
  const accountSid = `AC${randomHex(16)}`;
  const authToken = randomHex(16);
  const cred = await svc.credentials.create(scope, { provider: 'twilio', label: 'main', credentials: { account_sid: accountSid, auth_token: authToken } });
  const agent = await svc.agents.create(scope, {
    name: 'Ava', kind: 'inbound', deployStatus: 'active', greeting: 'Hello, this is Ava.', systemPrompt: 'You help callers.',
    voice: 'en-US-Neural2-F', language: 'en-US', ...opts.agent,
  } as never);
  const number = randomE164();
  await svc.numbers.create(scope, { e164: number, credentialsId: cred.id, agentId: agent.id });
  return { tenantId: t.id, key: t.key, accountSid, authToken, credentialId: cred.id, agentId: agent.id, number };
}

/** Posts a form to a Twilio webhook of the server, signed as Twilio would (or with a given signature). */
export async function postTwilio(
  s: TestServer,
  path: string,
  params: Record<string, string>,
  authToken: string,
  opts: { signature?: string | null } = {},
): Promise<{ status: number; text: string; contentType: string | null }> {
  const url = s.config.publicUrl + path;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const signature = opts.signature === undefined ? twilioSignature(authToken, url, params) : opts.signature;
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const res = await fetch(s.url + path, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
}

/** Attributes of the first element `tag` in a TwiML document. */
export function twimlAttrs(xml: string, tag: string): Record<string, string> | null {
  const m = new RegExp(`<${tag}((?:\\s+\\w+="[^"]*")*)\\s*/?>`).exec(xml);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (const a of m[1].matchAll(/(\w+)="([^"]*)"/g)) {
    out[a[1]] = a[2].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return out;
}

export function twimlParameters(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) out[m[1]] = m[2];
  return out;
}

export type RelayFrame = { type: string; [k: string]: unknown };

/** A WebSocket client speaking ConversationRelay the way Twilio does. */
export class RelayClient {
  readonly received: RelayFrame[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as RelayFrame);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => {
      resolve({ code });
      for (const w of this.waiters.splice(0)) w();
    }));
  }

  /** Opens the socket at `url` (the TwiML's ConversationRelay url), signed unless told otherwise. */
  static connect(url: string, authToken: string, opts: { signature?: string | null } = {}): Promise<RelayClient> {
    const headers: Record<string, string> = {};
    const signature = opts.signature === undefined ? twilioSignature(authToken, url) : opts.signature;
    if (signature !== null) headers['x-twilio-signature'] = signature;
    const ws = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RelayClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(msg: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(msg));
  }

  setup(callSid: string, a: { from?: string; to?: string; accountSid: string; customParameters?: Record<string, string> }): void {
    this.send({
      type: 'setup', sessionId: `VX${randomHex(16)}`, accountSid: a.accountSid, parentCallSid: '', callSid,
      from: a.from ?? '+15550000001', to: a.to ?? '+15550000002', forwardedFrom: '', callType: 'PSTN', callerName: '',
      direction: 'inbound', callStatus: 'RINGING', customParameters: a.customParameters ?? {},
    });
  }

  prompt(voicePrompt: string, last = true): void {
    this.send({ type: 'prompt', voicePrompt, lang: 'en-US', last });
  }

  /** Waits for a frame matching `pred` at or after index `from`; returns its index. */
  async waitFor(pred: (f: RelayFrame) => boolean, from = 0, timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((f, idx) => idx >= from && pred(f));
      if (i >= 0) return i;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting; got ${JSON.stringify(this.received.slice(from))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; got ${JSON.stringify(this.received.slice(from))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Collects one streamed reply starting at `from`: the tokens up to the `last: true` text. */
  async reply(from: number): Promise<{ tokens: string[]; text: string; next: number }> {
    const end = await this.waitFor((f) => f.type === 'text' && f.last === true, from);
    const tokens = this.received.slice(from, end).filter((f) => f.type === 'text').map((f) => String(f.token));
    return { tokens, text: tokens.join(''), next: end + 1 };
  }

  close(code = 1000): Promise<{ code: number }> {
    this.ws.close(code);
    return this.closed;
  }

  terminate(): Promise<{ code: number }> {
    this.ws.terminate();
    return this.closed;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What the fake LLM answers to one request. */
export type LlmScript =
  | { tokens: string[]; delayMs?: number; toolCalls?: Array<{ name: string; args: Record<string, unknown> }> }
  | { status: number; message?: string };

/** An OpenAI-compatible chat-completions server on loopback that streams scripted replies. */
export class FakeLlm {
  readonly requests: Array<Record<string, any>> = [];
  private readonly byPrompt = new Map<string, LlmScript>();
  private constructor(private readonly server: Server, readonly baseUrl: string) {}

  static async start(): Promise<FakeLlm> {
    let self: FakeLlm | null = null;
    const server = createServer((req, res) => { void self!.handle(req, res); });
    self = new FakeLlm(server, `${await listen(server)}/v1`);
    return self;
  }

  /** The reply to a request whose last user message is `prompt`; anything else gets "ok". */
  when(prompt: string, reply: LlmScript): void {
    this.byPrompt.set(prompt, reply);
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const body = JSON.parse(await readBody(req)) as Record<string, any>;
    this.requests.push({ ...body, authorization: req.headers.authorization, path: req.url });
    const lastUser = [...(body.messages as Array<{ role: string; content: string }>)].reverse().find((m) => m.role === 'user')?.content ?? '';
    const reply = this.byPrompt.get(lastUser) ?? { tokens: ['ok'] };
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: reply.message ?? 'model exploded', type: 'server_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }));
    for (const t of reply.tokens) {
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (res.destroyed) return;
      res.write(chunk({ content: t }));
    }
    (reply.toolCalls ?? []).forEach((tc, index) => {
      res.write(chunk({ tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: tc.name, arguments: '' } }] }));
      res.write(chunk({ tool_calls: [{ index, function: { arguments: JSON.stringify(tc.args) } }] }));
    });
    res.write(chunk({}, reply.toolCalls?.length ? 'tool_calls' : 'stop'));
    res.end('data: [DONE]\n\n');
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A stand-in for Twilio's REST API: creates calls, checking Basic auth against known accounts. */
export class FakeTwilioRest {
  readonly calls: Array<{ accountSid: string; params: Record<string, string> }> = [];
  readonly updates: Array<{ sid: string; params: Record<string, string> }> = [];
  /** Set to make the next Calls.json answer with Twilio's error JSON. */
  failWith: { status: number; code: number; message: string } | null = null;
  private readonly accounts = new Map<string, string>();
  private constructor(private readonly server: Server, readonly baseUrl: string) {}

  static async start(): Promise<FakeTwilioRest> {
    let self: FakeTwilioRest | null = null;
    const server = createServer((req, res) => { void self!.handle(req, res); });
    self = new FakeTwilioRest(server, await listen(server));
    return self;
  }

  addAccount(accountSid: string, authToken: string): void {
    this.accounts.set(accountSid, authToken);
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const params = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls(?:\/(CA[0-9a-f]{32}))?\.json$/.exec(req.url ?? '');
    if (!m || req.method !== 'POST') return send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
    if (user !== m[1] || this.accounts.get(user) !== pass) return send(401, { code: 20003, message: 'Authenticate', status: 401 });
    if (m[2]) {
      this.updates.push({ sid: m[2], params });
      return send(200, { sid: m[2], status: params.Status ?? 'queued' });
    }
    if (this.failWith) {
      const f = this.failWith;
      this.failWith = null;
      return send(f.status, { code: f.code, message: f.message, more_info: `https://www.twilio.com/docs/errors/${f.code}`, status: f.status });
    }
    this.calls.push({ accountSid: m[1], params });
    const sid = newCallSid();
    send(201, {
      sid, account_sid: m[1], to: params.To, from: params.From, status: 'queued', direction: 'outbound-api',
      date_created: new Date().toUTCString(), uri: `/2010-04-01/Accounts/${m[1]}/Calls/${sid}.json`,
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Rings the agent's number as Twilio would, opens the relay socket the TwiML points at and sends `setup`. */
export async function ringAgent(s: TestServer, a: TwilioAccount, from = '+15550001111'): Promise<{ callSid: string; client: RelayClient; twiml: string }> {
  const callSid = newCallSid();
  const voice = await postTwilio(s, '/twilio/voice', { AccountSid: a.accountSid, CallSid: callSid, From: from, To: a.number, CallStatus: 'ringing', Direction: 'inbound' }, a.authToken);
  if (voice.status !== 200) throw new Error(`voice webhook answered ${voice.status}: ${voice.text}`);
  const relay = twimlAttrs(voice.text, 'ConversationRelay');
  if (!relay) throw new Error(`no ConversationRelay in ${voice.text}`);
  const client = await RelayClient.connect(relay.url, a.authToken);
  client.setup(callSid, { accountSid: a.accountSid, from, to: a.number, customParameters: twimlParameters(voice.text) });
  // The session is live once it has registered; wait for it like a supervisor would see it.
  const deadline = Date.now() + 3000;
  while (!s.server.runtime.sessions.get(callSid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return { callSid, client, twiml: voice.text };
}

/** Polls `f` until `ok` holds (or gives up after `ms` and returns the last value). */
export async function eventually<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}
