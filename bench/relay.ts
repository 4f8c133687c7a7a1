/**
 * `npm run bench:relay`: 1,000 concurrent ConversationRelay sessions over real WebSockets with an
 * instant brain. Measures the platform's time from a `prompt` to the first `text` token (against
 * a bare `ws` echo server on the same machine as the baseline) and the memory of an idle session.
 *
 * The server runs in a child process so its RSS is not mixed with the 1,000 client sockets.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import pino from 'pino';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const ROUNDS = 5;
/** Prompts of one round are spread over this window, like callers talking independently. */
const WINDOW_MS = 2000;

interface Ready { httpUrl: string; echoUrl: string; accountSid: string; authToken: string; number: string }
type FromServer = { kind: 'ready'; info: Ready } | { kind: 'rss'; rss: number; sessions: number } | { kind: 'latency'; ms: number[] };

// ---------------------------------------------------------------- server side (child process)

async function serveChild(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { loadConfig } = await import('../src/config.js');
  const { createServer } = await import('../src/server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-bench-relay-'));
  const config = loadConfig({});
  Object.assign(config, { port: 0, host: '127.0.0.1', dataDir, databaseUrl: null, adminApiKey: `admin-${randomBytes(8).toString('hex')}`, masterKey: randomBytes(32).toString('base64'), logLevel: 'silent' });
  config.rateLimit = { perHour: 1e9, perMinute: 1e9 };
  config.sip.port = 0;
  config.sip.host = '127.0.0.1';
  const instant = { async *respond() { yield { type: 'token' as const, text: 'Sure.' }; } };
  const server = await createServer(config, { logger: pino({ level: process.env.BENCH_LOG ?? 'silent' }), brain: instant });
  const { httpUrl } = await server.listen();
  config.publicUrl = httpUrl;

  const svc = server.services;
  const tenant = await svc.tenants.create({ name: 'bench', maxConcurrentCalls: SESSIONS * 2 } as never);
  const scope = { tenantId: tenant.id };
  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const cred = await svc.credentials.create(scope, { provider: 'twilio', label: 'bench', credentials: { account_sid: accountSid, auth_token: authToken } });
  const agent = await svc.agents.create(scope, { name: 'Bench', deployStatus: 'active', greeting: 'Hi.' } as never);
  const number = '+15550100000';
  await svc.numbers.create(scope, { e164: number, credentialsId: cred.id, agentId: agent.id });

  // The baseline: a bare ws server answering each frame with a text token, nothing else.
  const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  echo.on('connection', (ws) => ws.on('message', () => ws.send('{"type":"text","token":"Sure.","last":false}')));
  await new Promise((r) => echo.once('listening', r));
  const echoUrl = `ws://127.0.0.1:${(echo.address() as { port: number }).port}`;

  process.on('message', async (m: { kind: string }) => {
    if (m.kind === 'rss') {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
      process.send!({ kind: 'rss', rss: process.memoryUsage().rss, sessions: server.runtime.sessions.size() } satisfies FromServer);
    } else if (m.kind === 'latency') {
      process.send!({ kind: 'latency', ms: [...server.runtime.firstTokenLatencies()] } satisfies FromServer);
    } else if (m.kind === 'stop') {
      echo.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send!({ kind: 'ready', info: { httpUrl, echoUrl, accountSid, authToken, number } } satisfies FromServer);
}

// ---------------------------------------------------------------- client side (Twilio's role)

const sign = (token: string, url: string, params: Record<string, string> = {}) =>
  createHmac('sha1', token).update(Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], url)).digest('base64');

function ask(child: ChildProcess, kind: string): Promise<FromServer> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as FromServer));
    child.send({ kind });
  });
}

async function pool<T>(items: T[], width: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) await f(items[next++]); }));
}

function open(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}

