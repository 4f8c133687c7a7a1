/** Loopback tests: two stacks (or a stack and a raw socket) on 127.0.0.1 over UDP and TCP. */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { computeDigest, parseChallenge } from '../../src/sip/digest.js';
import { SipResolveError, SipTimeoutError, SipTransportError } from '../../src/sip/errors.js';
import type { SipRequest } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { Resolver } from '../../src/sip/resolver.js';
import { createSipStack, type IncomingContext, type SipStackOptions } from '../../src/sip/stack.js';
import { rawResponse, RawUdpPeer, sleep, waitFor } from './helpers.js';

type Stack = ReturnType<typeof createSipStack>;
const running: Stack[] = [];
const peers: RawUdpPeer[] = [];

async function stack(opts: Partial<SipStackOptions> = {}): Promise<Stack> {
  const s = createSipStack({ host: '127.0.0.1', port: 0, timers: { T1: 50 }, ...opts });
  await s.start();
  running.push(s);
  return s;
}

async function peer(): Promise<RawUdpPeer> {
  const p = await RawUdpPeer.open();
  peers.push(p);
  return p;
}

after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await Promise.all(peers.map((p) => p.close()));
});

const headers = (tag = 'abc') => ({
  From: `<sip:alice@127.0.0.1>;tag=${tag}`,
  To: '<sip:bob@127.0.0.1>',
  'Call-ID': `call-${Math.random().toString(36).slice(2)}@test`,
  CSeq: '1 OPTIONS',
});

