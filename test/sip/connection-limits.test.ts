/**
 * Accepted TCP/TLS connections are capped and must deliver complete messages in time, so idle or
 * trickling peers cannot hold the process's descriptors, while a well-behaved client is served.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createSipStack, type SipStackOptions } from '../../src/sip/stack.js';
import { makeCert, sleep, waitFor, type TestCert } from './helpers.js';

type Stack = ReturnType<typeof createSipStack>;
const running: Stack[] = [];
const sockets: Socket[] = [];

async function stack(opts: Partial<SipStackOptions> = {}): Promise<Stack> {
  const s = createSipStack({ host: '127.0.0.1', port: 0, timers: { T1: 50 }, ...opts });
  await s.start();
  running.push(s);
  return s;
}

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(running.map((s) => s.stop()));
});

function options(callId: string): string {
  return `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK${callId}\r\n`
    + `Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=9\r\nCall-ID: ${callId}\r\n`
    + 'CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
}

/** A raw TCP client that records what it reads and whether the server closed it. */
type Client = { sock: Socket; data: () => string; closed: () => boolean };

async function client(port: number): Promise<Client> {
  const sock = connect(port, '127.0.0.1');
  sockets.push(sock);
  let data = '';
  let closed = false;
  sock.on('data', (d) => (data += d.toString()));
  sock.on('error', () => {});
  sock.on('close', () => (closed = true));
  await new Promise((r) => sock.once('connect', r));
  return { sock, data: () => data, closed: () => closed };
}

async function optionsAnswered(port: number, callId: string): Promise<string> {
  const c = await client(port);
  c.sock.write(options(callId));
  await waitFor(() => c.data().includes('\r\n\r\n') || c.closed(), 3000, `an answer to ${callId}`);
  c.sock.destroy();
  return c.data();
}

describe('accepted TCP connections: a cap', () => {
  it('closes connections beyond the cap on arrival and serves new ones once others close', async () => {
    const server = await stack({ maxConnections: 5, messageDeadline: 0 });
    const port = server.listening().tcpPort;
    const idle: Client[] = [];
    for (let i = 0; i < 8; i++) idle.push(await client(port));
    await waitFor(() => idle.filter((c) => c.closed()).length === 3, 3000, 'the three extra connections to be closed');
    assert.deepEqual(idle.map((c) => c.closed()), [false, false, false, false, false, true, true, true], 'the first five stay open');
    assert.equal(server.stats().connectionsRefused, 3);
    assert.equal(server.transportLayer.acceptedOpen, 5);

    // Full: even a good client is turned away, and nothing is answered.
    assert.equal(await optionsAnswered(port, 'while-full'), '');

    idle[0]!.sock.destroy();
    idle[1]!.sock.destroy();
    await waitFor(() => server.transportLayer.acceptedOpen === 3, 3000, 'the closed ones to be forgotten');
    assert.match(await optionsAnswered(port, 'after-room'), /^SIP\/2\.0 200 OK\r\n/);
  });

  it('does not count the connections the stack opened itself', async () => {
    const server = await stack({ maxConnections: 1, messageDeadline: 0 });
    const other = await stack({ maxConnections: 1, messageDeadline: 0 });
    const uri = `sip:bob@127.0.0.1:${other.listening().tcpPort};transport=tcp`;
    server.onRequest((_req, ctx) => ctx.respond(200));
    other.onRequest((_req, ctx) => ctx.respond(200));
    const headers = { From: '<sip:a@127.0.0.1>;tag=1', To: '<sip:bob@127.0.0.1>', 'Call-ID': 'out-1@test', CSeq: '1 OPTIONS' };
    const r = await server.request({ method: 'OPTIONS', uri, headers });
    assert.equal(r.response.status, 200);
    // The outgoing connection did not use up the server's single accepted slot.
    assert.match(await optionsAnswered(server.listening().tcpPort, 'inbound-still-fits'), /^SIP\/2\.0 200 OK\r\n/);
  });

  it('0 means no cap', async () => {
    const server = await stack({ maxConnections: 0, messageDeadline: 0 });
    const port = server.listening().tcpPort;
    const many: Client[] = [];
    for (let i = 0; i < 30; i++) many.push(await client(port));
    await sleep(100);
    assert.equal(many.filter((c) => c.closed()).length, 0);
    assert.equal(server.stats().connectionsRefused, 0);
  });
});

