/** The `application/dtmf-relay` body of SIP INFO (Signal= / Duration=, as deployed since Cisco introduced it). */

export const DTMF_RELAY = 'application/dtmf-relay';

export interface DtmfDigit {
  /** 0-9, *, #, A-D. */
  signal: string;
  /** Milliseconds. */
  duration: number;
}

const SIGNAL = /^[0-9*#A-D]$/;
const DEFAULT_DURATION = 250;

/** Reads a dtmf-relay body; undefined when it names no valid signal. Unknown lines are ignored. */
export function parseDtmfRelay(body: string | Buffer): DtmfDigit | undefined {
  let signal: string | undefined;
  let duration = DEFAULT_DURATION;
  for (const line of body.toString('utf8').split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') signal = value.toUpperCase();
    else if (key === 'duration' && /^\d+$/.test(value)) duration = Number(value);
  }
  return signal !== undefined && SIGNAL.test(signal) ? { signal, duration } : undefined;
}

export function formatDtmfRelay(d: DtmfDigit): string {
  const signal = d.signal.toUpperCase();
  if (!SIGNAL.test(signal)) throw new RangeError(`not a DTMF signal: ${JSON.stringify(d.signal)}`);
  if (!Number.isInteger(d.duration) || d.duration <= 0) throw new RangeError(`invalid DTMF duration: ${d.duration}`);
  return `Signal=${signal}\r\nDuration=${d.duration}\r\n`;
}