function rawOptions(branch: string, port: number, callId = 'raw-call', extra = ''): string {
  return (
    `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport\r\n` +
    `Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=9\r\nCall-ID: ${callId}\r\n` +
    `CSeq: 7 OPTIONS\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('stack lifecycle', () => {
  it('binds UDP and TCP on one free port and reports it', async () => {
    const s = await stack();
    const ports = s.listening();
    assert.ok(ports.udpPort > 0);
    assert.equal(ports.tcpPort, ports.udpPort);
    assert.equal(ports.tlsPort, undefined);
    assert.equal(s.publicHost, '127.0.0.1');
  });

  it('reports a port already in use as SipTransportError', async () => {
    const first = await stack();
    const second = createSipStack({ host: '127.0.0.1', port: first.listening().udpPort });
    const err = await second.start().catch((e: unknown) => e);
    assert.ok(err instanceof SipTransportError);
    assert.equal(err.code, 'EADDRINUSE');
    assert.match(err.message, /^cannot listen on 127\.0\.0\.1:\d+/);
  });

  it('refuses to send before start()', async () => {
    const s = createSipStack({ host: '127.0.0.1', port: 0 });
    await assert.rejects(s.request({ method: 'OPTIONS', uri: 'sip:127.0.0.1', headers: {} }), /not started/);
  });
});

describe('UDP', () => {
  it('request/response between two stacks, with received/rport reported back', async () => {
    const server = await stack();
    const client = await stack();
    let seen: { req: SipRequest; ctx: IncomingContext } | undefined;
    server.onRequest((req, ctx) => {
      seen = { req, ctx };
      ctx.respond(200, 'Fine', { headers: { 'X-Test': 'yes' }, body: 'pong' });
    });
    const port = server.listening().udpPort;
    const result = await client.request({ method: 'OPTIONS', uri: `sip:bob@127.0.0.1:${port}`, headers: headers() });
    assert.equal(result.response.status, 200);
    assert.equal(result.response.reason, 'Fine');
    assert.equal(result.response.headers.get('X-Test'), 'yes');
    assert.equal(result.response.body.toString(), 'pong');
    assert.equal(result.authRejected, false);
    assert.deepEqual(result.local, { transport: 'udp', address: '127.0.0.1', port: client.listening().udpPort });
    assert.deepEqual(result.via, { received: '127.0.0.1', rport: client.listening().udpPort });
    assert.deepEqual(result.remote, { host: '127.0.0.1', port });
    assert.ok(seen);
    assert.equal(seen.ctx.transport, 'udp');
    assert.equal(seen.ctx.remotePort, client.listening().udpPort);
    assert.equal(seen.req.headers.get('User-Agent'), 'Dialtone');
    assert.equal(seen.req.headers.get('Max-Forwards'), '70');
    assert.match(seen.req.topVia!.branch!, /^z9hG4bK/);
    assert.equal(seen.req.topVia!.rport, client.listening().udpPort, 'server stamped rport');
  });

  it('answers OPTIONS with 200 and other methods with 501 when no handler is set', async () => {
    const server = await stack();
    const client = await stack();
    const uri = `sip:127.0.0.1:${server.listening().udpPort}`;
    const ok = await client.request({ method: 'OPTIONS', uri, headers: headers() });
    assert.equal(ok.response.status, 200);
    assert.match(ok.response.headers.get('Allow') ?? '', /OPTIONS/);
    const ni = await client.request({ method: 'MESSAGE', uri, headers: { ...headers(), CSeq: '2 MESSAGE' }, body: 'hi' });
    assert.equal(ni.response.status, 501);
  });

  it('runs an INVITE through provisional and final responses (ACK absorbed by the server)', async () => {
    const server = await stack();
    const client = await stack();
    const methods: string[] = [];
    server.onRequest((req, ctx) => {
      methods.push(req.method);
      if (req.method !== 'INVITE') return;
      ctx.respond(180);
      setTimeout(() => ctx.respond(486), 20);
    });
    const provisional: number[] = [];
    const result = await client.request({
      method: 'INVITE',
      uri: `sip:bob@127.0.0.1:${server.listening().udpPort}`,
      headers: { ...headers(), CSeq: '1 INVITE', Contact: `<sip:alice@127.0.0.1:${client.listening().udpPort}>` },
      body: 'v=0\r\n',
      onProvisional: (r) => provisional.push(r.status),
    });
    assert.equal(result.response.status, 486);
    assert.deepEqual(provisional, [100, 180]);
    await sleep(100);
    assert.deepEqual(methods, ['INVITE'], 'the ACK for 486 stays in the transaction layer');
    assert.equal(result.response.to.params.has('tag'), true);
  });

  it('retransmits when the first datagram is lost', async () => {
    const client = await stack({ timers: { T1: 40 } });
    const p = await peer();
    const copies: string[] = [];
    p.onMessage = (text, rinfo) => {
      copies.push(text);
      if (copies.length === 1) return; // drop the first copy
      p.send(rawResponse(text, '200 OK'), rinfo.port);
    };
    const started = Date.now();
    const result = await client.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${p.port}`, headers: headers() });
    assert.equal(result.response.status, 200);
    assert.equal(copies.length, 2);
    assert.equal(copies[0], copies[1], 'the retransmission is byte-identical');
    assert.ok(Date.now() - started >= 35, 'the retransmission waited for Timer E');
  });

  it('times out with SipTimeoutError after 64*T1', async () => {
    const client = await stack({ timers: { T1: 20 } });
    const p = await peer();
    const err = await client.request({ method: 'REGISTER', uri: `sip:127.0.0.1:${p.port}`, headers: { ...headers(), CSeq: '1 REGISTER' } }).catch((e: unknown) => e);
    assert.ok(err instanceof SipTimeoutError);
    assert.equal(err.kind, 'timeout');
    assert.equal(err.message, `no answer to REGISTER over UDP from 127.0.0.1:${p.port} after 1.3 s`);
    assert.ok(p.received.length >= 4, `retransmitted ${p.received.length} times`);
    assert.equal(client.stats().transactionsTimedOut, 1);
  });

  it('absorbs a retransmitted request: the handler runs once, the response is replayed', async () => {
    const server = await stack();
    const p = await peer();
    let calls = 0;
    let pending: IncomingContext | undefined;
    server.onRequest((_req, ctx) => {
      calls++;
      pending = ctx; // answer later, once the retransmission has been seen
    });
    const port = server.listening().udpPort;
    const msg = rawOptions('z9hG4bKretrans1', p.port);
    p.send(msg, port);
    await waitFor(() => pending !== undefined, 2000, 'request');
    p.send(msg, port); // while the TU is still deciding: absorbed silently
    await waitFor(() => server.stats().retransmissionsAbsorbed === 1, 2000, 'first retransmission');
    assert.equal(p.received.length, 0);
    pending!.respond(200);
    await waitFor(() => p.received.length === 1, 2000, 'first response');
    p.send(msg, port); // after the final response: replayed
    await waitFor(() => p.received.length === 2, 2000, 'replayed response');
    assert.equal(calls, 1);
    assert.equal(p.received[0]!.text, p.received[1]!.text);
    assert.equal(server.stats().retransmissionsAbsorbed, 2);
    assert.match(p.received[0]!.text, new RegExp(`received=127\\.0\\.0\\.1;rport=${p.port}|rport=${p.port};received=127\\.0\\.0\\.1`));
  });

  it('answers 400 to a malformed request it can reply to, drops what it cannot', async () => {
    const server = await stack();
    const p = await peer();
    let handled = 0;
    server.onRequest(() => handled++);
    const port = server.listening().udpPort;
    p.send(rawOptions('z9hG4bKbad1', p.port, 'bad-call').replace('CSeq: 7 OPTIONS', 'CSeq: 7 INVITE'), port);
    await waitFor(() => p.received.length === 1, 2000, '400');
    const res = parseMessage(p.received[0]!.text);
    assert.ok(!('method' in res));
    assert.equal(res.status, 400);
    assert.equal(res.callId, 'bad-call');
    assert.equal(res.topVia?.branch, 'z9hG4bKbad1');
    assert.ok(res.to.params.has('tag'));
    assert.match(res.headers.get('Warning') ?? '', /^399 /);

    p.send('\x16\x03\x01garbage\r\n\r\n', port);
    p.send(rawOptions('z9hG4bKbad2', p.port).replace(/Call-ID:.*\r\n/, '').replace('CSeq: 7 OPTIONS', 'CSeq: x'), port);
    p.send('ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKa\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n', port);
    await waitFor(() => server.stats().malformedDropped === 3, 2000, 'drops');
    await sleep(30);
    assert.equal(p.received.length, 1);
    assert.equal(handled, 0);
    assert.equal(server.stats().malformedAnswered400, 1);
  });

  it('turns a throwing handler into 500', async () => {
    const server = await stack();
    const client = await stack();
    server.onRequest(() => {
      throw new Error('handler bug');
    });
    const r = await client.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${server.listening().udpPort}`, headers: headers() });
    assert.equal(r.response.status, 500);
  });

  it('uses target instead of resolving the Request-URI, and fails resolution with SipResolveError', async () => {
    const server = await stack();
    const client = await stack({
      resolver: new Resolver({
        resolveSrv: () => Promise.reject(new Error('ENOTFOUND')),
        resolve4: () => Promise.reject(new Error('ENOTFOUND')),
        resolve6: () => Promise.reject(new Error('ENOTFOUND')),
      }),
    });
    const r = await client.request({
      method: 'OPTIONS',
      uri: 'sip:bob@provider.example.com',
      target: { host: '127.0.0.1', port: server.listening().udpPort },
      headers: headers(),
    });
    assert.equal(r.response.status, 200);
    const err = await client.request({ method: 'OPTIONS', uri: 'sip:provider.example.com', headers: headers() }).catch((e: unknown) => e);
    assert.ok(err instanceof SipResolveError);
    assert.equal(err.kind, 'resolve');
    assert.equal(err.message, 'no address for provider.example.com');
  });
});

describe('digest authentication', () => {
  /** A registrar-ish handler: challenges per `plan`, verifies credentials, then 200. */
  function challenger(server: Stack, plan: Array<'challenge' | 'stale' | 'ok'>, password = 'secret', status = 401) {
    const seen: SipRequest[] = [];
    const results: boolean[] = [];
    let nonce = 0;
    let current = '';
    server.onRequest((req, ctx) => {
      seen.push(req);
      const authHeader = req.headers.get(status === 401 ? 'Authorization' : 'Proxy-Authorization');
      if (authHeader) {
        const p = parseChallenge(authHeader).params;
        const expected = computeDigest({
          challenge: parseChallenge(`Digest realm="dialtone.test", nonce="${current}", qop="auth"`),
          username: p.get('username')!,
          password,
          method: req.method,
          uri: p.get('uri')!,
          cnonce: p.get('cnonce')!,
          nc: parseInt(p.get('nc')!, 16),
        }).response;
        results.push(expected === p.get('response') && p.get('nonce') === current);
      }
      const step = plan[seen.length - 1] ?? 'challenge';
      if (step === 'ok') return ctx.respond(200);
      current = `nonce-${++nonce}`;
      const header = status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      ctx.respond(status, undefined, {
        headers: { [header]: `Digest realm="dialtone.test", nonce="${current}", qop="auth,auth-int", algorithm=MD5${step === 'stale' ? ', stale=true' : ''}` },
      });
    });
    return { seen, results };
  }

  const register = (client: Stack, server: Stack, password = 'secret') =>
    client.request({
      method: 'REGISTER',
      uri: `sip:127.0.0.1:${server.listening().udpPort}`,
      headers: { ...headers(), To: '<sip:alice@127.0.0.1>', CSeq: '20 REGISTER', Contact: '<sip:alice@127.0.0.1>', Expires: '60' },
      credentials: { username: 'alice', password },
    });

  it('answers a 401 challenge and gets 200', async () => {
    const server = await stack();
    const client = await stack();
    const { seen, results } = challenger(server, ['challenge', 'ok']);
    const r = await register(client, server);
    assert.equal(r.response.status, 200);
    assert.equal(r.authRejected, false);
    assert.deepEqual(results, [true]);
    assert.deepEqual(seen.map((q) => q.cseq.seq), [20, 21], 'the retry has a higher CSeq');
    assert.equal(seen[0]!.callId, seen[1]!.callId);
    assert.notEqual(seen[0]!.topVia!.branch, seen[1]!.topVia!.branch);
    assert.match(seen[1]!.headers.get('Authorization')!, /nc=00000001/);
    assert.match(seen[1]!.headers.get('Authorization')!, /algorithm=MD5/);
  });

  it('answers 407 with Proxy-Authorization', async () => {
    const server = await stack();
    const client = await stack();
    const { seen, results } = challenger(server, ['challenge', 'ok'], 'secret', 407);
    const r = await register(client, server);
    assert.equal(r.response.status, 200);
    assert.deepEqual(results, [true]);
    assert.ok(seen[1]!.headers.has('Proxy-Authorization'));
  });

  it('reports authRejected when the credentials are challenged again', async () => {
    const server = await stack();
    const client = await stack();
    const { seen, results } = challenger(server, ['challenge', 'challenge', 'ok'], 'right');
    const r = await register(client, server, 'wrong');
    assert.equal(r.response.status, 401);
    assert.equal(r.authRejected, true);
    assert.equal(seen.length, 2, 'no third attempt');
    assert.deepEqual(results, [false]);
  });

  it('answers a second challenge only when it is stale', async () => {
    const server = await stack();
    const client = await stack();
    const a = challenger(server, ['challenge', 'stale', 'ok']);
    const r = await register(client, server);
    assert.equal(r.response.status, 200);
    assert.equal(a.seen.length, 3);
    assert.deepEqual(a.results, [true, true]);

    const server2 = await stack();
    const b = challenger(server2, ['challenge', 'stale', 'stale', 'ok']);
    const r2 = await register(client, server2);
    assert.equal(r2.response.status, 401);
    assert.equal(r2.authRejected, true, 'only one stale retry');
    assert.equal(b.seen.length, 3);
  });

  it('returns the challenge untouched without credentials', async () => {
    const server = await stack();
    const client = await stack();
    challenger(server, ['challenge', 'ok']);
    const r = await client.request({ method: 'REGISTER', uri: `sip:127.0.0.1:${server.listening().udpPort}`, headers: { ...headers(), CSeq: '1 REGISTER' } });
    assert.equal(r.response.status, 401);
    assert.equal(r.authRejected, false);
  });
});

describe('TCP', () => {
  it('request/response over TCP, reusing one connection', async () => {
    const server = await stack();
    const client = await stack();
    const transports: string[] = [];
    server.onRequest((req, ctx) => {
      transports.push(ctx.transport);
      ctx.respond(200);
    });
    const uri = `sip:bob@127.0.0.1:${server.listening().tcpPort};transport=tcp`;
    const first = await client.request({ method: 'OPTIONS', uri, headers: headers() });
    assert.equal(first.response.status, 200);
    assert.equal(first.local.transport, 'tcp');
    assert.equal(first.local.port, client.listening().tcpPort);
    await client.request({ method: 'OPTIONS', uri, headers: { ...headers(), CSeq: '2 OPTIONS' } });
    await Promise.all([1, 2, 3].map((n) => client.request({ method: 'OPTIONS', uri, headers: { ...headers(), CSeq: `${n + 2} OPTIONS` } })));
    assert.deepEqual(transports, ['tcp', 'tcp', 'tcp', 'tcp', 'tcp']);
    assert.equal(client.stats().connectionsOpened, 1);
    assert.equal(server.stats().connectionsAccepted, 1);
  });

  it('sends RFC 5626 CRLF keep-alives on idle outgoing connections and gets pongs', async () => {
    const server = await stack();
    const client = await stack({ keepAliveInterval: 40 });
    await client.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${server.listening().tcpPort}`, transport: 'tcp', headers: headers() });
    await waitFor(() => (client.transportLayer.connectionInfo()[0]?.pongsReceived ?? 0) >= 2, 3000, 'pongs');
    const [conn] = client.transportLayer.connectionInfo();
    assert.ok(conn && conn.outbound && conn.pingsSent >= 2);
    assert.equal(server.transportLayer.connectionInfo()[0]?.pingsSent, 0, 'the accepting side does not ping');
  });

  it('reports a refused connection as SipTransportError', async () => {
    const client = await stack();
    const port = await freePort();
    const err = await client.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${port};transport=tcp`, headers: headers() }).catch((e: unknown) => e);
    assert.ok(err instanceof SipTransportError);
    assert.equal(err.kind, 'transport');
    assert.equal(err.code, 'ECONNREFUSED');
    assert.match(err.message, new RegExp(`connection refused by 127\\.0\\.0\\.1:${port} over TCP`));
  });

  it('answers a malformed but well-framed request with 400 on the same connection', async () => {
    const server = await stack();
    const sock = connect(server.listening().tcpPort, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    await new Promise((r) => sock.once('connect', r));
    sock.write(rawOptions('z9hG4bKtcpbad', 5060, 'tcp-bad').replace('SIP/2.0/UDP', 'SIP/2.0/TCP').replace('Max-Forwards: 70', 'Max-Forwards: 700'));
    await waitFor(() => data.includes('\r\n\r\n'), 2000, '400 over TCP');
    assert.match(data, /^SIP\/2\.0 400 Bad Request\r\n/);
    assert.match(data, /Call-ID: tcp-bad/);
    // The stream is still in sync: a good request on the same connection is served.
    data = '';
    sock.write(rawOptions('z9hG4bKtcpgood', 5060, 'tcp-good').replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
    await waitFor(() => data.includes('\r\n\r\n'), 2000, '200 over TCP');
    assert.match(data, /^SIP\/2\.0 200 OK\r\n/);
    sock.destroy();
  });

  it('closes a connection whose framing is broken (no Content-Length)', async () => {
    const server = await stack();
    const sock = connect(server.listening().tcpPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(rawOptions('z9hG4bKnocl', 5060).replace('Content-Length: 0\r\n', ''));
    await closed;
    assert.equal(server.stats().malformedDropped, 1);
  });
});
