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

  constructor(private readonly socket: Socket, private readonly opts: RtpSessionOptions) {
    super();
    this.remote = { ...opts.remote };
    this.digits = new DigitReceiver((digit, durationMs) => this.emit('digit', { digit, durationMs }));
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.address, rinfo.port));
    this.stopPacing = opts.pacer.add({ tick: () => this.tick() });
    this.watchdog = opts.mediaTimeoutMs > 0
      ? setInterval(() => { if (Date.now() - this.lastHeard > opts.mediaTimeoutMs) this.emit('timeout', undefined); }, Math.min(1000, opts.mediaTimeoutMs))
      : null;
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
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPacing();
    if (this.watchdog) clearInterval(this.watchdog);
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
    this.socket.send(packet, this.remote.port, this.remote.address);
  }

  private receive(msg: Buffer, address: string, port: number): void {
    const p = parseRtp(msg);
    if (!p) return;
    this.packetsIn++;
    this.lastHeard = Date.now();
    if (!this.latched && (address !== this.remote.address || port !== this.remote.port)) {
      this.remote = { address, port };
      this.emit('latched', { address, port });
    }
    this.latched = true;
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
