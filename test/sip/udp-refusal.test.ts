import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { SipTransportError } from '../../src/sip/errors.js';
import { createSipStack } from '../../src/sip/stack.js';
import { rawResponse, RawUdpPeer } from './helpers.js';

type Stack = ReturnType<typeof createSipStack>;
const running: Stack[] = [];

/** Default timers: an unanswered REGISTER would take the full 64·T1 = 32 s. */
async function stack(): Promise<Stack> {
  const s = createSipStack({ host: '127.0.0.1', port: 0 });
  await s.start();
  running.push(s);
  return s;
}

after(async () => { await Promise.all(running.map((s) => s.stop())); });

/** A UDP port nothing listens on (bound, then released). */
async function closedUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

const headers = () => ({
  From: '<sip:1001@127.0.0.1>;tag=refusal',
  To: '<sip:1001@127.0.0.1>',
  'Call-ID': `refusal-${Math.random().toString(36).slice(2)}@test`,
  CSeq: '1 REGISTER',
});

describe('a registrar that refuses at once', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`fails a REGISTER over ${transport.toUpperCase()} promptly, naming the address and port`, async () => {
      const s = await stack();
      const port = await closedUdpPort();
      const started = Date.now();
      const err = await s.request({ method: 'REGISTER', uri: `sip:127.0.0.1:${port};transport=${transport}`, headers: headers() }).catch((e: unknown) => e);
      const took = Date.now() - started;
      assert.ok(err instanceof SipTransportError, String(err));
      assert.equal(err.code, 'ECONNREFUSED');
      assert.match(err.message, new RegExp(`connection refused by 127\\.0\\.0\\.1:${port} over ${transport.toUpperCase()}`));
      assert.ok(took < 3_000, `took ${took} ms`);
    });
  }

  it('still completes a UDP transaction whose peer answers', async () => {
    const s = await stack();
    const peer = await RawUdpPeer.open();
    try {
      peer.onMessage = (text, rinfo) => {
        if (text.startsWith('OPTIONS')) peer.send(rawResponse(text, '200 OK'), rinfo.port);
      };
      const result = await s.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${peer.port}`, headers: { ...headers(), CSeq: '1 OPTIONS' } });
      assert.equal(result.response.status, 200);
    } finally {
      await peer.close();
    }
  });
});
