/**
 * A bounded fuzz run against the running SIP edge: thousands of mutated requests (flipped bytes,
 * cut messages, repeated and over-long headers, bad numbers, bodies that lie about their length)
 * over UDP and TCP, from a seeded generator so a failure can be replayed. Afterwards the server
 * must still answer a plain OPTIONS and an INVITE with a clear status, hold no calls, and have
 * thrown nothing it did not catch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sendUdpRequest } from '../interop/sip-client.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const COUNT = Number(process.env.FUZZ_COUNT ?? 4000);

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(port: number): string[] {
  const sdp = 'v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  const common = (method: string, n: number) => [
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKfuzz${n};rport`, 'Max-Forwards: 70', 'From: <sip:fuzz@127.0.0.1>;tag=f1',
    `To: <sip:target@127.0.0.1:${port}>`, `Call-ID: fuzz${n}@127.0.0.1`, `CSeq: ${n} ${method}`, 'Contact: <sip:fuzz@127.0.0.1:5999>',
  ];
  return [
    ['INVITE sip:direct.0123456789ab@127.0.0.1 SIP/2.0', ...common('INVITE', 1), 'Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp].join('\r\n'),
    ['INVITE sip:+15550100000@127.0.0.1 SIP/2.0', ...common('INVITE', 2), 'Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp].join('\r\n'),
    ['OPTIONS sip:127.0.0.1 SIP/2.0', ...common('OPTIONS', 3), 'Content-Length: 0', '', ''].join('\r\n'),
    ['BYE sip:x@127.0.0.1 SIP/2.0', ...common('BYE', 4).map((h) => (h.startsWith('To:') ? `${h};tag=nope` : h)), 'Content-Length: 0', '', ''].join('\r\n'),
    ['REGISTER sip:127.0.0.1 SIP/2.0', ...common('REGISTER', 5), 'Expires: 60', 'Content-Length: 0', '', ''].join('\r\n'),
    ['SIP/2.0 200 OK', ...common('INVITE', 6), 'Content-Length: 0', '', ''].join('\r\n'),
  ];
}

function mutate(text: string, r: () => number): Buffer {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  let s = text;
  for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
    const at = Math.floor(r() * s.length);
    switch (Math.floor(r() * 9)) {
      case 0: s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1); break; // flip a byte
      case 1: s = s.slice(0, at); break; // cut
      case 2: { const lines = s.split('\r\n'); const l = pick(lines); lines.splice(1, 0, ...Array(20).fill(l)); s = lines.join('\r\n'); break; } // repeat a header
      case 3: s = s.replace(/Content-Length: \d+/, `Content-Length: ${pick(['-1', '99999999', '1e3', '5', 'x'])}`); break;
      case 4: s = s.replace(/CSeq: \d+/, `CSeq: ${pick(['-5', '4294967296', '99999999999999999999', ''])}`); break;
      case 5: s = s.replace(/Max-Forwards: \d+/, `Max-Forwards: ${pick(['0', '-1', '256', 'abc'])}`); break;
      case 6: s = s.slice(0, at) + 'X'.repeat(Math.floor(r() * 3000)) + s.slice(at); break; // over-long
      case 7: s = s.replace('\r\n\r\n', pick(['\n\n', '\r\n', '\r\n\r\n\r\n'])); break; // broken framing
      default: s = s.replace(/<sip:[^>]*>/, pick(['<>', '<sip:>', '<sip:@>', '<tel:+1>', `<sip:${'a'.repeat(600)}@x>`, '<sips:[::1>'])); break;
    }
  }
  return Buffer.from(s, 'latin1');
}

describe('SIP edge under a bounded fuzz run', () => {
  let ts: TestServer;
  let port: number;
  before(async () => {
    ts = await startTestServer('sqlite', { sip: true });
    port = ts.server.sipEdge!.sip.listening().udpPort;
  });
  after(async () => { await ts?.close(); });

  it(`stays up and answers after ${COUNT} mutated messages (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const corpus = seeds(port);
    const udp = createSocket('udp4');
    await new Promise<void>((res) => udp.bind(0, '127.0.0.1', res));
    udp.on('message', () => undefined); // answers are not the point; they must not crash anything
    const tcp = connect(port, '127.0.0.1');
    tcp.on('error', () => undefined);
    tcp.on('data', () => undefined);
    await new Promise<void>((res) => tcp.once('connect', res));
    let viaTcp = 0;
    for (let i = 0; i < COUNT; i++) {
      const msg = mutate(corpus[Math.floor(r() * corpus.length)]!, r);
      if (i % 5 === 0 && !tcp.destroyed) {
        tcp.write(msg);
        viaTcp++;
      } else {
        await new Promise<void>((res) => udp.send(msg.subarray(0, 65_000), port, '127.0.0.1', () => res()));
      }
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    tcp.destroy();
    udp.close();
    assert.ok(viaTcp > 0);
    await new Promise((res) => setTimeout(res, 500));

    const options = await sendUdpRequest(port, 'OPTIONS', `sip:probe@127.0.0.1:${port}`);
    assert.equal(options.at(-1)!.status, 200, 'still answering OPTIONS');
    const invite = await sendUdpRequest(port, 'INVITE', `sip:nobody@127.0.0.1:${port}`, { sdp: true });
    assert.equal(invite.at(-1)!.status, 404, 'still routing INVITEs');
    assert.equal(ts.server.sipCalls?.liveCount, 0, 'no call was set up by garbage');
    const stats = ts.server.sipEdge!.sip.stats();
    assert.ok(stats.malformedDropped + stats.malformedAnswered400 > COUNT / 10, `only ${stats.malformedDropped + stats.malformedAnswered400} malformed messages noticed`);
  });
});
