/**
 * One call's RTP: a UDP socket from the configured port range, the remote address from SDP until
 * the peer's media shows where it really comes from (symmetric RTP, for peers behind NAT), audio
 * frames in (reordered over a couple of packets), RFC 4733 digits in and out, paced audio out
 * with silence between replies, and a media timeout. No knowledge of calls, agents or SIP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { Emitter } from '../lib/emitter.js';
import { SILENCE, type G711Law } from './g711.js';
import type { Pacer } from './pacer.js';
import { buildRtp, parseRtp, seqAfter, type RtpPacket } from './rtp.js';
import { buildBye, buildReport, ntpOf, parseRtcp, ReceptionStats, type RtcpPacket } from './rtcp.js';
import { DigitReceiver, digitPayloads, parseTelephoneEvent } from './telephone-event.js';

export const FRAME_BYTES = 160; // 20 ms of G.711 at 8 kHz

export interface RtpSessionEvents {
  /** One frame of the peer's audio, in order, in the negotiated law. */
  audio: Buffer;
  digit: { digit: string; durationMs: number };
  /** No RTP from the peer for the media timeout. */
  timeout: undefined;
  /** The remote address moved to where the peer's packets come from. */
  latched: { address: string; port: number };
  /** An RTCP compound packet from the peer. */
  rtcp: RtcpPacket[];
}

export interface RtcpOptions {
  /** Bound to the port above the RTP one. */
  socket: Socket;
  /** Mean time between our reports, ms (RFC 3550 suggests 5 s; each interval is randomised ×0.5–1.5). */
  intervalMs?: number;
  /** Our SDES CNAME. */
  cname: string;
}

export interface RtpSessionOptions {
  pacer: Pacer;
  law: G711Law;
  payloadType: number;
  /** RFC 4733 payload type the peer accepts; null: no digits out. */
  telephoneEvent: number | null;
  remote: { address: string; port: number };
  /** No packet for this long ends the media (ms, 0 = never). */
  mediaTimeoutMs: number;
  bindAddress?: string;
  /** Send and read RTCP reports (sender report, reception report of the peer, SDES, BYE). */
  rtcp?: RtcpOptions;
}

/** Binds a UDP socket on an even port in [min, max] (RTCP, when used, takes the odd one above). */
export async function bindInRange(min: number, max: number, address = '0.0.0.0'): Promise<Socket> {
  const span = Math.floor((max - min) / 2) + 1;
  const first = randomInt(span);
  for (let i = 0; i < span; i++) {
    const port = min + ((first + i) % span) * 2;
    const sock = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, address, () => resolve(true));
    });
    if (ok) return sock;
    sock.close();
  }
  throw new Error(`no free RTP port between ${min} and ${max}`);
}

/** An even RTP port in [min, max] with its RTCP port (the odd one above) bound too. */
export async function bindPairInRange(min: number, max: number, address = '0.0.0.0'): Promise<{ rtp: Socket; rtcp: Socket }> {
  for (let attempt = 0; attempt < 64; attempt++) {
    const rtp = await bindInRange(min, max - 1, address);
    const rtcp = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      rtcp.once('error', () => resolve(false));
      rtcp.bind(rtp.address().port + 1, address, () => resolve(true));
    });
    if (ok) return { rtp, rtcp };
    rtcp.close();
    rtp.close();
  }
  throw new Error(`no free RTP/RTCP port pair between ${min} and ${max}`);
}

export class RtpSession extends Emitter<RtpSessionEvents> {
  private remote: { address: string; port: number };
  private latched = false;
  private readonly ssrc = randomInt(2 ** 31);
  private seq = randomInt(0xffff);
  private ts = randomInt(2 ** 31);
  private readonly queue: Buffer[] = [];
  private readonly digitsOut: Array<{ payload: Buffer; marker: boolean; ts: number }> = [];
  private readonly digits: DigitReceiver;
  private readonly reorder: RtpPacket[] = [];
  private lastSeq: number | null = null;
  private lastHeard = Date.now();
  private readonly stopPacing: () => void;
  private readonly watchdog: NodeJS.Timeout | null;
  private closed = false;
  /** Audio frames sent since the last `flush` (what the caller has heard of the current reply). */
  framesPlayed = 0;
  /** Audio frames sent in the whole session (a running clock of what the peer heard). */
  framesSent = 0;
  packetsIn = 0;
  packetsOut = 0;
  private octetsOut = 0;
  private readonly stats = new ReceptionStats();
  private rtcpRemote: { address: string; port: number } | null = null;
  private rtcpLatched = false;
  private rtcpTimer: NodeJS.Timeout | null = null;
  /** RTCP compound packets sent (reports and the closing BYE). */
  rtcpOut = 0;

