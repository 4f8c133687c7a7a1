import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { encodeG711, decodeG711 } from '../../src/media/g711.js';
import { Pacer } from '../../src/media/pacer.js';
import { buildRtp, parseRtp } from '../../src/media/rtp.js';
import { bindInRange, FRAME_BYTES, RtpSession } from '../../src/media/rtp-session.js';
import { digitPayloads, DigitReceiver, parseTelephoneEvent } from '../../src/media/telephone-event.js';

const pacer = new Pacer();
const sessions: RtpSession[] = [];
after(() => { for (const s of sessions) s.close(); });

async function pair(opts: { timeoutMs?: number } = {}) {
  const sa = await bindInRange(41000, 41998, '127.0.0.1');
  const sb = await bindInRange(41000, 41998, '127.0.0.1');
  const common = { pacer, law: 'PCMU' as const, payloadType: 0, telephoneEvent: 101, mediaTimeoutMs: opts.timeoutMs ?? 0 };
  const a = new RtpSession(sa, { ...common, remote: { address: '127.0.0.1', port: sb.address().port } });
  const b = new RtpSession(sb, { ...common, remote: { address: '127.0.0.1', port: sa.address().port } });
  sessions.push(a, b);
  return { a, b };
}

const tone = (ms: number, hz = 440) => encodeG711('PCMU', Int16Array.from({ length: ms * 8 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * hz * i) / 8000))));

test('binds even ports inside the range, and two sessions never share one', async () => {
  const s1 = await bindInRange(42000, 42010, '127.0.0.1');
  const s2 = await bindInRange(42000, 42010, '127.0.0.1');
  for (const s of [s1, s2]) {
    const p = s.address().port;
    assert.ok(p >= 42000 && p <= 42010 && p % 2 === 0, `port ${p}`);
  }
  assert.notEqual(s1.address().port, s2.address().port);
  s1.close(); s2.close();
});

test('audio handed over in one burst leaves at real time, 20 ms apart, and arrives whole and in order', async () => {
  const { a, b } = await pair();
  const arrivals: number[] = [];
  const frames: Buffer[] = [];
  b.on('audio', (f) => {
    // Count only the tone, not the silence sent before and after it.
    if (decodeG711('PCMU', f).some((x) => Math.abs(x) > 1000)) { arrivals.push(performance.now()); frames.push(Buffer.from(f)); }
  });
  a.play(tone(1000));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(frames.length, 50, 'one second of audio is 50 frames');
  assert.ok(arrivals.at(-1)! - t0 >= 900, 'not sent faster than real time');
  // The spacing as a receiver sees it, judged by its median and the share near 20 ms rather than
  // by the worst gap: one scheduling stall of the test process on a loaded machine is not pacing.
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!).sort((x, y) => x - y);
  const median = gaps[Math.floor(gaps.length / 2)]!;
  const near = gaps.filter((g) => g >= 15 && g <= 25).length / gaps.length;
  assert.ok(median >= 17 && median <= 23 && near >= 0.8, `packet spacing median ${median.toFixed(1)} ms, ${(near * 100).toFixed(0)} % within 20 ± 5 ms`);
  assert.ok(frames.every((f) => f.length === FRAME_BYTES));
});

test('flush drops queued audio at once (barge-in) and says how much had been played', async () => {
  const { a, b } = await pair();
  let heard = 0;
  b.on('audio', (f) => { if (decodeG711('PCMU', f).some((x) => Math.abs(x) > 1000)) heard++; });
  a.play(tone(2000));
  await new Promise((r) => setTimeout(r, 300));
  const played = a.flush();
  assert.ok(played >= 200 && played <= 400, `played ${played} ms`);
  assert.equal(a.queuedMs, 0);
  const atFlush = heard;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(heard - atFlush <= 2, 'nothing more of the reply is sent after the flush');
});

test('RFC 4733 digits go out and come in once each, however many packets carry them', async () => {
  const { a, b } = await pair();
  const got: string[] = [];
  b.on('digit', (d) => got.push(d.digit));
  assert.equal(a.sendDigit('5'), true);
  a.sendDigit('#');
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(got, ['5', '#']);
  // The end packet is sent three times; the receiver reports the event once.
  const seen: string[] = [];
  const rx = new DigitReceiver((d) => seen.push(d));
  for (const p of digitPayloads('9', 100)) rx.receive(1234, p.payload);
  assert.deepEqual(seen, ['9']);
  assert.equal(parseTelephoneEvent(digitPayloads('9', 100).at(-1)!.payload)!.end, true);
  assert.throws(() => digitPayloads('x'), /not a DTMF digit/);
});

test('latches to where the peer\'s media really comes from (symmetric RTP), and ignores what is not RTP', async () => {
  const sb = await bindInRange(41000, 41998, '127.0.0.1');
  const b = new RtpSession(sb, { pacer, law: 'PCMU', payloadType: 0, telephoneEvent: null, mediaTimeoutMs: 0, remote: { address: '127.0.0.1', port: 9 } });
  sessions.push(b);
  const nat = createSocket('udp4');
  await new Promise<void>((r) => nat.bind(0, '127.0.0.1', r));
  const latched = new Promise<{ port: number }>((r) => b.once('latched', r));
  const back = new Promise<Buffer>((r) => nat.once('message', r));
  nat.send(Buffer.from('hello, not rtp'), b.localPort, '127.0.0.1');
  nat.send(buildRtp({ payloadType: 0, marker: false, sequence: 1, timestamp: 160, ssrc: 7, payload: Buffer.alloc(160, 0xff) }), b.localPort, '127.0.0.1');
  assert.equal((await latched).port, nat.address().port);
  const packet = parseRtp(await back);
  assert.ok(packet && packet.payloadType === 0, 'our RTP now goes to the address the peer sent from');
  assert.equal(b.packetsIn, 1, 'the non-RTP datagram was not counted');
  nat.close();
});

test('reports a media timeout when the peer goes silent', async () => {
  const sb = await bindInRange(41000, 41998, '127.0.0.1');
  const b = new RtpSession(sb, { pacer, law: 'PCMU', payloadType: 0, telephoneEvent: null, mediaTimeoutMs: 300, remote: { address: '127.0.0.1', port: 9 } });
  sessions.push(b);
  const t0 = Date.now();
  await new Promise<void>((r) => b.once('timeout', () => r()));
  assert.ok(Date.now() - t0 >= 300);
});

test('puts one overtaken packet back in order and drops late duplicates', async () => {
  const sb = await bindInRange(41000, 41998, '127.0.0.1');
  const b = new RtpSession(sb, { pacer, law: 'PCMU', payloadType: 0, telephoneEvent: null, mediaTimeoutMs: 0, remote: { address: '127.0.0.1', port: 9 } });
  sessions.push(b);
  const order: number[] = [];
  b.on('audio', (f) => order.push(f[0]!));
  const peer = createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  for (const seq of [1, 2, 4, 3, 5, 2, 6, 7]) {
    peer.send(buildRtp({ payloadType: 0, marker: false, sequence: seq, timestamp: seq * 160, ssrc: 9, payload: Buffer.alloc(160, seq) }), b.localPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(order.slice(0, 5), [1, 2, 3, 4, 5]);
  assert.equal(order.filter((x) => x === 2).length, 1);
  peer.close();
});
