import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { Pacer } from '../../src/media/pacer.js';
import { buildBye, buildReport, ntpMiddle, ntpOf, parseRtcp, ReceptionStats } from '../../src/media/rtcp.js';
import { buildRtp } from '../../src/media/rtp.js';
import { bindPairInRange, RtpSession } from '../../src/media/rtp-session.js';

const sockets: Socket[] = [];
after(() => { for (const s of sockets) { try { s.close(); } catch { /* closed by its session */ } } });

describe('RTCP (RFC 3550)', () => {
  test('a sender report with its reception block and SDES CNAME reads back as written; BYE too', () => {
    const ntp = ntpOf(Date.UTC(2026, 11, 4, 12, 0, 0, 500));
    assert.equal(ntp.seconds, Date.UTC(2026, 11, 4, 12, 0, 0) / 1000 + 2_208_988_800);
    assert.equal(ntp.fraction, 2 ** 31);
    const report = { ssrc: 0xdeadbeef, fractionLost: 51, cumulativeLost: 2, highestSeq: 65546, jitter: 12, lastSr: 0x12345678, delaySinceLastSr: 65536 };
    const buf = buildReport({ ssrc: 42, cname: 'dialtone@example', sender: { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp: 1600, packets: 10, octets: 1600 }, report });
    assert.equal(buf.length % 4, 0);
    const [sr, sdes] = parseRtcp(buf)!;
    assert.deepEqual(sr, { type: 'sr', ssrc: 42, sender: { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp: 1600, packets: 10, octets: 1600 }, reports: [report] });
    assert.deepEqual(sdes, { type: 'sdes', cname: 'dialtone@example' });
    const rr = parseRtcp(buildReport({ ssrc: 7, cname: 'x', sender: null, report: null }))!;
    assert.deepEqual(rr[0], { type: 'rr', ssrc: 7, reports: [] });
    assert.deepEqual(parseRtcp(buildBye(9, 'x'))!.at(-1), { type: 'bye', ssrcs: [9] });
    assert.equal(ntpMiddle(0x0001abcd, 0x12340000), 0xabcd1234);
  });

  test('anything that is not RTCP is refused', () => {
    const good = buildReport({ ssrc: 1, cname: 'x', sender: null, report: null });
    const wrongVersion = Buffer.from(good); wrongVersion[0] = 0x40;
    const lyingLength = Buffer.from(good); lyingLength.writeUInt16BE(200, 2);
    const sdesFirst = Buffer.from(good.subarray(8));
    const rtp = buildRtp({ payloadType: 0, marker: false, sequence: 1, timestamp: 1, ssrc: 1, payload: Buffer.alloc(160) });
    const tooManyBlocks = Buffer.from(good); tooManyBlocks[0] = 0x85;
    for (const bad of [Buffer.alloc(0), Buffer.alloc(7), wrongVersion, lyingLength, sdesFirst, rtp, tooManyBlocks]) assert.equal(parseRtcp(bad), null);
  });

  test('reception statistics: loss, fraction lost since the last report, sequence wrap, jitter', () => {
    const s = new ReceptionStats();
    assert.equal(s.block(0), null);
    for (const seq of [1, 2, 3, 5, 6, 8, 9, 10]) s.packet(77, seq, seq * 160, seq * 20);
    const b = s.block(1000)!;
    assert.equal(b.ssrc, 77);
    assert.equal(b.cumulativeLost, 2);
    assert.equal(b.fractionLost, Math.floor((2 * 256) / 10));
    assert.equal(b.highestSeq, 10);
    assert.equal(b.jitter, 0, 'packets exactly 20 ms apart have no jitter');
    for (const seq of [11, 12]) s.packet(77, seq, seq * 160, seq * 20);
    assert.equal(s.block(1000)!.fractionLost, 0, 'nothing lost since the last report');

    const w = new ReceptionStats();
    for (const [i, seq] of [65534, 65535, 0, 1].entries()) w.packet(5, seq, i * 160, i * 20 + (i % 2) * 8);
    const wb = w.block(0)!;
    assert.equal(wb.highestSeq, 65536 + 1);
    assert.equal(wb.cumulativeLost, 0);
    assert.ok(wb.jitter > 0, 'uneven arrivals show as jitter');
  });

  test('an RTP session reports to the peer\'s RTCP port: sender info, the peer\'s losses, LSR/DLSR after its SR, and BYE on close', async () => {
    const pacer = new Pacer();
    const ours = await bindPairInRange(44600, 44700, '127.0.0.1');
    assert.equal(ours.rtcp.address().port, ours.rtp.address().port + 1);
    assert.equal(ours.rtp.address().port % 2, 0);
    const peerRtp = createSocket('udp4');
    const peerRtcp = createSocket('udp4');
    sockets.push(peerRtp, peerRtcp);
    await new Promise<void>((r) => peerRtp.bind(44800, '127.0.0.1', r));
    await new Promise<void>((r) => peerRtcp.bind(44801, '127.0.0.1', r));
    const reports: ReturnType<typeof parseRtcp>[] = [];
    peerRtcp.on('message', (m) => reports.push(parseRtcp(m)));
    const session = new RtpSession(ours.rtp, {
      pacer, law: 'PCMU', payloadType: 0, telephoneEvent: null, remote: { address: '127.0.0.1', port: 44800 }, mediaTimeoutMs: 0,
      rtcp: { socket: ours.rtcp, cname: 'test@dialtone', intervalMs: 100 },
    });
    const theirs: unknown[] = [];
    session.on('rtcp', (p) => theirs.push(p));
    const port = ours.rtp.address().port;
    for (const seq of [100, 101, 103, 104, 106]) {
      peerRtp.send(buildRtp({ payloadType: 0, marker: false, sequence: seq, timestamp: seq * 160, ssrc: 0xabc, payload: Buffer.alloc(160, 0xff) }), port, '127.0.0.1');
    }
    const ntp = ntpOf(Date.now());
    peerRtcp.send(buildReport({ ssrc: 0xabc, cname: 'peer', sender: { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp: 0, packets: 5, octets: 800 }, report: null }), port + 1, '127.0.0.1');
    const deadline = Date.now() + 3000;
    const withLsr = () => reports.find((r) => r?.[0]?.type === 'sr' && r[0].reports[0]?.lastSr);
    while (!withLsr() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const sr = withLsr()![0]!;
    assert.equal(sr.type, 'sr');
    if (sr.type !== 'sr') return;
    assert.ok(sr.sender.packets > 0 && sr.sender.octets === sr.sender.packets * 160, `${sr.sender.packets} packets, ${sr.sender.octets} octets`);
    const block = sr.reports[0]!;
    assert.equal(block.ssrc, 0xabc);
    assert.equal(block.cumulativeLost, 2);
    assert.equal(block.highestSeq, 106);
    assert.equal(block.lastSr, ntpMiddle(ntp.seconds, ntp.fraction));
    assert.ok(block.delaySinceLastSr < 65536, 'DLSR under a second');
    assert.equal(reports.find((r) => r)!.at(-1)!.type, 'sdes');
    assert.ok(theirs.length === 1, 'the peer\'s report reached the session');
    assert.deepEqual(session.reception, { expected: 7, lost: 2, jitter: session.reception.jitter });
    const before = reports.length;
    session.close();
    while (reports.length === before && Date.now() < deadline + 1000) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(reports.at(-1)!.at(-1), { type: 'bye', ssrcs: [sr.ssrc] });
  });
});
