/**
 * RTCP (RFC 3550 §6) as much as a call needs for carriers to see a live stream: sender reports
 * with one reception report block about the peer, the SDES CNAME every compound packet must
 * carry, BYE at the end, and the reception statistics behind the report block (loss and
 * interarrival jitter, §A.3 and §A.8). Reports from the peer are read for round-trip time.
 */

const VERSION = 0x80;
const SR = 200;
const RR = 201;
const SDES = 202;
const BYE = 203;
/** Seconds between 1900 (NTP) and 1970 (Unix). */
const NTP_EPOCH_OFFSET = 2_208_988_800;

export interface ReportBlock {
  ssrc: number;
  /** Share of packets lost since the last report, in 1/256. */
  fractionLost: number;
  cumulativeLost: number;
  /** Extended highest sequence number received. */
  highestSeq: number;
  /** Interarrival jitter, timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP time of the last SR from that source (0: none yet). */
  lastSr: number;
  /** Delay since that SR, 1/65536 s. */
  delaySinceLastSr: number;
}

export interface SenderInfo {
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  packets: number;
  octets: number;
}

export type RtcpPacket =
  | { type: 'sr'; ssrc: number; sender: SenderInfo; reports: ReportBlock[] }
  | { type: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { type: 'sdes'; cname: string | null }
  | { type: 'bye'; ssrcs: number[] };

/** NTP time of a wall-clock instant (ms since 1970). */
export function ntpOf(ms: number): { seconds: number; fraction: number } {
  const seconds = Math.floor(ms / 1000) + NTP_EPOCH_OFFSET;
  const fraction = Math.floor(((ms % 1000) / 1000) * 2 ** 32);
  return { seconds: seconds >>> 0, fraction: fraction >>> 0 };
}

/** The middle 32 bits of an NTP time, as LSR carries it. */
export const ntpMiddle = (seconds: number, fraction: number) => (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;

function writeBlock(out: Buffer, at: number, b: ReportBlock): void {
  out.writeUInt32BE(b.ssrc >>> 0, at);
  out[at + 4] = Math.max(0, Math.min(255, b.fractionLost));
  // Cumulative loss is a signed 24-bit number (duplicates can make it negative).
  const lost = Math.max(-0x800000, Math.min(0x7fffff, b.cumulativeLost)) & 0xffffff;
  out.writeUIntBE(lost, at + 5, 3);
  out.writeUInt32BE(b.highestSeq >>> 0, at + 8);
  out.writeUInt32BE(Math.round(b.jitter) >>> 0, at + 12);
  out.writeUInt32BE(b.lastSr >>> 0, at + 16);
  out.writeUInt32BE(b.delaySinceLastSr >>> 0, at + 20);
}

function readBlock(buf: Buffer, at: number): ReportBlock {
  let lost = buf.readUIntBE(at + 5, 3);
  if (lost & 0x800000) lost -= 0x1000000;
  return {
    ssrc: buf.readUInt32BE(at), fractionLost: buf[at + 4]!, cumulativeLost: lost, highestSeq: buf.readUInt32BE(at + 8),
    jitter: buf.readUInt32BE(at + 12), lastSr: buf.readUInt32BE(at + 16), delaySinceLastSr: buf.readUInt32BE(at + 20),
  };
}

function header(out: Buffer, count: number, type: number, bytes: number): void {
  out[0] = VERSION | (count & 0x1f);
  out[1] = type;
  out.writeUInt16BE(bytes / 4 - 1, 2);
}

function sdes(ssrc: number, cname: string): Buffer {
  const name = Buffer.from(cname.slice(0, 255), 'utf8');
  // SSRC, CNAME item (type, length, text), end-of-list null, padded to 32 bits.
  const bytes = Math.ceil((4 + 4 + 2 + name.length + 1) / 4) * 4;
  const out = Buffer.alloc(bytes);
  header(out, 1, SDES, bytes);
  out.writeUInt32BE(ssrc >>> 0, 4);
  out[8] = 1;
  out[9] = name.length;
  name.copy(out, 10);
  return out;
}

/** A compound packet: SR when we have sent media (else RR), with the report block if any, then SDES. */
export function buildReport(o: { ssrc: number; cname: string; sender: SenderInfo | null; report: ReportBlock | null }): Buffer {
  const blocks = o.report ? 1 : 0;
  const bytes = 8 + (o.sender ? 20 : 0) + blocks * 24;
  const first = Buffer.alloc(bytes);
  header(first, blocks, o.sender ? SR : RR, bytes);
  first.writeUInt32BE(o.ssrc >>> 0, 4);
  let at = 8;
  if (o.sender) {
    first.writeUInt32BE(o.sender.ntpSeconds >>> 0, 8);
    first.writeUInt32BE(o.sender.ntpFraction >>> 0, 12);
    first.writeUInt32BE(o.sender.rtpTimestamp >>> 0, 16);
    first.writeUInt32BE(o.sender.packets >>> 0, 20);
    first.writeUInt32BE(o.sender.octets >>> 0, 24);
    at = 28;
  }
  if (o.report) writeBlock(first, at, o.report);
  return Buffer.concat([first, sdes(o.ssrc, o.cname)]);
}

/** A compound BYE (RR without blocks, SDES, BYE), sent when the call ends. */
export function buildBye(ssrc: number, cname: string): Buffer {
  const rr = Buffer.alloc(8);
  header(rr, 0, RR, 8);
  rr.writeUInt32BE(ssrc >>> 0, 4);
  const bye = Buffer.alloc(8);
  header(bye, 1, BYE, 8);
  bye.writeUInt32BE(ssrc >>> 0, 4);
  return Buffer.concat([rr, sdes(ssrc, cname), bye]);
}

/** The packets of a compound RTCP datagram; null when it is not valid RTCP (§A.2 checks). */
export function parseRtcp(buf: Buffer): RtcpPacket[] | null {
  if (buf.length < 8 || (buf[0]! & 0xc0) !== VERSION || (buf[1] !== SR && buf[1] !== RR)) return null;
  const out: RtcpPacket[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    if ((buf[at]! & 0xc0) !== VERSION) return null;
    const count = buf[at]! & 0x1f;
    const type = buf[at + 1]!;
    const end = at + (buf.readUInt16BE(at + 2) + 1) * 4;
    if (end > buf.length) return null;
    if ((type === SR || type === RR) && end >= at + 8) {
      const ssrc = buf.readUInt32BE(at + 4);
      const base = type === SR ? at + 28 : at + 8;
      if (base + count * 24 > end) return null;
      const reports = Array.from({ length: count }, (_, i) => readBlock(buf, base + i * 24));
      if (type === SR) {
        out.push({
          type: 'sr', ssrc, reports,
          sender: { ntpSeconds: buf.readUInt32BE(at + 8), ntpFraction: buf.readUInt32BE(at + 12), rtpTimestamp: buf.readUInt32BE(at + 16), packets: buf.readUInt32BE(at + 20), octets: buf.readUInt32BE(at + 24) },
        });
      } else {
        out.push({ type: 'rr', ssrc, reports });
      }
    } else if (type === SDES) {
      const len = at + 9 < end ? buf[at + 9]! : 0;
      out.push({ type: 'sdes', cname: count > 0 && buf[at + 8] === 1 ? buf.toString('utf8', at + 10, Math.min(end, at + 10 + len)) : null });
    } else if (type === BYE) {
      out.push({ type: 'bye', ssrcs: Array.from({ length: Math.min(count, (end - at - 4) / 4) }, (_, i) => buf.readUInt32BE(at + 4 + i * 4)) });
    }
    at = end;
  }
  return out;
}

/** What we know about the peer's stream, for the report block (RFC 3550 §A.3, §A.8). */
export class ReceptionStats {
  ssrc: number | null = null;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private transit: number | null = null;
  jitter = 0;
  private lastSr = 0;
  private lastSrAt = 0;

  /** One RTP packet from the peer; `arrivalMs` on any steady clock. */
  packet(ssrc: number, seq: number, rtpTs: number, arrivalMs: number, clockRate = 8000): void {
    if (this.ssrc !== ssrc) {
      // A new source (or the first): start counting afresh.
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.received = 0;
      this.expectedPrior = 0;
      this.receivedPrior = 0;
      this.transit = null;
      this.jitter = 0;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    this.received++;
    const arrival = Math.round((arrivalMs * clockRate) / 1000);
    const transit = (arrival - rtpTs) | 0;
    if (this.transit !== null) {
      const d = Math.abs((transit - this.transit) | 0);
      this.jitter += (d - this.jitter) / 16;
    }
    this.transit = transit;
  }

  /** The peer's SR arrived now (for LSR/DLSR). */
  senderReport(ntpSeconds: number, ntpFraction: number, atMs: number): void {
    this.lastSr = ntpMiddle(ntpSeconds, ntpFraction);
    this.lastSrAt = atMs;
  }

  get extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.extendedMax - this.baseSeq + 1;
  }

  get lost(): number {
    return this.expected - this.received;
  }

  /** The report block for now; moves the "since last report" marks. Null before any packet. */
  block(nowMs: number): ReportBlock | null {
    if (this.ssrc === null) return null;
    const expectedInterval = this.expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = this.expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    return {
      ssrc: this.ssrc, fractionLost, cumulativeLost: this.lost, highestSeq: this.extendedMax >>> 0, jitter: this.jitter,
      lastSr: this.lastSr, delaySinceLastSr: this.lastSr ? Math.round(((nowMs - this.lastSrAt) / 1000) * 65536) : 0,
    };
  }
}