describe('accepted TCP connections: a deadline for a complete message', () => {
  it('drops a sender that trickles a message and never completes it, and one that sends nothing', async () => {
    const server = await stack({ messageDeadline: 400 });
    server.onRequest((_req, ctx) => ctx.respond(200));
    const port = server.listening().tcpPort;
    const silent = await client(port);
    const slow = await client(port);
    const text = options('slow');
    let i = 0;
    const trickle = setInterval(() => { if (!slow.closed()) slow.sock.write(text[i++ % text.length]!); }, 50);
    try {
      const start = Date.now();
      // Meanwhile a normal client is served as usual.
      assert.match(await optionsAnswered(port, 'meanwhile'), /^SIP\/2\.0 200 OK\r\n/);
      await waitFor(() => slow.closed() && silent.closed(), 3000, 'both to be closed');
      const took = Date.now() - start;
      assert.ok(took >= 300 && took < 1500, `closed after ${took} ms, the deadline being 400 ms`);
      assert.equal(slow.data(), '', 'the partial message was never answered');
    } finally {
      clearInterval(trickle);
    }
    assert.match(await optionsAnswered(port, 'afterwards'), /^SIP\/2\.0 200 OK\r\n/);
    await waitFor(() => server.transportLayer.acceptedOpen === 0, 2000, 'no accepted connection left open');
  });

  it('keeps a client that sends whole messages with pauses and keep-alives in between', async () => {
    const server = await stack({ messageDeadline: 300 });
    server.onRequest((_req, ctx) => ctx.respond(200));
    const c = await client(server.listening().tcpPort);
    for (let n = 1; n <= 3; n++) {
      const before = c.data().length;
      c.sock.write(options(`steady-${n}`));
      await waitFor(() => c.data().length > before && c.data().endsWith('\r\n\r\n'), 2000, `answer ${n}`);
      await sleep(200);
      c.sock.write('\r\n\r\n'); // RFC 5626 ping: not the start of a message
      await sleep(250);
    }
    assert.equal(c.closed(), false, 'pauses between messages are fine');
    assert.equal((c.data().match(/SIP\/2\.0 200 OK/g) ?? []).length, 3);
    // A message split over two writes within the deadline is served too.
    const text = options('split');
    c.sock.write(text.slice(0, 40));
    await sleep(150);
    c.sock.write(text.slice(40));
    await waitFor(() => (c.data().match(/SIP\/2\.0 200 OK/g) ?? []).length === 4, 2000, 'the split message answered');
    assert.equal(c.closed(), false);
  });
});

describe('accepted TLS connections', () => {
  let cert: TestCert;
  before(() => { cert = makeCert(); });

  it('count against the cap during the handshake, and a handshake that never ends is dropped at the deadline', async () => {
    const server = await stack({ tls: { port: 0, cert: cert.cert, key: cert.key }, maxConnections: 2, messageDeadline: 400 });
    const tlsPort = server.listening().tlsPort!;
    // Plain TCP to the TLS port: the handshake never starts.
    const stuck = [await client(tlsPort), await client(tlsPort), await client(tlsPort)];
    await waitFor(() => stuck[2]!.closed(), 2000, 'the third to be refused');
    assert.equal(stuck[0]!.closed() || stuck[1]!.closed(), false);
    await waitFor(() => stuck[0]!.closed() && stuck[1]!.closed(), 3000, 'the stuck handshakes to time out');

    // Room again: a real TLS client is served.
    const sock = tlsConnect({ host: '127.0.0.1', port: tlsPort, ca: cert.cert, servername: 'localhost' });
    sockets.push(sock);
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    await new Promise((r) => sock.once('secureConnect', r));
    server.onRequest((_req, ctx) => ctx.respond(200));
    sock.write(options('tls-ok').replace('SIP/2.0/TCP', 'SIP/2.0/TLS'));
    await waitFor(() => data.includes('\r\n\r\n'), 2000, 'an answer over TLS');
    assert.match(data, /^SIP\/2\.0 200 OK\r\n/);
    sock.destroy();
  });
});
