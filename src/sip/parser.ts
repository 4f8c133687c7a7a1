/**
 * Wire → message. `parseMessage` handles one datagram (or one framed stream
 * message); `StreamFramer` cuts a TCP/TLS byte stream into messages.
 *
 * Contract: for any input, parseMessage either returns a message or throws a
 * SipParseError — nothing else escapes (fuzzed in test/sip/parser-fuzz.test.ts).
 */
import { SipParseError, type PartialMessage } from './errors.js';
import { headerKey, parseCSeq, parseNameAddr, parseUnsigned, parseVias } from './headers.js';
import { isToken } from './lex.js';
import { SipHeaders, SipRequest, SipResponse, type SipMessage } from './message.js';
import { parseUri } from './uri.js';

export const DEFAULT_MAX_MESSAGE_SIZE = 65535;
const MAX_HEADER_LINES = 512;

/** Trims SP/HTAB only; String#trim would also eat characters such as U+FEFF that are header content. */
function trimLws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

interface HeaderSection {
  startLine: string;
  headers: Array<[string, string]>;
  /** Byte offset where the body starts. */
  bodyStart: number;
}

/** Index of the blank line ending the header section and its length (CRLFCRLF or LFLF). */
function findHeaderEnd(buf: Buffer, from: number): { at: number; len: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf < 0 && lf < 0) return undefined;
  if (lf < 0 || (crlf >= 0 && crlf < lf)) return { at: crlf, len: 4 };
  return { at: lf, len: 2 };
}

function splitHeaderSection(buf: Buffer): HeaderSection {
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const end = findHeaderEnd(buf, start);
  if (!end) throw new SipParseError('no blank line after the headers');
  const text = buf.toString('utf8', start, end.at);
  const lines = text.split(/\r?\n/);
  const startLine = lines.shift() ?? '';
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // Folded continuation (LWS): semantically a single space.
      const last = headers[headers.length - 1];
      if (!last) throw new SipParseError('continuation line before the first header');
      last[1] = trimLws(`${last[1]} ${trimLws(line)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) throw new SipParseError(`header line without colon: "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).replace(/[ \t]+$/, '');
    if (!isToken(name)) throw new SipParseError(`invalid header name "${name.slice(0, 40)}"`);
    headers.push([name, trimLws(line.slice(colon + 1))]);
    if (headers.length > MAX_HEADER_LINES) throw new SipParseError('too many header lines');
  }
  return { startLine, headers, bodyStart: end.at + end.len };
}

type StartLine = { kind: 'request'; method: string; uri: string } | { kind: 'response'; status: number; reason: string };

