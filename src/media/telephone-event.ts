/**
 * RFC 4733 telephone events (DTMF) in RTP: the 4-byte payload, the packets that send one digit,
 * and a receiver that reports each digit once however many packets (and retransmitted ends) carry it.
 */

const DIGITS = '0123456789*#ABCD';

export interface TelephoneEvent {
  /** 0-15 for DTMF. */
  event: number;
  end: boolean;
  volume: number;
  /** In timestamp units (8 kHz: 8 per ms). */
  duration: number;
}

export function digitOf(event: number): string | null {
  return event >= 0 && event < DIGITS.length ? DIGITS[event]! : null;
}

export function eventOf(digit: string): number | null {
  const i = DIGITS.indexOf(digit.toUpperCase());
  return i < 0 ? null : i;
}

export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (payload.length < 4) return null;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}

export function telephoneEventPayload(e: TelephoneEvent): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = e.event;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(Math.min(0xffff, e.duration), 2);
  return b;
}

/**
 * The payloads of one digit, one per 20 ms packet, all with the event's start timestamp (§2.5):
 * the first marked, the duration growing, and the end packet sent three times as §2.5.1.4 advises.
 */
export function digitPayloads(digit: string, durationMs = 160, volume = 10): Array<{ payload: Buffer; marker: boolean }> {
  const event = eventOf(digit);
  if (event === null) throw new RangeError(`not a DTMF digit: ${digit}`);
  const out: Array<{ payload: Buffer; marker: boolean }> = [];
  const steps = Math.max(1, Math.round(durationMs / 20));
  for (let i = 1; i < steps; i++) out.push({ payload: telephoneEventPayload({ event, end: false, volume, duration: i * 160 }), marker: i === 1 });
  const end = telephoneEventPayload({ event, end: true, volume, duration: steps * 160 });
  for (let i = 0; i < 3; i++) out.push({ payload: end, marker: steps === 1 && i === 0 });
  return out;
}

/** Reports each event once: a new RTP timestamp is a new key press. */
export class DigitReceiver {
  private lastTimestamp: number | null = null;

  constructor(private readonly onDigit: (digit: string, durationMs: number) => void) {}

  receive(timestamp: number, payload: Buffer): void {
    const e = parseTelephoneEvent(payload);
    if (!e || timestamp === this.lastTimestamp) return;
    const digit = digitOf(e.event);
    if (!digit) return;
    // Report at the end packet, or at the first packet of an event whose end may be lost.
    this.lastTimestamp = timestamp;
    this.onDigit(digit, Math.round(e.duration / 8));
  }
}