/** Sends prompts on every socket at random moments of each round; returns prompt→first-text latencies in ms. */
async function drive(sockets: WebSocket[]): Promise<number[]> {
  const latencies: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(sockets.map((ws) => new Promise<void>((resolve) => {
      setTimeout(() => {
        const t0 = process.hrtime.bigint();
        const onMessage = (data: WebSocket.RawData) => {
          const m = JSON.parse(data.toString()) as { type: string; last?: boolean };
          if (m.type !== 'text') return;
          ws.off('message', onMessage);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          // Let the rest of the reply (the last:true) arrive before the next round.
          setTimeout(resolve, 20);
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ type: 'prompt', voicePrompt: `hello ${round}`, lang: 'en-US', last: true }));
      }, Math.random() * WINDOW_MS);
    })));
  }
  return latencies;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main(): Promise<void> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ['server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...profile] });
  const ready = await new Promise<FromServer>((resolve) => child.once('message', (m) => resolve(m as FromServer)));
  if (ready.kind !== 'ready') throw new Error('server did not start');
  const { httpUrl, echoUrl, accountSid, authToken, number } = ready.info;

  // Baseline first: the same traffic against a bare ws server.
  const bare = await Promise.all(Array.from({ length: SESSIONS }, () => open(echoUrl, {})));
  const baseline = await drive(bare);
  for (const ws of bare) ws.close();

  // Twilio rings the number once per session; each call gets its TwiML.
  const sids = Array.from({ length: SESSIONS }, () => `CA${randomBytes(16).toString('hex')}`);
  await pool(sids, 32, async (sid) => {
    const params = { AccountSid: accountSid, CallSid: sid, From: '+15550199999', To: number };
    const res = await fetch(`${httpUrl}/twilio/voice`, {
      method: 'POST', body: new URLSearchParams(params).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(authToken, `${httpUrl}/twilio/voice`, params) },
    });
    const text = await res.text();
    if (!text.includes('<ConversationRelay')) throw new Error(`voice webhook: ${res.status} ${text}`);
  });
  const before = await ask(child, 'rss');

  const wsUrl = `${httpUrl.replace(/^http/, 'ws')}/relay/ws?account_sid=${accountSid}`;
  const sockets: WebSocket[] = [];
  await pool(sids, 32, async (sid) => {
    const ws = await open(wsUrl, { 'x-twilio-signature': sign(authToken, wsUrl) });
    ws.send(JSON.stringify({ type: 'setup', sessionId: 'VX1', accountSid, callSid: sid, from: '+15550199999', to: number, direction: 'inbound', customParameters: {} }));
    sockets.push(ws);
  });
  let after = await ask(child, 'rss');
  for (let i = 0; i < 50 && after.kind === 'rss' && after.sessions < SESSIONS; i++) after = await ask(child, 'rss');
  if (before.kind !== 'rss' || after.kind !== 'rss') throw new Error('no memory reading');
  if (after.sessions !== SESSIONS) throw new Error(`only ${after.sessions} of ${SESSIONS} sessions came up`);
  const perSessionKb = (after.rss - before.rss) / SESSIONS / 1024;

  const platform = await drive(sockets);
  const measured = await ask(child, 'latency');
  const serverSide = measured.kind === 'latency' ? measured.ms : [];
  for (const ws of sockets) ws.close();
  await new Promise((r) => setTimeout(r, 500));
  child.send({ kind: 'stop' });

  const row = (name: string, xs: number[]) => `${name.padEnd(24)} p50 ${pct(xs, 50).toFixed(2)} ms   p99 ${pct(xs, 99).toFixed(2)} ms   (n=${xs.length})`;
  console.log(`relay benchmark: ${SESSIONS} concurrent sessions, ${ROUNDS} prompts each over ${WINDOW_MS} ms windows, instant brain`);
  console.log(row('bare ws echo (baseline)', baseline));
  console.log(row('dialtone relay (client)', platform));
  console.log(row('server: prompt→1st token', serverSide));
  console.log(`platform overhead         p50 ${(pct(platform, 50) - pct(baseline, 50)).toFixed(2)} ms   p99 ${(pct(platform, 99) - pct(baseline, 99)).toFixed(2)} ms   (ratio p99 ${(pct(platform, 99) / pct(baseline, 99)).toFixed(1)}x)`);
  console.log(`memory per idle session   ${perSessionKb.toFixed(1)} KB (server RSS ${(before.rss / 2 ** 20).toFixed(0)} → ${(after.rss / 2 ** 20).toFixed(0)} MiB)`);
}

if (process.argv[2] === 'server') await serveChild();
else await main();