function parseStartLine(line: string): StartLine {
  if (/^SIP\//i.test(line)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (the reason may be empty)
    const m = /^SIP\/2\.0 ([1-6][0-9][0-9])(?: (.*))?$/i.exec(line);
    if (!m) throw new SipParseError(`invalid status line "${line.slice(0, 60)}"`);
    return { kind: 'response', status: Number(m[1]), reason: m[2] ?? '' };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version, single spaces only (RFC 4475 lwsstart, trws).
  const parts = line.split(' ');
  if (parts.length !== 3) throw new SipParseError(`invalid request line "${line.slice(0, 60)}"`);
  const [method, uri, version] = parts as [string, string, string];
  if (!isToken(method)) throw new SipParseError('invalid method');
  if (version.toUpperCase() !== 'SIP/2.0') throw new SipParseError(`unsupported SIP version "${version.slice(0, 20)}"`);
  return { kind: 'request', method, uri };
}

function firstValue(headers: Array<[string, string]>, key: string): string | undefined {
  return headers.find(([n]) => headerKey(n) === key)?.[1];
}

function allValues(headers: Array<[string, string]>, key: string): string[] {
  return headers.filter(([n]) => headerKey(n) === key).map(([, v]) => v);
}

/** Content-Length value, or undefined when absent. Conflicting duplicates are an error. */
function contentLength(headers: Array<[string, string]>): number | undefined {
  const values = allValues(headers, 'content-length');
  if (values.length === 0) return undefined;
  const n = parseUnsigned(values[0]!, 'Content-Length', 2 ** 31 - 1);
  for (const v of values.slice(1)) if (parseUnsigned(v, 'Content-Length', 2 ** 31 - 1) !== n) throw new SipParseError('conflicting Content-Length headers');
  return n;
}

/** Checks the headers every transaction and dialog relies on (RFC 3261 §8.1.1). */
function validate(start: StartLine, headers: Array<[string, string]>): void {
  for (const name of ['To', 'From', 'Call-ID', 'CSeq', 'Via']) {
    if (firstValue(headers, name.toLowerCase()) === undefined) throw new SipParseError(`missing ${name} header`);
  }
  if (!firstValue(headers, 'call-id')!.trim()) throw new SipParseError('empty Call-ID');
  const cseq = parseCSeq(firstValue(headers, 'cseq')!);
  if (start.kind === 'request' && cseq.method !== start.method) throw new SipParseError('CSeq method does not match the request method');
  parseNameAddr(firstValue(headers, 'from')!);
  parseNameAddr(firstValue(headers, 'to')!);
  parseVias(allValues(headers, 'via'));
  const mf = firstValue(headers, 'max-forwards');
  if (mf !== undefined) parseUnsigned(mf, 'Max-Forwards', 255);
}

function parseUnchecked(buf: Buffer, partialOut: { p?: PartialMessage }): SipMessage {
  const section = splitHeaderSection(buf);
  const start = parseStartLine(section.startLine);
  partialOut.p = { isRequest: start.kind === 'request', headers: section.headers };
  if (start.kind === 'request') partialOut.p.method = start.method;

  validate(start, section.headers);
  const available = buf.length - section.bodyStart;
  const cl = contentLength(section.headers);
  if (cl !== undefined && cl > available) throw new SipParseError(`Content-Length ${cl} exceeds the ${available} body bytes received`);
  // Without Content-Length a datagram's body runs to its end (RFC 3261 §18.3); extra octets past it are ignored.
  const body = Buffer.from(buf.subarray(section.bodyStart, section.bodyStart + (cl ?? available)));
  const headers = new SipHeaders(section.headers);

  if (start.kind === 'response') return new SipResponse(start.status, start.reason, headers, body);
  const uri = parseUri(start.uri);
  if (uri.headers.size > 0) throw new SipParseError('headers are not allowed in a Request-URI');
  return new SipRequest(start.method, uri, headers, body);
}

/** Parses a single message. Throws SipParseError (with `partial` when headers were readable). */
export function parseMessage(input: Buffer | string): SipMessage {
  const partialOut: { p?: PartialMessage } = {};
  try {
    const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    return parseUnchecked(buf, partialOut);
  } catch (err) {
    const message = err instanceof SipParseError ? err.message : `unparseable message (${(err as Error)?.message ?? String(err)})`;
    throw new SipParseError(message, partialOut.p);
  }
}

// ---------------------------------------------------------------- stream framing

export type FramerEvent =
  | { type: 'message'; message: SipMessage; raw: Buffer }
  /** A complete, well-framed message that did not parse; the stream itself is still in sync. */
  | { type: 'malformed'; error: SipParseError; raw: Buffer }
  /** RFC 5626 keep-alive ping (CRLFCRLF): answer with a CRLF pong. */
  | { type: 'ping' }
  | { type: 'pong' };

export interface StreamFramerOptions {
  maxMessageSize?: number;
}

const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:[ \t]*(.*)$/i;

/**
 * Accumulates stream chunks and yields whole messages. Framing errors (no or bad
 * Content-Length, oversized message) throw SipParseError: the stream can no longer be
 * trusted and the caller should close the connection.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;

  constructor(opts: StreamFramerOptions = {}) {
    this.max = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Bytes held waiting for the rest of a message. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FramerEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const events: FramerEvent[] = [];
    for (;;) {
      this.skipKeepAlives(events);
      if (this.buf.length === 0) break;
      const ev = this.nextMessage();
      if (!ev) break;
      events.push(ev);
    }
    return events;
  }

  private skipKeepAlives(events: FramerEvent[]): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i] === 0x0d && this.buf[i + 1] === 0x0a) {
      if (this.buf[i + 2] === 0x0d && this.buf[i + 3] === 0x0a) {
        events.push({ type: 'ping' });
        i += 4;
      } else {
        // A lone CRLF is a pong; a ping split across chunks reads as two pongs, which is harmless.
        events.push({ type: 'pong' });
        i += 2;
      }
    }
    if (i > 0) this.buf = this.buf.subarray(i);
  }

  private nextMessage(): FramerEvent | undefined {
    const end = this.buf.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (this.buf.length > this.max) this.fail(`header section exceeds ${this.max} bytes`);
      return undefined;
    }
    const head = this.buf.toString('latin1', 0, end).replace(/\r\n[ \t]+/g, ' ');
    let cl: number | undefined;
    for (const line of head.split('\r\n').slice(1)) {
      const m = CONTENT_LENGTH_LINE.exec(line);
      if (!m) continue;
      const v = m[1]!.trim();
      if (!/^[0-9]{1,10}$/.test(v)) this.fail(`invalid Content-Length "${v.slice(0, 20)}" on stream`);
      if (cl !== undefined && cl !== Number(v)) this.fail('conflicting Content-Length headers on stream');
      cl = Number(v);
    }
    if (cl === undefined) this.fail('Content-Length is required on stream transports');
    const total = end + 4 + cl!;
    if (total > this.max) this.fail(`message of ${total} bytes exceeds ${this.max}`);
    if (this.buf.length < total) return undefined;
    const raw = this.buf.subarray(0, total);
    this.buf = this.buf.subarray(total);
    try {
      return { type: 'message', message: parseMessage(raw), raw };
    } catch (err) {
      return { type: 'malformed', error: err as SipParseError, raw };
    }
  }

  private fail(msg: string): never {
    this.buf = Buffer.alloc(0);
    throw new SipParseError(msg);
  }
}