  constructor(private readonly socket: Socket, private readonly opts: RtpSessionOptions) {
    super();
    this.remote = { ...opts.remote };
    this.digits = new DigitReceiver((digit, durationMs) => this.emit('digit', { digit, durationMs }));
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.address, rinfo.port));
    this.stopPacing = opts.pacer.add({ tick: () => this.tick() });
    this.watchdog = opts.mediaTimeoutMs > 0
      ? setInterval(() => { if (Date.now() - this.lastHeard > opts.mediaTimeoutMs) this.emit('timeout', undefined); }, Math.min(1000, opts.mediaTimeoutMs))
      : null;
    if (opts.rtcp) this.startRtcp(opts.rtcp);
  }

  private startRtcp(o: RtcpOptions): void {
    this.rtcpRemote = { address: this.remote.address, port: this.remote.port + 1 };
    o.socket.on('message', (msg, rinfo) => {
      const packets = parseRtcp(msg);
      if (!packets) return;
      if (!this.rtcpLatched) this.rtcpRemote = { address: rinfo.address, port: rinfo.port };
      this.rtcpLatched = true;
      for (const p of packets) if (p.type === 'sr') this.stats.senderReport(p.sender.ntpSeconds, p.sender.ntpFraction, Date.now());
      this.emit('rtcp', packets);
    });
    o.socket.on('error', () => undefined);
    const mean = o.intervalMs ?? 5000;
    const next = () => {
      this.rtcpTimer = setTimeout(() => {
        this.sendReport();
        next();
      }, mean * (0.5 + Math.random()));
    };
    next();
  }

  private sendReport(): void {
    const o = this.opts.rtcp;
    if (!o || this.closed || !this.rtcpRemote || this.rtcpRemote.address === '0.0.0.0') return;
    const ntp = ntpOf(Date.now());
    const sender = this.packetsOut ? { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp: this.ts >>> 0, packets: this.packetsOut, octets: this.octetsOut } : null;
    o.socket.send(buildReport({ ssrc: this.ssrc, cname: o.cname, sender, report: this.stats.block(Date.now()) }), this.rtcpRemote.port, this.rtcpRemote.address);
    this.rtcpOut++;
  }

  /** Reception statistics of the peer's stream (what our reports say). */
  get reception(): { expected: number; lost: number; jitter: number } {
    return { expected: this.stats.ssrc === null ? 0 : this.stats.expected, lost: this.stats.ssrc === null ? 0 : this.stats.lost, jitter: this.stats.jitter };
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  get queuedMs(): number {
    return this.queue.length * 20;
  }

  /** Queues audio (any length, in the negotiated law) to be sent at real time. */
  play(audio: Buffer): void {
    for (let i = 0; i < audio.length; i += FRAME_BYTES) {
      const frame = audio.subarray(i, i + FRAME_BYTES);
      this.queue.push(frame.length === FRAME_BYTES ? frame : Buffer.concat([frame, Buffer.alloc(FRAME_BYTES - frame.length, SILENCE[this.opts.law])]));
    }
  }

  /** Barge-in: drops what is queued at once; returns the ms that had been played. */
  flush(): number {
    this.queue.length = 0;
    const played = this.framesPlayed * 20;
    this.framesPlayed = 0;
    return played;
  }

  /** Sends a digit as RFC 4733 events; false when the peer did not offer telephone-event. */
  sendDigit(digit: string, durationMs = 160): boolean {
    if (this.opts.telephoneEvent === null) return false;
    // A digit queued behind another starts where that one ends (each event has its own timestamp).
    const last = this.digitsOut.at(-1);
    const ts = last ? last.ts + (parseTelephoneEvent(last.payload)?.duration ?? 0) : this.ts;
    for (const p of digitPayloads(digit, durationMs)) this.digitsOut.push({ ...p, ts });
    return true;
  }

  /** A re-INVITE moved the peer's media (or put it on hold). */
  retarget(remote: { address: string; port: number }): void {
    this.remote = { ...remote };
    this.latched = false;
    if (this.opts.rtcp) {
      this.rtcpRemote = { address: remote.address, port: remote.port + 1 };
      this.rtcpLatched = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPacing();
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.rtcpTimer) clearTimeout(this.rtcpTimer);
    const rtcp = this.opts.rtcp;
    if (rtcp) {
      const to = this.rtcpRemote;
      if (to && to.address !== '0.0.0.0') {
        rtcp.socket.send(buildBye(this.ssrc, rtcp.cname), to.port, to.address, () => rtcp.socket.close());
        this.rtcpOut++;
      } else {
        rtcp.socket.close();
      }
    }
    this.socket.close();
  }

  private tick(): void {
    if (this.closed || this.remote.address === '0.0.0.0') return;
    const dtmf = this.digitsOut.shift();
    if (dtmf) {
      this.send(this.opts.telephoneEvent!, dtmf.marker, dtmf.ts, dtmf.payload);
      // The event's packets share its start timestamp; after its last one the clock moves past it.
      if (!this.digitsOut.length || this.digitsOut[0]!.ts !== dtmf.ts) this.ts += parseTelephoneEvent(dtmf.payload)?.duration ?? 0;
      return;
    }
    const frame = this.queue.shift();
    if (frame) {
      this.framesPlayed++;
      this.framesSent++;
    }
    this.send(this.opts.payloadType, false, this.ts, frame ?? Buffer.alloc(FRAME_BYTES, SILENCE[this.opts.law]));
    this.ts += FRAME_BYTES;
  }

  private send(pt: number, marker: boolean, ts: number, payload: Buffer): void {
    const packet = buildRtp({ payloadType: pt, marker, sequence: this.seq, timestamp: ts, ssrc: this.ssrc, payload });
    this.seq = (this.seq + 1) & 0xffff;
    this.packetsOut++;
    this.octetsOut += payload.length;
    this.socket.send(packet, this.remote.port, this.remote.address);
  }

  private receive(msg: Buffer, address: string, port: number): void {
    const p = parseRtp(msg);
    if (!p) return;
    this.packetsIn++;
    this.lastHeard = Date.now();
    if (!this.latched && (address !== this.remote.address || port !== this.remote.port)) {
      this.remote = { address, port };
      if (this.opts.rtcp && !this.rtcpLatched) this.rtcpRemote = { address, port: port + 1 };
      this.emit('latched', { address, port });
    }
    this.latched = true;
    if (this.opts.rtcp) this.stats.packet(p.ssrc, p.sequence, p.timestamp, Number(process.hrtime.bigint()) / 1e6);
    if (this.opts.telephoneEvent !== null && p.payloadType === this.opts.telephoneEvent) {
      this.digits.receive(p.timestamp, p.payload);
      return;
    }
    if (p.payloadType !== this.opts.payloadType) return;
    this.order(p);
  }

  /** Holds up to two packets back so one that overtook another is put in its place; later ones are dropped. */
  private order(p: RtpPacket): void {
    if (this.lastSeq !== null && !seqAfter(p.sequence, this.lastSeq)) return; // late or duplicate
    this.reorder.push(p);
    this.reorder.sort((a, b) => (seqAfter(a.sequence, b.sequence) ? 1 : -1));
    while (this.reorder.length > 2 || (this.reorder.length && this.lastSeq !== null && this.reorder[0]!.sequence === ((this.lastSeq + 1) & 0xffff))) {
      const next = this.reorder.shift()!;
      this.lastSeq = next.sequence;
      this.emit('audio', next.payload);
    }
  }
}
